"""The machine fingerprint's commit, read with one ``git status`` in a real repository:
clean, dirty, detached (the branch from the CI variables), before the first commit, and
outside any repository."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from pytest_ragcost.environment import (
    GitProbe,
    complete_environment,
    fingerprint,
    git_commit,
    parse_git_status,
)
from pytest_ragcost.meters.registry import build

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def _git(root: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    done = subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True,
                          text=True)
    return done.stdout.strip()


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for name in ("GITHUB_HEAD_REF", "GITHUB_REF_NAME"):
        monkeypatch.delenv(name, raising=False)
    _git(tmp_path, "init", "-q", "-b", "topic")
    (tmp_path / "a.txt").write_text("one\n", encoding="utf-8")
    _git(tmp_path, "add", "a.txt")
    _git(tmp_path, "commit", "-q", "-m", "one")
    return tmp_path


def test_a_clean_checkout(repo: Path) -> None:
    assert git_commit(repo) == {"commit": _git(repo, "rev-parse", "HEAD"), "dirty": False,
                                "branch": "topic"}


def test_a_changed_tracked_file_is_dirty_and_an_untracked_one_is_not(repo: Path) -> None:
    (repo / "new.txt").write_text("untracked\n", encoding="utf-8")
    assert git_commit(repo)["dirty"] is False  # type: ignore[index]
    (repo / "a.txt").write_text("two\n", encoding="utf-8")
    assert git_commit(repo)["dirty"] is True  # type: ignore[index]


def test_a_detached_checkout_takes_the_branch_from_ci(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    sha = _git(repo, "rev-parse", "HEAD")
    _git(repo, "checkout", "-q", "--detach")
    assert git_commit(repo) == {"commit": sha, "dirty": False, "branch": None}
    monkeypatch.setenv("GITHUB_REF_NAME", "main")
    assert git_commit(repo)["branch"] == "main"  # type: ignore[index]
    monkeypatch.setenv("GITHUB_HEAD_REF", "feature")
    assert git_commit(repo)["branch"] == "feature"  # type: ignore[index]


def test_no_commit_yet_and_no_repository_give_none(tmp_path: Path) -> None:
    outside = tmp_path / "plain"
    outside.mkdir()
    (outside / ".git").write_text("gitdir: /nonexistent\n", encoding="utf-8")
    assert git_commit(outside) is None
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    _git(fresh, "init", "-q")
    assert git_commit(fresh) is None


def test_the_probe_runs_beside_the_caller_and_is_read_once(repo: Path) -> None:
    probe = GitProbe(repo)
    first = probe.result()
    (repo / "a.txt").write_text("changed after the start\n", encoding="utf-8")
    assert probe.result() == first  # the state at the start of the run
    assert first is not None
    assert first["dirty"] is False
    probe.close()


def test_closing_an_unread_probe_stops_git(repo: Path) -> None:
    probe = GitProbe(repo)
    probe.close()
    assert probe._proc is not None
    assert probe._proc.returncode is not None


def test_parse_reads_the_porcelain_v2_lines() -> None:
    text = ("# branch.oid 0123abcd\n# branch.head main\n# branch.upstream origin/main\n"
            "# branch.ab +0 -0\n1 .M N... 100644 100644 100644 aa bb a.txt\n")
    assert parse_git_status(text) == {"commit": "0123abcd", "dirty": True, "branch": "main"}
    assert parse_git_status("# branch.oid (initial)\n# branch.head main\n") is None
    assert parse_git_status("") is None


def test_the_start_of_a_run_leaves_commit_and_packages_for_the_end(repo: Path) -> None:
    meters = build(["process"], watts_per_thread=4.0, watts_source="default")
    env = fingerprint(meters)
    assert env["git"] is None
    assert env["packages"] == {}
    assert list(env) == list(fingerprint(meters, repo))  # the same keys, in the same order
    complete_environment(env, GitProbe(repo))
    assert env["git"]["commit"] == _git(repo, "rev-parse", "HEAD")
    assert "pytest" in env["packages"]
    assert env == fingerprint(meters, repo)


def test_package_versions_are_the_ones_the_metadata_gives() -> None:
    from importlib import metadata

    from pytest_ragcost.environment import _PACKAGES, _versions

    found = _versions()
    assert "pytest" in found
    expected = {}
    for name in _PACKAGES:
        try:
            expected[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    assert found == expected
