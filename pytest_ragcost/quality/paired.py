"""The paired quality gate: compare each sample's score with its own baseline score.

Why paired
----------
Two means over the same questions differ mostly because the questions differ in
difficulty, not because the pipeline changed. Taking the difference *per sample*
removes that, so a real 1% drop is visible with far fewer samples. And a sample whose
pipeline output is unchanged keeps its baseline score exactly (no judge call, no judge
cost, no judge noise): only changed samples move.

Which sample pairs with which baseline is decided by :mod:`pytest_ragcost.quality.identity`.

The rule
--------
With ``d_i = current_i - baseline_i`` over the ``n`` paired samples, mean ``d`` and
standard deviation ``s``, the one-sided upper confidence bound on the mean change is
``U = d + t(confidence, n-1) * s / sqrt(n)`` (Student's t: honest for small n, and the
differences of bounded scores are close enough to normal for n >= 10 or so).
``allowed = quality_drop.absolute(baseline mean)``, so "1%" is 1% of the baseline mean.

* FAIL (WARN with ``severity="warn"``) when ``-U > allowed``: we are ``confidence``
  sure the drop is larger than allowed.
* INCONCLUSIVE when only the point estimate drops more than allowed (``-d > allowed``).
* PASS otherwise; ``improved`` is set when the lower bound rises by more than allowed.

With ``n == 1`` no bound exists: a drop past the tolerance is INCONCLUSIVE, never FAIL.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from pytest_ragcost.compare.stats import t_quantile
from pytest_ragcost.models import Tolerance, Verdict

#: Relative slack for float comparisons, so 0.1 + 0.2 style noise never flips a verdict.
_EPS = 1e-12


@dataclass(frozen=True)
class PairedStats:
    """The numbers behind a paired verdict, all in the metric's unit."""

    n: int
    baseline_mean: float
    current_mean: float
    mean_change: float
    sd_change: float
    lower: float | None
    upper: float | None
    only_current: int
    only_baseline: int


def _finite(scores: Mapping[str, float], which: str, metric: str) -> dict[str, float]:
    bad = [k for k, v in scores.items() if not math.isfinite(v)]
    if bad:
        msg = (
            f"{metric}: {which} scores must be finite numbers; found NaN/inf for "
            f"sample(s) {', '.join(sorted(bad)[:5])}. A failed judgement is 'quality "
            "unknown' and must be reported, not passed to the gate as a score."
        )
        raise ValueError(msg)
    return dict(scores)


def paired_stats(
    baseline_scores: Mapping[str, float],
    current_scores: Mapping[str, float],
    confidence: float = 0.95,
    *,
    metric: str = "score",
) -> PairedStats:
    """Pair scores by sample key and bound the mean change one-sidedly at ``confidence``.

    ``lower``/``upper`` are the one-sided bounds (``None`` when ``n < 2``).
    """
    if not 0.5 <= confidence < 1.0:
        msg = f"confidence must be in [0.5, 1) (got {confidence!r})"
        raise ValueError(msg)
    base = _finite(baseline_scores, "baseline", metric)
    cur = _finite(current_scores, "current", metric)
    keys = sorted(base.keys() & cur.keys())
    n = len(keys)
    only_c = len(cur.keys() - base.keys())
    only_b = len(base.keys() - cur.keys())
    if n == 0:
        return PairedStats(0, math.nan, math.nan, math.nan, math.nan, None, None, only_c, only_b)
    b_mean = math.fsum(base[k] for k in keys) / n
    c_mean = math.fsum(cur[k] for k in keys) / n
    diffs = [cur[k] - base[k] for k in keys]
    d_mean = math.fsum(diffs) / n
    if n < 2:
        return PairedStats(n, b_mean, c_mean, d_mean, math.nan, None, None, only_c, only_b)
    sd = math.sqrt(math.fsum((d - d_mean) ** 2 for d in diffs) / (n - 1))
    half = t_quantile(confidence, n - 1) * sd / math.sqrt(n)
    return PairedStats(n, b_mean, c_mean, d_mean, sd, d_mean - half, d_mean + half, only_c, only_b)


def _pct(x: float, of: float) -> str:
    return f"{x / abs(of) * 100:+.2f}%" if of else "n/a"


def paired_verdict(
    scenario: str,
    metric: str,
    baseline_scores: Mapping[str, float],
    current_scores: Mapping[str, float],
    quality_drop: Tolerance,
    severity: Literal["fail", "warn"] = "fail",
    confidence: float = 0.95,
) -> Verdict:
    """The gate's verdict for one quality metric from per-sample scores keyed by sample key.

    See the module docstring for the rule. The message names the metric, the baseline
    and current means over the paired samples, the bound on the change, the allowed
    drop and ``n``.
    """
    st = paired_stats(baseline_scores, current_scores, confidence, metric=metric)
    extra = ""
    if st.only_current:
        extra += f"; {st.only_current} sample(s) not in the baseline (not gated)"
    if st.only_baseline:
        extra += f"; {st.only_baseline} baseline sample(s) not produced this run"
    if st.n == 0:
        return Verdict(
            scenario=scenario,
            key=metric,
            status="NEW",
            message=f"{metric}: no sample pairs with a baseline score (n=0){extra}",
            tolerance=str(quality_drop),
            n=0,
            source="paired",
            severity=severity,
        )
    allowed = quality_drop.absolute(st.baseline_mean)
    slack = _EPS * max(1.0, abs(st.baseline_mean))
    point_drop = -st.mean_change
    conf_pct = f"{confidence * 100:g}%"
    head = (
        f"{metric}: baseline {st.baseline_mean:.4f}, current {st.current_mean:.4f} "
        f"(change {st.mean_change:+.4f}, {_pct(st.mean_change, st.baseline_mean)}), "
    )
    tail = f"allowed drop {quality_drop} = {allowed:.4f}, n={st.n}{extra}"
    if st.upper is None or st.lower is None:
        bound_txt = "no confidence bound with n=1; "
        confident_drop = False
        improved = False
    else:
        bound_txt = (
            f"{conf_pct} upper bound on change {st.upper:+.4f} "
            f"({_pct(st.upper, st.baseline_mean)}), "
        )
        confident_drop = -st.upper > allowed + slack
        improved = st.lower > allowed + slack
    if confident_drop:
        status: Literal["FAIL", "WARN", "INCONCLUSIVE", "PASS"] = (
            "WARN" if severity == "warn" else "FAIL"
        )
        why = f"dropped more than allowed at {conf_pct} confidence"
    elif point_drop > allowed + slack:
        status = "INCONCLUSIVE"
        why = "the mean dropped more than allowed but the evidence is too noisy to tell"
    else:
        status = "PASS"
        why = "within the allowed drop"
    interval = (st.lower, st.upper) if st.lower is not None and st.upper is not None else None
    return Verdict(
        scenario=scenario,
        key=metric,
        status=status,
        message=f"{head}{bound_txt}{tail}: {why}",
        baseline=st.baseline_mean,
        current=st.current_mean,
        tolerance=str(quality_drop),
        n=st.n,
        interval=interval,
        source="paired",
        severity=severity,
        improved=improved,
    )


def detectable_drop(
    sd_of_differences: float, n: int, confidence: float = 0.95, power: float = 0.8
) -> float:
    """The smallest true drop (metric units) this gate FAILs with probability ``power``.

    ``(t(confidence, n-1) + t(power, n-1)) * sd / sqrt(n)``: the usual one-sided power
    formula with Student's t in place of the normal, so it is honest for small ``n``.
    """
    if n < 2:
        return math.inf
    if sd_of_differences < 0 or not math.isfinite(sd_of_differences):
        msg = f"sd_of_differences must be a finite number >= 0 (got {sd_of_differences!r})"
        raise ValueError(msg)
    crit = t_quantile(confidence, n - 1) + t_quantile(power, n - 1)
    return crit * sd_of_differences / math.sqrt(n)


def power_warning(
    metric: str,
    sd_of_differences: float,
    n: int,
    baseline_mean: float,
    quality_drop: Tolerance,
    confidence: float = 0.95,
    power: float = 0.8,
) -> str | None:
    """A warning text when the gate cannot see a drop as small as ``quality_drop``.

    Returns ``None`` when the gate is powered well enough.
    """
    mde = detectable_drop(sd_of_differences, n, confidence, power)
    allowed = quality_drop.absolute(baseline_mean)
    if mde <= allowed:
        return None
    if quality_drop.relative and baseline_mean:
        size = f"{mde / abs(baseline_mean) * 100:.1f}%"
    else:
        size = f"{mde:.4f}"
    return (
        f"{metric}: gate under-powered: n={n} detects drops of {size} or more "
        f"(sd of per-sample changes {sd_of_differences:.4f}, allowed drop {quality_drop}); "
        "more samples tighten it"
    )
