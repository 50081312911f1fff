"""Same-job A/B: head against a git ref, alternating rounds, paired by round and by item."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from pytest_ragcost import cli
from pytest_ragcost.ab import SideRun, compare, strip_outer_options
from pytest_ragcost.report.verdicts import sentence
from pytest_ragcost.run import RequestRecord, StageRecord

SCENARIO = '''
import pytest

WORK = {work}
TOP_K = {top_k}
DOCS = ["alpha beta gamma", "delta epsilon zeta", "eta theta iota", "kappa lambda mu"]
QUESTIONS = [f"question number {{i}}" for i in range(4)]


def burn(n):
    x = 0
    for i in range(n):
        x += i * i
    return x


@pytest.mark.ragcost(scenario="ab-demo", requests=4)
def test_demo(ragcost):
    for q in ragcost.requests(QUESTIONS):
        with ragcost.stage("search") as st:
            burn(WORK)
            hits = DOCS[:TOP_K]
            st.count(hits=len(hits))
        with ragcost.stage("generate") as st:
            st.tokens(context=hits, prompt=q + " " + " ".join(hits), completion="ok")
'''


def _git(path: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=path, check=True, capture_output=True)


@pytest.fixture
def repo(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A git repository holding one scenario, committed as the base."""
    for name, value in (("GIT_AUTHOR_NAME", "t"), ("GIT_AUTHOR_EMAIL", "t@example.com"),
                        ("GIT_COMMITTER_NAME", "t"), ("GIT_COMMITTER_EMAIL", "t@example.com")):
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    pytester.makepyfile(test_demo=SCENARIO.format(work=2000, top_k=2))
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")
    _git(pytester.path, "init", "-q")
    _git(pytester.path, "add", "-A")
    _git(pytester.path, "commit", "-qm", "base")
    return pytester


def test_ab_fails_a_token_regression_naming_the_item_and_leaves_no_worktree(
    repo: pytest.Pytester,
) -> None:
    repo.makepyfile(test_demo=SCENARIO.format(work=2000, top_k=3))
    result = repo.runpytest_subprocess(
        "--ragcost-ab=HEAD", "--ragcost-ab-rounds=2", "--ragcost-json=ab.json"
    )
    assert result.ret == 1
    result.stdout.fnmatch_lines([
        "ragcost ab: round 1/2: base *s, head *s",
        "ragcost ab: round 2/2: head *s, base *s",
        "ragcost ab: head against HEAD (*), 2 alternating rounds",
        "*FAIL: tokens_context: 11 vs baseline 7 (+4, +57.1%) over tolerance 5%*"
        "item 'question number 0': tokens_context 7 → 11*",
    ])
    doc = json.loads((repo.path / "ab.json").read_text())
    assert [(r["side"], r["round"]) for r in doc["runs"]] == [
        ("base", 1), ("head", 1), ("head", 2), ("base", 2)
    ]
    statuses = {v["key"]: v["status"] for v in doc["verdicts"]["ab-demo"]}
    assert statuses["tokens_context"] == "FAIL"
    assert statuses["errors"] == "PASS"
    worktrees = subprocess.run(["git", "worktree", "list"], cwd=repo.path, check=True,
                               capture_output=True, text=True).stdout.splitlines()
    assert len(worktrees) == 1


def test_a_ref_that_is_no_commit_is_a_usage_error(repo: pytest.Pytester) -> None:
    result = repo.runpytest_subprocess("--ragcost-ab=no-such-branch")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*--ragcost-ab: 'no-such-branch' is not a commit in *"
                                 "(expected a branch, tag or sha, e.g. origin/main*"])


def test_cli_ab_reports_a_bad_ref_with_exit_code_2(
    repo: pytest.Pytester, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(repo.path)
    assert cli.main(["ab", "nope", "--rounds", "2", "--", "-q"]) == 2
    assert "ragcost ab: --ragcost-ab: 'nope' is not a commit" in capsys.readouterr().err


def test_rounds_below_two_are_refused(repo: pytest.Pytester) -> None:
    result = repo.runpytest_subprocess("--ragcost-ab=HEAD", "--ragcost-ab-rounds=1")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*--ragcost-ab-rounds must be at least 2 (got '1')*"])


def test_outer_options_do_not_reach_the_sides() -> None:
    assert strip_outer_options(
        ["--ragcost", "--ragcost-ab", "main", "--ragcost-ab-rounds=3", "-n", "2",
         "--ragcost-json", "x.json", "--ragcost-markdown=y.md", "tests/"]
    ) == ["-n", "2", "tests/"]


# ----------------------------------------------------------------- the comparison itself


def _side(side: str, rnd: int, cpu: list[float], tokens: list[int]) -> SideRun:
    requests = tuple(
        RequestRecord(
            trace_id=f"{side}{rnd}{i}", index=i,
            metrics={"cpu_ms": c, "tokens_context": float(t), "errors": 0.0},
            sources={"cpu_ms": "timer", "tokens_context": "counted", "errors": "given"},
            stages=(StageRecord("search", {"cpu_ms": c}, {"cpu_ms": "timer"}),),
            item_id=f"q{i}", item_label=f"question {i}",
        )
        for i, (c, t) in enumerate(zip(cpu, tokens, strict=True))
    )
    return SideRun(side, rnd, 1.0, {"s": requests})


def _rounds(factor: float, load: list[float], tokens_head: list[int]) -> list[SideRun]:
    """Alternating rounds where the whole machine slows by ``load[r]`` in round r."""
    cpu = [10.0, 20.0, 40.0, 15.0]
    runs = []
    for r, slow in enumerate(load, start=1):
        runs.append(_side("base", r, [c * slow for c in cpu], [100, 200, 300, 400]))
        runs.append(_side("head", r, [c * slow * factor * (1.01 if r % 2 else 0.99)
                                       for c in cpu], tokens_head))
    return runs


def test_a_slower_machine_in_some_rounds_is_not_a_regression() -> None:
    # rounds 2 and 4 ran 30% slower on both sides: the pairing by round cancels it
    verdicts = compare(_rounds(1.0, [1.0, 1.3, 1.0, 1.3, 1.1], [100, 200, 300, 400]))["s"]
    assert {v.key: v.status for v in verdicts} == {
        "cpu_ms": "PASS", "tokens_context": "PASS", "errors": "PASS"
    }


def test_a_doubled_cpu_is_caught_with_its_ratio_interval() -> None:
    verdicts = compare(_rounds(2.0, [1.0, 1.3, 1.0, 1.3, 1.1], [100, 200, 300, 400]))["s"]
    cpu = next(v for v in verdicts if v.key == "cpu_ms")
    assert cpu.status == "FAIL"
    assert cpu.interval is not None
    assert cpu.interval[0] > 0.5 * cpu.baseline  # type: ignore[operator]
    assert "(5 rounds x 4 items, paired)" in sentence(cpu)


def test_exact_metrics_compare_item_by_item_and_name_the_item() -> None:
    verdicts = compare(_rounds(1.0, [1.0, 1.0], [100, 200, 600, 400]))["s"]
    tokens = next(v for v in verdicts if v.key == "tokens_context")
    assert tokens.status == "FAIL"
    assert "item 'question 2': tokens_context 300 → 600" in sentence(tokens)


def test_the_rounds_come_from_the_ini_file_too(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nragcost_ab_rounds = 1\n")
    result = pytester.runpytest("--ragcost")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*ini option 'ragcost_ab_rounds' must be at least 2 (got '1')*"])


def test_ab_and_update_cannot_be_combined(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--ragcost-ab=main", "--ragcost-update")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*--ragcost-ab and --ragcost-update cannot be combined*"])
