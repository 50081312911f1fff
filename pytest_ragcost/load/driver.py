"""The load driver: a thread pool that calls a Python function as N users or at a rate.

Threads, not greenlets: a RAG pipeline spends its time in C code that releases the GIL
(llama.cpp, torch, numpy, a database client), so threads overlap it the way the
service's own worker threads would; gevent (Locust) would run such calls one at a time.
``benchmarks/bench_load_driver.py`` measures both.

Nothing here imports pytest or the recorder: the driver calls ``call(item)``, stamps
times on a :class:`~pytest_ragcost.load.context.Shot` per request and reads the queue
gauges over the window.
"""

from __future__ import annotations

import queue as queue_mod
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from . import context, gauge
from .spec import LoadSpec

T = TypeVar("T")


@dataclass
class Driven(Generic[T]):
    """What a load run did: one shot per request (in order of intended start) and the
    queues over the window from the first intended start to the last return."""

    spec: LoadSpec
    shots: list[context.Shot]
    t0_ns: int
    t1_ns: int
    queues: list[gauge.Window] = field(default_factory=list)
    #: the driver's own backlog (open loop): arrivals waiting for a free driver thread
    backlog: gauge.Window | None = None

    @property
    def elapsed_s(self) -> float:
        return max(self.t1_ns - self.t0_ns, 1) / 1e9


def _intervals_s(spec: LoadSpec) -> Callable[[], float]:
    assert spec.rate is not None
    rate = spec.rate
    if spec.arrival == "uniform":
        return lambda: 1.0 / rate
    rng = random.Random(spec.seed)
    return lambda: rng.expovariate(rate)


def drive(
    call: Callable[[T], Any],
    items: Sequence[T],
    spec: LoadSpec,
    limit: int | None,
) -> Driven[T]:
    """Run one load level. ``limit`` bounds the request count (``None``: only
    ``spec.duration_s`` bounds it). An exception out of ``call`` stops the run (no new
    requests start) and is re-raised here once every thread has returned: ``call`` is
    expected to record a failing request itself and to raise only what should abort."""
    if not items:
        msg = "ragcost.load() got no items to send"
        raise ValueError(msg)
    threads_wanted = spec.threads_for(limit)
    readings = [(g, g.read()) for g in gauge.live()]
    for g, _ in readings:
        g.reset_max()
    stop = threading.Event()
    failures: list[BaseException] = []
    shots: list[context.Shot] = []
    lock = threading.Lock()
    in_flight = [0]
    deadline_ns = None
    t0 = time.perf_counter_ns()
    if spec.duration_s is not None:
        deadline_ns = t0 + int(spec.duration_s * 1e9)

    def serve(shot: context.Shot, item: T) -> None:
        with lock:
            in_flight[0] += 1
            shot.in_flight = in_flight[0]
        previous = context.bind(shot)
        shot.start_ns = time.perf_counter_ns()
        try:
            shot.result = call(item)
        except BaseException as exc:
            failures.append(exc)
            stop.set()
        finally:
            shot.end_ns = time.perf_counter_ns()
            context.bind(previous)
            with lock:
                in_flight[0] -= 1
                shots.append(shot)
        if spec.timeout_s is not None and shot.end_ns - shot.intended_ns > spec.timeout_s * 1e9:
            shot.timeouts = max(shot.timeouts, 1)

    backlog: gauge.Gauge | None = None
    if spec.users is not None:
        counter = iter(range(limit if limit is not None else 2**62))

        def user() -> None:
            while not stop.is_set():
                with lock:
                    seq = next(counter, None)
                now = time.perf_counter_ns()
                if seq is None or (deadline_ns is not None and now >= deadline_ns):
                    return
                serve(context.Shot(seq, intended_ns=now), items[seq % len(items)])

        threads = [
            threading.Thread(target=user, name=f"ragcost-user-{i}", daemon=True)
            for i in range(threads_wanted)
        ]
        for th in threads:
            th.start()
        for th in threads:
            th.join()
    else:
        backlog = gauge.Gauge("driver-backlog")
        pending: queue_mod.Queue[tuple[context.Shot, T, int] | None] = queue_mod.Queue()

        def worker() -> None:
            while True:
                task = pending.get()
                if task is None:
                    return
                shot, item, arrived = task
                assert backlog is not None
                backlog.start(arrived)
                if stop.is_set():
                    backlog.finish()
                    continue
                try:
                    serve(shot, item)
                finally:
                    backlog.finish()

        threads = [
            threading.Thread(target=worker, name=f"ragcost-worker-{i}", daemon=True)
            for i in range(threads_wanted)
        ]
        for th in threads:
            th.start()
        gap = _intervals_s(spec)
        intended = t0
        seq = 0
        while not stop.is_set() and (limit is None or seq < limit):
            if deadline_ns is not None and intended >= deadline_ns:
                break
            delay = (intended - time.perf_counter_ns()) / 1e9
            if delay > 0 and stop.wait(delay):
                break
            arrived, ahead = backlog.arrive()
            shot = context.Shot(seq, intended_ns=intended, backlog_ahead=ahead)
            pending.put((shot, items[seq % len(items)], arrived))
            seq += 1
            intended += max(int(gap() * 1e9), 1)
        for _ in threads:
            pending.put(None)
        for th in threads:
            th.join()
    t1 = time.perf_counter_ns()
    if failures:
        raise failures[0]
    shots.sort(key=lambda s: (s.intended_ns, s.seq))
    first = shots[0].intended_ns if shots else t0
    last = max((s.end_ns for s in shots), default=t1)
    windows = [gauge.window(g.name, before, g.read()) for g, before in readings]
    # the gauges' areas run from the readings (just before t0) to now (just after t1);
    # the few microseconds outside [first, last] carry a negligible area
    queues = [w for w in windows if w.entered]
    backlog_window = None
    if backlog is not None:
        backlog_window = gauge.window(backlog.name, _zero(backlog, t0), backlog.read())
    return Driven(spec, shots, first, last, queues, backlog_window)


def _zero(g: gauge.Gauge, t_ns: int) -> gauge.GaugeReading:
    del g
    return gauge.GaugeReading(t_ns, 0.0, 0.0, 0, 0, 0)
