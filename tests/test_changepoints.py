"""Change points over the run history: exact and noisy series, commit ranges, the trends
of the HTML report, and what happens without the ruptures library."""

from __future__ import annotations

import random
import sys

import pytest

from pytest_ragcost.history.changepoints import (
    ChangePointsUnavailableError,
    Point,
    change_points,
)
from pytest_ragcost.report.html import render
from pytest_ragcost.report.trends import RunSummary, change_line, trends

SHAS = [f"{i:02d}" + "abcdef0123456789" * 2 + f"{i:06d}" for i in range(40)]


def test_an_exact_step_is_found_at_its_run_with_its_commit_range() -> None:
    values = [3104.0] * 7 + [3352.0] * 5
    found = change_points([Point(v, SHAS[i], f"run {i}") for i, v in enumerate(values)])
    assert [c.index for c in found] == [7]
    cp = found[0]
    assert (cp.before, cp.after) == (3104.0, 3352.0)
    assert cp.change_pct == pytest.approx(248 / 3104 * 100)
    assert cp.commit_range == f"{SHAS[6][:12]}..{SHAS[7][:12]}"
    assert cp.label == "run 7"


def test_an_exact_metric_changed_by_the_newest_run_alone_is_a_change() -> None:
    found = change_points([0.0021] * 9 + [0.0023])
    assert [c.index for c in found] == [9]


def test_an_unchanged_exact_series_has_no_change() -> None:
    assert change_points([42.0] * 20) == []
    assert change_points([]) == []
    assert change_points([1.0]) == []


def test_noisy_unchanged_series_give_no_change_and_one_slow_run_is_not_one() -> None:
    rng = random.Random(7)
    alarms = 0
    for _ in range(50):
        values = [100.0 * rng.lognormvariate(0.0, 0.05) for _ in range(40)]
        alarms += bool(change_points(values))
    assert alarms <= 2
    values = [100.0 * rng.lognormvariate(0.0, 0.05) for _ in range(30)]
    values[12] *= 3.0  # a busy machine, once
    assert change_points(values) == []


def test_a_noisy_shift_is_found_within_one_run() -> None:
    rng = random.Random(11)
    hits = 0
    for _ in range(30):
        values = [100.0 * rng.lognormvariate(0.0, 0.05) * (1.5 if i >= 18 else 1.0)
                  for i in range(36)]
        found = change_points(values)
        hits += any(abs(c.index - 18) <= 1 for c in found)
        assert all(c.after > c.before for c in found if abs(c.index - 18) <= 1)
    assert hits >= 28


def test_a_quality_drop_is_found() -> None:
    rng = random.Random(3)
    values = [0.86 + rng.gauss(0, 0.006) - (0.05 if i >= 20 else 0.0) for i in range(40)]
    found = change_points(values)
    assert [c.index for c in found if abs(c.index - 20) <= 1]
    assert found[0].after < found[0].before


def test_without_ruptures_noisy_series_say_how_to_install_and_exact_ones_still_work(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "ruptures", None)
    with pytest.raises(ChangePointsUnavailableError, match=r"pytest-ragcost\[history\]"):
        change_points([100.0, 101.0, 99.0, 150.0, 151.0, 149.0])
    assert [c.index for c in change_points([5.0, 5.0, 6.0, 6.0])] == [2]
    history = [RunSummary(f"r{i}", {"qa": {"wall_ms": 100.0 + i % 3}}) for i in range(6)]
    html = render([], {}, history=history)
    assert "No change points for noisy metrics: change points need the ruptures library" in html


def _history() -> list[RunSummary]:
    rng = random.Random(5)
    runs = []
    for i in range(12):
        tokens = 3104.0 if i < 8 else 3600.0
        runs.append(RunSummary(
            f"2026-01-{i + 1:02d}", {"qa": {"tokens_context": tokens, "cost_usd": tokens * 1e-6,
                                            "wall_ms": 100.0 * rng.lognormvariate(0, 0.03)}},
            commit=SHAS[i],
        ))
    return runs


def test_trends_list_changed_metrics_first_with_their_commit_range() -> None:
    found, problem = trends(_history())
    assert problem is None
    assert [(t.key, [c.index for c in t.changes]) for t in found] == [
        ("cost_usd", [8]), ("tokens_context", [8]), ("wall_ms", [])]
    line = change_line(found[1], "tokens")
    assert line == [f"qa tokens_context: 3104 -> 3600 tokens (+16.0%) at run 9 (2026-01-09) "
                    f"in {SHAS[7][:12]}..{SHAS[8][:12]}"]


def test_the_html_trends_mark_the_change_with_its_commit_range() -> None:
    html = render([], {}, history=_history())
    rng = f"{SHAS[7][:12]}..{SHAS[8][:12]}"
    assert "Trends over 12 runs" in html
    assert ("<li>qa tokens_context: 3104 -&gt; 3600 tokens (+16.0%) at run 9 (2026-01-09) "
            f"in {rng}</li>") in html
    assert f"change in {rng}" in html  # the label on the chart's dashed line
    assert html.count("stroke-dasharray") >= 2
