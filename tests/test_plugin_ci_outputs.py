"""The CI outputs where reviewers found faults: terminal width, one waterfall per failure,
-q, the progress line, JUnit under xunit2, and counts in the JSON."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

import pytest
from conftest import count_tokens, ragkit, read_json, scenario_of, scenario_source

LONG = "tests/test_scenarios.py::test_sweep_top_k[a-very-long-parameter-id-0032]"


def _budget(project: pytest.Pytester, scenario: str, entries: str) -> None:
    project.path.joinpath("ragcost.yaml").write_text(
        f"version: 1\ndefaults:\n  tolerance: 5%\nscenarios:\n  {scenario}:\n{entries}",
        encoding="utf-8",
    )


def _section(text: str) -> list[str]:
    lines = text.splitlines()
    start = next(i for i, ln in enumerate(lines) if "= ragcost =" in ln)
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].startswith("=")
         or re.match(r"^\d+ (passed|failed)", lines[i])),
        len(lines),
    )
    return lines[start + 1:end]


def test_tables_fit_80_columns_and_the_waterfall_shows_once_on_a_failure(
    rag_project: pytest.Pytester,
) -> None:
    rag_project.makepyfile(test_scenario=scenario_source("qa-tiny", requests=2))
    context = count_tokens(ragkit()["DOCS"])
    _budget(rag_project, "qa-tiny",
            f"    generate.tokens_context: {{baseline: {round(context / 1.1)}}}\n"
            f"    search.count_candidates: {{baseline: 3, budget: 10}}\n")
    result = rag_project.runpytest("--ragcost")
    result.assert_outcomes(failed=1)
    text = result.stdout.str()
    section = _section(text)
    assert section, text
    too_wide = [ln for ln in section if len(ln) > 80]
    assert too_wide == []
    # the verdict is on the metric's own line
    result.stdout.fnmatch_lines(["generate.tokens_context * FAIL", "search.count_candidates *PASS"])
    assert len(re.findall(r"^stage +wall p50", text, re.M)) == 1  # one stage table
    result.stdout.fnmatch_lines(["where the time went: *%*"])


def test_float_noise_is_no_change(rag_project: pytest.Pytester) -> None:
    from pytest_ragcost.report.terminal import verdict_table
    from pytest_ragcost.run import Verdict

    table = verdict_table([Verdict("s", "energy_j", "PASS", "recorded", note="ok",
                                   baseline=0.1 + 0.2, current=0.3, n=5)])
    assert "e-" not in table
    assert " 0 " in table


def test_quiet_shows_one_line_per_scenario_and_what_is_not_pass(
    rag_project: pytest.Pytester,
) -> None:
    rag_project.makepyfile(test_scenario=scenario_source("qa-tiny", requests=2))
    context = count_tokens(ragkit()["DOCS"])
    _budget(rag_project, "qa-tiny",
            f"    tokens_context: {{baseline: {context}}}\n"
            f"    wall_ms: {{budget: 1000000}}\n")
    result = rag_project.runpytest("--ragcost", "-q")
    result.assert_outcomes(passed=1)
    section = _section(result.stdout.str())
    assert section[0] == "qa-tiny: 2 requests; 2 PASS"
    assert not any("p50" in ln or "stage" in ln for ln in section)
    loud = rag_project.runpytest("--ragcost")
    assert len(_section(loud.stdout.str())) > len(section) + 10


def test_a_progress_line_runs_during_a_long_scenario(
    rag_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    import pytest_ragcost.session as session

    monkeypatch.setattr(session, "PROGRESS_AFTER_S", 0.0)
    monkeypatch.setattr(session, "PROGRESS_EVERY_S", 0.0)
    rag_project.makepyfile(test_scenario=scenario_source("qa-tiny", requests=3))
    result = rag_project.runpytest("--ragcost")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "ragcost: qa-tiny: 1/3 requests, * s",
        "ragcost: qa-tiny: 2/3 requests, * s",
        "ragcost: qa-tiny: 3/3 requests, * s",
    ])
    quiet = rag_project.runpytest("--ragcost", "-q")
    quiet.stdout.no_fnmatch_line("ragcost: qa-tiny: 1/3 requests*")


XUNIT2_XSD_TESTCASE_CHILDREN = {"skipped", "error", "failure", "system-out", "system-err"}


def test_junit_xunit2_keeps_properties_on_the_suite_and_small_values_nonzero(
    rag_project: pytest.Pytester,
) -> None:
    rag_project.makepyfile(test_scenario=scenario_source("qa-junit", requests=2))
    result = rag_project.runpytest("--ragcost", "--junitxml=junit.xml",
                                   "-o", "junit_family=xunit2", "-W", "error::pytest.PytestWarning")
    result.assert_outcomes(passed=1)
    root = ET.parse(rag_project.path / "junit.xml").getroot()
    for case in root.iter("testcase"):
        # pytest's xunit2 schema allows only these inside a testcase
        assert {child.tag for child in case} <= XUNIT2_XSD_TESTCASE_CHILDREN
    suite = root.find("testsuite")
    assert suite is not None
    props = {p.get("name"): p.get("value") for p in suite.findall("./properties/property")}
    assert props["ragcost.qa-junit.requests"] == "2"
    # a microsecond-scale stage still shows its size, not 0.0
    assert float(props["ragcost.qa-junit.energy_j.mean"]) > 0
    assert float(props["ragcost.qa-junit.wall_ms.p50"]) > 0


def test_junit_values_are_not_rounded_to_zero_under_xunit1(rag_project: pytest.Pytester) -> None:
    rag_project.makepyfile(test_scenario=scenario_source("qa-junit", requests=2))
    rag_project.runpytest("--ragcost", "--junitxml=junit.xml", "-o", "junit_family=xunit1")
    case = ET.parse(rag_project.path / "junit.xml").getroot().find(".//testcase")
    assert case is not None
    props = {p.get("name"): p.get("value") for p in case.findall("./properties/property")}
    assert float(str(props["ragcost.energy_j.mean"])) > 0


def test_json_counts_are_integers(rag_project: pytest.Pytester) -> None:
    rag_project.makepyfile(test_scenario=scenario_source("qa-tiny", requests=2))
    rag_project.runpytest("--ragcost", "--ragcost-json=run.json").assert_outcomes(passed=1)
    sc = scenario_of(read_json(rag_project.path / "run.json"), "qa-tiny")
    assert sc["summary"]["wall_ms"]["n"] == 2
    assert isinstance(sc["summary"]["wall_ms"]["n"], int)
    assert all(isinstance(v["n"], int) for v in sc["verdicts"] if v["n"] is not None)
