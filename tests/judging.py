"""The verdict engine fed the way a whole run against a stored baseline feeds it: a
summary of this run, the entry's baseline evidence, and the rule. Shared by the unit
tests of the rules."""

from __future__ import annotations

from typing import Literal

from pytest_ragcost.compare.describe import Summary
from pytest_ragcost.compare.evidence import Evidence, whole_run
from pytest_ragcost.compare.rules import (
    DEFAULT_CONFIDENCE,
    DEFAULT_NOISE_CONFIDENCE,
    Rule,
    judge,
    stale,
)
from pytest_ragcost.run import MetricClass, Stat, Tolerance, Verdict
from pytest_ragcost.run.model import BetweenRun


def judge_summary(
    *,
    scenario: str,
    key: str,
    metric_class: MetricClass,
    current: Summary | None,
    baseline: float | None,
    baseline_n: int | None,
    baseline_se: float | None,
    tolerance: Tolerance,
    budget: float | None,
    severity: Literal["fail", "warn"],
    current_source: str | None,
    baseline_source: str | None,
    environment_matches: bool,
    confidence: float = DEFAULT_CONFIDENCE,
    noise_confidence: float | None = DEFAULT_NOISE_CONFIDENCE,
    stat: Stat | None = None,
    scale: Literal["log", "difference"] = "log",
    between: BetweenRun | None = None,
) -> Verdict:
    """One verdict for one (scenario, key) from a whole run's summary."""
    rule = Rule(
        kind=metric_class, tolerance=tolerance, budget=budget, severity=severity,
        stat=stat or (current.stat if current is not None else "mean"),
        confidence=confidence, noise_confidence=noise_confidence,
    )
    if current is None:
        return stale(scenario, key, rule, baseline=baseline)
    change = None
    if baseline is not None and metric_class in ("noisy", "unknown"):
        change = whole_run(current, baseline, baseline_se, baseline_n, between, scale)
    return judge(Evidence(
        scenario, key, current=current.value, n=current.n, stat=current.stat,
        baseline=baseline, baseline_n=baseline_n, baseline_se=baseline_se, change=change,
        current_se=current.se, noise=between, source=current_source,
        baseline_source=baseline_source, environment_matches=environment_matches,
    ), rule)
