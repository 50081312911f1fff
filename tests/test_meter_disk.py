"""The disk probe on a file shaped as /proc/self/io, and on the real one."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_ragcost.meters.base import Unavailable
from pytest_ragcost.meters.disk import DiskProbe, disk_probe
from pytest_ragcost.meters.registry import build
from pytest_ragcost.meters.window import Figures

IO = (
    "rchar: {rchar}\nwchar: 9\nsyscr: 1\nsyscw: 1\nread_bytes: {read}\n"
    "write_bytes: {write}\ncancelled_write_bytes: 0\n"
)


def test_figures_are_the_storage_counters_not_every_read_call(tmp_path: Path) -> None:
    io = tmp_path / "io"
    io.write_text(IO.format(rchar=10, read=4096, write=0))
    probe = disk_probe(io)
    assert isinstance(probe, DiskProbe)
    before = probe.read()
    io.write_text(IO.format(rchar=999_999, read=12288, write=5 * 1024 * 1024))
    out = Figures()
    probe.figures(before, probe.read(), out)
    assert out.metrics == {"disk_read_bytes": 8192.0, "disk_write_bytes": 5242880.0}
    assert out.sources == {"disk_read_bytes": "kernel", "disk_write_bytes": "kernel"}
    probe.close()


def test_a_failed_reading_leaves_the_figures_out(tmp_path: Path) -> None:
    io = tmp_path / "io"
    io.write_text(IO.format(rchar=1, read=1, write=1))
    probe = disk_probe(io)
    assert isinstance(probe, DiskProbe)
    out = Figures()
    probe.figures(None, probe.read(), out)
    probe.figures(b"garbage", probe.read(), out)
    assert out.metrics == {}


def test_a_missing_file_is_unavailable_with_the_reason(tmp_path: Path) -> None:
    found = disk_probe(tmp_path / "nope")
    assert isinstance(found, Unavailable)
    assert found.name == "disk"
    assert "disk_read_bytes, disk_write_bytes are not measured" in found.reason


def test_a_file_without_the_storage_counters_is_unavailable(tmp_path: Path) -> None:
    io = tmp_path / "io"
    io.write_text("rchar: 1\nwchar: 2\n")
    found = disk_probe(io)
    assert isinstance(found, Unavailable)
    assert "read_bytes, write_bytes" in found.reason


def test_the_system_probes_join_stage_request_and_level_plans_only(tmp_path: Path) -> None:
    io = tmp_path / "io"
    io.write_text(IO.format(rchar=1, read=1, write=1))
    meters = build(["process"], watts_per_thread=4.0, watts_source="default",
                   system=True, proc_io=io)
    assert [p.name for p in meters.system] == ["disk", "memory", "network"]
    for kind in ("stage", "request", "level"):
        assert meters.system[0] in meters.plan(kind).probes
    assert meters.system[0] not in meters.plan("benchmark").probes
    off = build(["process"], watts_per_thread=4.0, watts_source="default")
    assert off.system == ()
    assert not any(isinstance(p, DiskProbe) for p in off.plan("stage").probes)
    # with no meter at all, the disk figures still come
    none = build(["none"], watts_per_thread=4.0, watts_source="default", system=True,
                 proc_io=io)
    figures = none.plan("stage").open().close()
    assert "disk_write_bytes" in figures.metrics
    meters.close()
    none.close()
    import socket

    assert "connect" not in vars(socket.socket)  # closing the meters took the hook out


@pytest.mark.skipif(not Path("/proc/self/io").exists(), reason="/proc/self/io is Linux's")
def test_the_real_counters_see_a_written_and_synced_file(tmp_path: Path) -> None:
    probe = disk_probe()
    assert isinstance(probe, DiskProbe)
    before = probe.read()
    target = tmp_path / "blob"
    with target.open("wb") as f:
        f.write(b"y" * 1024 * 1024)
        f.flush()
        import os

        os.fsync(f.fileno())
    out = Figures()
    probe.figures(before, probe.read(), out)
    probe.close()
    assert out.metrics["disk_read_bytes"] >= 0
    assert out.metrics["disk_write_bytes"] >= 0
