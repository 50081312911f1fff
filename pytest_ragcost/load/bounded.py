"""Calls bounded in time: a driver thread hands each call to a helper thread and waits at
most ``timeout_s``; a call still running then is abandoned to its helper, which finishes it
in the background and ends, and the driver thread goes on with a fresh helper.

Python cannot interrupt a running call, so this is the only way to keep one hung call
from holding a load level (and the test) forever.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

R = TypeVar("R")


class Job(Generic[R]):
    """One call handed to a helper thread. The call takes the job: it checks ``given_up``
    under ``lock`` before it starts anything the driver would have to undo."""

    def __init__(self, fn: Callable[[Job[R]], R]) -> None:
        self._fn = fn
        self.lock = threading.Lock()
        self.finished = threading.Event()
        self.given_up = False
        self.result: R | None = None
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.result = self._fn(self)
        except BaseException as exc:
            self.error = exc
        finally:
            self.finished.set()


class Helper:
    """A daemon thread that runs one job at a time for one driver thread."""

    def __init__(self, name: str) -> None:
        self._jobs: queue.SimpleQueue[Job[object] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            job.run()

    def submit(self, job: Job[R]) -> None:
        self._jobs.put(job)  # type: ignore[arg-type]

    def stop(self) -> None:
        """End the thread once its current job (if any) returns."""
        self._jobs.put(None)


class BoundedCaller:
    """Runs calls on helper threads, one helper per calling thread, waiting at most
    ``timeout_s`` for each."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self._local = threading.local()
        self._helpers: list[Helper] = []
        self._lock = threading.Lock()
        self.abandoned = 0

    def _helper(self) -> Helper:
        helper: Helper | None = getattr(self._local, "helper", None)
        if helper is None:
            helper = Helper(f"{threading.current_thread().name}-call")
            self._local.helper = helper
            with self._lock:
                self._helpers.append(helper)
        return helper

    def call(self, job: Job[R]) -> bool:
        """Run ``job``; True when it finished in time (its result or error is on it),
        False when it was abandoned (it may still be running)."""
        helper = self._helper()
        helper.submit(job)
        if job.finished.wait(self.timeout_s):
            return True
        with job.lock:
            job.given_up = True
        if job.finished.is_set():  # it finished between the wait and the lock
            return True
        helper.stop()
        self._local.helper = None
        with self._lock:
            self._helpers.remove(helper)
            self.abandoned += 1
        return False

    def close(self) -> None:
        """Let every helper still waiting for work end."""
        with self._lock:
            helpers, self._helpers = self._helpers, []
        for helper in helpers:
            helper.stop()
