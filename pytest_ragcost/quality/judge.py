"""The LLM judge: settings, the committed judge record, and the HTTP layer that
replays or records the judge's answers.

How the judge reaches ragas
---------------------------
ragas 0.4 collections metrics take an ``llm`` built from an OpenAI-compatible client
(``AsyncOpenAI(base_url=..., api_key=...)``). We give that client our own
``httpx.AsyncClient`` whose *transport* is ``JudgeTransport``. Everything above the
transport is the real code: ragas builds its real prompts, instructor adds its real
JSON instructions, the openai client sends a real request, and the answer is parsed
and validated by the same code as with a live judge. Only the bytes on the wire come
from the record. That keeps a replayed score honest: if ragas changes a prompt, the
request no longer matches the record and the sample is reported as a miss.

What the record is keyed on
---------------------------
Each recorded answer is keyed by four things, all visible in the file:

* ``judge_model``: the ``model`` field of the request (the judge's name);
* ``metric``: our metric name (e.g. ``ragas_faithfulness``);
* ``sample``: ``content_hash(sample)``, a hash of the sample's inputs *and* the
  pipeline's outputs, so a changed answer or changed contexts is a different sample;
* ``prompt_sha256``: a hash of the request's ``messages`` (the exact prompt ragas and
  instructor built, including the JSON schema instructions).

Sampling parameters (temperature, max_tokens...) are stored next to each answer for
the reader but are not part of the key. One metric may make several calls per sample
(faithfulness makes two); each is its own entry.

Three modes (the HTTP side is ``transport.JudgeTransport``)
-----------------------------------------------------------
* ``replay``: answers only from the record. A sample with no entry is a *judge miss*
  and is named; the gate then fails or skips it (``on_judge_miss``), never scores it.
* ``record``: calls the live judge and writes every answer into the record.
* ``live``: calls the live judge and records nothing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pytest_ragcost.files import locked, write_text_atomic
from pytest_ragcost.inputs import InputError, at, kind_of, number, read_document

StructuredMode = Literal["json", "json_schema", "md_json"]
STRUCTURED_MODES: tuple[StructuredMode, ...] = ("json", "json_schema", "md_json")
RECORD_VERSION = 1

#: Parameters kept next to a recorded answer (for the reader; not part of the key).
KEPT_PARAMS = ("temperature", "top_p", "max_tokens", "max_completion_tokens", "seed")


@dataclass(frozen=True)
class JudgeSettings:
    """Where the judge lives and how hard to try: the ``judge:`` block of ragcost.yaml.

    ``api_key_env`` names the environment variable holding the key (never the key
    itself); ``None`` means the endpoint needs no key (a local server).
    """

    model: str
    base_url: str | None = None
    api_key_env: str | None = None
    concurrency: int = 2
    timeout_s: float = 60.0
    retries: int = 2
    #: "json" sends ``response_format={"type": "json_object"}``; "json_schema" adds the
    #: schema to it (llama.cpp servers then constrain the output to the schema, which
    #: small local judges need); "md_json" asks for a fenced JSON block instead, for
    #: servers that lack response_format.
    structured_mode: StructuredMode = "json"

    def __post_init__(self) -> None:
        if not self.model:
            msg = "judge.model must name the judge model (got an empty string)"
            raise ValueError(msg)
        if self.concurrency < 1:
            msg = f"judge.concurrency must be an integer >= 1 (got {self.concurrency!r})"
            raise ValueError(msg)
        if self.timeout_s <= 0:
            msg = f"judge.timeout_s must be a number of seconds > 0 (got {self.timeout_s!r})"
            raise ValueError(msg)
        if self.structured_mode not in STRUCTURED_MODES:
            msg = (
                "judge.structured_mode must be json, json_schema or md_json "
                f"(got {self.structured_mode!r})"
            )
            raise ValueError(msg)
        if self.structured_mode == "json_schema" and (
            self.base_url is None or "openai" in self.base_url
        ):
            msg = (
                "judge.structured_mode json_schema is for self-hosted OpenAI-compatible "
                "servers (llama.cpp, vLLM): set judge.base_url to that server, or use "
                "structured_mode json for OpenAI itself"
            )
            raise ValueError(msg)
        if self.retries < 0:
            msg = f"judge.retries must be an integer >= 0 (got {self.retries!r})"
            raise ValueError(msg)

    def api_key(self) -> str:
        """The key from ``api_key_env``; a placeholder when the endpoint needs none."""
        if self.api_key_env is None:
            # The openai client refuses an empty key; local servers ignore it.
            return "no-key-needed"
        key = os.environ.get(self.api_key_env)
        if not key:
            msg = (
                f"judge.api_key_env names the environment variable {self.api_key_env!r}, "
                "but it is not set (or empty). Export it with the judge's API key, or "
                "drop api_key_env for an endpoint that needs no key."
            )
            raise JudgeConfigError(msg)
        return key


class JudgeConfigError(ValueError):
    """The judge cannot be set up as configured."""


class JudgeRecordError(InputError):
    """The judge record file is broken; the message says where and how to fix it."""


#: the largest judge record read
MAX_RECORD_BYTES = 256 << 20
_RECORD_FIX = "re-record it with a live judge (record mode) or restore it from git"


@dataclass(frozen=True)
class JudgeCall:
    """The metric and sample a judge request belongs to (set around each scoring call)."""

    metric: str
    sample: str
    label: str


class JudgeMiss(Exception):
    """The record has no answer for this request (replay mode)."""

    def __init__(self, call: JudgeCall, reason: str) -> None:
        super().__init__(f"{call.metric}: no recorded judge answer for {call.label}: {reason}")
        self.call = call
        self.reason = reason


_current_call: ContextVar[JudgeCall | None] = ContextVar("ragcost_judge_call", default=None)


@contextlib.contextmanager
def judging(call: JudgeCall) -> Iterator[None]:
    """Attribute every judge request made inside this block to ``call``."""
    token = _current_call.set(call)
    try:
        yield
    finally:
        _current_call.reset(token)


def current_call() -> JudgeCall | None:
    """The metric call the running judge request belongs to, if any."""
    return _current_call.get()


def prompt_sha256(messages: object) -> str:
    """The hash of a request's messages that keys a recorded answer."""
    text = json.dumps(messages, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class RecordedAnswer:
    """One judge answer as stored in the record."""

    judge_model: str
    metric: str
    sample: str
    prompt_sha256: str
    response: str
    sample_label: str = ""
    params: Mapping[str, Any] = field(default_factory=dict)
    usage: Mapping[str, int] = field(default_factory=dict)

    def key(self) -> tuple[str, str, str, str]:
        return (self.judge_model, self.metric, self.sample, self.prompt_sha256)

    def to_dict(self) -> dict[str, Any]:
        return {
            "judge_model": self.judge_model,
            "metric": self.metric,
            "sample": self.sample,
            "sample_label": self.sample_label,
            "prompt_sha256": self.prompt_sha256,
            "params": dict(self.params),
            "response": self.response,
            "usage": dict(self.usage),
        }


class JudgeRecord:
    """The committed, human-readable record of judge answers (a JSON file).

    Mutable on purpose: a recording run adds to it, then ``save`` writes it once.
    """

    def __init__(self, answers: Mapping[tuple[str, str, str, str], RecordedAnswer] | None = None):
        self._answers: dict[tuple[str, str, str, str], RecordedAnswer] = dict(answers or {})
        # what this process changed since the record was read: :meth:`save` applies only
        # these to what is on disk then, so a recording beside this one keeps its answers
        self._put: set[tuple[str, str, str, str]] = set()
        self._dropped: set[tuple[str, str, str, str]] = set()

    def __len__(self) -> int:
        return len(self._answers)

    def answers(self) -> list[RecordedAnswer]:
        """All answers, in file order (sorted by metric, sample, prompt)."""
        return [
            self._answers[k] for k in sorted(self._answers, key=lambda k: (k[1], k[2], k[3], k[0]))
        ]

    def lookup(
        self, judge_model: str, metric: str, sample: str, prompt: str
    ) -> RecordedAnswer | None:
        """The answer for one exact request, or ``None``."""
        return self._answers.get((judge_model, metric, sample, prompt))

    def has_sample(self, judge_model: str, metric: str, sample: str) -> bool:
        """True when any answer was recorded for this (judge, metric, sample)."""
        return any(k[:3] == (judge_model, metric, sample) for k in self._answers)

    def put(self, answer: RecordedAnswer) -> None:
        """Add or replace one answer."""
        key = answer.key()
        self._answers[key] = answer
        self._put.add(key)
        self._dropped.discard(key)

    def prune(self, judge_model: str, metric: str, keep_samples: set[str]) -> int:
        """Drop this judge's answers for ``metric`` whose sample is not in ``keep_samples``.

        A recording run calls this so the file holds the current samples only.
        Returns how many answers were dropped.
        """
        drop = [
            k
            for k in self._answers
            if k[0] == judge_model and k[1] == metric and k[2] not in keep_samples
        ]
        for k in drop:
            del self._answers[k]
            self._put.discard(k)
            self._dropped.add(k)
        return len(drop)

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> JudgeRecord:
        """Read a record; a missing file is an empty record.

        Raises :class:`JudgeRecordError` naming the file and the place for anything that
        is not the record pytest-ragcost writes (see :mod:`pytest_ragcost.inputs`)."""
        p = Path(path)
        return read_document(p, JudgeRecordError, lambda data: cls._parse(str(p), data), cls,
                             max_bytes=MAX_RECORD_BYTES, what="judge record", fix=_RECORD_FIX)

    @classmethod
    def _parse(cls, shown: str, data: object) -> JudgeRecord:
        def fail(where: str, expected: str, found: object) -> JudgeRecordError:
            return JudgeRecordError(shown, f"must be {expected}", where=where,
                                    found=kind_of(found), fix=_RECORD_FIX)

        if not isinstance(data, dict) or data.get("version") != RECORD_VERSION:
            found = data.get("version") if isinstance(data, dict) else data
            raise fail("the top level", f"an object with version {RECORD_VERSION}", found)
        raw = data.get("answers")
        if not isinstance(raw, list):
            raise fail("answers", "a list", raw)
        rec = cls()
        for i, item in enumerate(raw):
            where = at("answers", i)
            if not isinstance(item, dict):
                raise fail(where, "an object", item)
            for name in ("judge_model", "metric", "sample", "prompt_sha256", "response"):
                if not isinstance(item.get(name), str):
                    raise fail(at(where, name), "a string", item.get(name))
            label = item.get("sample_label", "")
            if not isinstance(label, str):
                raise fail(at(where, "sample_label"), "a string", label)
            params = item.get("params") or {}
            if not isinstance(params, dict):
                raise fail(at(where, "params"), "an object", params)
            usage = item.get("usage") or {}
            if not isinstance(usage, dict):
                raise fail(at(where, "usage"), "an object of token counts", usage)
            counts = {
                str(k): int(number(v, shown, at(where, "usage", str(k)), minimum=0,
                                   maximum=2**53, integer=True, fix=_RECORD_FIX))
                for k, v in usage.items()
            }
            rec._answers[(item["judge_model"], item["metric"], item["sample"],
                          item["prompt_sha256"])] = RecordedAnswer(
                judge_model=item["judge_model"],
                metric=item["metric"],
                sample=item["sample"],
                prompt_sha256=item["prompt_sha256"],
                response=item["response"],
                sample_label=label,
                params=dict(params),
                usage=counts,
            )
        return rec

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write this run's answers into the record at ``path``, atomically, sorted,
        indented for review.

        Under the lock the file is read again and only what this process changed (the
        answers it put, the ones it pruned) is applied to it, so two recordings at once
        keep each other's answers."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        with locked(p):
            merged = dict(type(self).load(p)._answers)
            for key in self._dropped:
                merged.pop(key, None)
            for key in self._put:
                merged[key] = self._answers[key]
            self._answers = merged
            self._put.clear()
            self._dropped.clear()
            data = {"version": RECORD_VERSION, "answers": [a.to_dict() for a in self.answers()]}
            text = json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
            write_text_atomic(p, text)


def find_miss(exc: BaseException) -> JudgeMiss | None:
    """The ``JudgeMiss`` inside an exception chain (the openai client wraps it)."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        if isinstance(cur, JudgeMiss):
            return cur
        seen.add(id(cur))
        cur = cur.__cause__ or cur.__context__
    return None
