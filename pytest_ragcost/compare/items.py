"""Comparing two sets of requests item by item: the same questions on both sides.

Both the per-item baselines (a run against ``ragcost.items.json``) and the same-job A/B
(head against base) pair requests by their item id (:mod:`pytest_ragcost.record.item_id`), so a
run over any subset of the items is compared on exactly those items.

- Exact metrics (tokens, counts, errors, ``cost_usd``): the entry's statistic over the
  shared items on each side, compared exactly with the entry's tolerance. The message
  names the items that moved, largest rise first:
  ``question 'Which indexes does Milvus support?': tokens_context 261 → 524``.
- Noisy metrics (times, energy): paired. Each shared item gives the log ratio of its two
  values, so the difficulty of the questions cancels; the mean log ratio and its standard
  error become the interval of the change on the ratio scale. The shown current value is
  the baseline statistic times that ratio.

Pure code: the verdicts come from :func:`pytest_ragcost.compare.stats.judge`, so the rules (and
their levels) are the gate's own.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any, Literal

from ..models import ItemValues, MetricClass, RequestRecord, Stat, Tolerance, Verdict
from . import stats

#: how many moved items a message names
SHOWN_ITEMS = 3


def item_values(requests: Iterable[RequestRecord], key: str) -> ItemValues:
    """``key``'s value per item of these requests (requests without an item id are left out)."""
    values: dict[str, float] = {}
    labels: dict[str, str] = {}
    for req in requests:
        if req.item_id is None:
            continue
        flat = req.flat()
        if key in flat:
            values[req.item_id] = flat[key]
            labels[req.item_id] = req.item_label or req.item_id
    return ItemValues(values, labels)


def has_items(requests: Iterable[RequestRecord]) -> bool:
    return any(r.item_id is not None for r in requests)


def _num(x: float) -> str:
    return str(int(x)) if x == int(x) and abs(x) < 1e15 else f"{x:.4g}"


def moved_items(key: str, base: ItemValues, cur: ItemValues, *, limit: int = SHOWN_ITEMS) -> str:
    """``item 'label': key 261 → 524; ...`` for the shared items whose value changed,
    largest rise first (then largest fall), at most ``limit`` of them."""
    shared = [i for i in cur.values if i in base.values]
    moved = [i for i in shared if cur.values[i] != base.values[i]]
    moved.sort(key=lambda i: -(cur.values[i] - base.values[i]))
    parts = [
        f"item {cur.labels.get(i, i)!r}: {key} {_num(base.values[i])} → {_num(cur.values[i])}"
        for i in moved[:limit]
    ]
    if len(moved) > limit:
        parts.append(f"{len(moved) - limit} more item(s) moved")
    return "; ".join(parts)


def no_overlap(
    scenario: str,
    key: str,
    base: ItemValues,
    cur: ItemValues,
    *,
    stat: Stat = "mean",
    what: str = "baseline",
) -> Verdict:
    """INCOMPARABLE: none of this run's items is in the other side."""
    message = (
        f"{key}: none of this run's {len(cur)} items is among the {len(base)} items of the "
        f"{what}; run the items the {what} has, or re-bless with --ragcost-update"
    )
    return Verdict(
        scenario, key, "INCOMPARABLE", message, n=len(cur), stat=stat,
        baseline=stats.stat_value(base.values.values(), stat) if base.values else None,
        current=stats.stat_value(cur.values.values(), stat) if cur.values else None,
    )


def _shared(base: ItemValues, cur: ItemValues) -> list[str]:
    return [i for i in cur.values if i in base.values]


def exact_verdict(
    *,
    scenario: str,
    key: str,
    kind: MetricClass,
    base: ItemValues,
    cur: ItemValues,
    stat: Stat,
    tolerance: Tolerance,
    severity: Literal["fail", "warn"],
    current_source: str | None,
    baseline_source: str | None,
    what: str = "baseline",
) -> Verdict:
    """The entry's statistic over the shared items, compared exactly; moved items named."""
    shared = _shared(base, cur)
    if not shared:
        return no_overlap(scenario, key, base, cur, stat=stat, what=what)
    b = stats.stat_value([base.values[i] for i in shared], stat)
    c = stats.stat_value([cur.values[i] for i in shared], stat)
    verdict = stats.judge(
        scenario=scenario,
        key=key,
        metric_class=kind,
        current=stats.Summary(value=c, n=len(shared), se=None, stat=stat),
        baseline=b,
        baseline_n=len(shared),
        baseline_se=None,
        tolerance=tolerance,
        budget=None,
        severity=severity,
        current_source=current_source,
        baseline_source=baseline_source,
        environment_matches=True,
        stat=stat,
    )[0]
    note = f" [{len(shared)} of {len(base)} {what} items]"
    moved = moved_items(key, base, cur)
    if moved and verdict.status not in ("INCOMPARABLE",):
        note += f": {moved}"
    return replace(verdict, message=verdict.message + note)


@dataclass(frozen=True)
class PairedChange:
    """The mean log ratio of paired values and its standard error (``None`` for one pair)."""

    log_ratio: float
    se: float | None
    n: int


def paired_change(pairs: Iterable[tuple[float, float]]) -> PairedChange | None:
    """Mean of ``log(current / baseline)`` over pairs with both values positive."""
    logs = [math.log(c / b) for b, c in pairs if b > 0 and c > 0]
    if not logs:
        return None
    n = len(logs)
    mean = math.fsum(logs) / n
    if n < 2:
        return PairedChange(mean, None, n)
    var = math.fsum((x - mean) ** 2 for x in logs) / (n - 1)
    return PairedChange(mean, math.sqrt(var / n), n)


def change_verdict(
    *,
    scenario: str,
    key: str,
    change: PairedChange,
    baseline: float,
    tolerance: Tolerance,
    severity: Literal["fail", "warn"],
    current_source: str | None,
    baseline_source: str | None,
    counts: str,
    environment_matches: bool = True,
    **judge_args: Any,
) -> Verdict:
    """A noisy verdict from a paired log-ratio change: the gate's own rule, fed with the
    ratio's interval (current = baseline times ratio, its error on the log scale)."""
    current = baseline * math.exp(change.log_ratio)
    se = None if change.se is None else current * change.se
    verdict = stats.judge(
        scenario=scenario,
        key=key,
        metric_class="noisy",
        current=stats.Summary(value=current, n=change.n, se=se, stat="mean"),
        baseline=baseline,
        baseline_n=change.n,
        baseline_se=0.0,
        tolerance=tolerance,
        budget=None,
        severity=severity,
        current_source=current_source,
        baseline_source=baseline_source,
        environment_matches=environment_matches,
        **judge_args,
    )[0]
    message = verdict.message
    for old in (f"(n={change.n}, baseline n={change.n})", f"(n={change.n})"):
        if message.endswith(old) or f"{old}:" in message or f"{old} [" in message:
            message = message.replace(old, f"({counts})")
            break
    return replace(verdict, message=message)


def paired_verdict(
    *,
    scenario: str,
    key: str,
    base: ItemValues,
    cur: ItemValues,
    stat: Stat,
    tolerance: Tolerance,
    severity: Literal["fail", "warn"],
    current_source: str | None,
    baseline_source: str | None,
    what: str = "baseline",
    environment_matches: bool = True,
    **judge_args: Any,
) -> Verdict:
    """A noisy metric compared item by item (paired log ratios over the shared items)."""
    shared = _shared(base, cur)
    if not shared:
        return no_overlap(scenario, key, base, cur, stat=stat, what=what)
    change = paired_change((base.values[i], cur.values[i]) for i in shared)
    b = stats.stat_value([base.values[i] for i in shared], stat)
    if change is None or b <= 0:
        # zeros cannot be paired on the ratio scale: compare the statistics as given
        c = stats.stat_value([cur.values[i] for i in shared], stat)
        return stats.judge(
            scenario=scenario, key=key, metric_class="noisy",
            current=stats.Summary(value=c, n=len(shared), se=None, stat=stat),
            baseline=b, baseline_n=len(shared), baseline_se=None, tolerance=tolerance,
            budget=None, severity=severity, current_source=current_source,
            baseline_source=baseline_source, environment_matches=environment_matches, stat=stat,
        )[0]
    verdict = change_verdict(
        scenario=scenario,
        key=key,
        change=change,
        baseline=b,
        tolerance=tolerance,
        severity=severity,
        current_source=current_source,
        baseline_source=baseline_source,
        counts=f"paired over {change.n} of {len(base)} {what} items",
        environment_matches=environment_matches,
        **judge_args,
    )
    return replace(verdict, stat=stat)
