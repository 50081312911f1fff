"""The request a thread is working for, so a tracked queue can charge its wait to it."""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass
class Shot:
    """One request of a load run, as the driver and the tracked queues saw it.

    Times are ``perf_counter_ns``. ``intended_ns`` is when the request should have
    started (open loop: its scheduled arrival; closed loop: when its user issued it),
    ``start_ns`` when the pipeline function was called, ``end_ns`` when it returned.
    """

    seq: int
    intended_ns: int
    start_ns: int = 0
    end_ns: int = 0
    #: how many requests waited in the driver's backlog ahead of this one on arrival
    backlog_ahead: int = 0
    #: requests of this level in flight when it started, itself included
    in_flight: int = 0
    #: time spent waiting in tracked queues (the app's own pools) inside the call
    queue_wait_ns: int = 0
    #: the longest tracked queue it found ahead of it
    queue_ahead: int = 0
    #: the most busy workers it found in a tracked pool when it started there
    pool_active: int = 0
    timeouts: int = 0
    result: object = None

    def waited(self, wait_ns: int, ahead: int, active: int) -> None:
        with _shot_lock:  # tasks of one request may start in several pool threads
            self._waited(wait_ns, ahead, active)

    def _waited(self, wait_ns: int, ahead: int, active: int) -> None:
        self.queue_wait_ns += wait_ns
        self.queue_ahead = max(self.queue_ahead, ahead)
        self.pool_active = max(self.pool_active, active)


_local = threading.local()
_shot_lock = threading.Lock()


def current() -> Shot | None:
    """The request this thread works for, if a load driver set one."""
    shot: Shot | None = getattr(_local, "shot", None)
    return shot


def bind(shot: Shot | None) -> Shot | None:
    """Make ``shot`` this thread's request; returns the previous one (to restore)."""
    previous = current()
    _local.shot = shot
    return previous
