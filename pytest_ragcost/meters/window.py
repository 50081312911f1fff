"""One measurement window: readings when it opens, the figures between them when it closes.

Every metered span of time (a stage, a request, a whole load level, a benchmarked test)
is a :class:`Window` opened from a :class:`Plan`. A plan is chosen once per run: the
clocks it reads (wall always, process CPU time when the process meter is on), the
:class:`Probe` readings around the window (getrusage for a request, the energy
counters), in that order, so a probe that derives its figure from the CPU time (the
estimate meter) sees the window's CPU time with the recorder's own work taken out.

A new per-window figure (disk I/O bytes, RSS growth ...) is one more :class:`Probe` in the
plans that want it; no caller changes.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..run.model import EndpointRecord

_perf_ns = time.perf_counter_ns
_cpu_ns = time.process_time_ns


class Figures:
    """The figures of one closing window: metric name -> value, each value's label, and
    the endpoints its network calls went to (``--ragcost-system``)."""

    __slots__ = ("endpoints", "metrics", "sources")

    def __init__(self) -> None:
        self.metrics: dict[str, float] = {}
        self.sources: dict[str, str] = {}
        self.endpoints: tuple[EndpointRecord, ...] = ()

    @property
    def cpu_ms(self) -> float | None:
        """The window's CPU time, when the plan reads it (for probes that derive from it)."""
        return self.metrics.get("cpu_ms")


class Probe(ABC):
    """A reading taken at both ends of a window, turned into figures when it closes.

    ``read()`` runs twice per window and must be cheap (a few microseconds at most);
    ``figures()`` adds its metrics and their labels to ``out`` and never raises for a
    failed reading: it leaves the figure out instead (a made-up zero would pass a gate).
    """

    #: a short name for the run's ``meters`` block, what it measures for the header, and
    #: the metrics it may give a window
    name: str = ""
    label: str = ""
    metrics: tuple[str, ...] = ()

    def close(self) -> None:  # noqa: B027 - optional hook, most probes hold nothing
        """Release what the probe holds open (a file descriptor, a hook)."""

    @abstractmethod
    def read(self) -> object:
        """The reading now; opaque to the window."""

    @abstractmethod
    def figures(self, before: object, after: object, out: Figures) -> None:
        """Add the figures between two readings to ``out``."""


class CpuProbe(Probe):
    """A probe whose reading also holds the process's CPU time (``cpu_ns(reading)``), so
    a window that reads it needs no separate CPU clock: one system call fewer per end."""

    @abstractmethod
    def cpu_ns(self, reading: object) -> int:
        """The process's CPU time in a reading, in ns."""


@dataclass(frozen=True)
class Plan:
    """What a kind of window reads. ``cpu``: the process's CPU time (``cpu_ms``) besides
    the wall clock, from ``cpu_probe`` when there is one (else the CPU clock); ``probes``:
    further readings, in order (after the clocks, so they see ``cpu_ms``)."""

    cpu: bool = False
    probes: tuple[Probe, ...] = ()
    cpu_probe: CpuProbe | None = None
    #: probes whose figures derive from the others' (the estimate meter, from the CPU
    #: time): never read, asked for figures last
    derived: tuple[Probe, ...] = ()

    def open(self) -> Window:
        """Take the opening readings now."""
        return Window(self)


#: a window that reads the wall clock only (metering off the meters, or a child thread)
WALL_ONLY = Plan()


class Window:
    """An open window. ``close()`` takes the closing readings and returns the figures."""

    __slots__ = ("_cpu_reading", "_plan", "_readings", "cpu0_ns", "wall0_ns")

    def __init__(self, plan: Plan) -> None:
        self._plan = plan
        self._readings: Sequence[object] = [p.read() for p in plan.probes] if plan.probes else ()
        self._cpu_reading: object = None
        if plan.cpu_probe is not None:
            self._cpu_reading = reading = plan.cpu_probe.read()
            self.cpu0_ns = plan.cpu_probe.cpu_ns(reading)
        else:
            self.cpu0_ns = _cpu_ns() if plan.cpu else 0
        # the wall clock last in, first out: the window's own readings stay outside it
        self.wall0_ns = _perf_ns()

    def close(self, own_wall_ns: int = 0, own_cpu_ns: int = 0) -> Figures:
        """The window's figures. ``own_wall_ns`` / ``own_cpu_ns``: time spent inside the
        window on the recorder's own work (counting tokens), taken out of wall and CPU."""
        wall1 = _perf_ns()
        plan = self._plan
        out = Figures()
        metrics = out.metrics
        metrics["wall_ms"] = (wall1 - self.wall0_ns - own_wall_ns) / 1e6
        if plan.cpu_probe is not None:
            probe = plan.cpu_probe
            reading = probe.read()
            metrics["cpu_ms"] = (probe.cpu_ns(reading) - self.cpu0_ns - own_cpu_ns) / 1e6
            out.sources.update(_CLOCKS)
            probe.figures(self._cpu_reading, reading, out)
        elif plan.cpu:
            metrics["cpu_ms"] = (_cpu_ns() - self.cpu0_ns - own_cpu_ns) / 1e6
            out.sources.update(_CLOCKS)
        else:
            out.sources["wall_ms"] = "timer"
        if plan.probes:
            for each, before in zip(plan.probes, self._readings, strict=True):
                each.figures(before, each.read(), out)
        for each in plan.derived:
            each.figures(None, None, out)
        return out


_CLOCKS = {"wall_ms": "timer", "cpu_ms": "timer"}
