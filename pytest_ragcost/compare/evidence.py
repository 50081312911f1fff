"""Evidence for a verdict: this run's statistic, the baseline's, and the estimated change.

Every path to a verdict builds one :class:`Evidence` and hands it, with the budget entry's
:class:`~pytest_ragcost.compare.rules.Rule`, to :func:`~pytest_ragcost.compare.rules.judge`:

- a whole run against a stored baseline (:func:`whole_run`): the two statistics and their
  standard errors, Welch's degrees of freedom, plus the between-run noise;
- a run against per-item baselines (:func:`items_change`), and an A/B's rounds
  (:func:`paired`): the mean of paired log ratios, so the difficulty of the questions
  cancels; an A/B pairs by item within a round and by round across rounds;
- quality scores against their per-sample baselines (:func:`paired` on the differences);
- exact metrics carry no change at all: they are compared exactly.

There is one paired estimator (:func:`paired`: mean, standard error, n - 1 degrees of
freedom), one way the between-run noise enters an interval (:func:`with_noise`), and one
Student t (:mod:`.tdist`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from ..run import Stat
from ..run.model import Basis, BetweenRun, ItemsUsed, ItemValues, Moved
from .describe import Summary, mean, sample_sd, stat_value
from .tdist import satterthwaite, welch_df

Scale = Literal["log", "difference"]

#: how many moved items a verdict names
SHOWN_ITEMS = 3


@dataclass(frozen=True)
class Change:
    """The estimated change of a statistic on ``scale``: ``log(current / baseline)`` or
    ``current - baseline``, with its standard error (``None`` for a single observation,
    which gives no estimate of the noise) and degrees of freedom. ``noise`` is the
    between-run noise already inside ``se``; ``noise_dominates`` says it outweighs the
    run's own noise (then more runs, not more requests, narrow the interval)."""

    scale: Scale
    estimate: float
    se: float | None
    df: float
    noise: BetweenRun | None = None
    noise_dominates: bool = False


@dataclass(frozen=True)
class Evidence:
    """What the comparison of one (scenario, metric key) rests on.

    ``current`` is this run's statistic (for paired evidence: the baseline's statistic
    times the paired ratio), ``n`` its sample count; ``baseline``/``baseline_n`` the
    stored side; ``change`` the estimated change for noisy and quality metrics (``None``
    compares exactly).
    """

    scenario: str
    key: str
    current: float
    n: int
    stat: Stat = "mean"
    baseline: float | None = None
    baseline_n: int | None = None
    baseline_se: float | None = None
    change: Change | None = None
    #: the run's own statistic over all its requests and its standard error, which a
    #: budget caps whichever items ran (``None``: ``current`` is that statistic)
    run_value: float | None = None
    current_se: float | None = None
    #: the between-run noise of this metric on this environment (a budget check of a
    #: noisy statistic includes one run effect; a change includes two, inside ``change``)
    noise: BetweenRun | None = None
    source: str | None = None
    baseline_source: str | None = None
    environment_matches: bool = True
    basis: Basis = "run"
    items: ItemsUsed | None = None
    rounds: int | None = None
    figures: Mapping[str, float] = field(default_factory=dict)
    note: str | None = None


def with_noise(
    se: float, df: float, noise: BetweenRun | None, *, runs: int = 2
) -> tuple[float, float]:
    """``se`` and ``df`` widened by ``runs`` independent run effects of ``noise`` (two
    for a comparison of two runs, one for a single run's level); Satterthwaite's degrees
    of freedom. Returned unchanged without noise."""
    if noise is None:
        return se, df
    between_var = runs * noise.sd * noise.sd
    total = math.sqrt(se * se + between_var)
    return total, satterthwaite([(se * se, df), (between_var, noise.df)])


def whole_run(
    current: Summary,
    baseline: float,
    baseline_se: float | None,
    baseline_n: int | None,
    noise: BetweenRun | None = None,
    scale: Scale = "log",
) -> Change:
    """The change of a whole run's statistic against a stored baseline.

    On the log scale (the default, when both values are positive) the change is
    ``log(current / baseline)`` and each side's error is its relative error (delta
    method): costs are positive and right-skewed and regressions multiplicative. The
    baseline's run and this run each drew a run effect, so ``noise`` enters twice.
    """
    c = current.value
    use_log = scale == "log" and c > 0.0 and baseline > 0.0
    if current.se is None:
        estimate = math.log(c / baseline) if use_log else c - baseline
        return Change("log" if use_log else "difference", estimate, None, 0.0)
    se_b = baseline_se if baseline_se is not None else 0.0
    n_b = baseline_n if baseline_n is not None else current.n
    if use_log:
        se_c_used, se_b_used = current.se / c, se_b / baseline
        estimate = math.log(c / baseline)
    else:
        se_c_used, se_b_used = current.se, se_b
        estimate = c - baseline
    se = math.hypot(se_c_used, se_b_used)
    df = welch_df(se_c_used, current.n, se_b_used, n_b)
    if noise is None:
        return Change("log" if use_log else "difference", estimate, se, df)
    b_sd = noise.sd if use_log else noise.sd * abs(baseline)
    between_var = 2.0 * b_sd * b_sd
    parts = [(se_c_used**2, float(max(current.n - 1, 1))), (between_var, noise.df)]
    if se_b_used > 0.0 and n_b >= 2:
        parts.append((se_b_used**2, float(n_b - 1)))
    return Change(
        "log" if use_log else "difference",
        estimate,
        math.sqrt(se * se + between_var),
        satterthwaite(parts),
        noise,
        noise_dominates=between_var > se * se,
    )


def paired(
    values: Sequence[float], scale: Scale, noise: BetweenRun | None = None
) -> Change | None:
    """The one paired estimator: the mean of per-pair changes (log ratios or differences)
    with its standard error and ``n - 1`` degrees of freedom; ``None`` without pairs.
    ``noise`` (log scale only) adds both runs' run effects, as for a whole run."""
    n = len(values)
    if n == 0:
        return None
    centre = mean(values)
    if n < 2:
        return Change(scale, centre, None, 0.0)
    se = sample_sd(values) / math.sqrt(n)
    df = float(n - 1)
    if noise is None:
        return Change(scale, centre, se, df)
    widened, widened_df = with_noise(se, df, noise)
    return Change(scale, centre, widened, widened_df, noise,
                  noise_dominates=2.0 * noise.sd * noise.sd > se * se)


def log_ratios(pairs: Iterable[tuple[float, float]]) -> list[float]:
    """``log(current / baseline)`` of each (baseline, current) pair with both positive."""
    return [math.log(c / b) for b, c in pairs if b > 0 and c > 0]


# --------------------------------------------------------------------------- items


def shared_items(base: ItemValues, cur: ItemValues) -> list[str]:
    """The ids on both sides, in this run's order."""
    return [i for i in cur.values if i in base.values]


def items_used(
    base: ItemValues, cur: ItemValues, *, side: str = "baseline", moved: bool = True
) -> ItemsUsed:
    """Which items a per-item comparison shares, and (``moved``) which of them changed,
    largest rise first, then largest fall."""
    shared = shared_items(base, cur)
    changed = [i for i in shared if cur.values[i] != base.values[i]] if moved else []
    changed.sort(key=lambda i: -(cur.values[i] - base.values[i]))
    return ItemsUsed(
        shared=len(shared),
        of=len(base),
        side=side,
        moved=tuple(
            Moved(cur.labels.get(i, i), base.values[i], cur.values[i])
            for i in changed[:SHOWN_ITEMS]
        ),
        moved_count=len(changed),
    )


def items_exact(
    scenario: str,
    key: str,
    base: ItemValues,
    cur: ItemValues,
    stat: Stat,
    *,
    side: str = "baseline",
    source: str | None = None,
    baseline_source: str | None = None,
) -> Evidence:
    """An exact metric over the items both sides ran: the statistic of each side over
    exactly those items (``n`` 0 when none is shared: the rule says INCOMPARABLE)."""
    shared = shared_items(base, cur)
    used = items_used(base, cur, side=side)
    if not shared:
        return _no_overlap(scenario, key, base, cur, stat, used)
    return Evidence(
        scenario, key,
        current=stat_value([cur.values[i] for i in shared], stat),
        n=len(shared), stat=stat,
        baseline=stat_value([base.values[i] for i in shared], stat),
        baseline_n=len(shared),
        source=source, baseline_source=baseline_source,
        basis="items" if side == "baseline" else "rounds", items=used,
    )


def items_change(
    scenario: str,
    key: str,
    base: ItemValues,
    cur: ItemValues,
    stat: Stat,
    *,
    noise: BetweenRun | None = None,
    environment_matches: bool = True,
    source: str | None = None,
    baseline_source: str | None = None,
    current_se: float | None = None,
) -> Evidence:
    """A noisy metric over the items both sides ran, paired: the mean log ratio of each
    item's two values (item difficulty cancels; the run's own drift does not, so
    ``noise`` is included). Values that are not positive cannot be paired on the ratio
    scale; then the two statistics are compared as given, with no estimate of noise."""
    shared = shared_items(base, cur)
    used = items_used(base, cur, moved=False)
    if not shared:
        return _no_overlap(scenario, key, base, cur, stat, used)
    b = stat_value([base.values[i] for i in shared], stat)
    ratios = log_ratios((base.values[i], cur.values[i]) for i in shared)
    change = paired(ratios, "log", noise) if ratios and b > 0 else None
    if change is None:
        current = stat_value([cur.values[i] for i in shared], stat)
        n = len(shared)
        change = Change("difference", current - b, None, 0.0)
    else:
        current = b * math.exp(change.estimate)
        n = len(ratios)
    return Evidence(
        scenario, key, current=current, n=n, stat=stat, baseline=b, baseline_n=n,
        change=change, current_se=current_se, source=source,
        baseline_source=baseline_source, environment_matches=environment_matches,
        basis="items", items=used,
    )


def _no_overlap(
    scenario: str, key: str, base: ItemValues, cur: ItemValues, stat: Stat, used: ItemsUsed
) -> Evidence:
    return Evidence(
        scenario, key,
        current=stat_value(cur.values.values(), stat) if cur.values else math.nan,
        n=0, stat=stat,
        baseline=stat_value(base.values.values(), stat) if base.values else None,
        basis="items", items=used, figures={"current_items": float(len(cur))},
    )
