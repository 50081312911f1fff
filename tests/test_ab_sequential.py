"""The sequential A/B through the real command: it stops when the verdicts decide, says
why in the terminal and the JSON, and --ragcost-ab-rounds still fixes the rounds."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pytest_ragcost.compare.sequential import DEFAULT_MAX_ROUNDS

#: one stage whose CPU work is WORK loop turns per request: enough (a few ms) that the
#: stage's CPU time is the loop's, little enough that a side's pytest run stays short
SCENARIO = '''
import pytest

WORK = {work}
QUESTIONS = [f"question number {{i}}" for i in range(4)]


def burn(n):
    x = 0
    for i in range(n):
        x += i * i
    return x
{comment}

@pytest.mark.ragcost(scenario="seq", requests=4)
def test_seq(ragcost):
    for q in ragcost.requests(QUESTIONS):
        with ragcost.stage("search"):
            burn(WORK)
        with ragcost.stage("generate") as st:
            st.tokens(prompt=q, completion="ok")
'''
BASE_WORK = 60_000
OTHER_PLUGINS = ("hypothesispytest", "langsmith_plugin", "anyio", "benchmark", "xdist",
                 "xdist.looponfail")

#: the gated keys: the stage's CPU time (noisy: judged on the rounds) and the tokens
#: (exact). A wide tolerance on the CPU time lets unchanged code be decided in a few rounds
BUDGET = """version: 1
scenarios:
  seq:
    search.cpu_ms: {tolerance: 50%}
    tokens_total: {tolerance: 0}
"""


def _git(path: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=path, check=True, capture_output=True)


@pytest.fixture
def repo(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A git repository holding one scenario, committed as the base."""
    for name, value in (("GIT_AUTHOR_NAME", "t"), ("GIT_AUTHOR_EMAIL", "t@example.com"),
                        ("GIT_COMMITTER_NAME", "t"), ("GIT_COMMITTER_EMAIL", "t@example.com")):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    pytester.makepyfile(test_seq=SCENARIO.format(work=BASE_WORK, comment=""))
    # the sides' runs load none of the environment's other plugins: their imports took
    # most of each run's start-up
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider " + " ".join(
        f"-p no:{name}" for name in OTHER_PLUGINS) + "\n")
    (pytester.path / "ragcost.yaml").write_text(BUDGET)
    _git(pytester.path, "init", "-q")
    _git(pytester.path, "add", "-A")
    _git(pytester.path, "commit", "-qm", "base")
    return pytester


def _doc(repo: pytest.Pytester) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((repo.path / "ab.json").read_text())
    return doc


def _commit(repo: pytest.Pytester, work: int, comment: str = "") -> None:
    repo.makepyfile(test_seq=SCENARIO.format(work=work, comment=comment))
    _git(repo.path, "commit", "-qam", "change")


def test_a_tripled_stage_cpu_fails_within_four_rounds(repo: pytest.Pytester) -> None:
    _commit(repo, 3 * BASE_WORK)
    result = repo.runpytest_subprocess("--ragcost-ab=HEAD~1", "--ragcost-json=ab.json")
    assert result.ret == 1
    doc = _doc(repo)
    assert doc["stopped"] == "decided"
    assert doc["rounds"] in (2, 4)
    assert doc["max_rounds"] == DEFAULT_MAX_ROUNDS
    assert len(doc["runs"]) == 2 * doc["rounds"]
    cpu = next(v for v in doc["verdicts"]["seq"] if v["key"] == "search.cpu_ms")
    assert cpu["status"] == "FAIL"
    assert cpu["rounds"] == doc["rounds"]
    # judged at the look's stricter level, not the fixed design's 90%
    assert cpu["confidence"] > 0.90
    result.stdout.fnmatch_lines([
        "ragcost ab: round 1 of at most 12: base *s, head *s",
        f"ragcost ab: stopped after {doc['rounds']} of at most 12 rounds: "
        "seq search.cpu_ms failed, which decides the run",
    ])


def test_a_comment_only_change_passes_and_says_why_it_stopped(repo: pytest.Pytester) -> None:
    _commit(repo, BASE_WORK, comment="# only a comment changed\n")
    result = repo.runpytest_subprocess("--ragcost-ab=HEAD~1", "--ragcost-json=ab.json")
    assert result.ret == 0, result.stdout.str()
    doc = _doc(repo)
    statuses = {v["key"]: v["status"] for v in doc["verdicts"]["seq"]}
    assert statuses == {"search.cpu_ms": "PASS", "tokens_total": "PASS"}
    # looks come after even rounds; at the cap it may still be undecided on a loaded machine
    assert doc["rounds"] % 2 == 0
    assert len(doc["runs"]) == 2 * doc["rounds"]
    if doc["stopped"] == "decided":
        assert doc["rounds"] <= DEFAULT_MAX_ROUNDS
        line = (f"ragcost ab: stopped after {doc['rounds']} of at most 12 rounds: "
                "every metric decided")
    elif doc["stopped"] == "no_rise":
        # from round 4 on, a look that sees no rise stops
        assert 4 <= doc["rounds"] < DEFAULT_MAX_ROUNDS
        line = (f"ragcost ab: stopped after {doc['rounds']} of at most 12 rounds: "
                "no metric rose at the fixed design's levels")
    else:
        assert (doc["stopped"], doc["rounds"]) == ("cap", DEFAULT_MAX_ROUNDS)
        line = "ragcost ab: stopped after 12 of at most 12 rounds: the cap (undecided: *)"
    result.stdout.fnmatch_lines([line])


def test_fixed_rounds_run_exactly_that_many_without_an_early_stop(
    repo: pytest.Pytester,
) -> None:
    _commit(repo, 3 * BASE_WORK)
    result = repo.runpytest_subprocess(
        "--ragcost-ab=HEAD~1", "--ragcost-ab-rounds=3", "--ragcost-json=ab.json"
    )
    assert result.ret == 1
    doc = _doc(repo)
    assert (doc["rounds"], doc["max_rounds"], doc["stopped"]) == (3, 3, "fixed")
    assert [(r["side"], r["round"]) for r in doc["runs"]] == [
        ("base", 1), ("head", 1), ("head", 2), ("base", 2), ("base", 3), ("head", 3)
    ]
    cpu = next(v for v in doc["verdicts"]["seq"] if v["key"] == "search.cpu_ms")
    assert cpu["confidence"] == pytest.approx(0.90)
    result.stdout.fnmatch_lines([
        "ragcost ab: round 3/3: base *s, head *s",
        "ragcost ab: ran the 3 rounds --ragcost-ab-rounds asked for (no early stop)",
    ])
