"""Requests, stages, tokens, counts and samples, turned into plain result objects.

The :class:`Recorder` is what the ``ragcost`` fixture hands to a test. When metering is
off it keeps the same interface and runs the test's code, but measures nothing.
"""

from __future__ import annotations

import itertools
import math
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Sized
from types import TracebackType
from typing import TYPE_CHECKING, Any, TypeVar

from ..meters.window import WALL_ONLY, Plan, Window
from ..models import NAME_RE, TOKEN_KINDS, RequestRecord, Sample, ScenarioRun, StageRecord
from .item_id import ItemIdError, ItemIds

if TYPE_CHECKING:
    from ..export.opentelemetry import SpanBridge
    from ..load.queue import TrackedExecutor, TrackedSemaphore
    from ..load.runner import LoadReport
    from ..meters.registry import MeterSet

T = TypeVar("T")

#: the kinds a provider bills for; context is part of the prompt and not added again
BILLED_KINDS = tuple(k for k in TOKEN_KINDS if k != "context")


class RagcostUsageError(ValueError):
    """The fixture was used in a way that cannot be measured; the message says how to fix it."""


class RagcostValueWarning(UserWarning):
    """A recorded value could not be stored as it was; its ``repr`` was stored instead."""


#: the largest count a float holds exactly; a larger token or item count is a mistake
MAX_COUNT = 2**53


def _digits(value: float) -> str:
    if isinstance(value, int) and abs(value) >= 10**30:
        # not repr(): Python refuses to print an int of more than 4300 digits
        return f"a {int(abs(value).bit_length() * math.log10(2)) + 1}-digit number"
    return repr(value)


def _type_name(value: object) -> str:
    return type(value).__name__


def _storable(value: object, call: str, name: str) -> object:
    """``value`` when JSON can hold it, else its ``repr`` (with a warning): one odd value
    must not cost the run its other results, in a serial run or under xdist."""
    import json
    import warnings

    try:
        json.dumps(value, allow_nan=True)
    except (TypeError, ValueError, OverflowError, RecursionError):
        text = repr(value)
        if len(text) > 200:
            text = text[:197] + "..."
        warnings.warn(
            RagcostValueWarning(
                f"{call}({name}=...): a {_type_name(value)} cannot be stored in the run's "
                f"JSON; stored its repr {text!r} instead (pass strings, numbers, lists or "
                "dicts of them)"
            ),
            stacklevel=3,
        )
        return text
    return value


def _clocks() -> tuple[int, int]:
    return time.perf_counter_ns(), time.process_time_ns()


def _trace_id() -> str:
    # W3C trace-context sized (16 random bytes), so it can be joined with OTel traces
    return os.urandom(16).hex()


def _check_name(name: object, what: str) -> str:
    __tracebackhide__ = True
    if not isinstance(name, str) or not NAME_RE.match(name):
        msg = (
            f"{what} {name!r} is not a valid name: use letters, digits, '_' or '-', "
            "starting with a letter or '_' and without dots "
            "(dots separate stage and metric in ragcost.yaml keys, e.g. 'generate.wall_ms')"
        )
        raise RagcostUsageError(msg)
    return name


class Stage:
    """One stage of a request, opened with ``with ragcost.stage("name") as st:``."""

    def __init__(self, recorder: Recorder, name: str) -> None:
        self._rec = recorder
        self.name = name
        self._metrics: dict[str, float] = {}
        self._sources: dict[str, str] = {}
        self._counted: dict[str, float] = {}
        self._provider: dict[str, float] = {}
        self._provider_source: str | None = None
        self._error: str | None = None
        self._t0 = 0
        self._window: Window | None = None
        # time spent counting tokens inside this stage: ours, not the pipeline's
        self._own_ns = 0
        self._own_cpu_ns = 0
        self._model: str | None = None

    # -- context manager --------------------------------------------------------------
    def __enter__(self) -> Stage:
        __tracebackhide__ = True
        self._rec._enter_stage(self)
        if self._rec.metering:
            self._window = self._rec._plan("stage").open()
            self._t0 = self._window.wall0_ns
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._window is not None:
            figures = self._window.close(self._own_ns, self._own_cpu_ns)
            self._metrics.update(figures.metrics)
            self._sources.update(figures.sources)
        if exc is not None and not isinstance(exc, GeneratorExit):
            self._error = f"{type(exc).__name__}: {exc}"
        self._rec._exit_stage(self)

    # -- what a test records --------------------------------------------------------------
    def tokens(self, *, model: str | None = None, **kinds: Any) -> None:
        """Count tokens per kind: ``prompt``, ``context``, ``completion``, ``rerank_in`` or any
        other keyword (a custom kind). Strings and lists of strings are counted with the
        tokenizer of ``model``; integers are taken as counts."""
        __tracebackhide__ = True
        for kind in kinds:
            _check_name(kind, "token kind")
        if model is not None and not isinstance(model, str):
            msg = (
                f"stage {self.name!r}: st.tokens(model=...) takes a model name string such as "
                f"'gpt-4o-mini' (got {model!r} of type {_type_name(model)})"
            )
            raise RagcostUsageError(msg)
        if not self._rec.metering:
            return
        if model is not None:
            self._model = model
        t0, cpu0 = _clocks()
        try:
            for kind, value in kinds.items():
                count = self._rec._count_tokens(value, model, self.name, kind)
                self._counted[kind] = self._counted.get(kind, 0.0) + count[0]
                self._sources[f"tokens_{kind}"] = count[1]
        finally:
            t1, cpu1 = _clocks()
            self._own_ns += t1 - t0
            self._own_cpu_ns += cpu1 - cpu0
            self._rec._own_ns += t1 - t0
            self._rec._own_cpu_ns += cpu1 - cpu0

    def usage(self, obj: Any) -> None:
        """Provider-reported usage (an OpenAI or Anthropic response or usage object, or a
        dict). It wins over locally counted prompt and completion tokens."""
        __tracebackhide__ = True
        if not self._rec.metering:
            return
        from .usage import normalize_usage

        try:
            usage = normalize_usage(obj)
        except (TypeError, ValueError) as exc:
            msg = f"stage {self.name!r}: st.usage() could not read provider usage: {exc}"
            raise RagcostUsageError(msg) from None
        self._provider["prompt"] = self._provider.get("prompt", 0.0) + usage.prompt
        self._provider["completion"] = self._provider.get("completion", 0.0) + usage.completion
        if usage.cached_prompt:
            self._provider["cached_prompt"] = (
                self._provider.get("cached_prompt", 0.0) + usage.cached_prompt
            )
        self._provider_source = usage.source
        if usage.model and self._model is None:
            self._model = usage.model

    def count(self, **counts: int | float) -> None:
        """Named counts (candidates, chunks, retries ...), recorded as ``count_<name>``."""
        __tracebackhide__ = True
        for name, value in counts.items():
            _check_name(name, "count name")
            if isinstance(value, bool) or not isinstance(value, int | float) or (
                isinstance(value, float) and not math.isfinite(value)
            ):
                shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
                msg = (
                    f"stage {self.name!r}: st.count({name}=...) needs a finite number "
                    f"(got {shown} of type {_type_name(value)})"
                )
                raise RagcostUsageError(msg)
            if not 0 <= value <= MAX_COUNT:
                shown = repr(value) if len(repr(value)) <= 60 else _digits(value)
                msg = (
                    f"stage {self.name!r}: st.count({name}=...) must be from 0 to 2**53 "
                    f"(got {shown})"
                )
                raise RagcostUsageError(msg)
            if not self._rec.metering:
                continue
            key = f"count_{name}"
            self._metrics[key] = self._metrics.get(key, 0.0) + float(value)
            self._sources[key] = "given"

    def first_token(self, *_: Any, **__: Any) -> None:
        """Mark the first streamed token (only the first call counts). Accepts and ignores
        arguments so it can be passed straight in as a streaming callback."""
        if not self._rec.metering or "ttft_ms" in self._metrics:
            return
        now = time.perf_counter_ns()
        # our own token counting so far is not the pipeline's time to first token
        self._metrics["ttft_ms"] = (now - self._t0 - self._own_ns) / 1e6
        self._sources["ttft_ms"] = "timer"
        self._rec._first_token(now - self._rec._own_ns)

    # -- closing ------------------------------------------------------------------------
    def _record(self) -> StageRecord:
        metrics = dict(self._metrics)
        sources = dict(self._sources)
        kinds = dict(self._counted)
        for kind in ("prompt", "completion"):
            if kind in self._provider:
                kinds[kind] = self._provider[kind]
                sources[f"tokens_{kind}"] = self._provider_source or "provider"
        if "cached_prompt" in self._provider:
            kinds["cached_prompt"] = self._provider["cached_prompt"]
            sources["tokens_cached_prompt"] = self._provider_source or "provider"
        for kind, value in kinds.items():
            metrics[f"tokens_{kind}"] = value
        billed = [k for k in BILLED_KINDS if k in kinds]
        if billed:
            metrics["tokens_total"] = sum(kinds[k] for k in billed)
            sources["tokens_total"] = "derived"
        start_ns = self._rec._request_start_ns()
        start_ms = None if start_ns is None else max(0.0, (self._t0 - start_ns) / 1e6)
        return StageRecord(self.name, metrics, sources, self._error, self._model, start_ms)


class Recorder:
    """Hands out requests and stages; collects a :class:`ScenarioRun`."""

    def __init__(
        self,
        *,
        scenario: str,
        nodeid: str,
        metering: bool,
        meters: MeterSet | None = None,
        counter: Any = None,
        requests_cap: int | None = None,
        marker_requests: int | None = None,
        warmup: int = 0,
        marker_load: Mapping[str, Any] | None = None,
        spans: SpanBridge | None = None,
        knobs: Mapping[str, Any] | None = None,
        sweep: str | None = None,
        progress: Callable[[int, int | None], None] | None = None,
    ) -> None:
        self.scenario = scenario
        #: called after each measured request with (requests done, total when known)
        self._progress = progress
        self.knobs = dict(knobs or {})
        self.sweep = sweep
        self.nodeid = nodeid
        self.metering = metering
        self.meters = meters
        self._counter = counter
        self._cap = requests_cap
        self._marker_requests = marker_requests
        self._warmup = warmup
        # captured OpenTelemetry spans of the app (only with --ragcost and the SDK)
        self._spans = spans if metering else None
        self._records: list[RequestRecord] = []
        self._samples: list[Sample] = []
        self._stage: Stage | None = None
        self._req_open = False
        self._req_stages: list[StageRecord] = []
        self._req_window: Window | None = None
        self._req_ttft_ns: int | None = None
        self._req_trace = ""
        self._req_item: tuple[str, str] | None = None
        self._recording = True  # False during warm-up
        self._index = 0
        self.token_notes: dict[str, str] = {}
        self._iterating = False
        self._own_ns = 0
        self._own_cpu_ns = 0
        self._marker_load = dict(marker_load or {})
        self._load: dict[str, Any] = {}
        # under ragcost.load(), each driver thread records on a child recorder of its own
        self._threads = threading.local()

    # -- requests --------------------------------------------------------------------------
    def requests(
        self,
        items: Iterable[T],
        n: int | None = None,
        id: Callable[[T], object] | None = None,
    ) -> Iterator[T]:
        """Iterate over ``items``; each iteration is one metered request with its own trace id.

        ``n`` (else the marker's ``requests``) caps how many items are used, and
        ``--ragcost-requests`` lowers that cap further (also when metering is off, so a
        quick run stays quick). Warm-up requests (the marker's
        ``warmup``) run first, on the first items, and are not counted.

        Each request is keyed by its item, so a run over some of the items is compared
        with the baseline of those items: ``id`` is a function giving an item's stable id
        (e.g. ``id=lambda q: q.slug``); without it the id is a content hash of the item
        (strings, bytes, numbers, dicts, lists, dataclasses, named tuples; see
        ``pytest_ragcost.record.item_id``).
        """
        __tracebackhide__ = True
        if n is not None and (isinstance(n, bool) or not isinstance(n, int) or n < 1):
            msg = f"ragcost.requests(n=...) must be a whole number >= 1 (got {n!r})"
            raise RagcostUsageError(msg)
        if id is not None and not callable(id):
            msg = (
                f"ragcost.requests(id=...) takes a function of the item giving its id "
                f"(got {type(id).__name__}), e.g. id=lambda item: item.slug"
            )
            raise RagcostUsageError(msg)
        if self._iterating:
            msg = "ragcost.requests() cannot be nested inside another ragcost.requests() loop"
            raise RagcostUsageError(msg)
        if self._load or self._child_here() is not None:
            msg = (
                "ragcost.requests() cannot be used in a test that calls ragcost.load(): "
                "the load driver opens one request per call of the function it drives"
            )
            raise RagcostUsageError(msg)
        limit = n if n is not None else self._marker_requests
        if self._cap is not None:
            limit = self._cap if limit is None else min(limit, self._cap)
        return self._iterate(items, limit, ItemIds(id))

    def _iterate(self, items: Iterable[T], limit: int | None, ids: ItemIds) -> Iterator[T]:
        self._iterating = True
        try:
            warmup = self._warmup if self.metering else 0
            if warmup:
                if isinstance(items, Sequence):
                    pool: Iterable[T] = (
                        items[i % len(items)] for i in range(warmup) if len(items)
                    )
                    measured: Iterable[T] = items
                else:
                    iterator = iter(items)
                    pool = itertools.islice(iterator, warmup)
                    measured = iterator
                self._recording = False
                for item in pool:
                    self._open_request()
                    yield item
                    self._close_request()
                self._recording = True
            else:
                measured = items
            source = measured if limit is None else itertools.islice(measured, limit)
            total = limit
            if isinstance(measured, Sized):
                total = len(measured) if total is None else min(total, len(measured))
            for done, item in enumerate(source, 1):
                if self.metering:
                    try:
                        self._req_item = ids.next(item)
                    except ItemIdError as exc:
                        raise RagcostUsageError(str(exc)) from None
                self._open_request()
                try:
                    yield item
                except GeneratorExit:
                    # `break` out of the loop: this request's body ran to completion.
                    # (When the body raised, finish() has closed it with the error first.)
                    self._close_request()
                    raise
                self._close_request()
                if self._progress is not None and self.metering:
                    self._progress(done, total)
        finally:
            self._recording = True
            self._iterating = False

    def _open_request(self) -> None:
        self._req_open = True
        self._req_stages = []
        self._req_trace = _trace_id()
        self._req_ttft_ns = None
        self._own_ns = 0
        self._own_cpu_ns = 0
        if self._spans is not None and self._recording:
            self._spans.open_request(self._req_trace)
        if self.metering:
            self._req_window = self._plan("request").open()

    def _plan(self, kind: str) -> Plan:
        return WALL_ONLY if self.meters is None else self.meters.plan(kind)

    def _request_start_ns(self) -> int | None:
        """perf_counter_ns when the open request started, if metered."""
        return self._req_window.wall0_ns if self._req_window is not None else None

    def _close_request(self, error: str | None = None) -> None:
        if not self._req_open:
            return
        self._req_open = False
        if not (self.metering and self._recording):
            return
        span_ttft_ms: float | None = None
        if self._spans is not None:
            # the app's own spans: provider tokens and stages it ran outside ragcost.stage()
            stages, span_ttft_ms = self._spans.close_request(self._req_stages)
            self._req_stages = list(stages)
        assert self._req_window is not None
        figures = self._req_window.close(self._own_ns, self._own_cpu_ns)
        metrics = figures.metrics
        sources = figures.sources
        if self._req_ttft_ns is not None:
            metrics["ttft_ms"] = (self._req_ttft_ns - self._req_window.wall0_ns) / 1e6
            sources["ttft_ms"] = "timer"
        elif span_ttft_ms is not None:
            metrics["ttft_ms"] = span_ttft_ms
            sources["ttft_ms"] = "span"
        # request totals of what stages counted: tokens and counts add up over stages
        for st in self._req_stages:
            for name, value in st.metrics.items():
                if name.startswith(("tokens_", "count_")):
                    metrics[name] = metrics.get(name, 0.0) + value
                    sources.setdefault(name, st.sources.get(name, "derived"))
        stage_errors = [s for s in self._req_stages if s.error]
        if error is None and stage_errors:
            error = f"stage {stage_errors[0].name!r}: {stage_errors[0].error}"
        metrics["errors"] = float(len(stage_errors) or (1 if error else 0))
        sources["errors"] = "given"
        self._records.append(
            RequestRecord(
                trace_id=self._req_trace,
                index=self._index,
                metrics=metrics,
                sources=sources,
                stages=tuple(self._req_stages),
                error=error,
                item_id=self._req_item[0] if self._req_item else None,
                item_label=self._req_item[1] if self._req_item else None,
            )
        )
        self._index += 1

    def _first_token(self, now_ns: int) -> None:
        if self._req_ttft_ns is None:
            self._req_ttft_ns = now_ns

    # -- stages ------------------------------------------------------------------------------
    def stage(self, name: str) -> Stage:
        """Open a stage of the current request: ``with ragcost.stage("generate") as st:``."""
        __tracebackhide__ = True
        child = self._child_here()
        if child is not None:
            return child.stage(name)
        _check_name(name, "stage name")
        return Stage(self, name)  # with metering off it validates and measures nothing

    def _enter_stage(self, stage: Stage) -> None:
        __tracebackhide__ = True
        if self._stage is not None:
            msg = (
                f"stage {stage.name!r} was opened inside stage {self._stage.name!r}; stages do "
                "not nest: close one before opening the next"
            )
            raise RagcostUsageError(msg)
        if not self._req_open:
            msg = (
                f"stage {stage.name!r} was opened outside a request: open stages inside "
                "`for item in ragcost.requests(items):`"
            )
            raise RagcostUsageError(msg)
        self._stage = stage
        if self._spans is not None and self._recording:
            self._spans.enter_stage()

    def _exit_stage(self, stage: Stage) -> None:
        self._stage = None
        if self._spans is not None and self._recording:
            self._spans.exit_stage()
        if self.metering and self._recording:
            self._req_stages.append(stage._record())

    # -- tokens ------------------------------------------------------------------------------
    def _count_tokens(
        self, value: Any, model: str | None, stage: str, kind: str
    ) -> tuple[int, str]:
        __tracebackhide__ = True
        if isinstance(value, bool):
            value = None  # falls into the error below
        if isinstance(value, int):
            if not 0 <= value <= MAX_COUNT:
                shown = _digits(value)
                msg = (
                    f"stage {stage!r}: st.tokens({kind}=...) as a count must be from 0 to "
                    f"2**53 (got {shown})"
                )
                raise RagcostUsageError(msg)
            return value, "given"
        if isinstance(value, str) or (
            isinstance(value, Sequence)
            and not isinstance(value, bytes | bytearray)
            and all(isinstance(v, str) for v in value)
        ):
            result = self._counter.count(value, model)
            if getattr(result, "assumed", False):
                self.token_notes[str(model)] = (
                    f"model {model!r} is unknown to tiktoken; tokens counted with "
                    f"{result.encoding} as an approximation"
                )
            return int(result.tokens), "counted"
        msg = (
            f"stage {stage!r}: st.tokens({kind}=...) takes a string, a list of strings or an "
            f"integer count (got {type(value).__name__})"
        )
        raise RagcostUsageError(msg)

    # -- samples -----------------------------------------------------------------------------
    def sample(
        self,
        *,
        question: str | None = None,
        answer: str | None = None,
        contexts: Sequence[str] = (),
        reference: str | None = None,
        reference_contexts: Sequence[str] = (),
        context_ids: Sequence[Any] = (),
        reference_ids: Sequence[Any] = (),
        **extra: Any,
    ) -> None:
        """Record one quality sample for RAGAS and retrieval metrics."""
        __tracebackhide__ = True
        child = self._child_here()
        if child is not None:
            child.sample(
                question=question, answer=answer, contexts=contexts, reference=reference,
                reference_contexts=reference_contexts, context_ids=context_ids,
                reference_ids=reference_ids, **extra,
            )
            return
        for name, text in (("question", question), ("answer", answer), ("reference", reference)):
            if text is not None and not isinstance(text, str):
                msg = (
                    f"ragcost.sample({name}=...) takes a string or None "
                    f"(got {_type_name(text)})"
                )
                raise RagcostUsageError(msg)
        for name, value in (("contexts", contexts), ("reference_contexts", reference_contexts)):
            if (
                isinstance(value, str | bytes | Mapping)
                or not isinstance(value, Sequence)
                or not all(isinstance(v, str) for v in value)
            ):
                found = _type_name(value)
                if isinstance(value, Sequence) and not isinstance(value, str | bytes):
                    odd = next(v for v in value if not isinstance(v, str))
                    found = f"a {found} holding a {_type_name(odd)}"
                msg = f"ragcost.sample({name}=...) takes a list of strings (got {found})"
                raise RagcostUsageError(msg)
        for name, ids in (("context_ids", context_ids), ("reference_ids", reference_ids)):
            if isinstance(ids, str | bytes | Mapping) or not isinstance(ids, Sequence):
                msg = (
                    f"ragcost.sample({name}=...) takes a list of ids (strings or numbers; "
                    f"got {_type_name(ids)})"
                )
                raise RagcostUsageError(msg)
        if not (self.metering and self._recording):
            return
        for key in list(extra):
            extra[key] = _storable(extra[key], "ragcost.sample", key)
        self._samples.append(
            Sample(
                question=question,
                answer=answer,
                contexts=tuple(contexts),
                reference=reference,
                reference_contexts=tuple(reference_contexts),
                context_ids=tuple(str(x) for x in context_ids),
                reference_ids=tuple(str(x) for x in reference_ids),
                trace_id=self._req_trace if self._req_open else None,
                extra=dict(extra),
            )
        )

    # -- result ------------------------------------------------------------------------------
    def finish(self) -> ScenarioRun:
        """Close what the test left open (a request whose body raised) and build the run."""
        if self._stage is not None:
            self._stage = None
        if self._req_open:
            self._close_request(error="the request did not complete (the test raised)")
        energy: Mapping[str, Any] = self.meters.describe() if self.meters is not None else {}
        return ScenarioRun(
            scenario=self.scenario,
            nodeid=self.nodeid,
            requests=tuple(self._records),
            warmup=self._warmup if self.metering else 0,
            samples=tuple(self._samples),
            meters=energy,
            token_notes=dict(self.token_notes),
            load=dict(self._load),
            knobs=dict(self.knobs),
            sweep=self.sweep,
        )

    # -- load profiles -----------------------------------------------------------------------
    def load(
        self,
        fn: Callable[[T], object],
        items: Sequence[T],
        **level: Any,
    ) -> LoadReport:
        """Drive ``fn(item)`` under load; each call is one metered request.

        Keywords (defaults from the marker's ``load={...}``): ``users=N`` (closed loop: N
        concurrent users) or ``rate=R`` (open loop: R requests per second, latency from
        each intended start), ``requests`` and/or ``duration_s`` (bounds; else the
        marker's ``requests``, else one pass over ``items``; ``--ragcost-requests`` lowers
        it), ``timeout_s``, ``arrival`` (``poisson`` or ``uniform``), ``workers`` (open
        loop: calls in flight at most), ``seed``. Inside ``fn``, ``ragcost.stage()`` and
        ``ragcost.sample()`` work as in a ``ragcost.requests()`` loop. The marker's
        ``warmup`` requests run first, one at a time, unrecorded. One level per test:
        key each level as its own scenario (e.g. parametrize ``users`` and name the
        scenario ``"qa-u{users}"``).
        """
        __tracebackhide__ = True
        from ..load.runner import run
        from ..load.spec import LoadSpecError, parse

        if self._load or self._records or self._iterating:
            msg = (
                "ragcost.load() runs one load level per test, on its own: give each level its "
                "own test and scenario (parametrize, e.g. scenario='qa-u{users}')"
            )
            raise RagcostUsageError(msg)
        if isinstance(items, str) or not isinstance(items, Sequence) or not items:
            msg = (
                "ragcost.load(fn, items) needs a non-empty sequence of items (a list or "
                f"tuple; got {type(items).__name__})"
            )
            raise RagcostUsageError(msg)
        if not callable(fn):
            msg = f"ragcost.load(fn, items): fn must be callable (got {type(fn).__name__})"
            raise RagcostUsageError(msg)
        try:
            spec = parse({**self._marker_load, **level}, "ragcost.load()")
        except LoadSpecError as exc:
            raise RagcostUsageError(str(exc)) from None
        limit = spec.requests if spec.requests is not None else self._marker_requests
        if limit is None and spec.duration_s is None:
            limit = len(items)
        if self._cap is not None:
            limit = self._cap if limit is None else min(limit, self._cap)
        warmup = self._warmup if self.metering else 0
        report = run(self, fn, items, spec, limit, warmup, (RagcostUsageError,))
        if not self._load:
            self._load = dict(report.figures)
        return report

    def queue(
        self, pool: Any, name: str | None = None
    ) -> TrackedSemaphore | TrackedExecutor:
        """Wrap the app's own worker pool (a ``concurrent.futures`` executor, or a
        semaphore or lock) so each request records its wait before start
        (``wait_ms``) and the queue it found (``queue_depth``); use the wrapper where
        the app used the pool. Measured under ``ragcost.load()``; elsewhere it only counts.
        """
        __tracebackhide__ = True
        from ..load.queue import QueueUsageError, track

        try:
            return track(pool, name)
        except QueueUsageError as exc:
            raise RagcostUsageError(str(exc)) from None

    def _child(self) -> Recorder:
        """A recorder for one driver thread: same scenario and token counter, no meters
        (process and energy meters see the whole process; the level is metered once)."""
        child = Recorder(
            scenario=self.scenario,
            nodeid=self.nodeid,
            metering=self.metering,
            meters=None,
            counter=self._counter,
        )
        child._recording = self._recording
        return child

    def _bind_child(self, child: Recorder | None) -> None:
        self._threads.child = child

    def _child_here(self) -> Recorder | None:
        child: Recorder | None = getattr(self._threads, "child", None)
        return child

    def _adopt(
        self,
        records: Sequence[RequestRecord],
        children: Sequence[Recorder],
        figures: Mapping[str, Any],
    ) -> None:
        from dataclasses import replace

        for record in records:
            self._records.append(replace(record, index=self._index))
            self._index += 1
        for child in children:
            self._samples.extend(child._samples)
            self.token_notes.update(child.token_notes)
        self._load = dict(figures)

    @property
    def recorded(self) -> int:
        """How many requests were recorded so far."""
        return len(self._records)
