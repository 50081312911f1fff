"""The efficiency frontier and the recommendation: a pure module, tested as one."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest

from pytest_ragcost.compare.frontier import Config, dominates, frontier, holm, sweeps
from pytest_ragcost.run import Outcome, RequestRecord, ScenarioRun, Tolerance
from pytest_ragcost.run.model import MetricScores, SampleScore

ONE_PCT = Tolerance(0.01, relative=True)
QS = [f"q{i}" for i in range(20)]


def cfg(name: str, cost: float, scores: list[float], **knobs: object) -> Config:
    return Config(name, knobs, cost, dict(zip(QS, scores, strict=False)))


def test_dominance_needs_strictly_better_on_one_axis() -> None:
    a = cfg("a", 1.0, [1.0] * 4)
    b = cfg("b", 2.0, [1.0] * 4)
    same = cfg("same", 1.0, [1.0] * 4)
    assert dominates(a, b)
    assert not dominates(b, a)
    assert not dominates(a, same)
    assert not dominates(same, a)


def test_frontier_marks_each_dominated_config_with_its_cheapest_dominator() -> None:
    configs = [
        cfg("k4", 1.0, [1, 0, 1, 0, 1, 1, 0, 1, 1, 1], top_k=4),
        cfg("k8", 2.0, [1] * 10, top_k=8),
        cfg("k16", 4.0, [1] * 10, top_k=16),
        cfg("k32", 8.0, [1, 1, 1, 1, 1, 1, 1, 1, 1, 0], top_k=32),
    ]
    f = frontier(configs, ONE_PCT, sweep="t")
    pts = {p.name: p for p in f.points}
    assert [p.name for p in f.points] == ["k4", "k8", "k16", "k32"]  # by cost
    assert pts["k4"].on_frontier
    assert pts["k8"].on_frontier
    assert pts["k16"].dominated_by == "k8"
    assert pts["k32"].dominated_by == "k8"
    assert not pts["k16"].on_frontier
    # the best (highest mean, then cheapest) is k8; k16 ties it exactly on every question
    assert f.reference == "k8"
    assert f.reference_rule == "best"
    assert pts["k16"].acceptable
    assert not pts["k4"].acceptable  # lost 3 of 10 questions
    assert f.recommended == "k8"
    assert f.recommendation().startswith("keep k8 (top_k=8)")


def test_recommends_the_cheapest_config_within_the_drop_and_states_the_saving() -> None:
    same = [1.0, 0.5] * 10
    configs = [cfg("small", 1.0, same, top_k=4), cfg("big", 3.0, same, top_k=16)]
    f = frontier(configs, ONE_PCT, reference="big")
    assert f.reference_rule == "current"
    assert f.recommended == "small"
    small = f.point("small")
    assert small.delta_cost == -2.0
    text = f.recommendation()
    assert "use small (top_k=4)" in text
    assert "-2 " in text
    assert "(-67%)" in text
    assert "n=20" in text


def test_a_small_drop_past_the_allowance_is_not_acceptable_with_clear_evidence() -> None:
    ref = [1.0] * 20
    worse = [1.0] * 18 + [0.0, 0.0]  # -10%: past a 1% allowance
    f = frontier([cfg("cheap", 1.0, worse), cfg("ref", 2.0, ref)], ONE_PCT, reference="ref")
    cheap = f.point("cheap")
    assert not cheap.acceptable
    assert cheap.change == pytest.approx(-0.1)
    assert cheap.lower is not None
    assert cheap.lower < -0.01
    assert f.recommended == "ref"


def test_too_few_paired_questions_give_no_bound_and_no_recommendation_away() -> None:
    f = frontier([cfg("cheap", 1.0, [1.0]), cfg("ref", 2.0, [1.0])], ONE_PCT, reference="ref")
    assert not f.point("cheap").acceptable
    assert f.point("cheap").lower is None


def test_holm_is_monotone_and_stricter_than_the_raw_p() -> None:
    adj = holm({"a": 0.01, "b": 0.04, "c": 0.03})
    assert adj["a"] == pytest.approx(0.03)
    assert adj["c"] == pytest.approx(0.06)
    assert adj["b"] == pytest.approx(0.06)  # monotone: never below an earlier step


def test_the_correction_grows_with_the_number_of_configs() -> None:
    # the same evidence passes alone but not among many configurations
    ref = [1.0] * 6
    near_f = [0.995, 1.0, 0.99, 1.0, 1.0, 0.998]
    alone = frontier([cfg("c", 1.0, near_f), cfg("r", 2.0, ref)], ONE_PCT, reference="r")
    many = frontier(
        [cfg("c", 1.0, near_f), cfg("r", 2.0, ref)]
        + [cfg(f"x{i}", 3.0 + i, near_f) for i in range(8)],
        ONE_PCT,
        reference="r",
    )
    assert alone.point("c").p_value is not None
    assert many.point("c").p_value is not None
    assert many.point("c").p_value == pytest.approx(9 * alone.point("c").p_value)
    assert many.point("c").lower < alone.point("c").lower  # Bonferroni-level bound


def test_unknown_reference_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"'nope' is not in the sweep \(expected one of a\)"):
        frontier([cfg("a", 1.0, [1.0, 1.0])], ONE_PCT, reference="nope")


def _outcome(name: str, k: int, cpu_ms: float, scores: list[float]) -> Outcome:
    reqs = tuple(
        RequestRecord(f"{i:032x}", i, {"wall_ms": cpu_ms, "cpu_ms": cpu_ms}, {}) for i in range(3)
    )
    run = ScenarioRun(name, f"t.py::test_s[{k}]", reqs, knobs={"top_k": k}, sweep="t.py::test_s")
    samples = tuple(SampleScore(q, "o", q, v) for q, v in zip(QS, scores, strict=False))
    quality = {"hit_at_k": MetricScores("hit_at_k", "deterministic", samples)}
    return Outcome(run=run, quality=quality)


def test_sweeps_groups_a_parametrized_test_and_uses_cpu_seconds_when_unpriced() -> None:
    outs = [
        _outcome("s4", 4, 1000.0, [1, 0, 0, 1, 0, 1]),
        _outcome("s8", 8, 2000.0, [1] * 6),
        _outcome("lonely", 1, 5.0, [1] * 6),
    ]
    outs[2] = Outcome(run=ScenarioRun("lonely", "x.py::t", outs[2].run.requests),
                      quality=outs[2].quality)
    (f,) = sweeps(outs, ONE_PCT)
    assert f.sweep == "t.py::test_s"
    assert f.cost_metric == "cpu_gpu_s"
    assert f.quality_metric == "hit_at_k"
    assert [p.name for p in f.points] == ["s4", "s8"]
    assert f.point("s4").cost == pytest.approx(1.0)
    assert f.recommended == "s8"
    assert math.isclose(f.point("s8").figures["wall_s"], 2.0)


def test_load_levels_are_traffic_not_a_sweep_to_choose_from() -> None:
    outs = [_outcome("u1", 1, 1000.0, [1] * 6), _outcome("u4", 4, 600.0, [1] * 6)]
    levels = [
        Outcome(run=replace(o.run, knobs={"users": k}, load={"mode": "closed", "users": k}),
                quality=o.quality)
        for o, k in zip(outs, (1, 4), strict=True)
    ]
    assert sweeps(levels, ONE_PCT) == []
    assert len(sweeps(outs, ONE_PCT)) == 1  # the same scenarios without load: one sweep
