"""Disk I/O bytes of a window, from the kernel's per-process I/O accounting (Linux).

``--ragcost-system`` adds ``disk_read_bytes`` and ``disk_write_bytes`` to every stage and
request: the ``read_bytes`` and ``write_bytes`` counters of ``/proc/self/io``, which
count what this process (every thread of it) made the storage layer read and write.
They are not ``rchar``/``wchar``, which count every read and write call, sockets, pipes
and page-cache hits included: those would count a network reply as disk input.

What they mean, so a figure is read right:

- a write is counted when it dirties the page cache, not when it reaches the device, so a
  5 MB write is 5 MB in the window that wrote it, with or without ``fsync``; writes
  truncated before they were flushed are not taken back (the kernel's
  ``cancelled_write_bytes``, left out);
- a read served from the page cache reads nothing from storage: a warm file reads 0;
- a file system without a block device behind it (tmpfs, such as ``/dev/shm``, or
  ``/tmp`` on many systems) reads and writes 0.

Where ``/proc/self/io`` is missing (macOS, Windows, a kernel without task I/O
accounting), both figures are left out and the run says why once, in its header.
"""

from __future__ import annotations

import os
from pathlib import Path

from .base import Unavailable
from .window import Figures, Probe

#: the figures this probe gives a window
DISK_METRICS = ("disk_read_bytes", "disk_write_bytes")
#: where the kernel keeps this process's I/O counters
PROC_IO = Path("/proc/self/io")

_FIELDS = ((b"read_bytes", "disk_read_bytes"), (b"write_bytes", "disk_write_bytes"))
_KERNEL = dict.fromkeys(DISK_METRICS, "kernel")


def _counters(text: bytes) -> dict[bytes, int]:
    words = text.split()
    # "name: value" pairs, one per line
    return {name.rstrip(b":"): int(value) for name, value in zip(words[::2], words[1::2],
                                                                  strict=False)}


def _storage(text: bytes) -> tuple[int, int]:
    """(read_bytes, write_bytes) of a reading: at their fixed places (Linux has written
    the file in one order since 2.6.20), else by name."""
    words = text.split()
    if len(words) >= 12 and words[8] == b"read_bytes:" and words[10] == b"write_bytes:":
        return int(words[9]), int(words[11])
    found = _counters(text)
    return found[b"read_bytes"], found[b"write_bytes"]


class DiskProbe(Probe):
    """``/proc/self/io`` at both ends of a window. A reading is the file's raw text (one
    ``pread`` on a descriptor kept open, about 2 µs); it is parsed only when the window
    closes."""

    name = "disk"
    label = "disk read and write bytes (/proc/self/io)"
    metrics = DISK_METRICS

    def __init__(self, path: Path = PROC_IO) -> None:
        self._path = path
        self._fd = -1
        if hasattr(os, "register_at_fork"):
            # /proc/self was resolved when the file was opened: a forked child must open
            # its own, or it would read its parent's counters
            os.register_at_fork(after_in_child=self._forget)

    def _forget(self) -> None:
        self._fd = -1

    def read(self) -> object:
        try:
            if self._fd < 0:
                self._fd = os.open(self._path, os.O_RDONLY)
            return os.pread(self._fd, 512, 0)
        except (OSError, ValueError):
            return None  # no reading: the window leaves the figures out

    def figures(self, before: object, after: object, out: Figures) -> None:
        if not isinstance(before, bytes) or not isinstance(after, bytes):
            return
        try:
            read0, write0 = _storage(before)
            read1, write1 = _storage(after)
        except (KeyError, ValueError):
            return
        out.metrics["disk_read_bytes"] = float(max(read1 - read0, 0))
        out.metrics["disk_write_bytes"] = float(max(write1 - write0, 0))
        out.sources.update(_KERNEL)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
        self._fd = -1


def disk_probe(path: Path = PROC_IO) -> DiskProbe | Unavailable:
    """The disk probe, or why this system has none."""
    probe = DiskProbe(path)
    reading = probe.read()
    if not isinstance(reading, bytes):
        return Unavailable(
            "disk",
            f"{path} cannot be read (not Linux, or a kernel without task I/O accounting): "
            f"{', '.join(DISK_METRICS)} are not measured",
        )
    try:
        counters = _counters(reading)
        missing = [field.decode() for field, _ in _FIELDS if field not in counters]
    except ValueError:
        missing = ["its counters"]
    if missing:
        probe.close()
        return Unavailable(
            "disk",
            f"{path} has no {', '.join(missing)}: {', '.join(DISK_METRICS)} are not "
            "measured",
        )
    return probe
