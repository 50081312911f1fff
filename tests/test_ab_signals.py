"""A same-job A/B stopped by a signal cleans up as Ctrl-C does: a real git repository, a
real ``pytest --ragcost-ab`` process, a real SIGINT, SIGTERM or SIGHUP while a side is
running. The base worktree is removed and pruned (``git worktree list`` shows the
checkout alone), no ``ragcost-ab-`` directory is left, and the process says so in one
line, without a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_ragcost import cli

# the test waits here, inside a metered request, until the outer process is signalled
SLOW = '''
import os, time
import pytest

@pytest.mark.ragcost(scenario="slow", requests=1)
def test_slow(ragcost):
    for q in ragcost.requests(["one"]):
        with ragcost.stage("wait"):
            open(os.environ["RAGCOST_AB_SIDE"] + ".started", "w").close()
            time.sleep(120)
'''


def _git(path: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=path, check=True, capture_output=True,
                          text=True).stdout


@pytest.fixture
def repo(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name, value in (("GIT_AUTHOR_NAME", "t"), ("GIT_AUTHOR_EMAIL", "t@example.com"),
                        ("GIT_COMMITTER_NAME", "t"), ("GIT_COMMITTER_EMAIL", "t@example.com")):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    pytester.makepyfile(test_slow=SLOW)
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider -p no:randomly\n")
    (pytester.path / ".gitignore").write_text("*.started\n")
    _git(pytester.path, "init", "-q")
    _git(pytester.path, "add", "-A")
    _git(pytester.path, "commit", "-qm", "base")
    return pytester.path


def _worktrees(repo: Path) -> list[str]:
    return [line.split()[1] for line in _git(repo, "worktree", "list", "--porcelain").splitlines()
            if line.startswith("worktree ")]


def _start(repo: Path, command: list[str], tmp: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "TMPDIR": str(tmp)}
    return subprocess.Popen(command, cwd=repo, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)


def _wait_for_a_side(repo: Path, proc: subprocess.Popen[str]) -> Path:
    """The base worktree, once the first side (base, round 1) is inside its test."""
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        trees = _worktrees(repo)
        started = [Path(t) / "base.started" for t in trees[1:]]
        if any(p.exists() for p in started):
            return Path(trees[1])
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.2)
    proc.kill()
    raise AssertionError("the base side never started")


def _stop(proc: subprocess.Popen[str], signum: int, group: bool) -> tuple[str, str]:
    if group:  # Ctrl-C in a terminal reaches the whole foreground process group
        os.killpg(proc.pid, signum)
    else:  # a CI runner cancelling the job signals the command it started
        proc.send_signal(signum)
    try:
        out, err = proc.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        raise
    return out, err


CASES = [("SIGINT", True), ("SIGTERM", False), ("SIGHUP", False), ("SIGTERM", True)]


@pytest.mark.parametrize(("name", "group"), CASES,
                         ids=[f"{n}-{'group' if g else 'process'}" for n, g in CASES])
def test_pytest_ab_cleans_up_on_a_signal(
    repo: Path, tmp_path: Path, name: str, group: bool
) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    proc = _start(repo, [sys.executable, "-m", "pytest", "--ragcost-ab=HEAD",
                         "--ragcost-ab-rounds=2", "--ragcost-json=ab.json"], tmp)
    tree = _wait_for_a_side(repo, proc)
    assert tree.is_relative_to(tmp)
    out, err = _stop(proc, getattr(signal, name), group)
    assert proc.returncode == pytest.ExitCode.INTERRUPTED, (out, err)
    assert f"ragcost ab: interrupted by {name}; the base worktree was removed" in err
    assert "Traceback" not in out + err
    assert len([line for line in err.splitlines() if line.strip()]) == 1, err
    assert _worktrees(repo) == [str(repo)]
    assert not tree.exists()
    assert [p.name for p in tmp.iterdir() if p.name.startswith("ragcost-ab-")] == []
    assert not (repo / "ab.json").exists()
    assert _git(repo, "status", "--porcelain") == ""


def test_ragcost_ab_cleans_up_on_sigterm(repo: Path, tmp_path: Path) -> None:
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    code = "import sys; from pytest_ragcost.cli import main; sys.exit(main())"
    proc = _start(repo, [sys.executable, "-c", code, "ab", "HEAD", "--rounds", "2"], tmp)
    tree = _wait_for_a_side(repo, proc)
    out, err = _stop(proc, signal.SIGTERM, False)
    assert proc.returncode == cli.EXIT_INTERRUPTED
    assert "ragcost ab: interrupted by SIGTERM" in err
    assert "Traceback" not in out + err
    assert _worktrees(repo) == [str(repo)]
    assert not tree.exists()


def test_rounds_below_two_say_two(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x(): pass")
    result = pytester.runpytest("--ragcost-ab=HEAD", "--ragcost-ab-rounds=-3")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--ragcost-ab-rounds must be a whole number of rounds, at least 2 (got '-3')*"])
    assert "at least 1" not in result.stderr.str()
    assert ">= 1" not in result.stderr.str()
