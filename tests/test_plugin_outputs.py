"""What a ``--ragcost`` run shows and writes: the terminal tables, the JSON document,
the energy labels of a machine without energy counters, and JUnit XML properties."""

from __future__ import annotations

import difflib
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import (
    TRACE_ID,
    count_tokens,
    ragkit,
    read_json,
    scenario_of,
    scenario_source,
)

from pytest_ragcost.meters.registry import build


def _no_energy_counters() -> bool:
    meters = build(["auto"], watts_per_thread=4.0, watts_source="default")
    try:
        return not meters.energy
    finally:
        meters.close()


needs_no_counters = pytest.mark.skipif(
    not _no_energy_counters(),
    reason="this machine has RAPL or NVML energy counters; the test checks the fallback",
)


def _expected_requests(n: int) -> list[dict[str, int]]:
    """Per request: the tokens the scenario's stages should count, worked out here."""
    kit = ragkit()
    out = []
    for q in kit["QUESTIONS"][:n]:
        hits = kit["Retriever"]().search(q, top_k=3)
        prompt = kit["prompt_for"](q, hits)
        answer = kit["generate"](prompt)
        out.append(
            {
                "tokens_prompt": count_tokens(prompt),
                "tokens_context": count_tokens(hits),
                "tokens_completion": count_tokens(answer),
            }
        )
    return out


def test_terminal_summary_shows_scenario_metrics_sources_and_waterfall(
    rag_project: pytest.Pytester,
) -> None:
    rag_project.makepyfile(test_scenario=scenario_source("qa-tiny", requests=3))
    result = rag_project.runpytest("--ragcost")
    result.assert_outcomes(passed=1)
    # every request sees all three documents, so the context is the same size each time
    context = count_tokens(ragkit()["DOCS"])
    result.stdout.fnmatch_lines(
        [
            "*= ragcost =*",
            "scenario qa-tiny (test_scenario.py::test_qa): 3 requests",
            "metric *p50 *p95 *mean *unit *source",
            "wall_ms *ms *timer",
            "energy_j * J *estimated",
            f"tokens_context *{context} *{context} *{context} *tokens *counted",
            "count_candidates *3 *3 *3 *count *given",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "stages: ms, mean energy and tokens per request",
            "stage *wall p50 *wall p95 *cpu p50 *J (estimated) *tokens *errors",
            "search *",
            "generate *",
        ]
    )
    assert "Traceback" not in result.stdout.str()


def test_json_document_has_schema_environment_requests_stages_and_summary(
    rag_project: pytest.Pytester,
) -> None:
    rag_project.makepyfile(test_scenario=scenario_source("qa-tiny", requests=3))
    result = rag_project.runpytest("--ragcost", "--ragcost-json=out/run.json")
    result.assert_outcomes(passed=1)
    doc = read_json(rag_project.path / "out" / "run.json")

    assert doc["schema_version"] == 1
    meters = doc["environment"]["meters"]
    assert {m["name"] for m in meters["used"]} >= {"process"}
    for missing in meters["unavailable"]:
        assert missing["name"]
        assert missing["reason"].strip()

    scenario = scenario_of(doc, "qa-tiny")
    assert scenario["nodeid"] == "test_scenario.py::test_qa"
    assert scenario["n_requests"] == 3
    assert scenario["stages"] == ["search", "generate"]
    records = scenario["requests"]
    assert [r["index"] for r in records] == [0, 1, 2]
    trace_ids = [r["trace_id"] for r in records]
    assert all(TRACE_ID.match(t) for t in trace_ids), trace_ids
    assert len(set(trace_ids)) == 3

    for record, expected in zip(records, _expected_requests(3), strict=True):
        assert [s["name"] for s in record["stages"]] == ["search", "generate"]
        generate = record["stages"][1]
        for key, value in expected.items():
            assert record["metrics"][key] == value, key
            assert generate["metrics"][key] == value, key
            assert record["sources"][key] == "counted"
        assert record["metrics"]["tokens_total"] == (
            expected["tokens_prompt"] + expected["tokens_completion"]
        )
        assert record["stages"][0]["metrics"]["count_candidates"] == 3
        assert record["metrics"]["wall_ms"] > 0
        assert record["metrics"]["errors"] == 0
        assert "error" not in record

    summary = scenario["summary"]
    contexts = [e["tokens_context"] for e in _expected_requests(3)]
    assert summary["tokens_context"]["mean"] == pytest.approx(sum(contexts) / 3)
    assert summary["tokens_context"]["total"] == sum(contexts)
    assert summary["tokens_context"]["source"] == "counted"
    assert summary["generate.tokens_context"]["mean"] == pytest.approx(sum(contexts) / 3)
    assert summary["search.wall_ms"]["n"] == 3
    assert summary["wall_ms"]["unit"] == "ms"


@needs_no_counters
def test_energy_is_estimated_and_the_run_says_why_rapl_and_nvml_were_not_used(
    rag_project: pytest.Pytester,
) -> None:
    rag_project.makepyfile(test_scenario=scenario_source("qa-tiny", requests=2))
    result = rag_project.runpytest("--ragcost", "--ragcost-json=run.json")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        [
            "ragcost: *, energy: estimate (estimated: cpu time x 4 W/thread)",
            "ragcost: rapl unavailable: ?*",
            "ragcost: nvml unavailable: ?*",
        ]
    )
    result.stdout.fnmatch_lines(
        [
            "*= ragcost =*",
            "energy: estimate (estimated*",
            "  rapl unavailable: ?*",
            "  nvml unavailable: ?*",
        ]
    )
    doc = read_json(rag_project.path / "run.json")
    meters = doc["environment"]["meters"]
    assert {u["name"] for u in meters["unavailable"]} >= {"rapl", "nvml"}
    assert [m["kind"] for m in meters["used"] if m["name"] == "estimate"] == ["estimated"]
    for record in scenario_of(doc, "qa-tiny")["requests"]:
        assert record["sources"]["energy_j"] == "estimated"
        assert record["sources"]["energy_cpu_j"] == "estimated"
        for stage in record["stages"]:
            assert stage["sources"]["energy_j"] == "estimated"
        # nothing is called measured on a machine that measures nothing
        assert "measured" not in record["sources"].values()


def test_estimated_energy_follows_cpu_time_and_watts_per_thread(
    rag_project: pytest.Pytester,
) -> None:
    rag_project.makepyfile(test_scenario=scenario_source("qa-tiny", requests=2))
    result = rag_project.runpytest(
        "--ragcost", "--ragcost-meter=estimate", "--ragcost-watts-per-thread=10",
        "--ragcost-json=run.json",
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["ragcost: *energy: estimate (estimated: cpu time x 10 W/thread)"])
    doc = read_json(rag_project.path / "run.json")
    for record in scenario_of(doc, "qa-tiny")["requests"]:
        metrics = record["metrics"]
        assert metrics["energy_cpu_j"] == pytest.approx(metrics["cpu_ms"] / 1000 * 10)


def test_junit_xml_carries_the_per_test_summary_as_properties(
    rag_project: pytest.Pytester,
) -> None:
    rag_project.makepyfile(test_scenario=scenario_source("qa-junit", requests=3))
    # xunit1 keeps properties on the testcase (xunit2, pytest's default, on the suite:
    # tests/test_plugin_ci_outputs.py)
    result = rag_project.runpytest("--ragcost", "--junitxml=junit.xml", "--ragcost-json=run.json",
                                   "-o", "junit_family=xunit1")
    result.assert_outcomes(passed=1)
    tree = ET.parse(rag_project.path / "junit.xml")
    cases = tree.getroot().findall(".//testcase")
    assert len(cases) == 1
    props = {
        str(p.get("name")): str(p.get("value"))
        for p in cases[0].findall("./properties/property")
    }
    assert props["ragcost.scenario"] == "qa-junit"
    assert props["ragcost.requests"] == "3"
    expected = _expected_requests(3)
    totals = [e["tokens_prompt"] + e["tokens_completion"] for e in expected]
    assert float(props["ragcost.tokens_total.mean"]) == pytest.approx(sum(totals) / 3, abs=1e-6)
    assert float(props["ragcost.wall_ms.mean"]) > 0
    assert props["ragcost.energy_j.source"] in ("estimated", "measured", "attributed")


def test_markdown_output_lists_the_scenario(rag_project: pytest.Pytester) -> None:
    rag_project.makepyfile(test_scenario=scenario_source("qa-md", requests=2))
    result = rag_project.runpytest("--ragcost", "--ragcost-markdown=report.md")
    result.assert_outcomes(passed=1)
    text = (rag_project.path / "report.md").read_text(encoding="utf-8")
    assert text.startswith("## ragcost")
    assert "qa-md: 2 requests" in text
    assert "| tokens\\_context |" in text


def test_without_flag_the_json_is_not_written(rag_project: pytest.Pytester) -> None:
    rag_project.makepyfile(test_scenario=scenario_source("qa-tiny", requests=2))
    result = rag_project.runpytest("--ragcost-json=run.json")
    result.assert_outcomes(passed=1)
    assert not Path(rag_project.path / "run.json").exists()
    result.stdout.no_fnmatch_line("*= ragcost =*")


# -- the gate, through the plugin ---------------------------------------------------------


def _context_tokens() -> int:
    # every request of the tiny scenario hands all three documents to the generator
    return count_tokens(ragkit()["DOCS"])


def _budget(project: pytest.Pytester, entry: str) -> None:
    project.path.joinpath("ragcost.yaml").write_text(
        "version: 1\n"
        "defaults:\n"
        "  tolerance: 5%\n"
        "scenarios:\n"
        "  qa-tiny:\n"
        f"    tokens_context: {entry}\n",
        encoding="utf-8",
    )


def test_a_rise_over_tolerance_fails_the_test_as_regressed(rag_project: pytest.Pytester) -> None:
    rag_project.makepyfile(test_scenario=scenario_source("qa-tiny", requests=2))
    baseline = round(_context_tokens() / 1.10)  # the code now uses ~10% more context
    _budget(rag_project, f"{{baseline: {baseline}}}")
    result = rag_project.runpytest("--ragcost", "-v")
    result.assert_outcomes(failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    # a tolerance is not a budget: the words say which rule failed
    result.stdout.fnmatch_lines(["test_scenario.py::test_qa REGRESSED*"])
    result.stdout.fnmatch_lines(
        ["*ragcost: scenario 'qa-tiny': REGRESSED: a cost rose past its baseline's tolerance",
         "*tokens_context*"]
    )
    result.stdout.no_fnmatch_line("*OVER BUDGET*")
    result.stdout.fnmatch_lines([f"tokens_context *{baseline}* *{_context_tokens()}* *FAIL"])


def test_the_same_code_with_a_matching_baseline_passes(rag_project: pytest.Pytester) -> None:
    rag_project.makepyfile(test_scenario=scenario_source("qa-tiny", requests=2))
    _budget(rag_project, f"{{baseline: {_context_tokens()}}}")
    result = rag_project.runpytest("--ragcost")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.OK
    context = _context_tokens()
    result.stdout.fnmatch_lines([f"tokens_context *{context}* *{context}* *PASS"])
    result.stdout.no_fnmatch_line("*OVER BUDGET*")


def test_a_warn_entry_passes_and_shows_warn(rag_project: pytest.Pytester) -> None:
    rag_project.makepyfile(test_scenario=scenario_source("qa-tiny", requests=2))
    baseline = round(_context_tokens() / 1.10)
    _budget(rag_project, f"{{baseline: {baseline}, severity: warn}}")
    result = rag_project.runpytest("--ragcost")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines([f"tokens_context *{baseline}* *{_context_tokens()}* *WARN"])


def test_a_broken_budget_file_is_a_usage_error_with_its_line(
    rag_project: pytest.Pytester,
) -> None:
    rag_project.makepyfile(test_scenario=scenario_source("qa-tiny", requests=2))
    _budget(rag_project, "{baseline: 30, tolerance: ten}")
    result = rag_project.runpytest("--ragcost")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    output = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in output
    result.stderr.fnmatch_lines(["*ragcost.yaml:6*tolerance*ten*"])


COMMENTED = """\
# Budgets for the tiny project: reviewed like code.
version: 1
defaults:
  tolerance: 5%        # a cost may rise this much

scenarios:
  qa-tiny:
    # what retrieval hands the generator
    tokens_context:     {baseline: 3}
    tokens_completion:  {baseline: 1, tolerance: 10%}   # answers stay short
    cost_usd:           {budget: 0.002}
  not-run-here:
    tokens_total:       {baseline: 999}
"""


def test_update_rewrites_only_baseline_numbers(rag_project: pytest.Pytester) -> None:
    rag_project.makepyfile(test_scenario=scenario_source("qa-tiny", requests=2))
    path = rag_project.path / "ragcost.yaml"
    path.write_text(COMMENTED, encoding="utf-8")
    result = rag_project.runpytest("--ragcost", "--ragcost-update")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["ragcost: updated * baseline(s) in *ragcost.yaml"])
    after = path.read_text(encoding="utf-8")
    # the machine fingerprint may be appended as a top-level block (it is what makes a later
    # run on other hardware INCOMPARABLE); everything above it is the user's text
    body, sep, appended = after.partition("\nenvironment:\n")
    if sep:
        assert re.fullmatch(r"(  \S.*\n?)*", appended), appended
    changed = [
        line for line in difflib.unified_diff(COMMENTED.splitlines(), body.splitlines(),
                                              lineterm="", n=0)
        if line[:1] in "+-" and not line.startswith(("+++", "---"))
    ]
    removed = [line[1:] for line in changed if line.startswith("-")]
    added = [line[1:] for line in changed if line.startswith("+")]
    assert [r.split(":")[0].strip() for r in removed] == ["tokens_context", "tokens_completion"]
    assert len(added) == len(removed), changed

    def numbers_hidden(line: str) -> str:
        # the baseline's evidence (its request count) travels with it
        line = re.sub(r", n: [0-9]+", "", line)
        return re.sub(r"baseline: [0-9.]+", "baseline: N", line).replace(" ", "")

    assert [numbers_hidden(a) for a in added] == [numbers_hidden(r) for r in removed]
    assert f"tokens_context:     {{baseline: {_context_tokens()}, n: 2}}" in after

    again = rag_project.runpytest("--ragcost")
    again.assert_outcomes(passed=1)
    again.stdout.fnmatch_lines(["tokens_context *PASS*"])
