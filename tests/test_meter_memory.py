"""The peak RSS growth probe on the real /proc files, and where they are missing."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest

from pytest_ragcost.meters.base import Unavailable
from pytest_ragcost.meters.memory import MemoryProbe, memory_probe
from pytest_ragcost.meters.window import Figures, Plan

MIB = 1024 * 1024

needs_clear_refs = pytest.mark.skipif(
    not Path("/proc/self/clear_refs").exists(), reason="/proc/self/clear_refs is Linux's"
)


def _probe() -> MemoryProbe:
    found = memory_probe()
    if isinstance(found, Unavailable):
        pytest.skip(found.reason)
    return found


def _touch(size: int) -> int:
    """Allocate ``size`` bytes with every page written, drop them, return a checksum."""
    block = b"\x01" * size  # written, so every page is resident (calloc'ed zeros need not be)
    total = block[0] + block[-1]
    del block
    gc.collect()
    return total


@needs_clear_refs
def test_a_window_that_allocates_and_frees_200_mb_records_the_rise() -> None:
    probe = _probe()
    before = probe.read()
    assert _touch(200 * MIB) == 2
    out = Figures()
    probe.figures(before, probe.read(), out)
    growth = out.metrics["rss_peak_growth_bytes"]
    # the block is freed before the window ends: only the peak remembers it
    assert 180 * MIB <= growth <= 260 * MIB, growth
    assert out.sources["rss_peak_growth_bytes"] == "kernel"


@needs_clear_refs
def test_a_quiet_window_records_little() -> None:
    probe = _probe()
    _touch(50 * MIB)  # an earlier peak of the process is not this window's
    before = probe.read()
    sum(range(1000))
    out = Figures()
    probe.figures(before, probe.read(), out)
    assert 0 <= out.metrics["rss_peak_growth_bytes"] < 8 * MIB


@needs_clear_refs
def test_an_inner_window_does_not_hide_the_outer_window_peak() -> None:
    """The mark is reset at every reading: the outer window (a request) still gets the
    peak reached inside its stage, and one reached before the stage opened."""
    probe = _probe()
    outer = probe.read()
    _touch(120 * MIB)  # before the stage: only the outer window saw it
    inner = probe.read()
    _touch(60 * MIB)
    stage = Figures()
    probe.figures(inner, probe.read(), stage)
    request = Figures()
    probe.figures(outer, probe.read(), request)
    assert 50 * MIB <= stage.metrics["rss_peak_growth_bytes"] < 100 * MIB
    assert request.metrics["rss_peak_growth_bytes"] >= 110 * MIB


@needs_clear_refs
def test_peak_rss_mb_stays_the_process_high_water_mark() -> None:
    """getrusage's ru_maxrss falls with the kernel's mark; the window keeps the process's
    own peak, so peak_rss_mb is not lowered by the probe."""
    probe = _probe()
    _touch(150 * MIB)
    window = Plan(probes=(probe,)).open()
    out = window.close()
    out_with_rusage = Figures()
    out_with_rusage.metrics["peak_rss_mb"] = 1.0  # what a reset ru_maxrss could say
    before = probe.read()
    probe.figures(before, probe.read(), out_with_rusage)
    assert out_with_rusage.metrics["peak_rss_mb"] >= 150
    assert "rss_peak_growth_bytes" in out.metrics


def test_missing_files_make_it_unavailable_with_the_reason(tmp_path: Path) -> None:
    found = memory_probe(tmp_path / "status", tmp_path / "clear_refs")
    assert isinstance(found, Unavailable)
    assert found.name == "memory"
    assert "rss_peak_growth_bytes is not measured" in found.reason
    assert str(tmp_path / "status") in found.reason


def test_a_status_file_without_the_high_water_mark_is_unavailable(tmp_path: Path) -> None:
    status = tmp_path / "status"
    status.write_text("Name:\tpython\nVmRSS:\t  1712 kB\n")
    clear = tmp_path / "clear_refs"
    clear.write_text("")
    found = memory_probe(status, clear)
    assert isinstance(found, Unavailable)


def test_a_failed_reading_leaves_the_figure_out(tmp_path: Path) -> None:
    status = tmp_path / "status"
    status.write_text("VmHWM:\t  2048 kB\nVmRSS:\t  1024 kB\n")
    clear = tmp_path / "clear_refs"
    clear.write_text("")
    probe = memory_probe(status, clear)
    assert isinstance(probe, MemoryProbe)
    before = probe.read()
    status.write_text("garbage\n")
    out = Figures()
    probe.figures(before, probe.read(), out)
    probe.figures(None, None, out)
    assert out.metrics == {}
    probe.close()
