"""The sequential A/B's looks: the error each spends, and when a verdict is decided."""

from __future__ import annotations

import math

import pytest

from pytest_ragcost.ab import SideRun, _no_rise, compare
from pytest_ragcost.compare.rules import DEFAULT_CONFIDENCE, DEFAULT_NOISE_CONFIDENCE, Rule
from pytest_ragcost.compare.sequential import (
    DEFAULT_MAX_ROUNDS,
    decided,
    look_rule,
    looks,
    spent,
)
from pytest_ragcost.run import RequestRecord, StageRecord, Tolerance
from pytest_ragcost.run.model import Verdict

NOISY = Rule(kind="noisy", tolerance=Tolerance(0.05, relative=True))


def test_looks_come_after_even_rounds_up_to_the_cap() -> None:
    assert [look.rounds for look in looks()] == [2, 4, 6, 8, 10, 12]
    assert DEFAULT_MAX_ROUNDS == 12
    # an odd cap still gets its last look
    assert [look.rounds for look in looks(7)] == [2, 4, 6, 7]
    assert [look.last for look in looks(4)] == [False, True]
    with pytest.raises(ValueError, match="at least 2 rounds"):
        looks(1)


@pytest.mark.parametrize("cap", [2, 3, 7, 12, 20])
def test_the_looks_spend_exactly_the_fixed_designs_error(cap: int) -> None:
    plan = looks(cap)
    assert math.fsum(look.share for look in plan) == pytest.approx(1.0)
    assert all(look.share > 0 for look in plan)
    rules = [look_rule(NOISY, look) for look in plan]
    # the union bound: the one-sided errors of all looks add up to the fixed design's
    assert math.fsum((1 - r.confidence) / 2 for r in rules) == pytest.approx(
        (1 - DEFAULT_CONFIDENCE) / 2)
    assert math.fsum(1 - (r.noise_confidence or 0) for r in rules) == pytest.approx(
        1 - DEFAULT_NOISE_CONFIDENCE)
    # every look is stricter than the fixed design (unless it is the only one)
    if len(plan) > 1:
        assert all(r.confidence > DEFAULT_CONFIDENCE for r in rules)


def test_the_pocock_type_spending_spends_evenly_over_information() -> None:
    assert spent(0.0) == 0.0
    assert spent(1.0) == pytest.approx(1.0)
    # more than its proportional share early (so a clear change stops early), less late
    assert spent(1 / 6) > 1 / 6
    assert spent(0.5) > 0.5
    shares = [look.share for look in looks(12)]
    assert shares == sorted(shares, reverse=True)


def test_a_rule_without_noise_test_keeps_none() -> None:
    rule = Rule(kind="quality", tolerance=Tolerance(0.01, relative=True), noise_confidence=None)
    assert look_rule(rule, looks()[0]).noise_confidence is None


def _verdict(status: str, interval: tuple[float, float] | None,
             improved: bool = False) -> Verdict:
    return Verdict("s", "cpu_ms", status, "x", baseline=100.0, current=100.0,  # type: ignore[arg-type]
                   interval=interval, improved=improved)


@pytest.mark.parametrize(("verdict", "expected"), [
    (_verdict("FAIL", (6.0, 20.0)), True),
    (_verdict("INCONCLUSIVE", (1.0, 20.0)), False),
    # a PASS whose interval reaches past the +5% (5.0) is not yet decided
    (_verdict("PASS", (-3.0, 6.0)), False),
    (_verdict("PASS", (-3.0, 4.9)), True),
    (_verdict("PASS", (-30.0, -10.0), improved=True), True),
    (_verdict("PASS", None), True),  # exact metrics
    (_verdict("INCOMPARABLE", None), True),
    (_verdict("NEW", None), True),
])
def test_decided(verdict: Verdict, expected: bool) -> None:
    assert decided(verdict, NOISY) is expected


def test_where_higher_is_better_a_pass_must_exclude_the_fall() -> None:
    rule = Rule(kind="noisy", tolerance=Tolerance(0.05, relative=True), higher_is_better=True)
    assert decided(_verdict("PASS", (-4.0, 8.0)), rule)
    assert not decided(_verdict("PASS", (-6.0, 8.0)), rule)


@pytest.mark.parametrize(("verdicts", "expected"), [
    # an unchanged run: intervals straddle no change, nothing fails -> stop
    ([_verdict("PASS", (-3.0, 6.0)), _verdict("INCONCLUSIVE", (-1.0, 9.0))], True),
    # a rise below the tolerance that more rounds could still tell -> go on
    ([_verdict("PASS", (-3.0, 6.0)), _verdict("INCONCLUSIVE", (0.5, 9.0))], False),
    ([_verdict("FAIL", (6.0, 20.0))], False),
    ([_verdict("PASS", None)], True),
])
def test_no_rise_stops_only_when_no_metric_rose(verdicts: list[Verdict], expected: bool) -> None:
    assert _no_rise({"s": [(v, NOISY) for v in verdicts]}) is expected


def test_no_rise_where_higher_is_better_looks_at_a_fall() -> None:
    rule = Rule(kind="noisy", tolerance=Tolerance(0.05, relative=True), higher_is_better=True)
    assert _no_rise({"s": [(_verdict("PASS", (0.5, 9.0)), rule)]})
    assert not _no_rise({"s": [(_verdict("INCONCLUSIVE", (-9.0, -0.5)), rule)]})


def _runs(factor: float, wobble: list[float]) -> list[SideRun]:
    runs = []
    for r, w in enumerate(wobble, start=1):
        for side, f in (("base", 1.0), ("head", factor * w)):
            reqs = tuple(
                RequestRecord(trace_id=f"{side}{r}{i}", index=i,
                              metrics={"cpu_ms": c * f}, sources={"cpu_ms": "timer"},
                              stages=(StageRecord("search", {"cpu_ms": c * f},
                                                  {"cpu_ms": "timer"}),),
                              item_id=f"q{i}")
                for i, c in enumerate([10.0, 20.0, 40.0])
            )
            runs.append(SideRun(side, r, 1.0, {"s": reqs}))
    return runs


def test_a_look_judges_through_the_same_rule_at_its_own_level() -> None:
    runs = _runs(1.08, [1.01, 0.99, 1.02, 0.98])
    fixed = next(v for v in compare(runs)["s"] if v.key == "cpu_ms")
    look = looks()[1]  # the look after round 4
    seq = next(v for v in compare(runs, look=look)["s"] if v.key == "cpu_ms")
    assert fixed.status == "FAIL"
    assert fixed.confidence == pytest.approx(DEFAULT_CONFIDENCE)
    assert seq.confidence == pytest.approx(look_rule(NOISY, look).confidence)
    assert fixed.interval is not None
    assert seq.interval is not None
    # the same estimate, a wider interval: an 8% rise at 5% tolerance is not yet a FAIL
    assert seq.interval[0] < fixed.interval[0]
    assert seq.interval[1] > fixed.interval[1]
    assert seq.status == "INCONCLUSIVE"
