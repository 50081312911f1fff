"""Which stage each thread is in, for the sampler: the one hook the recorder calls.

The stage recorder calls :func:`enter` when a stage opens and :func:`leave` when it
closes, on the thread that runs it (the test's thread, or a load driver's). Both return
at once unless a sampler is running, so an unprofiled run pays one global read per
stage.
"""

from __future__ import annotations

import threading
import time
from types import FrameType

#: True while a sampler runs (set by it); read without a lock, like any flag under the GIL
active = False
#: thread id -> (stage name, the frame that opened the stage, when it opened): a
#: sample's stack is cut at that frame, so a flame graph starts at the code of the test,
#: not at pytest's
_open: dict[int, tuple[str, FrameType | None, float]] = {}


def enter(name: str, frame: FrameType | None) -> None:
    """The calling thread opened stage ``name`` in ``frame``."""
    if active:
        _open[threading.get_ident()] = (name, frame, time.perf_counter())


def leave() -> None:
    """The calling thread closed its stage."""
    if active:
        _open.pop(threading.get_ident(), None)


def snapshot() -> list[tuple[int, str, FrameType | None, float]]:
    """(thread id, stage, root frame, perf_counter when it opened) of every thread
    inside a stage now."""
    return [(tid, *entry) for tid, entry in list(_open.items())]


def clear() -> None:
    _open.clear()
