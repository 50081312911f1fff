"""Peak RSS growth of a window: how far the resident set rose above where it started
(Linux).

``--ragcost-system`` adds ``rss_peak_growth_bytes`` to every stage and request: the
highest resident set size the process reached while the window was open, minus its
resident set size when the window opened. A stage that builds a 200 MB matrix and frees
it before it ends grows by about 200 MB, though it ends where it began.

Where it comes from: the kernel keeps one high-water mark of the process's resident set
(``VmHWM`` in ``/proc/self/status``), and writing ``5`` to ``/proc/self/clear_refs`` sets
it back to the current RSS. Every reading takes the mark (the peak since the previous
reading), hands it to every window still open, and sets the mark back, so nested windows
(a stage inside its request) and windows of other threads each get the peak of their own
span of time. The mark is process-wide, like the CPU time: a window sees the memory
every thread used while it was open.

A reading costs about 25 µs (the status file is long). Since the kernel's mark is set
back, ``getrusage``'s ``ru_maxrss`` would fall with it: the run keeps the process's peak
itself, and ``peak_rss_mb`` stays the process's high-water mark since the start.

Where the files are missing or not writable (macOS, Windows, a container that mounts
``/proc`` read-only, a kernel before 4.0), the figure is left out and the run says why
once, in its header; it is never written as 0.
"""

from __future__ import annotations

import os
import threading
import weakref
from pathlib import Path

from .base import Unavailable
from .window import Figures, Probe

#: the figure this probe gives a window
MEMORY_METRICS = ("rss_peak_growth_bytes",)
#: where the kernel keeps the process's resident set sizes, and the file that resets the mark
PROC_STATUS = Path("/proc/self/status")
PROC_CLEAR_REFS = Path("/proc/self/clear_refs")
#: what clear_refs takes to set the high-water mark back to the current RSS
_RESET_HIGH_WATER = b"5"

_KERNEL = dict.fromkeys(MEMORY_METRICS, "kernel")


def _kib(status: bytes, field: bytes) -> int:
    """``field``'s value in KiB in a status reading (``VmHWM:   1712 kB``)."""
    at = status.index(field)
    return int(status[at + len(field): status.index(b"kB", at)].strip(b": \t"))


class _Open:
    """One open window: the resident set when it opened, and the highest seen since."""

    __slots__ = ("__weakref__", "peak_kib", "start_kib")

    def __init__(self, start_kib: int) -> None:
        self.start_kib = start_kib
        self.peak_kib = start_kib


class HighWater:
    """The process's one high-water mark, shared by every window that reads it."""

    def __init__(self, status: Path, clear_refs: Path) -> None:
        self._status_path = status
        self._clear_path = clear_refs
        self._status = -1
        self._clear = -1
        self._lock = threading.Lock()
        self._open: weakref.WeakSet[_Open] = weakref.WeakSet()
        #: the process's peak RSS in KiB since the first reading (the mark, never reset)
        self.process_peak_kib = 0
        if hasattr(os, "register_at_fork"):
            # /proc/self was resolved when the files were opened: a forked child opens its own
            os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._status = self._clear = -1
        self._open = weakref.WeakSet()

    def _read_and_reset(self) -> tuple[int, int]:
        """(peak since the last reset, current RSS) in KiB, with the mark set back."""
        if self._status < 0:
            self._status = os.open(self._status_path, os.O_RDONLY)
            self._clear = os.open(self._clear_path, os.O_WRONLY)
        text = os.pread(self._status, 4096, 0)
        os.write(self._clear, _RESET_HIGH_WATER)
        return _kib(text, b"VmHWM"), _kib(text, b"VmRSS")

    def read(self, opening: bool) -> _Open | int | None:
        """Fold the peak since the last reading into every open window; ``opening``: open
        a new window at the current RSS (returned), else return the current RSS."""
        with self._lock:
            try:
                peak, now = self._read_and_reset()
            except (OSError, ValueError):
                return None
            self.process_peak_kib = max(self.process_peak_kib, peak)
            for window in self._open:
                if peak > window.peak_kib:
                    window.peak_kib = peak
            if not opening:
                return now
            window = _Open(now)
            self._open.add(window)
            return window

    def finish(self, window: _Open) -> None:
        with self._lock:
            self._open.discard(window)

    def close(self) -> None:
        for fd in (self._status, self._clear):
            if fd >= 0:
                os.close(fd)
        self._status = self._clear = -1


class MemoryProbe(Probe):
    """The peak RSS growth of a window (``rss_peak_growth_bytes``)."""

    name = "memory"
    label = "peak RSS growth (/proc/self/status)"
    metrics = MEMORY_METRICS

    def __init__(self, mark: HighWater) -> None:
        self._mark = mark

    def read(self) -> object:
        return _Reading(self._mark)

    def figures(self, before: object, after: object, out: Figures) -> None:
        if not isinstance(before, _Reading) or not isinstance(after, _Reading):
            return
        window = before.window
        if window is None or after.window is None:
            return
        self._mark.finish(window)
        after.discard()
        out.metrics["rss_peak_growth_bytes"] = float(
            max(window.peak_kib - window.start_kib, 0) * 1024
        )
        out.sources.update(_KERNEL)
        rusage_peak = out.metrics.get("peak_rss_mb")
        if rusage_peak is not None:
            # getrusage's mark was set back with the kernel's: the process's own peak
            out.metrics["peak_rss_mb"] = max(rusage_peak, self._mark.process_peak_kib / 1024)

    def close(self) -> None:
        self._mark.close()


class _Reading:
    """A window-end reading: it opens a tracked window at once (so a reading taken at the
    closing end is a window too, closed right away in :meth:`MemoryProbe.figures`)."""

    __slots__ = ("_mark", "window")

    def __init__(self, mark: HighWater) -> None:
        self._mark = mark
        found = mark.read(opening=True)
        self.window = found if isinstance(found, _Open) else None

    def discard(self) -> None:
        if self.window is not None:
            self._mark.finish(self.window)


#: one mark per process, however many runs meter at once (a pytester inner session)
_MARKS: dict[tuple[Path, Path], HighWater] = {}
_MARKS_LOCK = threading.Lock()


def memory_probe(
    status: Path | None = None, clear_refs: Path | None = None
) -> MemoryProbe | Unavailable:
    """The peak RSS growth probe, or why this system has none (the files default to this
    process's own)."""
    status = status or PROC_STATUS
    clear_refs = clear_refs or PROC_CLEAR_REFS
    with _MARKS_LOCK:
        mark = _MARKS.get((status, clear_refs))
        if mark is None:
            mark = HighWater(status, clear_refs)
    found = mark.read(opening=False)  # None when a file cannot be read or written
    if not isinstance(found, int):
        return Unavailable(
            "memory",
            f"{status} (VmHWM, VmRSS) cannot be read or {clear_refs} cannot be written "
            "(not Linux, a read-only /proc, or a kernel before 4.0): "
            f"{', '.join(MEMORY_METRICS)} is not measured",
        )
    with _MARKS_LOCK:
        _MARKS.setdefault((status, clear_refs), mark)
    return MemoryProbe(mark)
