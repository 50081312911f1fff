"""The plugin and ``ragcost compare`` reach the same verdicts and exit codes.

Each case runs a real inner pytest session with ``--ragcost-json``, then runs the
``ragcost compare`` command on that JSON against the same ragcost.yaml, and compares
every (scenario, key, status) and the exit code.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from conftest import read_json

from pytest_ragcost.cli import main

SCENARIO = textwrap.dedent(
    """
    import os
    import pytest

    N = 20
    DOCS = {{f"q{{i}}": [f"q{{i}}-c{{j}}" for j in range(4)] for i in range(N)}}
    DROP = os.environ.get("RAGCOST_TEST_DROP") == "1"
    MODEL = os.environ.get("RAGCOST_TEST_MODEL", "gpt-4o-mini")
    EXTRA = int(os.environ.get("RAGCOST_TEST_EXTRA", "0"))

    def retrieve(qid):
        hits = list(DOCS[qid])
        if DROP and int(qid[1:]) % 4 == 0:
            hits[-1] = "unrelated"
        return hits

    @pytest.mark.ragcost(scenario="qa")
    def test_qa(ragcost):
        for qid in ragcost.requests(list(DOCS)):
            with ragcost.stage("generate") as st:
                hits = retrieve(qid)
                st.tokens(prompt=100, context=400 + EXTRA, completion=50, model=MODEL)
            ragcost.sample(question=f"question {{qid}}", answer="answer",
                           contexts=[f"text of {{h}}" for h in hits],
                           context_ids=hits, reference_ids=DOCS[qid])
    """
)

BASE = "version: 1\nscenarios:\n  qa:\n"


def _statuses(doc: dict[str, object]) -> set[tuple[str, str, str]]:
    return {
        (v["scenario"], v["key"], v["status"])
        for sc in doc["scenarios"]  # type: ignore[attr-defined]
        for v in sc["verdicts"]
    }


def _cli_statuses(out: str) -> set[tuple[str, str, str]]:
    found = set()
    scenario = ""
    for line in out.splitlines():
        if line.startswith("scenario "):
            scenario = line.split()[1]
            continue
        parts = line.split()
        if len(parts) >= 2 and parts[-1] in (
            "PASS", "FAIL", "WARN", "INCONCLUSIVE", "INCOMPARABLE", "NEW", "STALE"
        ):
            found.add((scenario, parts[0], parts[-1]))
    return found


def _both(
    pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str], *flags: str
) -> tuple[int, set[tuple[str, str, str]], int, set[tuple[str, str, str]]]:
    result = pytester.runpytest("--ragcost", "--ragcost-json=run.json", *flags)
    doc = read_json(pytester.path / "run.json")
    capsys.readouterr()
    cli_flags = ["--strict"] if "--ragcost-strict" in flags else []
    # like the plugin, the CLI reads ./ragcost.yaml (pytester runs in its directory); a
    # named --config that does not exist would be an input error, not "every scenario NEW"
    code = main(["compare", str(pytester.path / "run.json"), *cli_flags])
    out = capsys.readouterr().out
    return int(result.ret), _statuses(doc), code, _cli_statuses(out)


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for name in ("RAGCOST_TEST_DROP", "RAGCOST_TEST_MODEL", "RAGCOST_TEST_EXTRA",
                 "GITHUB_STEP_SUMMARY", "PYTEST_XDIST_WORKER"):
        monkeypatch.delenv(name, raising=False)
    pytester.makepyfile(test_qa=SCENARIO.format())
    return pytester


def _config(pytester: pytest.Pytester, text: str) -> Path:
    path = pytester.path / "ragcost.yaml"
    path.write_text(text, encoding="utf-8")
    return path


CASES = {
    # name: (ragcost.yaml entries, env, flags, expected plugin exit, an expected verdict)
    "pass": ("    tokens_context: {baseline: 400}\n", {}, (), 0, ("qa", "tokens_context", "PASS")),
    "token regression": (
        "    tokens_context: {baseline: 400}\n", {"RAGCOST_TEST_EXTRA": "40"}, (), 1,
        ("qa", "tokens_context", "FAIL"),
    ),
    "unpriced model under a cost budget": (
        "    cost_usd: {budget: 0.01}\n", {"RAGCOST_TEST_MODEL": "no-such-model-xyz"}, (), 1,
        ("qa", "cost_usd", "FAIL"),
    ),
    "NEW": (None, {}, (), 0, ("qa", "tokens_context", "NEW")),
    "NEW, strict": (None, {}, ("--ragcost-strict",), 1, ("qa", "tokens_context", "NEW")),
    "STALE": (
        "    tokens_context: {baseline: 400}\n  gone:\n    errors: {baseline: 0}\n", {}, (), 0,
        ("gone", "*", "STALE"),
    ),
    "STALE, strict": (
        "    tokens_context: {baseline: 400}\n  gone:\n    errors: {baseline: 0}\n", {},
        ("--ragcost-strict",), 1, ("gone", "*", "STALE"),
    ),
    "INCOMPARABLE": (
        "    tokens_context: {baseline: 400, n: 100}\n", {}, (), 0,
        ("qa", "tokens_context", "INCOMPARABLE"),
    ),
    "INCOMPARABLE, strict": (
        "    tokens_context: {baseline: 400, n: 100}\n", {}, ("--ragcost-strict",), 1,
        ("qa", "tokens_context", "INCOMPARABLE"),
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_plugin_and_cli_agree(
    project: pytest.Pytester,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    case: str,
) -> None:
    entries, env, flags, expected_exit, expected = CASES[case]
    if entries is None:
        (project.path / "ragcost.yaml").unlink(missing_ok=True)
    else:
        _config(project, BASE + entries)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    plugin_exit, plugin, cli_exit, cli = _both(project, capsys, *flags)
    assert plugin_exit == expected_exit
    assert expected in plugin
    assert cli == plugin
    assert cli_exit == plugin_exit


def test_a_quality_drop_fails_both_alike(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    _config(project, BASE + "    errors: {baseline: 0}\n")
    project.runpytest("--ragcost", "--ragcost-update").assert_outcomes(passed=1)
    assert (project.path / "ragcost.scores.json").exists()
    monkeypatch.setenv("RAGCOST_TEST_DROP", "1")
    plugin_exit, plugin, cli_exit, cli = _both(project, capsys)
    assert plugin_exit == 1
    assert ("qa", "context_recall", "FAIL") in plugin
    assert cli == plugin
    assert cli_exit == plugin_exit
