"""ragcost bisect met as a user meets it: a git repository of six commits, one of which
raises top_k; bisect names that commit, and the checkout, branch, index and stash stay as
they were, also when the bisect is interrupted (Ctrl-C or SIGTERM)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from pytest_ragcost.cli import main

TEST = '''
import pytest

from rag_config import TOP_K

CHUNK = "the quick brown fox jumps over the lazy dog " * 4


@pytest.mark.ragcost(scenario="qa")
def test_qa(ragcost):
    for q in ragcost.requests(["what is a fox", "what is a dog", "who is lazy"]):
        with ragcost.stage("retrieve") as st:
            hits = [CHUNK] * TOP_K
            st.count(candidates=len(hits))
        with ragcost.stage("generate") as st:
            st.tokens(prompt=q, context=hits, completion="an answer", model="gpt-4o-mini")
'''


def git(repo: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout


def state(repo: Path) -> dict[str, str]:
    """What a bisect must leave as it was."""
    return {
        "head": git(repo, "rev-parse", "HEAD"),
        "branch": git(repo, "symbolic-ref", "-q", "HEAD"),
        "status": git(repo, "status", "--porcelain=v1", "--untracked-files=all"),
        "index": git(repo, "diff", "--cached"),
        "stash": git(repo, "stash", "list"),
        "worktrees": git(repo, "worktree", "list", "--porcelain"),
        "branches": git(repo, "branch", "--list"),
    }


@pytest.fixture
def repo(pytester: pytest.Pytester) -> tuple[Path, list[str]]:
    """Six commits; the fourth raises top_k from 2 to 5. The checkout then gets a stash,
    a staged change and an unstaged one, on branch ``work``."""
    path = pytester.path
    git(path, "init", "-q", "-b", "work")
    git(path, "config", "user.email", "dev@example.invalid")
    git(path, "config", "user.name", "dev")
    pytester.makepyfile(test_qa=TEST)
    pytester.makeini("[pytest]\naddopts = -p no:randomly -p no:cacheprovider\n")
    shas = []
    for i in range(6):
        top_k = 5 if i >= 3 else 2
        (path / "rag_config.py").write_text(f"TOP_K = {top_k}\n")
        (path / "NOTES.md").write_text(f"change {i}\n")
        git(path, "add", "-A")
        git(path, "commit", "-q", "-m", f"change {i}" + (": top_k 5" if i == 3 else ""))
        shas.append(git(path, "rev-parse", "HEAD").strip())
    (path / "NOTES.md").write_text("stashed\n")
    git(path, "stash", "-q")
    (path / "NOTES.md").write_text("staged\n")
    git(path, "add", "NOTES.md")
    (path / "rag_config.py").write_text("TOP_K = 5  # unstaged\n")
    return path, shas


def test_bisect_names_the_commit_that_raised_top_k_and_leaves_the_checkout(
    repo: tuple[Path, list[str]], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, shas = repo
    before = state(path)
    monkeypatch.chdir(path)
    code = main(["bisect", shas[0], shas[5], "--metric", "tokens_context"])
    out = capsys.readouterr().out
    assert code == 0, out
    assert f"ragcost bisect: {shas[3]} is the first commit that moved tokens_context" in out
    assert f"{shas[3][:12]} change 3: top_k 5" in out
    # the metric on each side of it: 2 chunks of 37 tokens, then 5
    assert f"qa: tokens_context 74 at {shas[2][:12]} -> 185 at {shas[3][:12]}" in out
    assert "item 'who is lazy': tokens_context 74 → 185" in out
    # five candidates: BAD checked, then about log2(5) steps
    steps = [line for line in out.splitlines() if line.startswith("ragcost bisect: step ")]
    assert len(steps) == 2, out
    assert state(path) == before
    assert (path / "rag_config.py").read_text() == "TOP_K = 5  # unstaged\n"


def test_without_a_metric_bisect_finds_what_moved(
    repo: tuple[Path, list[str]], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, shas = repo
    before = state(path)
    monkeypatch.chdir(path)
    code = main(["bisect", shas[0], shas[5], "--rounds", "2"])
    out = capsys.readouterr().out
    assert code == 0, out
    # the first exact metric that moved, in key order; the others are named
    assert f"{shas[3]} is the first commit that moved count_candidates" in out
    assert "also moved from GOOD to BAD: " in out
    assert "tokens_context" in out.split("also moved from GOOD to BAD: ")[1]
    assert state(path) == before


def test_a_metric_that_did_not_move_is_said(
    repo: tuple[Path, list[str]], monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    path, shas = repo
    monkeypatch.chdir(path)
    assert main(["bisect", shas[0], shas[2], "--metric", "tokens_context"]) == 2
    err = capsys.readouterr().err
    assert "ragcost: bisect: tokens_context did not move from" in err
    assert "nothing to bisect" in err
    assert main(["bisect", shas[3], shas[0], "--metric", "tokens_context"]) == 2
    assert "is not an ancestor of" in capsys.readouterr().err
    assert main(["bisect", "nope", shas[0]]) == 2
    assert "'nope' is not a commit" in capsys.readouterr().err
    assert main(["bisect", shas[0], shas[5], "--metric", "a.b.c"]) == 2
    assert "is not a metric key" in capsys.readouterr().err


def _sigint_default() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_bisect_leaves_the_checkout_as_it_was(
    repo: tuple[Path, list[str]], sig: signal.Signals,
) -> None:
    path, shas = repo
    before = state(path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        [str(Path(__file__).resolve().parent.parent), os.environ.get("PYTHONPATH", "")])}
    proc = subprocess.Popen(
        [sys.executable, "-c", "from pytest_ragcost.cli import main; raise SystemExit(main())",
         "bisect", shas[0], shas[5], "--metric", "tokens_context"],
        cwd=path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        # a suite started in the background of a script (as CI does) has SIGINT ignored,
        # and the bisect would inherit that: Ctrl-C is what this test sends, so the
        # child gets the default back, as a terminal's job has it
        preexec_fn=_sigint_default,
    )
    # wait until it is inside a measurement: a temporary worktree exists
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if git(path, "worktree", "list").count("\n") >= 3 or proc.poll() is not None:
            break
        time.sleep(0.05)
    assert proc.poll() is None, "the bisect ended before it could be interrupted"
    time.sleep(0.3)
    trees = [Path(line.split(" ", 1)[1]) for line in git(path, "worktree", "list",
                                                         "--porcelain").splitlines()
             if line.startswith("worktree ") and Path(line.split(" ", 1)[1]) != path]
    assert trees
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "ragcost bisect: interrupted; its temporary worktrees are removed" in err
    assert state(path) == before
    assert not [t for t in trees if t.exists()]
