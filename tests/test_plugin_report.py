"""The HTML report, the CSV export and the sweep frontier, met as a user meets them: a
parametrized scenario run in an inner session with --ragcost-html / --ragcost-csv."""

from __future__ import annotations

import csv
import html as html_lib
import io
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from conftest import SWEEP, read_json, scenario_of


@pytest.fixture
def sweep(rag_project: pytest.Pytester) -> pytest.Pytester:
    rag_project.makepyfile(test_sweep=SWEEP)
    return rag_project


def _svgs(html: str) -> list[ET.Element]:
    return [ET.fromstring(s) for s in re.findall(r"<svg\b.*?</svg>", html, re.S)]


def test_html_report_is_one_self_contained_file_with_the_charts(sweep: pytest.Pytester) -> None:
    result = sweep.runpytest("--ragcost", "--ragcost-html=out/report.html",
                             "--ragcost-json=run.json")
    result.assert_outcomes(passed=3)
    html = (sweep.path / "out" / "report.html").read_text(encoding="utf-8")
    # nothing to fetch: no URL at all, no script, a CSP that forbids everything else
    assert "http:" not in html
    assert "https:" not in html
    assert "//" not in html.replace("-->", "")
    assert "<script" not in html
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert csp is not None
    policy = html_lib.unescape(csp.group(1))
    assert "default-src 'none'" in policy
    assert "'unsafe-inline'" not in policy
    labels = [svg.get("aria-label") for svg in _svgs(html)]  # every chart parses as XML
    for scenario in ("test_sweep.py::test_sweep[1]", "test_sweep.py::test_sweep[3]"):
        assert f"{scenario}: waterfall" in labels
        assert f"{scenario}: stage wall time p50 and p95" in labels
        assert f"{scenario}: Pareto of wall time by stage" in labels
        assert f"{scenario}: Pareto of CPU+GPU seconds by stage" in labels
        assert f"{scenario}: tokens_prompt per request" in labels
        assert f"{scenario}: TTFT" in labels
    assert "test_sweep.py::test_sweep: context_recall against cost_usd" in labels
    assert "quality (context_recall) against cost per scenario" in labels
    assert "keep test_sweep.py::test_sweep[2] (top_k=2)" in html
    # the size follows the data: tens of kB for three small scenarios
    assert len(html.encode()) < 200_000


def test_waterfall_bars_start_at_the_recorded_stage_offsets(sweep: pytest.Pytester) -> None:
    sweep.runpytest("--ragcost", "--ragcost-json=run.json").assert_outcomes(passed=3)
    sc = scenario_of(read_json(sweep.path / "run.json"), "test_sweep.py::test_sweep[2]")
    for req in sc["requests"]:
        search, generate = req["stages"]
        assert 0 <= search["start_ms"] <= generate["start_ms"]
        # generate opens after search closed, and both fit inside the request
        assert generate["start_ms"] >= search["start_ms"] + search["metrics"]["wall_ms"] - 0.01
        assert generate["start_ms"] + generate["metrics"]["wall_ms"] <= (
            req["metrics"]["wall_ms"] + 0.01
        )
    assert sc["knobs"] == {"top_k": 2}
    assert sc["sweep"] == "test_sweep.py::test_sweep"


def test_terminal_and_markdown_show_the_frontier_and_the_recommendation(
    sweep: pytest.Pytester,
) -> None:
    result = sweep.runpytest("--ragcost", "--ragcost-markdown=out.md")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines([
        "sweep test_sweep.py::test_sweep: quality context_recall, cost cost_usd per",
        "  answer (USD); Δq low: 95% lower bound of the change vs top_k=2",
        "config * n * cost * Δcost * quality * Δq low * frontier * ok",
        "top_k=1 * 6 * -* 0.500 * -* yes * no",
        "top_k=2 * 6 * 0 * 1.000 * +0.000 * yes * ref [*]",
        "top_k=3 * 6 * +* 1.000 * +0.000 * < top_k=2 * yes",
        "recommendation: keep test_sweep.py::test_sweep[2] (top_k=2): no cheaper",
    ])
    text = result.stdout.str()
    start = text.index("sweep test_sweep.py")
    assert all(len(line) <= 80 for line in text[start:].splitlines()[:8])
    md = (sweep.path / "out.md").read_text(encoding="utf-8")
    assert "### Sweep test\\_sweep.py::test\\_sweep" in md
    assert "**Recommendation:** keep test\\_sweep.py::test\\_sweep\\[2\\] (top\\_k=2)" in md
    assert re.search(r"\| top\\_k=1 \| 6 \| .* \| 0\.500 \| .* \| no \|", md)


def test_csv_export_is_tidy_with_knob_columns(sweep: pytest.Pytester) -> None:
    result = sweep.runpytest("--ragcost", "--ragcost-csv=export")
    result.assert_outcomes(passed=3)
    rows = list(csv.DictReader(io.StringIO(
        (sweep.path / "export" / "requests.csv").read_text(encoding="utf-8"))))
    assert list(rows[0])[:4] == ["run", "config", "top_k", "item"]
    assert {r["top_k"] for r in rows} == {"1", "2", "3"}
    starts = [r for r in rows if r["metric"] == "start_ms" and r["stage"] == "generate"]
    assert len(starts) == 18
    assert all(float(r["value"]) > 0 for r in starts)
    recall = [r for r in rows if r["metric"] == "context_recall" and r["top_k"] == "1"]
    assert len(recall) == 6
    assert sorted(r["value"] for r in recall).count("1.0") == 3
    # a request's item is the same question id as its quality rows
    items = {r["item"] for r in rows if r["metric"] == "wall_ms" and r["stage"] == ""}
    assert items == {r["item"] for r in rows if r["metric"] == "context_recall"}
    configs = list(csv.DictReader(io.StringIO(
        (sweep.path / "export" / "configs.csv").read_text(encoding="utf-8"))))
    by_k = {c["top_k"]: c for c in configs}
    assert by_k["1"]["quality_mean"] == "0.5"
    assert by_k["2"]["recommended"] == "true"
    assert by_k["1"]["acceptable"] == "false"
    assert by_k["1"]["on_frontier"] == "true"
    assert by_k["3"]["dominated_by"] == "test_sweep.py::test_sweep[2]"
    assert float(by_k["1"]["cost_per_answer"]) > 0
    assert by_k["3"]["n"] == "6"


def test_report_and_export_from_a_saved_run(sweep: pytest.Pytester, tmp_path: Path) -> None:
    from pytest_ragcost.cli import main

    sweep.runpytest("--ragcost", "--ragcost-json=run.json").assert_outcomes(passed=3)
    run = str(sweep.path / "run.json")
    out = tmp_path / "r.html"
    assert main(["report", run, "--html", "-o", str(out), "--history", run, run, run]) == 0
    html = out.read_text(encoding="utf-8")
    assert "Trends over 4 runs" in html  # the three given and the run itself
    assert "keep test_sweep.py::test_sweep[2] (top_k=2)" in html
    assert main(["export", run, "--csv", str(tmp_path / "csv")]) == 0
    assert (tmp_path / "csv" / "configs.csv").read_text().count("\n") == 4


def test_a_report_that_cannot_render_is_said_and_the_json_still_written(
    sweep: pytest.Pytester,
) -> None:
    # jinja2 unimportable in the inner session (pytester restores sys.modules afterwards)
    sweep.makeconftest("import sys\nsys.modules['jinja2'] = None\n")
    result = sweep.runpytest("--ragcost", "--ragcost-html=report.html",
                             "--ragcost-json=run.json")
    result.stdout.fnmatch_lines(["ragcost error: could not render *report.html: "
                                 "HtmlUnavailableError: the HTML report needs jinja2*"])
    result.stdout.no_fnmatch_line("*Traceback*")
    result.stdout.no_fnmatch_line("*INTERNALERROR*")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    assert not (sweep.path / "report.html").exists()
    assert len(read_json(sweep.path / "run.json")["scenarios"]) == 3


def test_the_verdict_table_shows_the_deciding_clause_and_the_whole_reason_on_demand(
    rag_project: pytest.Pytester,
) -> None:
    from conftest import count_tokens, ragkit, scenario_source

    rag_project.makepyfile(test_scenario=scenario_source("qa-tiny", requests=2))
    context = count_tokens(ragkit()["DOCS"])
    rag_project.path.joinpath("ragcost.yaml").write_text(
        "version: 1\ndefaults:\n  tolerance: 5%\nscenarios:\n  qa-tiny:\n"
        f"    generate.tokens_context: {{baseline: {round(context / 1.1)}}}\n",
        encoding="utf-8",
    )
    result = rag_project.runpytest("--ragcost", "--ragcost-html=report.html")
    result.assert_outcomes(failed=1)
    html = (rag_project.path / "report.html").read_text(encoding="utf-8")
    row = re.search(r'<tr class="FAIL">(.*?)</tr>', html, re.S)
    assert row is not None
    reason = re.search(r'<details class="why"><summary>(.*?)</summary>(.*?)</details>',
                       row.group(1), re.S)
    assert reason is not None, row.group(1)
    brief, full = (html_lib.unescape(g) for g in reason.groups())
    assert 0 < len(brief) <= 120
    assert len(full) > len(brief)
    assert "generate.tokens_context" in row.group(1)


def test_the_plugins_html_report_draws_trends_from_the_history_with_this_run_last(
    sweep: pytest.Pytester,
) -> None:
    for _ in range(2):
        sweep.runpytest("--ragcost").assert_outcomes(passed=3)
    result = sweep.runpytest("--ragcost", "--ragcost-html=report.html",
                             "--ragcost-json=run.json")
    result.assert_outcomes(passed=3)
    html = (sweep.path / "report.html").read_text(encoding="utf-8")
    assert "Trends over 3 runs" in html  # two from the history, then this one
    created = read_json(sweep.path / "run.json")["created"]
    trends = _svgs(html[html.index('id="trends"'):])
    assert trends
    for trend in trends:
        tips = [c.findtext("title") or "" for c in trend.iter("circle")]
        assert len(tips) == 3, trend.get("aria-label")
        assert tips[-1].startswith(created[:16]), tips


def test_a_history_that_cannot_be_read_warns_and_the_report_is_still_written(
    sweep: pytest.Pytester,
) -> None:
    (sweep.path / "broken.sqlite3").write_bytes(b"not a database" * 100)
    result = sweep.runpytest("--ragcost", "--ragcost-html=report.html",
                             "--ragcost-history=broken.sqlite3")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines(["*history not read*"])
    html = (sweep.path / "report.html").read_text(encoding="utf-8")
    assert "Trends over" not in html
    assert "test_sweep.py::test_sweep[1]: waterfall" in html
