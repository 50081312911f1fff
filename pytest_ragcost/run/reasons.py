"""The reason codes a verdict carries (``Verdict.reason`` and each ``Finding.reason``).

A code names why a status was reached; the verdict's figures say how much. Sentences
are written from both in :mod:`pytest_ragcost.report.verdicts`. The codes are part of
the JSON contract (docs/verdicts.md lists them); add, never rename.
"""

from __future__ import annotations

from collections.abc import Mapping

#: code -> what it means, in a few words (docs/verdicts.md has the whole table)
REASONS: Mapping[str, str] = {
    # NEW
    "no_baseline": "no baseline and no budget yet",
    "no_sample_baseline": "no per-sample baseline scores yet",
    "no_paired_samples": "no sample pairs with a baseline score",
    # STALE
    "not_produced": "an entry of ragcost.yaml that no test produced",
    "vanished": "the scenario ran but did not produce this figure",
    "scenario_not_run": "a scenario of ragcost.yaml that no test produced",
    "no_load_level": "a throughput entry for a scenario that ran no load level",
    # INCOMPARABLE
    "no_overlap": "none of this run's items is among the baseline's",
    "request_count": "an exact baseline of another request count, without per-item baselines",
    "source_unavailable": "no measurement on one side",
    "source_changed": "measured by another kind of source than the baseline",
    "other_environment": "measured on another machine or meter than the baseline",
    "not_finite": "a figure is not a finite number",
    "too_large": "a figure is beyond any sensible size",
    "baseline_near_zero": "the baseline is too close to zero for a relative change",
    "arithmetic": "the numbers are too far apart to compute an interval",
    "judge_changed": "the baseline was judged by another judge model",
    "no_item_ids": "requests carry no item ids on one side",
    "nothing_to_pair": "no item has a positive value on both sides",
    # the comparison with the baseline
    "over_tolerance": "changed past the tolerance (for noisy metrics: on the evidence)",
    "within_tolerance": "within the tolerance",
    "fell": "improved past the tolerance (re-bless to lock it in)",
    "one_request_over": "past the tolerance, but one request gives no estimate of the noise",
    "one_request_fell": "improved past the tolerance, one request",
    "one_request_within": "within the tolerance, one request",
    "too_few_requests": "past the tolerance, but too few requests for this statistic",
    "max_not_evidence": "past the tolerance, but a maximum is one request, not evidence",
    "within_noise": "past the tolerance, but the interval reaches back within it",
    "below_noise_floor": "past the tolerance, but a change this size is within the noise",
    # the budget
    "within_budget": "within the budget (at or above a floor)",
    "over_budget": "past the budget (below a floor)",
    "over_budget_one_request": "past the budget, but one request gives no estimate of the noise",
    "over_budget_too_few": "past the budget, but too few requests for this statistic",
    "over_budget_within_noise": "past the budget, but within the noise",
    # failures that are not comparisons
    "unpriced": "a cost entry whose model has no price",
    "unscored": "a quality metric that could not be scored",
    "judge_misses": "samples changed since the judge record and have no judgement",
    "quality_unknown": "samples whose quality is unknown",
    # a verdict read back from a run file of an older pytest-ragcost: its text only
    "recorded": "a verdict as an older run file recorded it",
}
