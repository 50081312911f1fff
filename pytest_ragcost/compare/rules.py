"""The verdict rules: ``judge(evidence, rule) -> Verdict``, the one place a status is decided.

The plugin, ``ragcost compare`` of a saved run, the same-job A/B, the quality gate and
load levels all build :class:`~pytest_ragcost.compare.evidence.Evidence` and call
:func:`judge` with the budget entry's :class:`Rule`. The verdict carries reason codes
(:mod:`pytest_ragcost.run.reasons`) and the figures behind them; its sentences are
written in :mod:`pytest_ragcost.report.verdicts`.

The rules, in order:

1. No baseline and no budget -> NEW. Numbers out of any sensible range -> INCOMPARABLE.
2. The baseline comparison:

   - a source label that differs from the baseline's (energy measured vs estimated,
     tokens counted vs provider-reported) or is ``unavailable``, or, for noisy metrics,
     another machine or meter -> INCOMPARABLE: the numbers are not of one kind;
   - exact metrics (tokens, counts, errors, ``cost_usd``) are compared exactly: FAIL when
     ``current > baseline + tolerance`` (to 1e-9 relative float slack);
   - noisy metrics (times, energy, memory, throughput) and quality scores are judged on
     the interval of the change: a two-sided ``confidence`` interval (0.90) from the
     evidence's standard error with a Student t multiplier. FAIL needs the estimate past
     the tolerance, the whole interval past it, and (noisy metrics) the change past zero
     at the one-sided ``noise_confidence`` (0.995): that noise test keeps unchanged code
     under 1% false failures at every noise level. The estimate past the tolerance
     without the rest is INCONCLUSIVE, as is any change of a statistic measured on fewer
     requests than :func:`min_requests` asks for. A change past the tolerance the other
     way is PASS marked ``improved``.

   Costs are compared on the log scale when both values are positive (regressions are
   multiplicative); quality scores on the difference scale. Where higher is better
   (``throughput_rps``, quality scores) a fall is the regression.
3. The budget, whatever the baseline says: a cap (a floor where higher is better). Exact
   metrics and ``max`` fail on any excess; noisy statistics need the interval of the
   statistic itself past the cap. Another machine does not excuse a budget.
4. ``severity: warn`` turns FAIL into WARN.

Why these levels: with ``confidence=0.90`` a rise sitting exactly at the tolerance fails
at most 5% of the time, and a rise of twice a 10% tolerance is caught 95% of the time at
30 requests and CV 10%. Their operating characteristics are measured by
``benchmarks/bench_verdicts.py`` (simulation) and ``benchmarks/study_noise.py`` (real runs).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from ..run import STATUSES, MetricClass, Stat, Status, Tolerance
from ..run.model import Finding, Severity, Verdict
from .describe import QUANTILE_OF_STAT, check_stat
from .evidence import Change, Evidence
from .tdist import satterthwaite, t_quantile

__all__ = [
    "DEFAULT_CONFIDENCE",
    "DEFAULT_NOISE_CONFIDENCE",
    "MAX_MAGNITUDE",
    "MIN_BASELINE",
    "MIN_TAIL_REQUESTS",
    "QUALITY_CONFIDENCE",
    "Rule",
    "judge",
    "min_requests",
    "rank",
    "stale",
    "worst",
    "worst_status",
]

#: Two-sided level of the interval of the change. FAIL needs its lower end above the
#: tolerance, so a run whose true rise sits exactly at the tolerance fails with probability
#: at most (1 - 0.90) / 2 = 5%, and unchanged code far less (see the benchmark).
DEFAULT_CONFIDENCE = 0.90
#: The quality gate's level: a one-sided 95% bound on the mean change of paired scores
#: is the low end of the same two-sided 90% interval.
QUALITY_CONFIDENCE = 0.90

#: One-sided level at which a noisy FAIL must also show the rise is above zero. When the
#: noise dwarfs the tolerance the interval alone lets unchanged code fail up to
#: (1 - confidence) / 2 = 5% of the time; this second test holds it near 0.5%. It is set above
#: 0.99 because the t statistic of small skewed samples has heavier tails than Student's t:
#: with 0.99 the A/A study still saw 1.2% in its heavy-tailed cells.
DEFAULT_NOISE_CONFIDENCE = 0.995

#: Requests expected beyond a quantile before its bootstrap error is trusted (min_requests).
#: Measured: p95 of 40 requests (2 beyond) false-failed 1.2-2.1% of A/A runs with heavy tails;
#: of 100 requests (5 beyond) at most 0.5%.
MIN_TAIL_REQUESTS = 5

#: values beyond this magnitude are not costs of an answer but mistakes; they are
#: INCOMPARABLE rather than fed to arithmetic that would overflow
MAX_MAGNITUDE = 1e15
#: a baseline closer to zero than this (but not zero) makes every relative change infinite
MIN_BASELINE = 1e-12

#: Relative slack for "exactly": a limit computed as 3259.2000000000003 must not fail 3259.2.
#: Far below one token or one count at any realistic size.
_FLOAT_SLACK = 1e-9
_LOG_CAP = 700.0  # exp(709) is the largest finite float

_RANK: Mapping[str, int] = {status: i for i, status in enumerate(STATUSES)}


@dataclass(frozen=True)
class Rule:
    """How one (scenario, metric key) is judged: the budget entry's tolerance, budget,
    severity and statistic, and the metric's class and direction.

    ``kind`` decides the comparison: ``exact`` and ``derived`` exactly, ``noisy`` and
    ``unknown`` on evidence, ``quality`` on paired per-sample evidence without the noise
    test. ``higher_is_better`` makes a fall the regression and the budget a floor.
    """

    kind: MetricClass
    tolerance: Tolerance
    budget: float | None = None
    severity: Severity = "fail"
    stat: Stat = "mean"
    higher_is_better: bool = False
    confidence: float = DEFAULT_CONFIDENCE
    noise_confidence: float | None = DEFAULT_NOISE_CONFIDENCE

    def __post_init__(self) -> None:
        check_stat(self.stat)
        if self.severity not in ("fail", "warn"):
            msg = f"severity must be 'fail' or 'warn', got {self.severity!r}"
            raise ValueError(msg)
        if not 0.0 < self.confidence < 1.0:
            msg = f"confidence must be in (0, 1), e.g. 0.90; got {self.confidence!r}"
            raise ValueError(msg)
        if self.noise_confidence is not None and not 0.5 <= self.noise_confidence < 1.0:
            msg = (f"noise_confidence must be in [0.5, 1), e.g. 0.995, or None; "
                   f"got {self.noise_confidence!r}")
            raise ValueError(msg)
        if self.tolerance.value < 0 or not math.isfinite(self.tolerance.value):
            msg = f"tolerance must be a finite number >= 0, got {self.tolerance.value!r}"
            raise ValueError(msg)

    @property
    def noisy(self) -> bool:
        return self.kind in ("noisy", "unknown", "quality")

    def t(self, df: float) -> float:
        """The two-sided interval's multiplier at ``df`` degrees of freedom."""
        return t_quantile(0.5 + self.confidence / 2.0, max(df, 1.0))


# --------------------------------------------------------------------------- ordering


def rank(status: str) -> int:
    """Position of a status in :data:`~pytest_ragcost.run.STATUSES` (0 = FAIL, the worst)."""
    try:
        return _RANK[status]
    except KeyError:
        msg = f"unknown verdict status {status!r}; expected one of {', '.join(STATUSES)}"
        raise ValueError(msg) from None


def worst(verdicts: Iterable[Verdict]) -> list[Verdict]:
    """The verdicts sorted worst first (FAIL, WARN, INCONCLUSIVE, ..., PASS); stable otherwise."""
    return sorted(verdicts, key=lambda v: rank(v.status))


def worst_status(verdicts: Iterable[Verdict]) -> Status | None:
    """The worst status among ``verdicts``, ``None`` when there are none."""
    statuses: list[Status] = [v.status for v in verdicts]
    if not statuses:
        return None
    return min(statuses, key=rank)


# --------------------------------------------------------------------------- evidence needs


def min_requests(stat: Stat) -> int | None:
    """Fewest requests for which ``stat`` of a noisy metric can be gated on evidence.

    A quantile's bootstrap error is only trustworthy when a few requests lie beyond it:
    at least :data:`MIN_TAIL_REQUESTS` (5) expected on the far side, so p95 needs 100
    requests, p99 500, the median 10, the mean and total 2. ``max`` is a single request
    whatever n is, so it never has enough (``None``): gate a high quantile instead, or cap
    it with a budget.
    """
    check_stat(stat)
    if stat in ("mean", "total"):
        return 2
    q = QUANTILE_OF_STAT[stat]
    tail = min(q, 1.0 - q)
    if tail <= 0.0:
        return None
    # round() first: 1 - 0.95 is 0.050000000000000044 in floats, and ceil() must not see it
    return math.ceil(round(MIN_TAIL_REQUESTS / tail, 6))


def _too_few(stat: Stat, *counts: int | None) -> tuple[str, int] | None:
    """``("max_not_evidence", 0)`` or ``("too_few_requests", need)`` when this statistic
    cannot be gated on evidence at these request counts, else None."""
    need = min_requests(stat)
    if need is None:
        return "max_not_evidence", 0
    if any(n is not None and n < need for n in counts):
        return "too_few_requests", need
    return None


# --------------------------------------------------------------------------- the rule


def _over(value: float, limit: float) -> bool:
    return value > limit + _FLOAT_SLACK * abs(limit)


def _under(value: float, limit: float) -> bool:
    return value < limit - _FLOAT_SLACK * abs(limit)


def stale(scenario: str, key: str, rule: Rule, *, reason: str = "not_produced",
          baseline: float | None = None) -> Verdict:
    """STALE: an entry of ragcost.yaml that nothing produced (``reason`` says how)."""
    return Verdict(scenario, key, "STALE", reason, (Finding("STALE", reason),),
                   baseline=baseline, budget=rule.budget, tolerance=str(rule.tolerance),
                   stat=rule.stat, severity=rule.severity, basis="entry")


def judge(evidence: Evidence, rule: Rule) -> Verdict:
    """The gate's verdict on one (scenario, metric key); see the module docstring."""
    ev = evidence
    if rule.kind != "quality" and ev.stat != rule.stat:
        msg = (
            f"{ev.scenario} {ev.key}: the entry's stat is {rule.stat!r} but the evidence "
            f"is of {ev.stat!r}; summarise the run with the entry's stat"
        )
        raise ValueError(msg)
    base = Verdict(
        ev.scenario, ev.key, "PASS", "",
        baseline=ev.baseline, current=_finite_or_none(ev.current), budget=rule.budget,
        tolerance=str(rule.tolerance), stat=ev.stat, n=ev.n, baseline_n=ev.baseline_n,
        source=ev.source, baseline_source=ev.baseline_source, severity=rule.severity,
        basis=ev.basis, items=ev.items, rounds=ev.rounds, figures=dict(ev.figures),
        note=ev.note,
        noise=ev.change.noise if ev.change is not None and ev.change.noise else ev.noise,
    )
    if ev.change is not None and ev.change.noise_dominates:
        base = _with(base, figures={**base.figures, "noise_dominates": 1.0})
    if ev.items is not None and ev.items.shared == 0:
        return _fold(base, [Finding("INCOMPARABLE", "no_overlap")], rule)
    if ev.baseline is None and rule.budget is None:
        return _fold(base, [Finding("NEW", "no_baseline")], rule)
    odd = _out_of_range(ev, rule)
    if odd is not None:
        return _fold(
            _with(base, note=odd[1]), [Finding("INCOMPARABLE", odd[0])], rule
        )
    try:
        findings = _findings(ev, rule)
    except (OverflowError, ValueError, ZeroDivisionError) as exc:
        # a value the range check let through can still overflow in the arithmetic: the
        # verdict says so instead of ending the run
        return _fold(_with(base, note=str(exc)), [Finding("INCOMPARABLE", "arithmetic")], rule)
    return _with_power(_fold(base, findings, rule), ev, rule)


#: the verdicts that may have missed a rise the tolerance does not allow
_MAY_MISS = frozenset({"within_tolerance", "fell", "within_noise", "below_noise_floor"})


def _with_power(v: Verdict, ev: Evidence, rule: Rule) -> Verdict:
    """A cost verdict that did not fail, with what its ``n`` can see when that is less
    than the tolerance allows (:func:`~pytest_ragcost.compare.power.power_figures`, the
    quality gate's formula): ``detectable`` in the metric's unit, ``needed_n``.

    The between-run noise inside the interval is error more requests do not shrink: it
    enters as a floor, and where it alone hides the allowed change there is no
    ``needed_n``."""
    change = ev.change
    if (rule.kind not in ("noisy", "unknown") or v.reason not in _MAY_MISS
            or change is None or ev.baseline is None
            or ev.baseline <= 0 or ev.basis not in ("run", "items", "load")):
        return v
    from .power import power_figures

    baseline = ev.baseline
    up, down = _limits(change, baseline, rule.tolerance.absolute(baseline))
    allowed = -down if rule.higher_is_better else up
    if not math.isfinite(allowed):
        return v
    floor_se = 0.0
    if change.noise is not None:
        # both runs' run effects, on the change's scale (as compare.evidence adds them)
        per_run = change.noise.sd if change.scale == "log" else change.noise.sd * baseline
        floor_se = math.sqrt(2.0) * per_run
    figures = power_figures(change.se, ev.n, allowed, 0.5 + rule.confidence / 2.0,
                            floor_se=floor_se)
    if not figures:
        return v
    mde = figures["detectable"]
    if change.scale == "log":
        # the change on the log scale, back in the unit, in the direction that is worse
        mde = baseline * (-math.expm1(-mde) if rule.higher_is_better else math.expm1(
            min(mde, _LOG_CAP)))
    return _with(v, figures={**v.figures, **figures, "detectable": mde})


def _with(v: Verdict, **changes: object) -> Verdict:
    from dataclasses import replace

    return replace(v, **changes)  # type: ignore[arg-type]


def _finite_or_none(x: float) -> float | None:
    return x if math.isfinite(x) else None


def _fold(base: Verdict, findings: list[Finding], rule: Rule) -> Verdict:
    """One verdict from its findings: the worst status (FAIL as WARN under ``severity:
    warn``), the worst finding's reason, the first interval, ``improved`` from any."""
    worst_f = min(findings, key=lambda f: rank(f.status))
    status: Status = worst_f.status
    if status == "FAIL" and rule.severity == "warn":
        status = "WARN"
    interval = next((f.interval for f in findings if f.interval is not None), None)
    return _with(
        base,
        status=status,
        reason=worst_f.reason,
        findings=tuple(findings),
        interval=interval,
        confidence=rule.confidence if interval is not None else None,
        improved=any(f.improved for f in findings),
    )


def _out_of_range(ev: Evidence, rule: Rule) -> tuple[str, str] | None:
    """(reason, which figure) when these numbers cannot be compared, or None."""
    named = [("current", ev.current), ("current", ev.run_value), ("current_se", ev.current_se),
             ("baseline", ev.baseline), ("baseline_se", ev.baseline_se),
             ("budget", rule.budget)]
    for name, value in named:
        if value is None:
            continue
        if not math.isfinite(value):
            return "not_finite", name
        if abs(value) > MAX_MAGNITUDE:
            return "too_large", name
    if rule.kind != "quality" and ev.baseline is not None and 0 < abs(ev.baseline) < MIN_BASELINE:
        # a relative change of a cost against next to nothing is infinite (scores are
        # compared on the difference scale, where a tiny mean is fine)
        return "baseline_near_zero", "baseline"
    return None


def _findings(ev: Evidence, rule: Rule) -> list[Finding]:
    findings: list[Finding] = []
    if ev.baseline is not None:
        incomparable = _incomparable(ev, rule)
        if incomparable is not None:
            findings.append(Finding("INCOMPARABLE", incomparable))
        elif ev.change is not None and rule.noisy:
            findings.append(_on_evidence(ev, ev.change, ev.baseline, rule))
        else:
            findings.append(_exactly(ev.current, ev.baseline, rule))
    if rule.budget is not None:
        findings.append(_budget(ev, rule.budget, rule))
    return findings


def _incomparable(ev: Evidence, rule: Rule) -> str | None:
    if "unavailable" in (ev.source, ev.baseline_source):
        return "source_unavailable"
    if ev.source is not None and ev.baseline_source is not None and (
        ev.source != ev.baseline_source
    ):
        return "source_changed"
    if rule.kind in ("noisy", "unknown") and not ev.environment_matches:
        return "other_environment"
    return None


def _exactly(current: float, baseline: float, rule: Rule) -> Finding:
    allowed = rule.tolerance.absolute(baseline)
    worse, better = (_under, _over) if rule.higher_is_better else (_over, _under)
    bad_limit = baseline - allowed if rule.higher_is_better else baseline + allowed
    good_limit = baseline + allowed if rule.higher_is_better else baseline - allowed
    if worse(current, bad_limit):
        return Finding("FAIL", "over_tolerance")
    if better(current, good_limit):
        return Finding("PASS", "fell", improved=True)
    return Finding("PASS", "within_tolerance")


def _limits(change: Change, baseline: float, allowed: float) -> tuple[float, float]:
    """(up, down): the change that is exactly +tolerance and exactly -tolerance on the
    change's scale."""
    if change.scale == "log":
        down = math.log1p(-allowed / baseline) if allowed < baseline else -math.inf
        return math.log1p(allowed / baseline), down
    return allowed, -allowed


def _on_evidence(ev: Evidence, change: Change, baseline: float, rule: Rule) -> Finding:
    """The interval of the change against the tolerance (see the module docstring).

    Worked in "badness" units: ``s * change`` is positive when the metric got worse
    (``s`` is -1 where higher is better)."""
    s = -1.0 if rule.higher_is_better else 1.0
    allowed = rule.tolerance.absolute(baseline)
    up, down = _limits(change, baseline, allowed)
    bad_limit, good_limit = (-down, -up) if rule.higher_is_better else (up, down)
    bad = s * change.estimate
    rise = s * (ev.current - baseline)  # in the unit, positive when worse
    # past the tolerance on the change's scale and, to float slack, in the unit
    est_over = bad > bad_limit and _over(rise, allowed)
    if change.se is None:
        if est_over:
            return Finding("INCONCLUSIVE", "one_request_over")
        if bad < good_limit:
            return Finding("PASS", "one_request_fell")
        return Finding("PASS", "one_request_within")
    t = rule.t(change.df)
    lo, hi = change.estimate - t * change.se, change.estimate + t * change.se
    interval = _in_unit(change, baseline, lo, hi)
    bad_lo, bad_hi = (-hi, -lo) if rule.higher_is_better else (lo, hi)
    if est_over:
        if ev.basis in ("run", "load"):
            # a quantile's bootstrap error needs requests beyond it; paired log ratios
            # (per item, per round) and paired scores need no such tail
            few = _too_few(ev.stat, ev.n, ev.baseline_n)
            if few is not None:
                return Finding("INCONCLUSIVE", few[0], interval)
        if bad_lo <= bad_limit + _FLOAT_SLACK * abs(bad_limit):
            return Finding("INCONCLUSIVE", "within_noise", interval)
        if rule.noise_confidence is not None and rule.kind != "quality":
            floor = bad - t_quantile(rule.noise_confidence, max(change.df, 1.0)) * change.se
            if floor <= 0.0:
                return Finding("INCONCLUSIVE", "below_noise_floor", interval)
        return Finding("FAIL", "over_tolerance", interval)
    if bad_hi < good_limit - _FLOAT_SLACK * abs(good_limit):
        return Finding("PASS", "fell", interval, improved=True)
    return Finding("PASS", "within_tolerance", interval)


def _in_unit(change: Change, baseline: float, lo: float, hi: float) -> tuple[float, float]:
    """The interval of the change in the metric's unit."""
    if change.scale == "log":
        # a near-zero baseline with a wide spread (a wait that is usually 0 ms) puts the log
        # interval far out; exp() of it is only shown, so it is capped rather than overflow
        return (baseline * math.expm1(min(lo, _LOG_CAP)), baseline * math.expm1(min(hi, _LOG_CAP)))
    return lo, hi


def _budget(ev: Evidence, budget: float, rule: Rule) -> Finding:
    """The cap (a floor where higher is better): exact metrics, quality means and ``max``
    fail on any excess; other noisy statistics need the interval of the statistic past it."""
    c = ev.run_value if ev.run_value is not None else ev.current
    beyond = _under(c, budget) if rule.higher_is_better else _over(c, budget)
    if not beyond:
        return Finding("PASS", "within_budget")
    # A maximum over the cap is a fact about this run (a request went over), not an estimate.
    if rule.kind not in ("noisy", "unknown") or ev.current_se == 0.0 or ev.stat == "max":
        return Finding("FAIL", "over_budget")
    if ev.current_se is None:
        return Finding("INCONCLUSIVE", "over_budget_one_request")
    few = _too_few(ev.stat, ev.n)
    if few is not None:
        return Finding("INCONCLUSIVE", "over_budget_too_few")
    df = float(max(ev.n - 1, 1))
    rel_se = ev.current_se / c if c > 0 else 0.0
    noise = ev.noise
    if noise is not None:
        # one run effect: this run's level against the environment's
        df = satterthwaite([(rel_se**2, df), (noise.sd**2, noise.df)])
        rel_se = math.hypot(rel_se, noise.sd)
    t = rule.t(df)
    if rule.higher_is_better:
        high = c * math.exp(t * rel_se) if c > 0 else c + t * ev.current_se
        if _under(high, budget):
            return Finding("FAIL", "over_budget", bound=high)
        return Finding("INCONCLUSIVE", "over_budget_within_noise", bound=high)
    if c > 0 and budget > 0:
        low = c * math.exp(-t * rel_se)
    else:
        low = c - t * (rel_se * c if noise is not None else ev.current_se)
    if _over(low, budget):
        return Finding("FAIL", "over_budget", bound=low)
    return Finding("INCONCLUSIVE", "over_budget_within_noise", bound=low)
