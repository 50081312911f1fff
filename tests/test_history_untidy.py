"""The SQLite history's untidy cases, as a user meets them: a history another process
holds locked (the run says it is waiting, waits a bounded time, and either records or
goes on without it), and a history path that is a device (refused, nothing created
beside it)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

SCENARIO = '''
import pytest

@pytest.mark.ragcost(scenario="qa", requests=2)
def test_qa(ragcost):
    for q in ragcost.requests(["a", "b"]):
        with ragcost.stage("retrieve") as st:
            st.count(hits=1)
'''


@pytest.fixture
def project(rag_project: pytest.Pytester) -> pytest.Pytester:
    rag_project.makepyfile(test_qa=SCENARIO)
    return rag_project


def _runs(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM run").fetchone()[0])


def _hold(path: Path, seconds: float, held: threading.Event,
          release: threading.Event | None = None) -> threading.Thread:
    """Another process's write lock on the history, for ``seconds`` or until ``release``."""

    def hold() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN EXCLUSIVE")
        held.set()
        if release is not None:
            release.wait(seconds)
        else:
            time.sleep(seconds)
        conn.execute("COMMIT")
        conn.close()

    thread = threading.Thread(target=hold, daemon=True)
    thread.start()
    return thread


def test_a_locked_history_is_said_and_the_run_records_once_it_is_free(
    project: pytest.Pytester,
) -> None:
    history = project.path / "h.sqlite3"
    first = project.runpytest_subprocess("--ragcost", f"--ragcost-history={history}")
    first.assert_outcomes(passed=1)
    held, release = threading.Event(), threading.Event()
    holder = _hold(history, 60.0, held, release)
    assert held.wait(10)
    env = {k: v for k, v in os.environ.items() if k not in ("PYTEST_ADDOPTS",
                                                              "GITHUB_STEP_SUMMARY")}
    proc = subprocess.Popen(
        [sys.executable, "-m", "pytest", "--ragcost", f"--ragcost-history={history}",
         "-p", "no:cacheprovider", "-p", "no:randomly"],
        cwd=project.path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:  # the lock is let go once the run says it waits for it
        lines.append(line)
        if "is locked by another run" in line:
            release.set()
    proc.wait(120)
    holder.join()
    text = "".join(lines)
    assert proc.returncode == 0, text
    assert f"ragcost: the history {history} is locked by another run; waiting up to 10 s" \
        in text
    assert "history not written" not in text
    assert _runs(history) == 2


def test_a_history_locked_too_long_is_given_up_and_the_run_keeps_its_results(
    project: pytest.Pytester,
) -> None:
    history = project.path / "h.sqlite3"
    project.runpytest_subprocess("--ragcost", f"--ragcost-history={history}")
    held = threading.Event()
    holder = _hold(history, 40.0, held)
    assert held.wait(10)
    started = time.monotonic()
    result = project.runpytest_subprocess("--ragcost", f"--ragcost-history={history}",
                                          "--ragcost-json=run.json")
    took = time.monotonic() - started
    result.assert_outcomes(passed=1)
    assert result.ret == 0
    text = result.stdout.str() + result.stderr.str()
    assert "is locked by another run; waiting up to 10 s" in text
    assert "stayed locked by another process" in text
    assert json.loads((project.path / "run.json").read_text())["scenarios"]
    assert took < 35  # a hang guard: the wait is bounded at 10 s (it was 30 s, silent)
    holder.join()


def _beside_dev_null() -> set[str]:
    return {name for name in os.listdir("/dev") if name.startswith("null")}


def test_a_history_on_a_device_is_refused_and_nothing_is_created_beside_it(
    project: pytest.Pytester,
) -> None:
    before = _beside_dev_null()
    result = project.runpytest("--ragcost", "--ragcost-history=/dev/null")
    result.assert_outcomes(passed=1)
    assert result.ret == 0
    result.stdout.fnmatch_lines(["*history not read: cannot open the history /dev/null: it is "
                                 "a device, not a SQLite file*"])
    assert _beside_dev_null() == before
