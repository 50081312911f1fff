"""``ragcost.queue(pool)``: the app's own worker pool, with its queue measured.

Wraps what an app already uses to bound its concurrency and records, per request, the
wait before start and the queue it found, and over a load window the time-averaged
queue depth and busy workers:

* a ``threading.Semaphore``, ``BoundedSemaphore`` or ``Lock``: use the wrapper where the
  app used the primitive (``with pool:`` or ``acquire()``/``release()``);
* a ``concurrent.futures.Executor``: ``submit()`` and ``map()`` as before; the wait is
  from ``submit`` to the moment a worker starts the task.

A semaphore acquire with a timeout that runs out counts one in the request's
``timeouts``. Nothing here imports pytest.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
from types import TracebackType
from typing import Any, Protocol, TypeVar, runtime_checkable

from . import context
from .gauge import Gauge

R = TypeVar("R")
_names = itertools.count(1)


@runtime_checkable
class _Acquirable(Protocol):
    def acquire(self, blocking: bool = ..., timeout: float = ...) -> bool: ...

    def release(self) -> None: ...


class QueueUsageError(TypeError):
    """``ragcost.queue()`` got something that is not a pool it can measure."""


class TrackedSemaphore:
    """A semaphore (or lock) whose waiters and holders are counted."""

    def __init__(self, inner: _Acquirable, name: str) -> None:
        self._inner = inner
        self.gauge = Gauge(name)
        self._held = threading.local()

    @property
    def name(self) -> str:
        return self.gauge.name

    def acquire(self, blocking: bool = True, timeout: float | None = None) -> bool:
        arrived, ahead = self.gauge.arrive()
        try:
            # a Lock wants -1 for "no timeout", a Semaphore None: pass only what was given
            if timeout is None or timeout < 0:
                got = self._inner.acquire(blocking)
            else:
                got = self._inner.acquire(blocking, timeout)
        except BaseException:
            self.gauge.leave()
            raise
        shot = context.current()
        if not got:
            self.gauge.leave()
            if shot is not None and blocking:
                shot.timeouts += 1
            return False
        started, active = self.gauge.start(arrived)
        if shot is not None:
            shot.waited(started - arrived, ahead, active)
        return True

    def release(self) -> None:
        self.gauge.finish()
        self._inner.release()

    def __enter__(self) -> TrackedSemaphore:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


class TrackedExecutor(Executor):
    """An executor whose queued and running tasks are counted."""

    def __init__(self, inner: Executor, name: str) -> None:
        self._inner = inner
        self.gauge = Gauge(name)

    @property
    def name(self) -> str:
        return self.gauge.name

    def submit(self, fn: Callable[..., R], /, *args: Any, **kwargs: Any) -> Future[R]:
        arrived, ahead = self.gauge.arrive()
        shot = context.current()
        began = threading.Event()

        def run() -> R:
            began.set()
            started, active = self.gauge.start(arrived)
            if shot is not None:
                shot.waited(started - arrived, ahead, active)
            previous = context.bind(shot)  # queues used inside charge the same request
            try:
                return fn(*args, **kwargs)
            finally:
                context.bind(previous)
                self.gauge.finish()

        try:
            future = self._inner.submit(run)
        except BaseException:
            self.gauge.leave()
            raise

        def settled(f: Future[R]) -> None:
            if f.cancelled() and not began.is_set():
                self.gauge.leave()

        future.add_done_callback(settled)
        return future

    def map(
        self,
        fn: Callable[..., R],
        *iterables: Iterable[Any],
        timeout: float | None = None,
        chunksize: int = 1,
    ) -> Iterator[R]:
        futures = [self.submit(fn, *args) for args in zip(*iterables, strict=False)]

        def results() -> Iterator[R]:
            for f in futures:
                yield f.result(timeout)

        return results()

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._inner.shutdown(wait=wait, cancel_futures=cancel_futures)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


def track(pool: Any, name: str | None = None) -> TrackedSemaphore | TrackedExecutor:
    """Wrap ``pool`` (an Executor, or a semaphore or lock) so its queue is measured."""
    label = name or f"{type(pool).__name__.lower()}-{next(_names)}"
    if isinstance(pool, TrackedSemaphore | TrackedExecutor):
        return pool
    if isinstance(pool, Executor):
        return TrackedExecutor(pool, label)
    if isinstance(pool, _Acquirable):
        return TrackedSemaphore(pool, label)
    msg = (
        f"ragcost.queue() measures a concurrent.futures.Executor or a threading.Semaphore, "
        f"BoundedSemaphore or Lock (got {type(pool).__name__}); wrap the object your app "
        f"uses to bound its concurrency, e.g. ragcost.queue(threading.BoundedSemaphore(2))"
    )
    raise QueueUsageError(msg)
