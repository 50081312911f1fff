"""``ragcost.load(fn, items, ...)``: one load level of a scenario, recorded like its requests.

Each call records on a request of its own, opened on the thread that runs it through the
recorder's public seam (:class:`~pytest_ragcost.record.child.MeteredCalls`): stages,
tokens and samples work as in a plain ``ragcost.requests()`` loop. The process and
energy meters see the whole machine, not one thread, so under concurrency a request
cannot be given its own CPU time or energy: the level's totals are measured once and
every request carries an equal share (``cpu_ms``, ``energy_j``, ...: the cost per
answer at this load).

Per request, on top of what its stages recorded:

* ``wall_ms``: from the request's intended start to its return, so waiting before
  start is part of the latency a user sees (the same for ``ttft_ms``);
* ``wait_ms``: the part of it spent waiting: in the driver's backlog (open loop) plus in
  the app's queues wrapped with ``ragcost.queue()``;
* ``queue_depth``: how many requests were waiting ahead of it on arrival (the driver's
  backlog plus the longest tracked queue it entered);
* ``active_workers``: the busy workers of the tracked pool it entered, itself included
  (or, when it entered none, the requests of this level in flight);
* ``timeouts``: 1 when it ran past ``timeout_s`` or raised ``TimeoutError``.

The level itself (``ScenarioRun.load``) carries ``throughput_rps`` (requests completed
without error per second, from the first intended start to the last return), the
time-averaged ``queue_depth_mean`` and ``in_flight_mean``, and each tracked queue.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from ..meters.window import Figures
from ..run import RequestRecord
from ..run.codec import encode_load
from ..run.model import LoadFigures, LoadLevel
from . import context
from .bounded import BoundedCaller, Job
from .context import Shot
from .driver import Driven, drive
from .spec import LoadSpec

if TYPE_CHECKING:
    from ..record.child import CallRequest, MeteredCalls

T = TypeVar("T")

#: request metrics the driver adds; run-level ``throughput_rps`` lives on ``run.load``
REQUEST_METRICS = ("wait_ms", "queue_depth", "active_workers", "timeouts")
#: figures that add up over requests, so each request carries its share of the total
_SHARED = ("cpu_ms", "ctx_switches", "page_faults")
#: the level window's figures of the process (the rest are the energy meters')
_PROCESS = ("wall_ms", *_SHARED, "peak_rss_mb")


@dataclass(frozen=True)
class LoadReport:
    """What ``ragcost.load()`` returns: the level's figures (also in the JSON report).
    ``report["throughput_rps"]`` reads a figure by its name in the JSON."""

    figures: LoadFigures

    def __getitem__(self, key: str) -> Any:
        return encode_load(self.figures)[key]

    @property
    def throughput_rps(self) -> float:
        return self.figures.throughput_rps

    @property
    def queue_depth_mean(self) -> float:
        return self.figures.queue_depth_mean

    @property
    def errors(self) -> list[str]:
        return list(self.figures.first_errors)


def run(
    calls: MeteredCalls,
    fn: Callable[[T], object],
    items: Sequence[T],
    spec: LoadSpec,
    limit: int | None,
    warmup: int,
) -> LoadReport:
    """Drive ``fn`` over ``items`` at ``spec``'s level and record every request."""
    first_errors: list[str] = []
    failed = [0]
    lock = threading.Lock()

    def failure(error: str) -> None:
        with lock:
            failed[0] += 1
            if len(first_errors) < 5:
                first_errors.append(error)

    def attempt(
        item: T, opened: list[CallRequest], job: Job[_Done | None] | None
    ) -> _Done | None:
        if job is not None:
            with job.lock:
                if job.given_up:  # the driver stopped waiting before the call began
                    return None
                opened.append(calls.open())
        else:
            opened.append(calls.open())
        request = opened[0]
        error: str | None = None
        timed_out = False
        try:
            fn(item)
        except calls.usage_errors:
            request.close("the request raised a usage error")
            raise
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
            timed_out = isinstance(exc, TimeoutError)
            failure(error)
        return _Done(request.close(error), timed_out)

    caller = BoundedCaller(spec.timeout_s) if spec.timeout_s is not None else None

    def warm(item: T) -> None:
        request = calls.open(warmup=True)
        try:
            fn(item)
        finally:
            request.close()

    def call(item: T) -> _Done | None:
        opened: list[CallRequest] = []
        if caller is None:
            return attempt(item, opened, None)
        shot = context.current()

        def on_helper(job: Job[_Done | None]) -> _Done | None:
            context.bind(shot)  # a tracked queue charges its wait to this request
            try:
                return attempt(item, opened, job)
            finally:
                context.bind(None)

        job: Job[_Done | None] = Job(on_helper)
        if caller.call(job):
            if job.error is not None:
                raise job.error
            return job.result
        error = (
            f"TimeoutError: the call ran past timeout_s={caller.timeout_s:g} s and was "
            "abandoned (it goes on in the background)"
        )
        failure(error)
        record = opened[0].abandon(error) if opened else None
        return _Done(record, True)

    try:
        for i in range(warmup):
            item = items[i % len(items)]
            if caller is None:
                warm(item)
                continue
            warm_job: Job[None] = Job(partial(_warm_job, warm, item))
            if caller.call(warm_job) and warm_job.error is not None:
                raise warm_job.error
        with lock:
            first_errors.clear()
            failed[0] = 0
        window = calls.level_window()
        driven = drive(call, items, spec, limit)
        level = window.close()
    finally:
        if caller is not None:
            caller.close()
    figures = _figures(driven, first_errors, failed[0])
    if calls.metering:
        records = _records(driven, level)
        calls.adopt(records, figures)
    else:
        if first_errors:
            msg = (
                f"{figures.errors} of {figures.requests} requests failed under load "
                f"({spec.level}); first: {first_errors[0]}"
            )
            raise RuntimeError(msg)
    return LoadReport(figures)


def _warm_job(warm: Callable[[T], None], item: T, job: Job[None]) -> None:
    del job  # a warm-up call records nothing: there is nothing to abandon
    warm(item)


@dataclass(frozen=True)
class _Done:
    """What one call of the driven function left: its record (None when not metered)."""

    record: RequestRecord | None
    timed_out: bool


def _done(driven: Driven[Any]) -> list[tuple[Shot, _Done]]:
    return [(s, s.result) for s in driven.shots if isinstance(s.result, _Done)]


def _records(driven: Driven[Any], level: Figures) -> list[RequestRecord]:
    done = [(s, d.record, d.timed_out) for s, d in _done(driven) if d.record is not None]
    n = len(done)
    out: list[RequestRecord] = []
    for shot, record, timed_out in done:
        assert record is not None
        metrics = dict(record.metrics)
        sources = dict(record.sources)
        driver_wait_ms = (shot.start_ns - shot.intended_ns) / 1e6
        metrics["wall_ms"] = metrics.get("wall_ms", 0.0) + driver_wait_ms
        if "ttft_ms" in metrics:
            metrics["ttft_ms"] += driver_wait_ms
        metrics["wait_ms"] = driver_wait_ms + shot.queue_wait_ns / 1e6
        metrics["queue_depth"] = float(shot.backlog_ahead + shot.queue_ahead)
        metrics["active_workers"] = float(shot.pool_active or shot.in_flight)
        metrics["timeouts"] = float(max(shot.timeouts, int(timed_out)))
        for key in ("wait_ms", "queue_depth", "active_workers"):
            sources[key] = "timer"
        sources["timeouts"] = "given"
        for key in _SHARED:
            if key in level.metrics:
                metrics[key] = level.metrics[key] / n
                sources[key] = "derived"
        if "peak_rss_mb" in level.metrics:
            metrics["peak_rss_mb"] = level.metrics["peak_rss_mb"]
            sources["peak_rss_mb"] = "timer"
        for key, value in level.metrics.items():
            if key not in _PROCESS:  # the energy meters' figures, also shared out
                metrics[key] = value / n
                sources[key] = level.sources.get(key, "derived")
        out.append(replace(record, metrics=metrics, sources=sources))
    return out


def _figures(driven: Driven[Any], first_errors: list[str], errors: int) -> LoadFigures:
    spec = driven.spec
    pairs = _done(driven)
    done = [s for s, _ in pairs]
    # a failing stage the test caught still marks its request; raised errors are counted
    failed = max(errors, sum(1 for _, d in pairs if d.record is not None and d.record.error))
    timeouts = sum(1 for s, d in pairs if s.timeouts or d.timed_out)
    ok = len(done) - failed
    elapsed = driven.elapsed_s
    service_s = sum(max(s.end_ns - s.start_ns, 0) for s in done) / 1e9
    depth = sum(w.depth_mean for w in driven.queues)
    depth_max = max((w.depth_max for w in driven.queues), default=0)
    if driven.backlog is not None:
        depth += driven.backlog.depth_mean
        depth_max = max(depth_max, driven.backlog.depth_max)
    waits = [
        (s.start_ns - s.intended_ns + s.queue_wait_ns) / 1e6 for s in done
    ]
    return LoadFigures(
        level=spec.level,
        mode=spec.mode,
        spec=LoadLevel(**spec.to_dict()),
        requests=len(done),
        errors=failed,
        timeouts=timeouts,
        elapsed_s=elapsed,
        throughput_rps=ok / elapsed,
        wait_ms_mean=sum(waits) / len(waits) if waits else 0.0,
        queue_depth_mean=depth,
        queue_depth_max=depth_max,
        in_flight_mean=service_s / elapsed,
        offered_rps=spec.rate,
        queues=tuple(w.to_dict() for w in driven.queues),
        first_errors=tuple(first_errors),
        backlog=driven.backlog.to_dict() if driven.backlog is not None else None,
    )
