"""Unit tests of the statistics (compare/describe, compare/tdist) and the verdict rules
(compare/rules) on whole-run evidence."""

from __future__ import annotations

import math
import random
import statistics
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from judging import judge_summary
from scipy import stats as scipy_stats

from pytest_ragcost.compare.describe import Summary, describe, quantile, stat_value, summarize
from pytest_ragcost.compare.rules import (
    DEFAULT_CONFIDENCE,
    min_requests,
    rank,
    worst,
    worst_status,
)
from pytest_ragcost.compare.tdist import t_cdf, t_quantile, welch_df
from pytest_ragcost.report.verdicts import sentence
from pytest_ragcost.run import STATUSES, Stat, Tolerance, Verdict

PCT5 = Tolerance(0.05, relative=True)


def one(**overrides: Any) -> Verdict:
    """The rule on whole-run evidence with neutral defaults."""
    args: dict[str, Any] = {
        "scenario": "qa-typical",
        "key": "generate.tokens_context",
        "metric_class": "exact",
        "current": Summary(100.0, 30, 1.0),
        "baseline": 100.0,
        "baseline_n": 30,
        "baseline_se": None,
        "tolerance": PCT5,
        "budget": None,
        "severity": "fail",
        "current_source": None,
        "baseline_source": None,
        "environment_matches": True,
    }
    args.update(overrides)
    return judge_summary(**args)


def noisy(
    current: float,
    se: float | None,
    baseline: float | None = 100.0,
    baseline_se: float | None = 1.0,
    n: int = 30,
    stat: Stat = "mean",
    **overrides: Any,
) -> Verdict:
    args: dict[str, Any] = {
        "key": "generate.wall_ms",
        "metric_class": "noisy",
        "current": Summary(current, n, se, stat),
        "baseline": baseline,
        "baseline_n": n,
        "baseline_se": baseline_se,
        "current_source": "timer",
        "baseline_source": "timer",
    }
    args.update(overrides)
    return one(**args)


# --------------------------------------------------------------------------- quantiles


@pytest.mark.parametrize(
    ("values", "q", "expected"),
    [
        ([1, 2, 3, 4], 0.5, 2.5),
        ([1, 2, 3, 4], 0.25, 1.75),
        ([4, 1, 3, 2], 0.0, 1.0),
        ([4, 1, 3, 2], 1.0, 4.0),
        ([7.5], 0.95, 7.5),
        (list(range(1, 101)), 0.95, 95.05),
        (list(range(1, 101)), 0.99, 99.01),
        ([10, 20], 0.95, 19.5),
    ],
)
def test_quantile_known_values_type7(values: list[float], q: float, expected: float) -> None:
    assert quantile(values, q) == pytest.approx(expected)


def test_quantile_agrees_with_statistics_inclusive_method() -> None:
    rng = random.Random(3)
    xs = [rng.lognormvariate(0, 1) for _ in range(37)]
    cut_points = statistics.quantiles(xs, n=20, method="inclusive")
    for i, expected in enumerate(cut_points, start=1):
        assert quantile(xs, i / 20) == pytest.approx(expected)


@pytest.mark.parametrize("q", [-0.01, 1.01, float("nan")])
def test_quantile_rejects_q_outside_unit_interval(q: float) -> None:
    with pytest.raises(ValueError, match="q must be between 0 and 1"):
        quantile([1, 2, 3], q)


@pytest.mark.parametrize(
    ("values", "match"),
    [
        ([], "at least one value"),
        ([1.0, float("nan")], "value #1 is nan"),
        ([float("inf")], "finite"),
        (["x"], "must be a number"),
    ],
)
def test_bad_values_are_refused_with_where(values: list[Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        stat_value(values, "mean")


def test_stat_value_each_stat() -> None:
    xs = [5.0, 1.0, 3.0, 2.0, 4.0]
    assert stat_value(xs, "mean") == 3.0
    assert stat_value(xs, "total") == 15.0
    assert stat_value(xs, "median") == 3.0
    assert stat_value(xs, "max") == 5.0
    assert stat_value(xs, "p95") == pytest.approx(4.8)
    assert stat_value(xs, "p99") == pytest.approx(4.96)
    with pytest.raises(ValueError, match="unknown stat 'p50'; expected one of mean"):
        stat_value(xs, "p50")  # type: ignore[arg-type]


@given(st.lists(st.floats(-1e6, 1e6), min_size=1, max_size=40), st.floats(0, 1), st.floats(0, 1))
def test_quantile_is_monotone_and_bounded(xs: list[float], q1: float, q2: float) -> None:
    lo, hi = sorted((q1, q2))
    assert min(xs) <= quantile(xs, lo) <= quantile(xs, hi) <= max(xs)


def test_describe() -> None:
    d = describe([4.0, 1.0, 3.0, 2.0])
    assert d == {
        "n": 4.0,
        "mean": 2.5,
        "std": pytest.approx(statistics.stdev([1, 2, 3, 4])),
        "min": 1.0,
        "p50": 2.5,
        "p95": pytest.approx(3.85),
        "max": 4.0,
    }
    assert describe([7.0])["std"] == 0.0


# --------------------------------------------------------------------------- standard errors


def test_summarize_mean_and_total_errors_are_analytic() -> None:
    xs = [3.0, 5.0, 4.0, 8.0, 6.0, 2.0]
    s = statistics.stdev(xs)
    mean = summarize(xs, "mean")
    assert (mean.value, mean.n, mean.stat) == (statistics.mean(xs), 6, "mean")
    assert mean.se == pytest.approx(s / math.sqrt(6))
    total = summarize(xs, "total")
    assert total.value == 28.0
    assert total.se == pytest.approx(s * math.sqrt(6))


def test_summarize_single_request_has_no_error() -> None:
    for stat in ("mean", "p95", "total"):
        assert summarize([4.2], stat).se is None


def test_summarize_constant_values_have_zero_error() -> None:
    assert summarize([3.0] * 50, "p95").se == 0.0
    assert summarize([3.0] * 50, "mean").se == 0.0


def test_bootstrap_is_deterministic_per_seed_and_leaves_input_alone() -> None:
    rng = random.Random(11)
    xs = [rng.expovariate(1.0) for _ in range(60)]
    before = list(xs)
    a = summarize(xs, "p95", seed=5)
    b = summarize(xs, "p95", seed=5)
    c = summarize(xs, "p95", seed=6)
    assert a == b
    assert a.se != c.se
    assert xs == before


def _naive_bootstrap_se(xs: list[float], q: float, resamples: int, seed: int) -> float:
    rng = random.Random(seed)
    reps = [quantile(rng.choices(xs, k=len(xs)), q) for _ in range(resamples)]
    return statistics.stdev(reps)


@pytest.mark.parametrize(("stat", "q"), [("median", 0.5), ("p95", 0.95), ("max", 1.0)])
def test_fast_bootstrap_matches_the_textbook_bootstrap(stat: str, q: float) -> None:
    rng = random.Random(2)
    xs = [rng.lognormvariate(0, 0.4) for _ in range(40)]
    naive = _naive_bootstrap_se(xs, q, 3000, seed=1)
    fast = summarize(xs, stat, resamples=3000).se  # type: ignore[arg-type]
    assert fast == pytest.approx(naive, rel=0.08)


def test_summarize_rejects_too_few_resamples() -> None:
    with pytest.raises(ValueError, match="resamples must be at least 2"):
        summarize([1.0, 2.0], "p95", resamples=1)


def test_summary_round_trips_through_dict() -> None:
    s = Summary(1.5, 10, None, "p95")
    assert Summary.from_dict(s.to_dict()) == s


def test_min_requests() -> None:
    got = {s: min_requests(s) for s in ("mean", "total", "median", "p95", "p99", "max")}
    assert got == {"mean": 2, "total": 2, "median": 10, "p95": 100, "p99": 500, "max": None}


# --------------------------------------------------------------------------- t and df


@pytest.mark.parametrize(
    ("p", "df", "expected"),
    [
        (0.975, 1, 12.7062),
        (0.975, 2, 4.3027),
        (0.975, 3, 3.1824),
        (0.975, 4, 2.7764),
        (0.975, 9, 2.2622),
        (0.975, 29, 2.0452),
        (0.95, 58, 1.6716),
        (0.995, 10, 3.1693),
    ],
)
def test_t_quantile_against_tables(p: float, df: float, expected: float) -> None:
    assert t_quantile(p, df) == pytest.approx(expected, abs=1e-4)


# the levels the gates use (0.95 for 90% two-sided, 0.975, 0.995 noise test) and Welch's
# fractional degrees of freedom
@pytest.mark.parametrize("df", [1, 1.5, 2, 2.7, 4, 9, 19, 29, 37.4, 49, 99, 400, 10_000])
@pytest.mark.parametrize("p", [0.6, 0.8, 0.9, 0.95, 0.975, 0.995, 0.999])
def test_t_quantile_matches_scipy(df: float, p: float) -> None:
    assert t_quantile(p, df) == pytest.approx(float(scipy_stats.t.ppf(p, df)), abs=1e-8)
    assert t_quantile(1 - p, df) == pytest.approx(-t_quantile(p, df))
    assert t_cdf(t_quantile(p, df), df) == pytest.approx(p, abs=1e-10)


def test_t_quantile_limits() -> None:
    assert t_quantile(0.975, math.inf) == pytest.approx(1.959964, rel=1e-6)
    assert t_quantile(0.5, 7) == pytest.approx(0.0, abs=1e-12)
    assert t_quantile(0.025, 9) == pytest.approx(-t_quantile(0.975, 9))
    with pytest.raises(ValueError, match="df must be positive"):
        t_quantile(0.9, 0)
    with pytest.raises(ValueError, match="strictly between 0 and 1"):
        t_quantile(1.0, 5)


def test_welch_df() -> None:
    assert welch_df(1.0, 30, 1.0, 30) == pytest.approx(58.0)
    assert welch_df(1.0, 30, None, None) == 29.0
    assert welch_df(0.0, 30, 1.0, 10) == 9.0
    assert 9.0 < welch_df(1.0, 10, 0.5, 100) < 58.0


# --------------------------------------------------------------------------- exact metrics


def test_message_format_of_the_spec() -> None:
    v = one(current=Summary(3414.0, 30, 12.0), baseline=3104.0)
    assert v.status == "FAIL"
    assert sentence(v) == (
        "generate.tokens_context: 3414 vs baseline 3104 (+310, +10.0%) over tolerance 5% (n=30)"
    )
    assert (v.baseline, v.current, v.n, v.tolerance, v.interval) == (3104.0, 3414.0, 30, "5%", None)


def test_exact_boundary_relative() -> None:
    assert one(current=Summary(105.0, 30, 0.0)).status == "PASS"
    assert one(current=Summary(106.0, 30, 0.0)).status == "FAIL"


def test_exact_boundary_one_token_over_an_absolute_tolerance() -> None:
    tol = Tolerance(10, relative=False)
    at = one(current=Summary(3114.0, 30, 0.0), baseline=3104.0, tolerance=tol)
    over = one(current=Summary(3115.0, 30, 0.0), baseline=3104.0, tolerance=tol)
    assert (at.status, over.status) == ("PASS", "FAIL")
    assert "within tolerance 10" in sentence(at)
    assert "over tolerance 10" in sentence(over)


def test_exact_boundary_survives_float_rounding() -> None:
    # 3104 * 1.05 is 3259.2000000000003 in floats, and 3104 + 3104 * 0.05 may round either way
    assert one(current=Summary(3259.2, 30, 0.0), baseline=3104.0).status == "PASS"
    assert one(current=Summary(3259.3, 30, 0.0), baseline=3104.0).status == "FAIL"


def test_relative_and_absolute_tolerances_differ() -> None:
    current = Summary(207.0, 30, 0.0)
    assert one(current=current, baseline=200.0, tolerance=Tolerance(0.05, True)).status == "PASS"
    assert one(current=current, baseline=200.0, tolerance=Tolerance(5, False)).status == "FAIL"


def test_zero_baseline() -> None:
    # a relative tolerance of zero is zero: any error is a regression
    assert one(key="errors", current=Summary(0.0, 30, 0.0), baseline=0.0).status == "PASS"
    v = one(key="errors", current=Summary(1.0, 30, 0.0), baseline=0.0)
    assert v.status == "FAIL"
    assert "errors: 1 vs baseline 0 (+1, n/a%) over tolerance 5%" in sentence(v)
    absolute = Tolerance(2, relative=False)
    assert one(current=Summary(2.0, 30, 0.0), baseline=0.0, tolerance=absolute).status == "PASS"
    assert one(current=Summary(3.0, 30, 0.0), baseline=0.0, tolerance=absolute).status == "FAIL"


def test_exact_ignores_noise_and_environment() -> None:
    v = one(current=Summary(106.0, 30, 50.0), environment_matches=False)
    assert v.status == "FAIL"
    assert one(current=Summary(104.0, 30, 50.0), environment_matches=False).status == "PASS"


def test_derived_cost_is_compared_exactly() -> None:
    v = one(
        key="cost_usd", metric_class="derived", current=Summary(0.00106, 30, 1e-4), baseline=0.001
    )
    assert v.status == "FAIL"


@given(st.integers(0, 5000), st.integers(0, 5000), st.integers(0, 50))
def test_exact_rule_is_exactly_the_limit(current: int, baseline: int, allowed: int) -> None:
    v = one(
        current=Summary(float(current), 30, 3.0),
        baseline=float(baseline),
        tolerance=Tolerance(allowed, relative=False),
    )
    assert (v.status == "FAIL") == (current > baseline + allowed)
    assert v.improved == (current < baseline - allowed)


def test_warn_severity_turns_fail_into_warn_only() -> None:
    v = one(current=Summary(106.0, 30, 0.0), severity="warn")
    assert (v.status, v.severity) == ("WARN", "warn")
    assert sentence(v).endswith("[severity: warn]")
    assert one(current=Summary(105.0, 30, 0.0), severity="warn").status == "PASS"
    assert noisy(110.0, 10.0, severity="warn").status == "INCONCLUSIVE"


def test_improvement_hint() -> None:
    v = one(current=Summary(94.0, 30, 0.0))
    assert (v.status, v.improved) == ("PASS", True)
    assert "fell by more than tolerance 5%" in sentence(v)
    assert "--ragcost-update" in sentence(v)
    within = one(current=Summary(95.0, 30, 0.0))
    assert (within.status, within.improved) == ("PASS", False)
    assert "--ragcost-update" not in sentence(within)


def test_token_source_change_is_incomparable() -> None:
    v = one(current=Summary(130.0, 30, 0.0), current_source="provider", baseline_source="counted")
    assert v.status == "INCOMPARABLE"
    assert "provider now vs counted in the baseline" in sentence(v)
    same = one(current=Summary(130.0, 30, 0.0), current_source="counted", baseline_source="counted")
    assert same.status == "FAIL"


# --------------------------------------------------------------------------- noisy metrics


def test_noisy_clear_regression_fails_with_interval() -> None:
    v = noisy(130.0, 1.0)
    assert v.status == "FAIL"
    assert v.interval is not None
    lo, hi = v.interval
    assert 5.0 < lo < 30.0 < hi
    assert sentence(v).startswith(
        "generate.wall_ms: 130 vs baseline 100 (+30, +30.0%) over tolerance 5%"
    )
    assert f"{DEFAULT_CONFIDENCE * 100:g}% CI of change [+{lo:.4g}, +{hi:.4g}]" in sentence(v)
    assert "(n=30, baseline n=30)" in sentence(v)


def test_noisy_estimate_over_but_interval_not_is_inconclusive() -> None:
    v = noisy(110.0, 10.0)
    assert v.status == "INCONCLUSIVE"
    assert v.interval is not None
    assert v.interval[0] < 5.0 < 10.0 < v.interval[1]
    assert "above tolerance 5% but within the noise" in sentence(v)
    assert "more requests" in sentence(v)


def test_noisy_within_tolerance_passes() -> None:
    v = noisy(103.0, 1.0)
    assert (v.status, v.improved) == ("PASS", False)
    assert "within tolerance 5%" in sentence(v)


def test_noisy_boundary_with_no_noise_behaves_exactly() -> None:
    assert noisy(105.0, 0.0, baseline_se=0.0).status == "PASS"
    assert noisy(105.01, 0.0, baseline_se=0.0).status == "FAIL"


def test_noisy_interval_lower_end_must_clear_the_tolerance() -> None:
    # rise 10%, SE of the log-rise 2.6% or 3.0%: the lower end lands either side of log(1.05)
    def lower(v: Verdict) -> float:
        assert v.interval is not None
        return v.interval[0]

    passing = noisy(110.0, 110.0 * 0.0210, baseline_se=2.10)
    failing = noisy(110.0, 110.0 * 0.0185, baseline_se=1.85)
    assert lower(passing) < 5.0 < lower(failing)
    assert (passing.status, failing.status) == ("INCONCLUSIVE", "FAIL")


def test_hand_written_baseline_is_taken_as_exact() -> None:
    v = noisy(107.0, 0.5, baseline_se=None)
    assert v.status == "FAIL"
    with_noise = noisy(107.0, 0.5, baseline_se=3.0)
    assert with_noise.status == "INCONCLUSIVE"


def test_noise_test_keeps_small_noisy_runs_from_failing() -> None:
    # interval clears the tolerance, but a rise this size is within the noise at 99.5%
    rel = 0.1 / math.sqrt(2)
    kwargs: dict[str, Any] = {"baseline_se": 100 * rel}
    current = 100 * math.exp(0.24)
    t90 = t_quantile(0.95, 58)
    t995 = t_quantile(0.995, 58)
    assert 0.24 - t90 * 0.1 > math.log(1.05)  # the interval clears the tolerance ...
    assert 0.24 - t995 * 0.1 < 0.0  # ... the noise test does not
    guarded = noisy(current, current * rel, **kwargs)
    assert guarded.status == "INCONCLUSIVE"
    assert "within the noise of so few requests" in sentence(guarded)
    unguarded = noisy(current, current * rel, noise_confidence=None, **kwargs)
    assert unguarded.status == "FAIL"


def test_one_request_never_fails_a_noisy_metric() -> None:
    v = noisy(300.0, None, n=1)
    assert v.status == "INCONCLUSIVE"
    assert "one request" in sentence(v)
    assert noisy(101.0, None, n=1).status == "PASS"


def test_quantiles_need_enough_requests() -> None:
    few = noisy(200.0, 1.0, n=30, stat="p95")
    assert few.status == "INCONCLUSIVE"
    assert "p95 needs at least 100 requests" in sentence(few)
    assert "generate.wall_ms (p95): 200 vs baseline 100" in sentence(few)
    assert noisy(200.0, 1.0, n=100, stat="p95").status == "FAIL"
    never = noisy(500.0, 1.0, n=1000, stat="max")
    assert never.status == "INCONCLUSIVE"
    assert "max of a noisy metric is one request" in sentence(never)


def test_noisy_improvement_needs_the_whole_interval_below() -> None:
    v = noisy(80.0, 1.0)
    assert (v.status, v.improved) == ("PASS", True)
    assert "--ragcost-update" in sentence(v)
    unsure = noisy(94.0, 5.0)
    assert (unsure.status, unsure.improved) == ("PASS", False)


def test_environment_or_energy_source_change_is_incomparable() -> None:
    moved = noisy(300.0, 1.0, environment_matches=False)
    assert moved.status == "INCOMPARABLE"
    assert "another machine" in sentence(moved)
    energy = noisy(
        300.0, 1.0, key="energy_j", current_source="estimated", baseline_source="measured"
    )
    assert energy.status == "INCOMPARABLE"
    assert "estimated now vs measured in the baseline" in sentence(energy)
    gone = noisy(
        3.0, 0.1, key="energy_j", current_source="unavailable", baseline_source="unavailable"
    )
    assert gone.status == "INCOMPARABLE"
    assert (
        noisy(
            300.0, 1.0, key="energy_j", current_source="measured", baseline_source="measured"
        ).status
        == "FAIL"
    )


def test_zero_baseline_noisy_uses_the_difference_scale() -> None:
    tol = Tolerance(1.0, relative=False)
    v = noisy(5.0, 0.1, baseline=0.0, baseline_se=0.1, tolerance=tol)
    assert v.status == "FAIL"
    assert v.interval is not None
    assert v.interval[0] + v.interval[1] == pytest.approx(10.0)  # symmetric around +5


def test_difference_scale_interval_is_symmetric() -> None:
    v = noisy(110.0, 2.0, scale="difference")
    assert v.interval is not None
    assert sum(v.interval) / 2 == pytest.approx(10.0)
    log_v = noisy(110.0, 2.0)
    assert log_v.interval is not None
    assert sum(log_v.interval) / 2 > 10.0  # the log scale leans the way costs do


# --------------------------------------------------------------------------- budgets


def test_budget_exact_boundary_and_no_baseline() -> None:
    kw: dict[str, Any] = {"key": "cost_usd", "metric_class": "derived", "baseline": None}
    at = one(current=Summary(0.002, 30, 0.0), budget=0.002, **kw)
    over = one(current=Summary(0.0021, 30, 0.0), budget=0.002, **kw)
    assert (at.status, over.status) == ("PASS", "FAIL")
    assert sentence(over) == "cost_usd: 0.0021 over budget 0.002 (+0.0001, +5.0%) (n=30)"
    assert over.budget == 0.002


def test_budget_is_checked_whatever_the_baseline_says() -> None:
    v = one(current=Summary(104.0, 30, 0.0), budget=100.0)
    assert v.status == "FAIL"
    assert "within tolerance 5%; over budget 100 (+4, +4.0%)" in sentence(v)
    moved = noisy(130.0, 1.0, budget=120.0, environment_matches=False)
    assert moved.status == "FAIL"
    assert "not comparable" in sentence(moved)
    assert "over budget 120" in sentence(moved)


def test_noisy_budget_needs_evidence_except_for_max() -> None:
    assert noisy(510.0, 1.0, baseline=None, budget=500.0).status == "FAIL"
    unsure = noisy(510.0, 20.0, baseline=None, budget=500.0)
    assert unsure.status == "INCONCLUSIVE"
    assert "over budget 500 (+10, +2.0%) but within the noise" in sentence(unsure)
    assert noisy(490.0, 20.0, baseline=None, budget=500.0).status == "PASS"
    peak = noisy(510.0, 50.0, n=5, stat="max", baseline=None, budget=500.0)
    assert peak.status == "FAIL"


def test_budget_warn() -> None:
    v = one(current=Summary(0.0021, 30, 0.0), baseline=None, budget=0.002, severity="warn")
    assert v.status == "WARN"


# --------------------------------------------------------------------------- NEW, STALE, errors


def test_stale_and_new() -> None:
    stale = one(current=None, stat="p95")
    assert (stale.status, stale.stat, stale.current) == ("STALE", "p95", None)
    assert sentence(stale).startswith("qa-typical generate.tokens_context (p95): in ragcost.yaml")
    new = one(baseline=None)
    assert new.status == "NEW"
    assert "no baseline yet" in sentence(new)
    assert "--ragcost-update" in sentence(new)


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"severity": "error"}, "severity must be 'fail' or 'warn'"),
        ({"confidence": 1.0}, "confidence must be in"),
        ({"noise_confidence": 0.2}, "noise_confidence must be in"),
        ({"tolerance": Tolerance(-1, False)}, "tolerance must be a finite number >= 0"),
        ({"stat": "p95"}, "the entry's stat is 'p95' but the evidence is of 'mean'"),
    ],
)
def test_judge_refuses_bad_arguments(overrides: dict[str, Any], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        one(**overrides)


# --------------------------------------------------------------------------- ordering


def test_worst_orders_fail_first_and_is_stable() -> None:
    statuses = ["PASS", "NEW", "FAIL", "WARN", "INCONCLUSIVE", "STALE", "INCOMPARABLE", "FAIL"]
    vs = [Verdict("s", f"k{i}", s, "") for i, s in enumerate(statuses)]  # type: ignore[arg-type]
    ordered = worst(vs)
    assert [v.status for v in ordered] == [
        "FAIL",
        "FAIL",
        "WARN",
        "INCONCLUSIVE",
        "INCOMPARABLE",
        "STALE",
        "NEW",
        "PASS",
    ]
    assert [v.key for v in ordered[:2]] == ["k2", "k7"]
    assert worst_status(vs) == "FAIL"
    assert worst_status([]) is None
    assert STATUSES[0] == "FAIL"
    assert rank("PASS") == len(STATUSES) - 1
    with pytest.raises(ValueError, match="unknown verdict status 'OK'"):
        rank("OK")
