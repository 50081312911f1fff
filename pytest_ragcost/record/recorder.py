"""The ``ragcost`` fixture's object: requests, stages, samples and load levels of a test.

The :class:`Recorder` is what the ``ragcost`` fixture hands to a test. When metering is
off it keeps the same interface and runs the test's code, but measures nothing. The
work is split by job: a stage (:mod:`.stage`), one thread's open request
(:mod:`.request`), the requests of a load driver's threads (:mod:`.child`), argument
checks (:mod:`.checks`) and quality samples (:mod:`.samples`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence, Sized
from dataclasses import replace
from typing import TYPE_CHECKING, Any, TypeVar

from ..meters.window import WALL_ONLY, Plan, Window
from ..run import RequestRecord, Sample, ScenarioRun
from ..run.model import LoadFigures
from .checks import (
    MAX_COUNT,
    VALID_NAMES,
    RagcostUsageError,
    RagcostValueWarning,
    check_name,
    storable,
)
from .child import MeteredCalls, ThreadBinding
from .item_id import ItemIdError, ItemIds
from .request import RequestRecorder
from .samples import build_sample, check_sample
from .stage import BILLED_KINDS, Stage

if TYPE_CHECKING:
    from ..export.opentelemetry import SpanBridge
    from ..load.queue import TrackedExecutor, TrackedSemaphore
    from ..load.runner import LoadReport
    from ..meters.registry import MeterSet

__all__ = [
    "BILLED_KINDS",
    "MAX_COUNT",
    "RagcostUsageError",
    "RagcostValueWarning",
    "Recorder",
    "Stage",
]

T = TypeVar("T")


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
        self._records: list[RequestRecord] = []
        self._samples: list[Sample] = []
        self.token_notes: dict[str, str] = {}
        # the test's own thread: its requests() loop
        self._main = RequestRecorder(
            metering=metering,
            stage_plan=self._plan("stage"),
            request_plan=self._plan("request"),
            counter=counter,
            token_notes=self.token_notes,
            # captured OpenTelemetry spans of the app (only with --ragcost and the SDK)
            spans=spans,
        )
        # under ragcost.load(), each call records on a child request of its own thread
        self._threads = ThreadBinding()
        self._iterating = False
        self._marker_load = dict(marker_load or {})
        self._load: LoadFigures | None = None

    def _plan(self, kind: str) -> Plan:
        return WALL_ONLY if self.meters is None else self.meters.plan(kind)

    def _here(self) -> RequestRecorder:
        """The request recorder of the calling thread."""
        return self._threads.request or self._main

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
        if self._load is not None or self._threads.request is not None:
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
        main = self._main
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
                main.recording = False
                for item in pool:
                    main.open()
                    yield item
                    main.close()
                main.recording = True
            else:
                measured = items
            source = measured if limit is None else itertools.islice(measured, limit)
            total = limit
            if isinstance(measured, Sized):
                total = len(measured) if total is None else min(total, len(measured))
            progress = self._progress if self.metering else None
            for done, item in enumerate(source, 1):
                key: tuple[str, str] | None = None
                if self.metering:
                    try:
                        key = ids.next(item)
                    except ItemIdError as exc:
                        raise RagcostUsageError(str(exc)) from None
                main.open(key)
                try:
                    yield item
                except GeneratorExit:
                    # `break` out of the loop: this request's body ran to completion.
                    # (When the body raised, finish() has closed it with the error first.)
                    self._keep(main.close(None, len(self._records)))
                    raise
                self._keep(main.close(None, len(self._records)))
                if progress is not None:
                    progress(done, total)
        finally:
            main.recording = True
            self._iterating = False

    def _keep(self, record: RequestRecord | None) -> None:
        if record is not None:
            self._records.append(record)

    # -- stages ------------------------------------------------------------------------------
    def stage(self, name: str) -> Stage:
        """Open a stage of the current request: ``with ragcost.stage("generate") as st:``."""
        __tracebackhide__ = True
        if name not in VALID_NAMES:
            check_name(name, "stage name")
        # with metering off it validates and measures nothing
        return Stage(self._threads.request or self._main, name)

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
        check_sample(question, answer, contexts, reference, reference_contexts, context_ids,
                     reference_ids)
        request = self._here()
        if not request.measuring:
            return
        for key in list(extra):
            extra[key] = storable(extra[key], "ragcost.sample", key)
        self._samples.append(
            build_sample(
                question=question, answer=answer, contexts=contexts, reference=reference,
                reference_contexts=reference_contexts, context_ids=context_ids,
                reference_ids=reference_ids,
                trace_id=request.trace if request.is_open else None, extra=extra,
            )
        )

    # -- result ------------------------------------------------------------------------------
    def finish(self) -> ScenarioRun:
        """Close what the test left open (a request whose body raised) and build the run."""
        if self._main.is_open:
            self._keep(self._main.close(
                "the request did not complete (the test raised)", len(self._records)
            ))
        energy: Mapping[str, Any] = self.meters.describe() if self.meters is not None else {}
        return ScenarioRun(
            scenario=self.scenario,
            nodeid=self.nodeid,
            requests=tuple(self._records),
            warmup=self._warmup if self.metering else 0,
            samples=tuple(self._samples),
            meters=energy,
            token_notes=dict(self.token_notes),
            load=self._load,
            knobs=dict(self.knobs),
            sweep=self.sweep,
        )

    def restart(self) -> None:
        """Forget the requests, samples and load figures recorded so far, so the test can
        run again and be measured afresh (the second look before a noisy failure)."""
        if self._iterating:
            msg = "ragcost: a scenario cannot be measured again inside its requests() loop"
            raise RagcostUsageError(msg)
        self._records = []
        self._samples = []
        self._load = None

    @property
    def recorded(self) -> int:
        """How many requests were recorded so far."""
        return len(self._records)

    def recorded_requests(self) -> tuple[RequestRecord, ...]:
        """The requests recorded so far, in order."""
        return tuple(self._records)

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

        if self._load is not None or self._records or self._iterating:
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
        try:
            report = run(self.calls(), fn, items, spec, limit, warmup)
        except LoadSpecError as exc:
            raise RagcostUsageError(str(exc)) from None
        if self._load is None:
            self._load = report.figures
        return report

    def calls(self) -> MeteredCalls:
        """The seam a load driver uses: each call it runs is one request of this test."""
        return MeteredCalls(
            metering=self.metering,
            binding=self._threads,
            level_plan=self._level_window,
            counter=self._counter,
            token_notes=self.token_notes,
            adopt=self._adopt,
        )

    def _level_window(self) -> Window:
        return self._plan("level").open()

    def _adopt(self, records: Sequence[RequestRecord], figures: LoadFigures) -> None:
        for record in records:
            self._records.append(replace(record, index=len(self._records)))
        self._load = figures

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
