"""The power figures of a cost verdict: what its n can see, and the n that would see the
change its tolerance allows (the quality gate's formula, from the verdict's own error)."""

from __future__ import annotations

import math

from pytest_ragcost.compare.evidence import Change, Evidence
from pytest_ragcost.compare.power import detectable_drop, power_figures
from pytest_ragcost.compare.rules import Rule, judge
from pytest_ragcost.report.verdicts import sentence
from pytest_ragcost.run import Tolerance

FIVE_PCT = Tolerance(0.05, relative=True)


def _wall(se: float, n: int, estimate: float = 0.0) -> Evidence:
    change = Change("log", estimate, se, float(n - 1))
    return Evidence("qa", "generate.wall_ms", current=100.0 * math.exp(estimate), n=n,
                    baseline=100.0, baseline_n=n, change=change, source="timer",
                    baseline_source="timer")


def test_an_under_powered_pass_says_how_many_requests_would_see_the_tolerance() -> None:
    rule = Rule("noisy", FIVE_PCT)
    v = judge(_wall(se=0.10, n=5), rule)
    assert v.status == "PASS"
    need = int(v.figures["needed_n"])
    sd = v.figures["sd_change"]
    allowed = math.log1p(0.05)
    # the smallest n that sees a 5% rise with 80% power, and no smaller one does
    assert detectable_drop(sd, need) <= allowed < detectable_drop(sd, need - 1)
    # the detectable rise is in the unit (ms over a baseline of 100 ms), past 5 ms
    assert v.figures["detectable"] > 5.0
    text = sentence(v)
    assert f"about {need:,} requests would detect the allowed rise" in text
    assert "gate under-powered: n=5 detects rises of" in text


def test_a_gate_that_sees_its_tolerance_adds_no_note() -> None:
    rule = Rule("noisy", FIVE_PCT)
    v = judge(_wall(se=0.001, n=50), rule)
    assert v.status == "PASS"
    assert "detectable" not in v.figures
    assert "under-powered" not in sentence(v)


def test_a_failure_needs_no_power_note() -> None:
    rule = Rule("noisy", FIVE_PCT)
    v = judge(_wall(se=0.01, n=30, estimate=0.5), rule)
    assert v.status == "FAIL"
    assert "detectable" not in v.figures


def test_error_that_more_samples_do_not_shrink_has_no_needed_n() -> None:
    # the run effects of two runs alone are wider than the allowance: no n is enough
    assert "needed_n" not in power_figures(0.4, 6, 0.05, floor_se=0.35)
    figures = power_figures(0.4, 6, 0.05, floor_se=0.01)
    assert figures["needed_n"] > 6
