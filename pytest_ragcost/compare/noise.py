"""Between-run noise: how much a whole run's level moves from one run to the next on one
environment, estimated from the history's earlier runs of the same commit, else a prior.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from ..run.model import BetweenRun
from .describe import mean

__all__ = [
    "MIN_HISTORY_DF",
    "PRIOR_BETWEEN_CV",
    "PRIOR_WEIGHT_RUNS",
    "BetweenRun",
    "NoiseBook",
    "RunSummary",
    "between_run_noise",
]


#: The between-run coefficient of variation assumed when the history is too short to
#: estimate it: the noise of a whole run's mean shifting from one process to the next
#: (load, CPU frequency, caches). Measured on this project's kind of machine (2 shared
#: cores, a bursty background process competing): see benchmarks/study_noise.py.
PRIOR_BETWEEN_CV = 0.25
#: Degrees of freedom (repeated runs of one commit beyond the first) the history needs
#: before its own estimate is used; with fewer, the prior alone is used.
MIN_HISTORY_DF = 4
#: The prior keeps this many runs' weight once the history is used, so a few quiet runs
#: cannot talk the noise down to nothing before a burst arrives.
PRIOR_WEIGHT_RUNS = 4.0


@dataclass(frozen=True)
class RunSummary:
    """One earlier run's summary of one metric, as the history keeps it.

    ``value`` is the statistic, ``se`` its within-run standard error (``None`` for one
    request), ``n`` the requests, ``commit`` the code it measured (runs of one commit are
    replicates; runs of different commits may differ for a reason).
    """

    value: float
    se: float | None
    n: int
    commit: str | None = None


def between_run_noise(
    history: Sequence[RunSummary],
    *,
    prior_cv: float = PRIOR_BETWEEN_CV,
    min_df: int = MIN_HISTORY_DF,
    prior_weight: float = PRIOR_WEIGHT_RUNS,
) -> BetweenRun:
    """The between-run noise of a metric from earlier runs of it on one environment.

    A random-effects model (Kalibera & Jones, "Rigorous benchmarking in reasonable time",
    2013): a run's log value is its environment's level plus a run effect of variance
    ``sd**2`` plus its within-run error ``(se / value)**2``. Runs are grouped by commit, so a
    change of code is not taken for noise; the spread of runs within their commit's mean,
    minus the average within-run variance, estimates ``sd**2`` (method of moments, never
    below zero) with ``sum(runs per commit - 1)`` degrees of freedom.

    With fewer than ``min_df`` degrees of freedom the prior ``prior_cv`` is used alone
    (``source="prior"``). Otherwise the estimate is pooled with the prior weighted as
    ``prior_weight`` runs (a scaled inverse chi-squared update), so a short run of quiet
    history does not talk the noise down to zero.
    """
    if not math.isfinite(prior_cv) or prior_cv < 0:
        msg = f"between_run_noise: prior_cv must be a finite number >= 0, got {prior_cv!r}"
        raise ValueError(msg)
    groups: dict[str | None, list[float]] = {}
    within: list[float] = []
    for run in history:
        if not (run.value > 0 and math.isfinite(run.value)):
            continue  # a zero or negative figure has no log; it tells nothing of scale
        groups.setdefault(run.commit, []).append(math.log(run.value))
        if run.se is not None and math.isfinite(run.se):
            within.append((run.se / run.value) ** 2)
    runs = sum(len(g) for g in groups.values())
    df = sum(len(g) - 1 for g in groups.values())
    if df < min_df:
        return BetweenRun(prior_cv, math.inf, runs, "prior", prior_cv)
    ss = math.fsum(
        (y - mean(ys)) ** 2 for ys in groups.values() for y in ys
    )
    within_var = mean(within) if within else 0.0
    estimate = max(0.0, ss / df - within_var)
    pooled = (prior_weight * prior_cv**2 + df * estimate) / (prior_weight + df)
    return BetweenRun(math.sqrt(pooled), prior_weight + df, runs, "history", prior_cv)


@dataclass(frozen=True)
class NoiseBook:
    """Where a scenario's noisy metrics take their between-run noise from.

    ``recorded`` is the noise a saved run's verdicts say they used (so comparing an
    uploaded run later reaches the plugin's verdicts without the store); ``history`` the
    earlier runs' summaries, metric key -> stat -> runs. Neither: the prior.
    """

    history: Mapping[str, Mapping[str, Sequence[RunSummary]]] = field(default_factory=dict)
    recorded: Mapping[str, BetweenRun] = field(default_factory=dict)

    def of(self, key: str, stat: str) -> BetweenRun:
        """The between-run noise of ``key``: what the run recorded, else from earlier runs
        of its statistic (else of its mean: a run effect shifts a run's whole distribution
        alike), else the prior."""
        if key in self.recorded:
            return self.recorded[key]
        by_stat = self.history.get(key, {})
        runs = by_stat.get(stat) or by_stat.get("mean") or ()
        return between_run_noise(runs)
