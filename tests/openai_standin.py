"""A loopback stand-in for an OpenAI-compatible server (what llama.cpp's server speaks).

Chat completions (plain and streamed, with usage when asked for) and embeddings, with
deterministic usage: a prompt costs one token per whitespace-separated word of its
messages, an answer is ``ANSWER_WORDS`` words. ``delay_s`` is slept before the first
token, so a time to first token is there to measure. Every request is kept in
``served`` (path, usage) so a test can compare against what the "provider" reported.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

ANSWER_WORDS = ("the", "meter", "reads", "forty", "two", "kilowatt", "hours", "today")


class StandIn:
    def __init__(self, delay_s: float = 0.03, chunk_gap_s: float = 0.003) -> None:
        self.delay_s = delay_s
        self.chunk_gap_s = chunk_gap_s
        self.served: list[dict[str, Any]] = []
        self.fail_next = 0
        standin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *_: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])) or b"{}")
                if standin.fail_next:
                    standin.fail_next -= 1
                    self._json(500, {"error": {"message": "stand-in failure", "type": "server"}})
                    return
                if self.path.endswith("/chat/completions"):
                    standin._chat(self, body)
                elif self.path.endswith("/embeddings"):
                    standin._embeddings(self, body)
                else:
                    self._json(404, {"error": {"message": f"no route {self.path}"}})

            def _json(self, status: int, payload: dict[str, Any]) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> StandIn:
        self.thread.start()
        return self

    def __exit__(self, *_: Any) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- routes -------------------------------------------------------------------------
    def _chat(self, handler: Any, body: dict[str, Any]) -> None:
        text = " ".join(str(m.get("content", "")) for m in body.get("messages", []))
        prompt = len(text.split())
        words = list(ANSWER_WORDS)
        usage = {"prompt_tokens": prompt, "completion_tokens": len(words),
                 "total_tokens": prompt + len(words)}
        model = body.get("model", "stand-in")
        self.served.append({"path": "chat", "usage": usage, "stream": bool(body.get("stream"))})
        time.sleep(self.delay_s)
        if not body.get("stream"):
            handler._json(200, {
                "id": "chatcmpl-standin", "object": "chat.completion", "created": 0,
                "model": model,
                "choices": [{"index": 0, "finish_reason": "stop",
                             "message": {"role": "assistant", "content": " ".join(words)}}],
                "usage": usage,
            })
            return
        handler.send_response(200)
        handler.send_header("Content-Type", "text/event-stream")
        handler.send_header("Transfer-Encoding", "chunked")
        handler.end_headers()

        def send(payload: dict[str, Any] | str) -> None:
            data = payload if isinstance(payload, str) else json.dumps(payload)
            raw = f"data: {data}\n\n".encode()
            handler.wfile.write(f"{len(raw):x}\r\n".encode() + raw + b"\r\n")
            handler.wfile.flush()

        for i, word in enumerate(words):
            send({"id": "chatcmpl-standin", "object": "chat.completion.chunk", "created": 0,
                  "model": model,
                  "choices": [{"index": 0, "finish_reason": None,
                               "delta": {"role": "assistant", "content": word + " "}
                               if i == 0 else {"content": word + " "}}]})
            time.sleep(self.chunk_gap_s)
        send({"id": "chatcmpl-standin", "object": "chat.completion.chunk", "created": 0,
              "model": model, "choices": [{"index": 0, "finish_reason": "stop", "delta": {}}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            send({"id": "chatcmpl-standin", "object": "chat.completion.chunk", "created": 0,
                  "model": model, "choices": [], "usage": usage})
        send("[DONE]")
        handler.wfile.write(b"0\r\n\r\n")
        handler.wfile.flush()

    def _embeddings(self, handler: Any, body: dict[str, Any]) -> None:
        inputs = body.get("input")
        texts = [inputs] if isinstance(inputs, str) else list(inputs or [])
        prompt = sum(len(str(t).split()) for t in texts)
        usage = {"prompt_tokens": prompt, "total_tokens": prompt}
        self.served.append({"path": "embeddings", "usage": usage, "stream": False})
        time.sleep(self.delay_s / 3)
        handler._json(200, {
            "object": "list", "model": body.get("model", "stand-in-embed"),
            "data": [{"object": "embedding", "index": i, "embedding": [0.1, 0.2, 0.3]}
                     for i in range(len(texts))],
            "usage": usage,
        })

    def totals(self) -> dict[str, int]:
        out = {"prompt": 0, "completion": 0}
        for entry in self.served:
            out["prompt"] += entry["usage"]["prompt_tokens"]
            out["completion"] += entry["usage"].get("completion_tokens", 0)
        return out
