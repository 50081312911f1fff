"""The process meter: wall time, CPU time, peak RSS, context switches and page faults.

Always available. ``time.process_time_ns`` covers every thread of this process; CPU time
of child processes (a model server started by the test, say) is only seen once the
child has been waited for, so it is not attributed to a window.
``peak_rss_mb`` is the process's high-water mark at the end of the window (getrusage),
not the growth inside it: a window cannot lower a high-water mark.
"""

from __future__ import annotations

import resource
import sys
import time
from dataclasses import dataclass

# ru_maxrss is in KiB on Linux and in bytes on macOS
_MAXRSS_TO_MIB = 1 / (1024 * 1024) if sys.platform == "darwin" else 1 / 1024


@dataclass(frozen=True)
class ProcessSnapshot:
    wall_ns: int
    cpu_ns: int
    maxrss_mib: float
    nvcsw: int
    nivcsw: int
    minflt: int
    majflt: int


def light() -> tuple[int, int]:
    """Wall and CPU clocks only: what a stage boundary costs (well under a microsecond)."""
    return time.perf_counter_ns(), time.process_time_ns()


def full() -> ProcessSnapshot:
    """Clocks plus getrusage: taken at request boundaries."""
    wall = time.perf_counter_ns()
    cpu = time.process_time_ns()
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ProcessSnapshot(
        wall_ns=wall,
        cpu_ns=cpu,
        maxrss_mib=ru.ru_maxrss * _MAXRSS_TO_MIB,
        nvcsw=ru.ru_nvcsw,
        nivcsw=ru.ru_nivcsw,
        minflt=ru.ru_minflt,
        majflt=ru.ru_majflt,
    )


def full_delta(before: ProcessSnapshot, after: ProcessSnapshot) -> dict[str, float]:
    """Request-level figures between two full snapshots, with units in the names."""
    return {
        "wall_ms": (after.wall_ns - before.wall_ns) / 1e6,
        "cpu_ms": (after.cpu_ns - before.cpu_ns) / 1e6,
        "peak_rss_mb": after.maxrss_mib,
        "ctx_switches": float(
            (after.nvcsw - before.nvcsw) + (after.nivcsw - before.nivcsw)
        ),
        "page_faults": float(
            (after.minflt - before.minflt) + (after.majflt - before.majflt)
        ),
    }
