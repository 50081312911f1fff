"""pytest-benchmark, side by side: CPU time and energy per call of ``benchmark(...)``.

Nothing runs inside pytest-benchmark's timed rounds: its timer is left alone, so its own
figures are the same with and without ``--ragcost``. Instead CPU time, energy and wall
time are read once before the test starts and once after it ends, around the whole
benchmark (calibration, warm-up and rounds alike, all running the same function). The
part of that window pytest-benchmark timed (the sum of its measured rounds) is known, so
the figures per call are the window's totals times that share, divided by rounds x
iterations. The results go into ``benchmark.extra_info["ragcost"]`` and so into
``--benchmark-json`` and saved runs.
"""

from __future__ import annotations

from typing import Any

from .meters.registry import MeterSet


class BenchmarkTap:
    """Readings around one benchmarked test."""

    def __init__(self, bench: Any, meters: MeterSet) -> None:
        self.bench = bench
        self.meters = meters
        self._window = meters.plan("benchmark").open()

    @classmethod
    def attach(cls, bench: Any, meters: MeterSet) -> BenchmarkTap | None:
        if getattr(bench, "disabled", False):
            return None
        return cls(bench, meters)

    def finish(self, recorder: Any) -> None:
        window = self._window.close()
        wall_ns = window.metrics["wall_ms"] * 1e6
        cpu_ms = window.metrics["cpu_ms"]
        bench = self.bench
        stats = getattr(bench, "stats", None)
        inner = getattr(stats, "stats", None)
        rounds = len(getattr(inner, "data", []) or [])
        iterations = int(getattr(stats, "iterations", 1) or 1)
        timed_s = float(getattr(inner, "total", 0.0) or 0.0)
        if rounds == 0 or wall_ns <= 0 or timed_s <= 0:
            return
        calls = rounds * iterations
        # the timed rounds' share of the window; never above 1 (clock granularity)
        share = min(timed_s * 1e9 / wall_ns, 1.0)
        info: dict[str, Any] = {
            "calls": calls,
            "cpu_ms_per_call": cpu_ms * share / calls,
            "window": "whole test, apportioned by pytest-benchmark's timed share",
        }
        for key, value in window.metrics.items():
            if key.startswith("energy_"):
                info[f"{key}_per_call"] = value * share / calls
                info[f"{key}_source"] = window.sources.get(key, "")
        if recorder is not None and getattr(recorder, "metering", False):
            totals: dict[str, float] = {}
            for req in recorder.recorded_requests():
                for key, value in req.metrics.items():
                    if key.startswith("tokens_"):
                        totals[key] = totals.get(key, 0.0) + value
            if totals:
                info["tokens"] = totals
        bench.extra_info["ragcost"] = info
