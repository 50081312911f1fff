"""``--ragcost-system``: disk I/O bytes per stage and request, as a user meets them."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import read_json, scenario_of

MIB = 1024 * 1024

DISK_APP = '''
import os

def test_ingest(ragcost):
    for i in ragcost.requests(["a", "b"]):
        with ragcost.stage("write") as st:
            with open(f"blob-{i}.bin", "wb") as f:
                f.write(b"x" * (5 * 1024 * 1024))
                f.flush()
                os.fsync(f.fileno())
        with ragcost.stage("think") as st:
            sum(range(1000))
'''


def _fs_type(path: Path) -> str:
    """The file system type of the mount holding ``path`` (from /proc/self/mountinfo)."""
    best, kind = "", ""
    target = str(path.resolve())
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        mount = fields[4]
        fs = fields[fields.index("-") + 1]
        if (target == mount or target.startswith(mount.rstrip("/") + "/")) and len(mount) > len(
            best
        ):
            best, kind = mount, fs
    return kind


needs_proc_io = pytest.mark.skipif(
    not Path("/proc/self/io").exists(), reason="/proc/self/io is Linux's"
)


@needs_proc_io
def test_a_stage_that_writes_5_mb_records_its_write_bytes(pytester: pytest.Pytester) -> None:
    if _fs_type(pytester.path) in ("tmpfs", "ramfs"):
        pytest.skip(f"{pytester.path} is on tmpfs, which writes nothing to storage")
    pytester.makepyfile(test_ingest=DISK_APP)
    result = pytester.runpytest("--ragcost", "--ragcost-system", "--ragcost-json=out.json",
                                "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["ragcost: system: disk (disk_read_bytes, disk_write_bytes)"])
    scenario = scenario_of(read_json(pytester.path / "out.json"), "test_ingest.py::test_ingest")
    for request in scenario["requests"]:
        write, think = request["stages"]
        assert 0.9 * 5 * MIB <= write["metrics"]["disk_write_bytes"] <= 1.1 * 5 * MIB
        assert write["sources"]["disk_write_bytes"] == "kernel"
        assert "disk_read_bytes" in write["metrics"]
        assert think["metrics"]["disk_write_bytes"] < 0.1 * MIB
        assert request["metrics"]["disk_write_bytes"] >= write["metrics"]["disk_write_bytes"]
    summary = scenario["summary"]
    assert summary["write.disk_write_bytes"]["unit"] == "bytes"
    assert summary["write.disk_write_bytes"]["kind"] == "noisy"
    # the request-level figure is in the terminal's metrics table
    result.stdout.fnmatch_lines(["disk_write_bytes *bytes*kernel"])


@needs_proc_io
def test_disk_write_bytes_is_gated_like_any_noisy_metric(pytester: pytest.Pytester) -> None:
    if _fs_type(pytester.path) in ("tmpfs", "ramfs"):
        pytest.skip(f"{pytester.path} is on tmpfs, which writes nothing to storage")
    pytester.makepyfile(test_ingest=DISK_APP)
    pytester.makefile(".yaml", ragcost=(
        "version: 1\nscenarios:\n  test_ingest.py::test_ingest:\n"
        "    write.disk_write_bytes: {budget: 1000}\n"
    ))
    result = pytester.runpytest("--ragcost", "--ragcost-system", "-p", "no:randomly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*write.disk_write_bytes*FAIL*"])


def test_without_the_option_there_are_no_disk_figures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_ingest=DISK_APP)
    result = pytester.runpytest("--ragcost", "--ragcost-json=out.json", "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("ragcost: system:*")
    scenario = scenario_of(read_json(pytester.path / "out.json"), "test_ingest.py::test_ingest")
    for request in scenario["requests"]:
        assert not any(k.startswith("disk_") for k in request["metrics"])
        for stage in request["stages"]:
            assert not any(k.startswith("disk_") for k in stage["metrics"])


def test_the_ini_option_turns_it_on(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nragcost = true\nragcost_system = true\n")
    pytester.makepyfile(test_ingest=DISK_APP.replace("5 * 1024 * 1024", "1024"))
    result = pytester.runpytest("--ragcost-json=out.json", "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    scenario = scenario_of(read_json(pytester.path / "out.json"), "test_ingest.py::test_ingest")
    if Path("/proc/self/io").exists():
        assert "disk_write_bytes" in scenario["requests"][0]["stages"][0]["metrics"]


def test_where_proc_io_is_missing_the_header_says_so_once_and_no_figure_is_made_up(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    from pytest_ragcost.meters import disk

    monkeypatch.setattr(disk, "PROC_IO", pytester.path / "no-such-proc" / "io")
    pytester.makepyfile(test_ingest=DISK_APP.replace("5 * 1024 * 1024", "1024"))
    result = pytester.runpytest("--ragcost", "--ragcost-system", "--ragcost-json=out.json",
                                "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    lines = [line for line in result.stdout.lines if "disk unavailable" in line]
    assert lines[0].startswith("ragcost: disk unavailable: ")
    assert "disk_read_bytes, disk_write_bytes are not measured" in lines[0]
    assert sum(1 for line in lines if line.startswith("ragcost: ")) == 1
    doc = read_json(pytester.path / "out.json")
    scenario = scenario_of(doc, "test_ingest.py::test_ingest")
    for request in scenario["requests"]:
        assert not any(k.startswith("disk_") for k in request["metrics"])
        for stage in request["stages"]:
            assert not any(k.startswith("disk_") for k in stage["metrics"])
    reasons = {u["name"]: u["reason"] for u in scenario["meters"]["unavailable"]}
    assert "not Linux" in reasons["disk"]


def test_help_shows_the_flag_and_its_ini_key(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*--ragcost-system*", "*ragcost_system*"])
    assert os.sep  # the help ran in-process without error
