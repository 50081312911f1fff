"""The ``ragcost`` command: the same library code as the plugin, without pytest."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_ragcost.cli import main

SCENARIO = """
import pytest

@pytest.mark.ragcost(scenario="cli-qa", requests=3)
def test_qa(ragcost):
    for q in ragcost.requests(["alpha beta", "gamma delta", "epsilon"]):
        with ragcost.stage("generate") as st:
            st.tokens(context=[q] * 3, prompt=q, model="gpt-4o")
"""


@pytest.fixture
def saved_run(pytester: pytest.Pytester) -> Path:
    pytester.makepyfile(test_cli_scenario=SCENARIO)
    result = pytester.runpytest("--ragcost", "--ragcost-json=run.json")
    result.assert_outcomes(passed=1)
    return pytester.path / "run.json"


def test_check_accepts_a_valid_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ragcost.yaml"
    path.write_text("version: 1\nscenarios:\n  qa:\n    tokens_context: {baseline: 10}\n")
    assert main(["check", str(path)]) == 0
    assert "ok (1 scenario, 1 entry)" in capsys.readouterr().out


def test_check_reports_every_problem_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "ragcost.yaml"
    path.write_text(
        "version: 1\nscenarios:\n  qa:\n    energy_j: {tolerance: ten}\n"
        "    wall_ms: {stat: p42}\n"
    )
    assert main(["check", str(path)]) == 2
    err = capsys.readouterr().err
    assert "ragcost.yaml:4: scenarios.qa.energy_j.tolerance" in err
    assert "ragcost.yaml:5: scenarios.qa.wall_ms.stat" in err


def test_report_prints_the_tables_of_a_saved_run(
    saved_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["report", str(saved_run)]) == 0
    out = capsys.readouterr().out
    assert "scenario cli-qa" in out
    assert "tokens_context" in out
    assert "generate" in out


def test_compare_fails_a_saved_run_over_its_budget(
    saved_run: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    doc = json.loads(saved_run.read_text())
    context = doc["scenarios"][0]["summary"]["tokens_context"]["mean"]
    ok = tmp_path / "ok.yaml"
    ok.write_text(
        f"version: 1\nscenarios:\n  cli-qa:\n    tokens_context: {{baseline: {context}}}\n"
    )
    assert main(["compare", str(saved_run), "--config", str(ok)]) == 0
    tight = tmp_path / "tight.yaml"
    tight.write_text(
        f"version: 1\nscenarios:\n  cli-qa:\n    tokens_context: {{baseline: {context / 2}}}\n"
    )
    assert main(["compare", str(saved_run), "--config", str(tight)]) == 1
    assert "FAIL" in capsys.readouterr().out


def test_a_file_that_is_not_a_run_is_a_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "run.json"
    path.write_text('{"hello": 1}')
    assert main(["report", str(path)]) == 2
    assert "not a pytest-ragcost run" in capsys.readouterr().err
    path.write_text("{broken")
    assert main(["report", str(path)]) == 2
    assert "run.json:1: not JSON" in capsys.readouterr().err
