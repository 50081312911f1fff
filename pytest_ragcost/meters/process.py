"""The process meter's readings beyond the clocks: peak RSS, context switches, page faults.

Wall and CPU time are the window's own clocks (:mod:`pytest_ragcost.meters.window`);
``time.process_time_ns`` covers every thread of this process; CPU time of child processes
(a model server started by the test, say) is only seen once the child has been waited
for, so it is not attributed to a window. ``peak_rss_mb`` is the process's high-water
mark at the end of the window (getrusage), not the growth inside it: a window cannot
lower a high-water mark.

``resource`` is POSIX-only: it is imported when a run asks for the process meter, and
where it is missing those three figures are left out and the run says so.
"""

from __future__ import annotations

import sys
from typing import Any

from .base import Unavailable
from .window import CpuProbe, Figures

#: the figures getrusage gives a window
RUSAGE_METRICS = ("peak_rss_mb", "ctx_switches", "page_faults")

# ru_maxrss is in KiB on Linux and in bytes on macOS
_MAXRSS_TO_MIB = 1 / (1024 * 1024) if sys.platform == "darwin" else 1 / 1024


class RusageProbe(CpuProbe):
    """getrusage(RUSAGE_SELF) at both ends of a window; its user + system time is the
    window's CPU time (microseconds, the same total as ``time.process_time``)."""

    def __init__(self, resource: Any) -> None:
        self._getrusage = resource.getrusage
        self._who = resource.RUSAGE_SELF

    def read(self) -> object:
        return self._getrusage(self._who)

    def cpu_ns(self, reading: Any) -> int:
        seconds: float = reading.ru_utime + reading.ru_stime
        return round(seconds * 1e9)

    def figures(self, before: Any, after: Any, out: Figures) -> None:
        metrics = out.metrics
        metrics["peak_rss_mb"] = after.ru_maxrss * _MAXRSS_TO_MIB
        metrics["ctx_switches"] = float(
            (after.ru_nvcsw - before.ru_nvcsw) + (after.ru_nivcsw - before.ru_nivcsw)
        )
        metrics["page_faults"] = float(
            (after.ru_minflt - before.ru_minflt) + (after.ru_majflt - before.ru_majflt)
        )
        out.sources.update(_TIMER)


_TIMER = dict.fromkeys(RUSAGE_METRICS, "timer")


def rusage_probe() -> RusageProbe | Unavailable:
    """The getrusage probe, or why this platform has none."""
    try:
        import resource
    except ImportError:
        return Unavailable(
            "rusage",
            "the resource module is missing on this platform (POSIX only): "
            f"{', '.join(RUSAGE_METRICS)} are not measured",
        )
    return RusageProbe(resource)
