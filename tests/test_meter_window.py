"""The one measurement window: clocks, then probes in order, own time taken out."""

from __future__ import annotations

import time

from pytest_ragcost.meters.registry import build
from pytest_ragcost.meters.window import WALL_ONLY, CpuProbe, Figures, Plan, Probe


class Counter(Probe):
    """A probe that counts its reads and reports the difference and the CPU time it saw."""

    def __init__(self) -> None:
        self.reads = 0

    def read(self) -> object:
        self.reads += 1
        return self.reads

    def figures(self, before: object, after: object, out: Figures) -> None:
        assert isinstance(before, int)
        assert isinstance(after, int)
        out.metrics["reads_between"] = float(after - before)
        out.sources["reads_between"] = "given"
        if out.cpu_ms is not None:
            out.metrics["saw_cpu_ms"] = out.cpu_ms


class FakeCpu(CpuProbe):
    """CPU time that moves 5 ms between reads, as a getrusage would report it."""

    def __init__(self) -> None:
        self.ns = 0

    def read(self) -> object:
        self.ns += 5_000_000
        return self.ns

    def cpu_ns(self, reading: object) -> int:
        assert isinstance(reading, int)
        return reading

    def figures(self, before: object, after: object, out: Figures) -> None:
        out.metrics["cpu_reads"] = 2.0
        out.sources["cpu_reads"] = "timer"


def test_a_wall_only_window_has_wall_time_alone() -> None:
    window = WALL_ONLY.open()
    time.sleep(0.002)
    figures = window.close()
    assert set(figures.metrics) == {"wall_ms"}
    assert figures.metrics["wall_ms"] >= 2.0
    assert figures.sources == {"wall_ms": "timer"}


def test_own_time_is_taken_out_of_wall_and_cpu() -> None:
    window = Plan(cpu=True).open()
    time.sleep(0.003)
    plain = Plan(cpu=True).open()
    time.sleep(0.003)
    whole = window.close()
    less = plain.close(own_wall_ns=1_000_000, own_cpu_ns=0)
    assert whole.metrics["wall_ms"] >= 6.0
    assert less.metrics["wall_ms"] < whole.metrics["wall_ms"] - 3.0
    assert set(whole.metrics) == {"wall_ms", "cpu_ms"}


def test_probes_read_at_both_ends_and_see_the_cpu_time_with_own_time_out() -> None:
    probe = Counter()
    cpu = FakeCpu()
    window = Plan(cpu=True, probes=(probe,), cpu_probe=cpu).open()
    figures = window.close(own_cpu_ns=1_000_000)
    assert probe.reads == 2
    assert figures.metrics["reads_between"] == 1.0
    # 5 ms between the CPU probe's two reads, 1 ms of it our own
    assert figures.metrics["cpu_ms"] == 4.0
    assert figures.metrics["saw_cpu_ms"] == 4.0
    assert figures.metrics["cpu_reads"] == 2.0
    assert figures.sources["cpu_ms"] == "timer"


def test_the_run_plans_follow_the_meters() -> None:
    meters = build(("process",), watts_per_thread=10.0, watts_source="default")
    request = meters.plan("request")
    stage = meters.plan("stage")
    assert request.cpu_probe is meters.rusage
    assert stage.cpu_probe is None
    assert stage.cpu
    figures = request.open().close()
    assert {"wall_ms", "cpu_ms", "peak_rss_mb", "ctx_switches", "page_faults"} <= set(
        figures.metrics
    )
    assert "energy_j" not in figures.metrics  # no energy meter was asked for
    estimated = build(("estimate",), watts_per_thread=10.0, watts_source="default")
    figures = estimated.plan("stage").open().close()
    assert figures.metrics["energy_cpu_j"] == figures.metrics["cpu_ms"] * 10.0 / 1000
    assert figures.sources["energy_j"] == "estimated"
    none = build(("none",), watts_per_thread=10.0, watts_source="default")
    assert none.plan("request") is WALL_ONLY
    # a benchmarked test always gets its CPU time
    assert none.plan("benchmark").cpu
