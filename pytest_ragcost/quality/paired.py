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
The gate's own (:func:`pytest_ragcost.compare.rules.judge`) on the paired evidence
(:func:`pytest_ragcost.compare.evidence.paired` over ``d_i = current_i - baseline_i``):
with mean ``d``, standard error ``s / sqrt(n)`` and Student's t at ``n - 1`` degrees of
freedom, the one-sided 95% upper bound on the mean change is
``U = d + t(0.95, n-1) * s / sqrt(n)``, the high end of the two-sided 90% interval every
rule uses. ``allowed = quality_drop.absolute(baseline mean)``, so "1%" is 1% of the
baseline mean.

* FAIL (WARN with ``severity="warn"``) when ``-U > allowed``: we are 95% sure the drop
  is larger than allowed.
* INCONCLUSIVE when only the point estimate drops more than allowed (``-d > allowed``).
* PASS otherwise; ``improved`` is set when the lower bound rises by more than allowed.

With ``n == 1`` no bound exists: a drop past the tolerance is INCONCLUSIVE, never FAIL.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from ..compare.evidence import Evidence, paired
from ..compare.rules import QUALITY_CONFIDENCE, Rule, judge
from ..run import Tolerance, Verdict
from ..run.model import Severity


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


def quality_rule(
    quality_drop: Tolerance, severity: Severity = "fail", floor: float | None = None
) -> Rule:
    """The rule of a quality metric: higher is better, paired on the difference scale,
    judged on the interval alone (no noise test); ``floor`` is its budget."""
    return Rule(
        kind="quality", tolerance=quality_drop, budget=floor, severity=severity,
        higher_is_better=True, confidence=QUALITY_CONFIDENCE, noise_confidence=None,
    )


def paired_evidence(
    scenario: str,
    metric: str,
    baseline_scores: Mapping[str, float],
    current_scores: Mapping[str, float],
    quality_drop: Tolerance,
) -> Evidence:
    """The evidence of one quality metric: the paired differences over the samples both
    sides scored (``n`` 0 when none pairs), and how many are on one side only."""
    base = _finite(baseline_scores, "baseline", metric)
    cur = _finite(current_scores, "current", metric)
    keys = sorted(base.keys() & cur.keys())
    figures = {
        "only_current": float(len(cur.keys() - base.keys())),
        "only_baseline": float(len(base.keys() - cur.keys())),
    }
    if not keys:
        return Evidence(scenario, metric, current=math.nan, n=0, basis="samples",
                        figures=figures)
    b_mean = math.fsum(base[k] for k in keys) / len(keys)
    c_mean = math.fsum(cur[k] for k in keys) / len(keys)
    change = paired([cur[k] - base[k] for k in keys], "difference")
    figures["allowed"] = quality_drop.absolute(b_mean)
    return Evidence(
        scenario, metric, current=c_mean, n=len(keys), baseline=b_mean,
        baseline_n=len(keys), change=change, basis="samples", figures=figures,
    )


def paired_verdict(
    scenario: str,
    metric: str,
    baseline_scores: Mapping[str, float],
    current_scores: Mapping[str, float],
    quality_drop: Tolerance,
    severity: Severity = "fail",
) -> Verdict:
    """The gate's verdict for one quality metric from per-sample scores keyed by sample
    key: ``judge(paired_evidence(...), quality_rule(...))``, NEW when no sample pairs."""
    ev = paired_evidence(scenario, metric, baseline_scores, current_scores, quality_drop)
    rule = quality_rule(quality_drop, severity)
    if ev.n == 0:
        return Verdict(scenario, metric, "NEW", "no_paired_samples", n=0, source="paired",
                       tolerance=str(quality_drop), severity=severity, basis="samples",
                       figures=dict(ev.figures))
    verdict = judge(ev, rule)
    from dataclasses import replace

    return replace(verdict, source="paired")
