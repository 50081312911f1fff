"""The recorder's seam for a driver of concurrent requests (``ragcost.load()``).

A driver asks :meth:`MeteredCalls.open` for a request on the thread that will run the
pipeline call; while it is open, ``ragcost.stage()`` and ``ragcost.sample()`` on that
thread record into it (its own child request recorder, so threads never share state).
:meth:`CallRequest.close` gives back the call's record; :meth:`CallRequest.abandon` closes
it from another thread when the call ran past its time. At the end the driver hands every
record back with :meth:`MeteredCalls.adopt`, with the level's figures.

The process and energy meters see the whole process, not one thread, so a child request
records wall time only; :meth:`MeteredCalls.level_window` meters the whole level once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

from ..meters.window import WALL_ONLY, Window
from ..run import RequestRecord
from ..run.model import LoadFigures
from .checks import RagcostUsageError
from .request import RequestRecorder


class ThreadBinding(threading.local):
    """The child request open on each thread (``None``: the test's own thread)."""

    request: RequestRecorder | None = None


class CallRequest:
    """One call's request, opened on the thread that runs the call."""

    def __init__(self, request: RequestRecorder, binding: ThreadBinding) -> None:
        self._request = request
        self._binding = binding
        self._lock = threading.Lock()
        self._done = False

    @property
    def trace_id(self) -> str:
        return self._request.trace

    def close(self, error: str | None = None) -> RequestRecord | None:
        """On the call's thread, when the call returned: its record (``None`` when nothing
        is recorded, or when :meth:`abandon` closed it first)."""
        if self._binding.request is self._request:
            self._binding.request = None
        with self._lock:
            if self._done:
                return None
            self._done = True
        return self._request.close(error)

    def abandon(self, error: str) -> RequestRecord | None:
        """From any thread: close it now as failed with ``error`` (what it did so far is
        kept); anything its thread records later is dropped. ``None`` when it had closed."""
        with self._lock:
            if self._done:
                return None
            self._done = True
        return self._request.abandon(error)


class MeteredCalls:
    """Runs pipeline calls as metered requests on worker threads, for one recorder."""

    #: what a call may raise that must stop the whole run (a misuse of the fixture)
    usage_errors: tuple[type[BaseException], ...] = (RagcostUsageError,)

    def __init__(
        self,
        *,
        metering: bool,
        binding: ThreadBinding,
        level_plan: Callable[[], Window],
        counter: Any,
        token_notes: dict[str, str],
        adopt: Callable[[Sequence[RequestRecord], LoadFigures], None],
    ) -> None:
        self.metering = metering
        self._binding = binding
        self._level_window = level_plan
        self._counter = counter
        self._token_notes = token_notes
        self._adopt = adopt

    def level_window(self) -> Window:
        """A window over the whole level on the recorder's meters (wall only unmetered)."""
        return self._level_window()

    def open(self, *, warmup: bool = False) -> CallRequest:
        """Open one request on the calling thread; ``warmup``: it runs unrecorded."""
        request = RequestRecorder(
            metering=self.metering,
            stage_plan=WALL_ONLY,
            request_plan=WALL_ONLY,
            counter=self._counter,
            token_notes=self._token_notes,
        )
        request.recording = not warmup
        self._binding.request = request
        request.open()
        return CallRequest(request, self._binding)

    def adopt(self, records: Sequence[RequestRecord], figures: LoadFigures) -> None:
        """Hand the level's records (in the order to keep) and figures to the recorder."""
        self._adopt(records, figures)
