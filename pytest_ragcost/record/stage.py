"""One stage of a request: ``with ragcost.stage("name") as st:`` and what ``st`` records."""

from __future__ import annotations

import math
import sys
import time
from types import TracebackType
from typing import TYPE_CHECKING, Any

from ..meters.window import Window
from ..profile import marks
from ..run import TOKEN_KINDS, StageRecord
from .checks import MAX_COUNT, VALID_NAMES, RagcostUsageError, check_name, digits, type_name

if TYPE_CHECKING:
    from .request import RequestRecorder

#: the kinds a provider bills for; context is part of the prompt and not added again
BILLED_KINDS = tuple(k for k in TOKEN_KINDS if k != "context")
_BILLED = frozenset(BILLED_KINDS)

_perf_ns = time.perf_counter_ns
_cpu_ns = time.process_time_ns


#: count name -> its metric name, for names already checked
_COUNT_KEYS: dict[str, str] = {}


def _check_count(stage: str, name: str, value: object) -> None:
    """A usage error unless ``value`` can be a count (a finite number from 0 to 2**53)."""
    __tracebackhide__ = True
    if isinstance(value, bool) or not isinstance(value, int | float) or (
        isinstance(value, float) and not math.isfinite(value)
    ):
        shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
        msg = (
            f"stage {stage!r}: st.count({name}=...) needs a finite number "
            f"(got {shown} of type {type_name(value)})"
        )
        raise RagcostUsageError(msg)
    if not 0 <= value <= MAX_COUNT:
        shown = repr(value) if len(repr(value)) <= 60 else digits(value)
        msg = (
            f"stage {stage!r}: st.count({name}=...) must be from 0 to 2**53 (got {shown})"
        )
        raise RagcostUsageError(msg)


class Stage:
    """One stage of a request, opened with ``with ragcost.stage("name") as st:``."""

    def __init__(self, request: RequestRecorder, name: str) -> None:
        self._req = request
        self.name = name
        self._counts: dict[str, float] | None = None
        self._counted: dict[str, float] | None = None
        self._counted_sources: dict[str, str] | None = None
        self._provider: dict[str, float] | None = None
        self._provider_source: str | None = None
        self._ttft_ms: float | None = None
        self._error: str | None = None
        self._window: Window | None = None
        self._t0 = 0
        # time spent counting tokens inside this stage: ours, not the pipeline's
        self._own_ns = 0
        self._own_cpu_ns = 0
        self._model: str | None = None

    # -- context manager --------------------------------------------------------------
    def __enter__(self) -> Stage:
        __tracebackhide__ = True
        req = self._req
        req.enter_stage(self)
        if req.metering:
            self._window = window = req.stage_plan.open()
            self._t0 = window.wall0_ns
            if marks.active:  # --ragcost-profile: this thread's samples are this stage's
                marks.enter(self.name, sys._getframe(1))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if marks.active:
            marks.leave()
        if exc is not None and not isinstance(exc, GeneratorExit):
            self._error = f"{type(exc).__name__}: {exc}"
        record = self._record() if self._window is not None else None
        self._req.exit_stage(record)

    # -- what a test records --------------------------------------------------------------
    def tokens(self, *, model: str | None = None, **kinds: Any) -> None:
        """Count tokens per kind: ``prompt``, ``context``, ``completion``, ``rerank_in`` or any
        other keyword (a custom kind). Strings and lists of strings are counted with the
        tokenizer of ``model``; integers are taken as counts."""
        __tracebackhide__ = True
        given = True  # every value a plain count: nothing to tokenize
        for kind, value in kinds.items():
            if kind not in VALID_NAMES:
                check_name(kind, "token kind")
            if type(value) is not int or not 0 <= value <= MAX_COUNT:
                given = False
        if model is not None and not isinstance(model, str):
            msg = (
                f"stage {self.name!r}: st.tokens(model=...) takes a model name string such as "
                f"'gpt-4o-mini' (got {model!r} of type {type_name(model)})"
            )
            raise RagcostUsageError(msg)
        req = self._req
        if not req.metering:
            return
        if model is not None:
            self._model = model
        if self._counted is None:
            self._counted = {}
            self._counted_sources = {}
        counted = self._counted
        sources = self._counted_sources
        assert sources is not None
        if given:
            # no tokenizer runs, so there is no own time to take out
            for kind, value in kinds.items():
                counted[kind] = counted.get(kind, 0.0) + value
                sources[kind] = "given"
            return
        t0, cpu0 = _perf_ns(), _cpu_ns()
        try:
            for kind, value in kinds.items():
                count = req.count_tokens(value, model, self.name, kind)
                counted[kind] = counted.get(kind, 0.0) + count[0]
                sources[kind] = count[1]
        finally:
            t1, cpu1 = _perf_ns(), _cpu_ns()
            self._own_ns += t1 - t0
            self._own_cpu_ns += cpu1 - cpu0
            req.own_ns += t1 - t0
            req.own_cpu_ns += cpu1 - cpu0

    def usage(self, obj: Any) -> None:
        """Provider-reported usage (an OpenAI or Anthropic response or usage object, or a
        dict). It wins over locally counted prompt and completion tokens."""
        __tracebackhide__ = True
        if not self._req.metering:
            return
        from .usage import normalize_usage

        try:
            usage = normalize_usage(obj)
        except (TypeError, ValueError) as exc:
            msg = f"stage {self.name!r}: st.usage() could not read provider usage: {exc}"
            raise RagcostUsageError(msg) from None
        provider = self._provider if self._provider is not None else {}
        self._provider = provider
        provider["prompt"] = provider.get("prompt", 0.0) + usage.prompt
        provider["completion"] = provider.get("completion", 0.0) + usage.completion
        if usage.cached_prompt:
            provider["cached_prompt"] = provider.get("cached_prompt", 0.0) + usage.cached_prompt
        self._provider_source = usage.source
        if usage.model and self._model is None:
            self._model = usage.model

    def count(self, **counts: int | float) -> None:
        """Named counts (candidates, chunks, retries ...), recorded as ``count_<name>``."""
        __tracebackhide__ = True
        for name, value in counts.items():
            key = _COUNT_KEYS.get(name)
            if key is None:
                check_name(name, "count name")
                key = _COUNT_KEYS.setdefault(name, f"count_{name}")
            if type(value) is not int or not 0 <= value <= MAX_COUNT:
                _check_count(self.name, name, value)
            if not self._req.metering:
                continue
            if self._counts is None:
                self._counts = {}
            self._counts[key] = self._counts.get(key, 0.0) + float(value)

    def first_token(self, *_: Any, **__: Any) -> None:
        """Mark the first streamed token (only the first call counts). Accepts and ignores
        arguments so it can be passed straight in as a streaming callback."""
        if self._ttft_ms is not None or self._window is None:
            return
        now = _perf_ns()
        # our own token counting so far is not the pipeline's time to first token
        self._ttft_ms = (now - self._t0 - self._own_ns) / 1e6
        req = self._req
        req.first_token(now - req.own_ns)

    # -- closing ------------------------------------------------------------------------
    def _record(self) -> StageRecord:
        assert self._window is not None
        figures = self._window.close(self._own_ns, self._own_cpu_ns)
        metrics = figures.metrics
        sources = figures.sources
        if self._counts is not None:
            for key, value in self._counts.items():
                metrics[key] = value
                sources[key] = "given"
        if self._ttft_ms is not None:
            metrics["ttft_ms"] = self._ttft_ms
            sources["ttft_ms"] = "timer"
        kinds = self._counted
        provider = self._provider
        if kinds is not None or provider is not None:
            self._tokens(metrics, sources, dict(kinds or {}), provider or {})
        request = self._req.window
        start_ms = None if request is None else max(0.0, (self._t0 - request.wall0_ns) / 1e6)
        return StageRecord(self.name, metrics, sources, self._error, self._model, start_ms,
                           endpoints=figures.endpoints)

    def _tokens(
        self,
        metrics: dict[str, float],
        sources: dict[str, str],
        kinds: dict[str, float],
        provider: dict[str, float],
    ) -> None:
        for kind, source in (self._counted_sources or {}).items():
            sources[f"tokens_{kind}"] = source
        for kind in ("prompt", "completion", "cached_prompt"):
            if kind in provider:
                kinds[kind] = provider[kind]
                sources[f"tokens_{kind}"] = self._provider_source or "provider"
        total = 0.0
        billed = False
        for kind, value in kinds.items():
            metrics[f"tokens_{kind}"] = value
            if kind in _BILLED:
                total += value
                billed = True
        if billed:
            metrics["tokens_total"] = total
            sources["tokens_total"] = "derived"
