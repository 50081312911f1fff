"""The HTTP transport that replays, records or passes through the judge's answers.

Kept apart from ``judge.py`` because it needs ``httpx``, which only the ragas extra
installs; see ``judge.py`` for what the record is keyed on and why replay happens here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import httpx

from pytest_ragcost.quality.judge import (
    KEPT_PARAMS,
    JudgeMiss,
    JudgeRecord,
    RecordedAnswer,
    current_call,
    prompt_sha256,
)
from pytest_ragcost.run import JUDGE_MODES, JudgeMode


@dataclass
class JudgeCounters:
    """What the judge cost this run: calls that went out, calls answered from the record."""

    live_calls: int = 0
    replayed_calls: int = 0
    failed_calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0


def _completion_body(model: str, content: str, usage: Mapping[str, int]) -> dict[str, Any]:
    return {
        "id": "ragcost-replay",
        "object": "chat.completion",
        "created": 0,
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": "stop",
            }
        ],
        "usage": {
            "prompt_tokens": int(usage.get("prompt_tokens", 0)),
            "completion_tokens": int(usage.get("completion_tokens", 0)),
            "total_tokens": int(usage.get("prompt_tokens", 0))
            + int(usage.get("completion_tokens", 0)),
        },
    }


class JudgeTransport(httpx.AsyncBaseTransport):
    """An httpx transport between the openai client and the judge endpoint.

    In ``replay`` mode it never touches the network; in ``record`` and ``live`` modes
    it forwards to ``inner`` (a real HTTP transport) and, when recording, keeps each
    answer in ``record``.
    """

    def __init__(
        self,
        mode: JudgeMode,
        record: JudgeRecord | None = None,
        inner: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        if mode not in JUDGE_MODES:
            msg = f"judge mode must be one of {', '.join(JUDGE_MODES)} (got {mode!r})"
            raise ValueError(msg)
        if mode in ("replay", "record") and record is None:
            msg = f"judge mode {mode!r} needs a JudgeRecord"
            raise ValueError(msg)
        self.mode = mode
        self.record = record
        self.inner = inner if inner is not None else httpx.AsyncHTTPTransport()
        self.counters = JudgeCounters()

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        call = current_call()
        body_bytes = await request.aread()
        try:
            body = json.loads(body_bytes) if body_bytes else {}
        except json.JSONDecodeError:
            body = {}
        is_chat = request.url.path.endswith("/chat/completions") and isinstance(body, dict)
        if not is_chat or call is None:
            if self.mode == "replay":
                what = "outside a metric call" if call is None else f"to {request.url.path}"
                msg = f"judge replay: unexpected request {what}; only chat completions are replayed"
                raise RuntimeError(msg)
            return await self.inner.handle_async_request(request)
        model = str(body.get("model", ""))
        prompt = prompt_sha256(body.get("messages"))
        if self.mode == "replay":
            assert self.record is not None
            ans = self.record.lookup(model, call.metric, call.sample, prompt)
            if ans is None:
                reason = (
                    "the judge prompt differs from the recorded one (a ragas or judge "
                    "setting change?)"
                    if self.record.has_sample(model, call.metric, call.sample)
                    else "this pipeline output was never judged"
                )
                raise JudgeMiss(call, reason)
            self.counters.replayed_calls += 1
            return httpx.Response(
                200, json=_completion_body(model, ans.response, ans.usage), request=request
            )
        try:
            upstream = await self.inner.handle_async_request(request)
            content = await upstream.aread()
        except Exception:
            self.counters.failed_calls += 1
            raise
        self.counters.live_calls += 1
        headers = [
            (k, v)
            for k, v in upstream.headers.multi_items()
            if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")
        ]
        response = httpx.Response(
            upstream.status_code, headers=headers, content=content, request=request
        )
        await upstream.aclose()
        if upstream.status_code != 200:
            self.counters.failed_calls += 1
            return response
        try:
            data = json.loads(content)
            text = data["choices"][0]["message"]["content"]
            usage = data.get("usage") or {}
        except (ValueError, KeyError, IndexError, TypeError):
            return response
        usage_kept = {
            k: int(usage[k])
            for k in ("prompt_tokens", "completion_tokens")
            if isinstance(usage.get(k), int)
        }
        self.counters.input_tokens += usage_kept.get("prompt_tokens", 0)
        self.counters.output_tokens += usage_kept.get("completion_tokens", 0)
        if self.mode == "record" and isinstance(text, str):
            assert self.record is not None
            self.record.put(
                RecordedAnswer(
                    judge_model=model,
                    metric=call.metric,
                    sample=call.sample,
                    sample_label=call.label,
                    prompt_sha256=prompt,
                    params={k: body[k] for k in KEPT_PARAMS if k in body},
                    response=text,
                    usage=usage_kept,
                )
            )
        return response

    async def aclose(self) -> None:
        await self.inner.aclose()
