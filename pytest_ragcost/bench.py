"""pytest-benchmark, side by side: meter the calls that ``benchmark(...)`` times.

pytest-benchmark reads its timer before and after every round. We wrap that timer so
that each read also takes a CPU-time and energy snapshot; the last ``rounds`` pairs of
reads bracket exactly the measured rounds (calibration and warm-up come before them),
so the figures per call are the sums over those rounds divided by rounds x iterations.
The results go into ``benchmark.extra_info["ragcost"]`` and so into ``--benchmark-json``
and saved runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .meters.registry import MeterSet


class BenchmarkTap:
    def __init__(self, bench: Any, meters: MeterSet, timer: Callable[[], float]) -> None:
        self.bench = bench
        self.meters = meters
        self._timer = timer
        self._cpu_ns: list[int] = []
        self._energy: list[list[Any]] = []

    @classmethod
    def attach(cls, bench: Any, meters: MeterSet) -> BenchmarkTap | None:
        timer = getattr(bench, "_timer", None)
        if timer is None or getattr(bench, "disabled", False):
            return None
        tap = cls(bench, meters, timer)
        bench._timer = tap
        return tap

    def __call__(self) -> float:
        # the snapshot comes before the clock read at a round's start and after it at its end
        # would be better still, but pairs are indistinguishable here; the cost of one
        # snapshot (well under a microsecond without hardware meters) is the bias either way
        self._cpu_ns.append(time.process_time_ns())
        if self.meters.energy:
            self._energy.append(self.meters.snap())
        return self._timer()

    # pytest-benchmark shows the timer's name in its output
    def __repr__(self) -> str:
        return repr(self._timer)

    @property
    def __name__(self) -> str:
        return getattr(self._timer, "__name__", "timer")

    def finish(self, recorder: Any) -> None:
        bench = self.bench
        bench._timer = self._timer
        stats = getattr(bench, "stats", None)
        inner = getattr(stats, "stats", None)
        rounds = len(getattr(inner, "data", []) or [])
        iterations = int(getattr(stats, "iterations", 1) or 1)
        reads = len(self._cpu_ns)
        if rounds == 0 or reads < 2 * rounds:
            return
        calls = rounds * iterations
        first = reads - 2 * rounds
        cpu_ns = sum(
            self._cpu_ns[i + 1] - self._cpu_ns[i] for i in range(first, reads, 2)
        )
        info: dict[str, Any] = {"calls": calls, "cpu_ms_per_call": cpu_ns / 1e6 / calls}
        joules: dict[str, float] = {}
        labels: dict[str, str] = {}
        for i in range(first, reads, 2):
            cpu_ms = (self._cpu_ns[i + 1] - self._cpu_ns[i]) / 1e6
            before, after = (self._energy[i], self._energy[i + 1]) if self._energy else ([], [])
            figures, srcs = self.meters.figures(before, after, cpu_ms)
            for key, value in figures.items():
                joules[key] = joules.get(key, 0.0) + value
            labels.update(srcs)
        for key, value in joules.items():
            if key.startswith("energy_"):
                info[f"{key}_per_call"] = value / calls
                info[f"{key}_source"] = labels.get(key, "")
        if recorder is not None and getattr(recorder, "metering", False):
            totals: dict[str, float] = {}
            for req in recorder._records:
                for key, value in req.metrics.items():
                    if key.startswith("tokens_"):
                        totals[key] = totals.get(key, 0.0) + value
            if totals:
                info["tokens"] = totals
        bench.extra_info["ragcost"] = info
