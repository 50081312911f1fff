"""Load profiles: the pipeline under concurrency, with its queues measured.

``ragcost.load(fn, items, users=N | rate=R, ...)`` drives a Python function as N
concurrent users (closed loop) or at an arrival rate (open loop, latency counted from
each request's intended start); ``ragcost.queue(pool)`` wraps the app's own worker pool
so the wait before start and the queue depth are recorded. Nothing here imports pytest.
"""

from __future__ import annotations

from .queue import QueueUsageError, TrackedExecutor, TrackedSemaphore, track
from .spec import KEYS, LoadSpec, LoadSpecError, parse

__all__ = [
    "KEYS",
    "LoadSpec",
    "LoadSpecError",
    "QueueUsageError",
    "TrackedExecutor",
    "TrackedSemaphore",
    "parse",
    "track",
]
