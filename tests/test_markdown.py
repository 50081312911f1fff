"""Markdown for pull requests: failures first, and nothing from test ids or files can
break the table or inject HTML into the page."""

from __future__ import annotations

import pytest

from pytest_ragcost.report.markdown import esc, markdown
from pytest_ragcost.run import Outcome, RequestRecord, ScenarioRun, Verdict


def outcome(scenario: str, *verdicts: Verdict) -> Outcome:
    run = ScenarioRun(
        scenario,
        f"t.py::{scenario}",
        (RequestRecord("0" * 32, 0, {"wall_ms": 1.0}, {"wall_ms": "timer"}),),
    )
    return Outcome(run=run, verdicts=list(verdicts))


def test_hostile_text_stays_inert() -> None:
    nasty = "qa|<script>alert(1)</script>\n## [click](http://x) `code` *bold* ![i](x)"
    out = esc(nasty)
    assert "<script>" not in out
    assert "\n" not in out
    assert "|" not in out.replace("\\|", "")
    for ch in "`*[]!#":
        assert ch not in out.replace("\\" + ch, "")


def test_failures_come_first_and_every_cell_is_escaped() -> None:
    evil = "evil|scenario<img src=x onerror=alert(1)>"
    outcomes = [
        outcome("a-pass", Verdict("a-pass", "wall_ms", "PASS", "recorded", note="ok",
                                  baseline=1.0, current=1.0)),
        outcome(evil, Verdict(evil, "tokens_context", "FAIL", "recorded", note="over",
                              baseline=100.0, current=120.0)),
        outcome("c-warn", Verdict("c-warn", "energy_j", "WARN", "recorded", note="warn",
                                  baseline=1.0, current=2.0)),
    ]
    text = markdown(outcomes, {"comparable": {"cpu": "cpu|x", "cpus": 2, "energy": []}})
    verdict_part, passing = text.split("Machine:")[0].split("<details>")
    rows = [ln for ln in verdict_part.splitlines() if ln.startswith("| ") and "---" not in ln]
    # the verdict leads each row, so a long scenario name never pushes it out of view
    statuses = [row.split("|")[1].strip() for row in rows[1:]]
    assert statuses == ["❌ FAIL", "⚠️ WARN"]
    # PASS rows are folded below the failures
    assert "✅ PASS | a-pass | wall\\_ms" in passing
    assert "<img" not in text
    # every table row still has exactly the header's number of cells
    cells = rows[0].count(" | ")
    assert all(row.count(" | ") == cells for row in rows)
    assert "**1 failing** of 3 gated metrics" in text


def test_each_non_pass_row_says_why_with_its_interval_and_n_and_units() -> None:
    fail = Verdict("qa", "tokens_context", "FAIL", "recorded",
                   note="tokens_context: 3414 vs 3104 (+10.0%)", baseline=3104.0,
                   current=3414.0, tolerance="5%", n=30)
    slow = Verdict("qa", "wall_ms", "INCONCLUSIVE", "recorded", note="too noisy",
                   baseline=1000.0, current=1100.0, tolerance="5%", n=5, interval=(-12.5, 212.25))
    noise = Verdict("qa", "energy_j", "PASS", "recorded", note="ok", baseline=1.0,
                    current=1.0 + 6.78e-21, tolerance="5%", n=5)
    text = markdown([outcome("qa", fail, slow, noise)], {})
    assert "| ❌ FAIL | qa | tokens\\_context | 3,104 | 3,414 | +10.0% | 5% | 30 | - " in text
    assert "tokens\\_context: 3414 vs 3104 (+10.0%) |" in text
    assert (
        "| ❔ INCONCLUSIVE | qa | wall\\_ms | 1,000 | 1,100 | +10.0% | 5% | 5 "
        "| \\[-12.5, 212.2\\] | too noisy |"
    ) in text
    assert "| ✅ PASS | qa | energy\\_j | 1 | 1 | 0 | 5% |" in text
    assert "e-21" not in text


# one scenario of two metered requests, for the step-summary tests
TWO_REQUESTS = """
import pytest

@pytest.mark.ragcost(scenario="md-qa", requests=2)
def test_qa(ragcost):
    for q in ragcost.requests(["a", "b"]):
        with ragcost.stage("s") as st:
            st.tokens(context=q)
"""


def test_github_step_summary_is_appended_to(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = pytester.path / "step_summary.md"
    summary.write_text("earlier step\n", encoding="utf-8")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    pytester.makepyfile(TWO_REQUESTS)
    pytester.runpytest("--ragcost").assert_outcomes(passed=1)
    text = summary.read_text(encoding="utf-8")
    assert text.startswith("earlier step\n")  # appended, not overwritten
    assert "## ragcost" in text
    assert "md-qa" in text


def test_an_unwritable_step_summary_is_reported_and_the_json_is_kept(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    summary = pytester.path / "summary-dir"
    summary.mkdir()  # a directory: appending to it fails
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    pytester.makepyfile(TWO_REQUESTS)
    result = pytester.runpytest("--ragcost", "--ragcost-json=out.json")
    result.stdout.fnmatch_lines(["*could not append to GITHUB_STEP_SUMMARY: *Is a directory*"])
    result.assert_outcomes(passed=1)
    assert (pytester.path / "out.json").is_file()
