"""Queue gauges: how many wait, how many run, integrated over time.

A :class:`Gauge` changes only at arrivals, starts and finishes, so the time average of
its depth over a window is exact (no sampling): the area under the depth curve divided
by the window's length. That is the ``L`` of Little's law.
"""

from __future__ import annotations

import threading
import time
import weakref
from dataclasses import dataclass

from ..run.model import JSON


@dataclass(frozen=True)
class GaugeReading:
    """A gauge at one instant: areas (count x ns) since it was made, and its extremes."""

    t_ns: int
    waiting_area: float
    active_area: float
    max_waiting: int
    entered: int
    wait_ns_total: int


class Gauge:
    """Waiting and active counts of one queue, with their time integrals."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._lock = threading.Lock()
        self.waiting = 0
        self.active = 0
        self.max_waiting = 0
        self.entered = 0
        self.wait_ns_total = 0
        self._last_ns = time.perf_counter_ns()
        self._waiting_area = 0.0
        self._active_area = 0.0
        _live.add(self)

    def _advance(self, now: int) -> None:
        dt = now - self._last_ns
        if dt > 0:
            self._waiting_area += self.waiting * dt
            self._active_area += self.active * dt
            self._last_ns = now

    def arrive(self) -> tuple[int, int]:
        """One more waits; returns (the time, how many were waiting ahead of it)."""
        with self._lock:
            now = time.perf_counter_ns()
            self._advance(now)
            ahead = self.waiting
            self.waiting += 1
            self.max_waiting = max(self.max_waiting, self.waiting)
            return now, ahead

    def start(self, arrived_ns: int) -> tuple[int, int]:
        """A waiting one starts; returns (the time, how many run now, itself included)."""
        with self._lock:
            now = time.perf_counter_ns()
            self._advance(now)
            self.waiting -= 1
            self.active += 1
            self.entered += 1
            self.wait_ns_total += now - arrived_ns
            return now, self.active

    def leave(self) -> None:
        """A waiting one gave up (a timed-out acquire, a cancelled future)."""
        with self._lock:
            self._advance(time.perf_counter_ns())
            self.waiting -= 1

    def finish(self) -> None:
        with self._lock:
            self._advance(time.perf_counter_ns())
            self.active -= 1

    def read(self) -> GaugeReading:
        with self._lock:
            now = time.perf_counter_ns()
            self._advance(now)
            return GaugeReading(
                now, self._waiting_area, self._active_area, self.max_waiting, self.entered,
                self.wait_ns_total,
            )

    def reset_max(self) -> None:
        with self._lock:
            self.max_waiting = self.waiting


_live: weakref.WeakSet[Gauge] = weakref.WeakSet()


def live() -> list[Gauge]:
    """Every gauge still in use (a load window reads them at its start and end)."""
    return list(_live)


@dataclass(frozen=True)
class Window:
    """One gauge over a window: time-averaged depth and activity, and its peak depth."""

    name: str
    depth_mean: float
    depth_max: int
    active_mean: float
    entered: int
    wait_ms_mean: float | None

    def to_dict(self) -> dict[str, JSON]:
        return {
            "name": self.name,
            "queue_depth_mean": self.depth_mean,
            "queue_depth_max": self.depth_max,
            "active_workers_mean": self.active_mean,
            "entered": self.entered,
            "wait_ms_mean": self.wait_ms_mean,
        }


def window(name: str, before: GaugeReading, after: GaugeReading) -> Window:
    span = after.t_ns - before.t_ns
    entered = after.entered - before.entered
    waited = after.wait_ns_total - before.wait_ns_total
    return Window(
        name=name,
        depth_mean=(after.waiting_area - before.waiting_area) / span if span > 0 else 0.0,
        depth_max=after.max_waiting,
        active_mean=(after.active_area - before.active_area) / span if span > 0 else 0.0,
        entered=entered,
        wait_ms_mean=waited / entered / 1e6 if entered else None,
    )
