"""Files users own stay theirs: a bless or an output flag writes through symlinks, into
devices and pipes, keeps modes, waits for a concurrent bless, and an interrupted run
writes nothing. Device nodes are made in a temp dir (never the real /dev)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from conftest import scenario_source

from pytest_ragcost.files import locked

ROOT = Path(__file__).resolve().parents[1]


def _device(tmp: Path, name: str, minor: int) -> Path:
    """A character device node like /dev/null (1, 3) or /dev/full (1, 7), in ``tmp``."""
    if os.geteuid() != 0:
        pytest.skip("making a device node needs root")
    node = tmp / name
    os.mknod(node, 0o666 | stat.S_IFCHR, os.makedev(1, minor))
    return node


def test_output_flags_write_into_a_device_and_never_replace_it(
    rag_project: pytest.Pytester, tmp_path: Path
) -> None:
    null = _device(tmp_path, "null", 3)
    rag_project.makepyfile(test_qa=scenario_source())
    result = rag_project.runpytest("--ragcost", f"--ragcost-json={null}",
                                   f"--ragcost-markdown={null}")
    result.assert_outcomes(passed=1)
    assert result.ret == 0
    assert stat.S_ISCHR(null.lstat().st_mode)


@pytest.mark.parametrize("flag", ["--ragcost-json", "--ragcost-markdown"])
def test_a_full_device_is_a_clear_error_and_stays_a_device(
    rag_project: pytest.Pytester, tmp_path: Path, flag: str
) -> None:
    full = _device(tmp_path, "full", 7)
    rag_project.makepyfile(test_qa=scenario_source())
    result = rag_project.runpytest("--ragcost", f"{flag}={full}")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([f"*could not write {full}: No space left on device*"])
    assert "INTERNALERROR" not in result.stdout.str()
    assert stat.S_ISCHR(full.lstat().st_mode)


def test_a_fifo_is_written_into(rag_project: pytest.Pytester, tmp_path: Path) -> None:
    fifo = tmp_path / "run.fifo"
    os.mkfifo(fifo)
    got: list[bytes] = []

    def read() -> None:
        with open(fifo, "rb") as fh:
            got.append(fh.read())

    reader = threading.Thread(target=read)
    reader.start()
    rag_project.makepyfile(test_qa=scenario_source())
    result = rag_project.runpytest("--ragcost", f"--ragcost-json={fifo}")
    reader.join(30)
    result.assert_outcomes(passed=1)
    assert b'"schema_version": 1' in got[0]
    assert stat.S_ISFIFO(fifo.lstat().st_mode)


def test_a_directory_as_output_is_refused_clearly(
    rag_project: pytest.Pytester, tmp_path: Path
) -> None:
    rag_project.makepyfile(test_qa=scenario_source())
    result = rag_project.runpytest("--ragcost", f"--ragcost-json={tmp_path}")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([f"*could not write {tmp_path}: is a directory; give the path "
                                 "of a file*"])
    assert tmp_path.is_dir()


def test_a_bless_writes_through_a_symlinked_ragcost_yaml(rag_project: pytest.Pytester) -> None:
    real = rag_project.path / "budgets" / "real.yaml"
    real.parent.mkdir()
    real.write_text("version: 1\n# keep me\n")
    real.chmod(0o640)
    (rag_project.path / "ragcost.yaml").symlink_to(Path("budgets") / "real.yaml")
    rag_project.makepyfile(test_qa=scenario_source())
    result = rag_project.runpytest("--ragcost", "--ragcost-update")
    result.assert_outcomes(passed=1)
    link = rag_project.path / "ragcost.yaml"
    assert link.is_symlink()
    assert "# keep me" in real.read_text()
    assert "qa-tiny:" in real.read_text()
    assert stat.S_IMODE(real.stat().st_mode) == 0o640


def test_a_symlink_loop_is_named_as_a_loop(rag_project: pytest.Pytester) -> None:
    loop = rag_project.path / "ragcost.yaml"
    loop.symlink_to("ragcost.yaml")
    rag_project.makepyfile(test_qa=scenario_source())
    result = rag_project.runpytest("--ragcost")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*ragcost.yaml: cannot be read (got it is a symlink loop*"])


SCORED = '''
import pytest

@pytest.mark.ragcost(scenario="scored", requests=2)
def test_scored(ragcost):
    for q in ragcost.requests(["solar", "battery"]):
        with ragcost.stage("retrieve") as st:
            st.count(hits=1)
        ragcost.sample(question=q, answer=q, contexts=[q], context_ids=["a"],
                       reference_ids=["a"])
'''


def test_a_bless_keeps_the_mode_of_the_files_beside_ragcost_yaml(
    rag_project: pytest.Pytester,
) -> None:
    rag_project.makepyfile(test_scored=SCORED)
    rag_project.makefile(".yaml", ragcost=(
        "version: 1\nscenarios:\n  scored:\n    hit_at_k: {baseline: 0.5}\n"))
    first = rag_project.runpytest("--ragcost", "--ragcost-update")
    first.assert_outcomes(passed=1)
    scores = rag_project.path / "ragcost.scores.json"
    assert scores.exists()
    scores.chmod(0o644)
    (rag_project.path / "ragcost.yaml").chmod(0o664)
    again = rag_project.runpytest("--ragcost", "--ragcost-update")
    again.assert_outcomes(passed=1)
    assert stat.S_IMODE(scores.stat().st_mode) == 0o644
    assert stat.S_IMODE((rag_project.path / "ragcost.yaml").stat().st_mode) == 0o664


def test_cr_only_line_endings_survive_a_bless(rag_project: pytest.Pytester) -> None:
    path = rag_project.path / "ragcost.yaml"
    path.write_bytes(b"version: 1\r# an old Mac file\rscenarios:\r  other: {}\r")
    rag_project.makepyfile(test_qa=scenario_source())
    result = rag_project.runpytest("--ragcost", "--ragcost-update", "-k", "qa")
    result.assert_outcomes(passed=1)
    data = path.read_bytes()
    assert b"\n" not in data
    assert b"qa-tiny:" in data
    assert data.startswith(b"version: 1\r# an old Mac file\r")


TWO = '''
import pytest

@pytest.mark.ragcost(scenario="first", requests=1)
def test_first(ragcost):
    for q in ragcost.requests(["a"]):
        with ragcost.stage("s") as st:
            st.count(x=1)


@pytest.mark.ragcost(scenario="second", requests=1)
def test_second(ragcost):
    {body}
    for q in ragcost.requests(["a"]):
        with ragcost.stage("s") as st:
            st.count(x=1)
'''

BUDGET = "version: 1\nscenarios:\n  third:\n    count_x: {baseline: 1}\n"


def test_ctrl_c_during_a_bless_writes_nothing(rag_project: pytest.Pytester) -> None:
    rag_project.makepyfile(test_two=TWO.format(body="raise KeyboardInterrupt"))
    rag_project.makefile(".yaml", ragcost=BUDGET)
    before = (rag_project.path / "ragcost.yaml").read_bytes()
    # in a subprocess: an in-process session would hand the Ctrl-C on to this one
    result = rag_project.runpytest_subprocess(
        "--ragcost", "--ragcost-update", "--ragcost-json=run.json", "-p", "no:randomly"
    )
    assert result.ret == pytest.ExitCode.INTERRUPTED
    assert (rag_project.path / "ragcost.yaml").read_bytes() == before
    assert not (rag_project.path / "run.json").exists()
    result.stdout.fnmatch_lines(["*interrupted: nothing written (*ragcost.yaml unchanged)*"])
    assert "STALE" not in result.stdout.str()


def test_a_run_stopped_by_x_reports_no_stale_scenarios(rag_project: pytest.Pytester) -> None:
    rag_project.makepyfile(test_two=TWO.format(body="assert False, 'broken'"))
    rag_project.makefile(".yaml", ragcost=BUDGET)
    result = rag_project.runpytest("--ragcost", "-x", "-p", "no:randomly")
    result.assert_outcomes(passed=1, failed=1)
    assert "STALE" not in result.stdout.str()
    # the whole suite, run to its end, does report the entry no test produced
    full = rag_project.runpytest("--ragcost")
    full.stdout.fnmatch_lines(["scenario third: not run", "*STALE*"])


def test_a_second_bless_waits_for_the_first_and_both_land(
    rag_project: pytest.Pytester,
) -> None:
    rag_project.makepyfile(test_qa=scenario_source())
    path = rag_project.path / "ragcost.yaml"
    path.write_text("version: 1\nscenarios:\n")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("PYTEST_ADDOPTS", None)
    with locked(path):  # as if another bless were writing right now
        proc = subprocess.Popen(
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--ragcost",
             "--ragcost-update"], cwd=rag_project.path, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        deadline = time.monotonic() + 120
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.5)
            # it measured and is now waiting on the lock: the file is still ours
            if "qa-tiny" not in path.read_text():
                break
        time.sleep(3)
        assert proc.poll() is None, proc.communicate()[0]
        # the other bless lands its own scenario meanwhile
        path.write_text("version: 1\nscenarios:\n  other:\n    count_x: {baseline: 7}\n")
    out, _ = proc.communicate(timeout=120)
    assert proc.returncode == 0, out
    text = path.read_text()
    assert "count_x: {baseline: 7}" in text
    assert "qa-tiny:" in text
