"""Bless decisions: which measured figures of a run become ragcost.yaml's new baselines.

:func:`bless` picks, for every scenario whose test passed, the figures to write (the
entries the file already has, or the default keys of a new scenario) with their
evidence, and hands them to :func:`pytest_ragcost.budget.update`, which writes them byte
for byte in place. Per-sample quality scores go to the score store beside the file, and
each item's value of every blessed cost key to ``ragcost.items.json`` beside it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .. import budget as budget_mod
from ..run import ItemValues, Outcome, ScenarioRun, Stat, metric_class, split_key
from ..run.model import LoadFigures
from . import describe as stats
from .evaluate import THROUGHPUT, default_keys

if TYPE_CHECKING:
    from ..quality.results import MetricScores
    from .gate import Gate

__all__ = ["BlessResult", "bless", "default_stat", "measured_of"]


@dataclass(frozen=True)
class BlessResult:
    """What a bless wrote: the budget file's changes and the quality metrics whose
    per-sample baselines were stored (``scenario.metric``), and the scenarios whose
    per-item baselines were stored (``"scenario (n items)"``)."""

    update: budget_mod.UpdateResult
    quality_written: tuple[str, ...] = ()
    items_written: tuple[str, ...] = ()


def default_stat(key: str) -> Stat:
    """The stat a new entry is gated on: the median for latencies (one scheduler hiccup
    must not move it), the mean for additive costs (tokens, CPU, energy, dollars)."""
    return "median" if split_key(key)[1] in ("wall_ms", "ttft_ms", "wait_ms") else "mean"


def _labelled(metric: str) -> bool:
    """Metrics whose baseline keeps its source: energy (meter kind) and cost (price table)."""
    return metric.startswith("energy") or metric == "cost_usd"


def measured_of(
    gate: Gate, run: ScenarioRun, quality_means: Mapping[str, float] | None = None
) -> dict[str, budget_mod.Measured]:
    """The figures of ``run`` a bless writes, keyed by metric key."""
    scenario = gate.budget.scenarios.get(run.scenario)
    keys: Iterable[tuple[str, Stat]]
    if scenario is None:
        keys = [(k, default_stat(k)) for k in default_keys(run)]
    else:
        keys = [
            (key, entry.stat)
            for key, entry in scenario.entries.items()
            if entry.baseline is not None
            and metric_class(split_key(key)[1]) in ("exact", "noisy", "derived")
        ]
    series = run.series()
    sources = run.sources()
    out: dict[str, budget_mod.Measured] = {}
    for key, stat in keys:
        if key == THROUGHPUT:
            if run.load is not None:
                out[key] = _throughput_measured(run.load)
            continue
        values = series.get(key)
        if not values:
            continue
        summary = stats.summarize(values, stat)
        metric = split_key(key)[1]
        out[key] = budget_mod.Measured(
            value=summary.value,
            n=summary.n,
            se=summary.se if metric_class(metric) == "noisy" else None,
            source=sources.get(key) if _labelled(metric) else None,
            stat=stat,
        )
    for metric, mean in (quality_means or {}).items():
        out[metric] = budget_mod.Measured(value=mean, n=None, se=None, source=None, stat="mean")
    return out


def _throughput_measured(load: LoadFigures) -> budget_mod.Measured:
    from .evaluate import throughput_se

    return budget_mod.Measured(
        value=load.throughput_rps,
        n=load.requests - load.errors,
        se=throughput_se(load),
        source=None,
        stat="mean",
    )


def bless(
    outcomes: Sequence[Outcome], gate: Gate, *, mode: budget_mod.UpdateMode
) -> BlessResult:
    """Write the measured baselines of ``outcomes`` into ragcost.yaml (and the per-sample
    quality scores beside it). A scenario whose test failed is never blessed.

    Raises :class:`~pytest_ragcost.budget.BudgetError` (the file is left as it was) or
    ``OSError``/``ValueError`` from the score store."""
    kept = [o for o in outcomes if o.test_passed and o.run.requests]
    scores: dict[str, Mapping[str, MetricScores]] = {}
    for o in kept:
        if o.quality:
            scores[o.run.scenario] = dict(o.quality)
    measured: dict[str, dict[str, budget_mod.Measured]] = {}
    for o in kept:
        means = {
            m: mean
            for m, s in scores.get(o.run.scenario, {}).items()
            if (mean := s.mean()) is not None and not s.unknown()
        }
        figures = measured_of(gate, o.run, means)
        if figures:
            measured[o.run.scenario] = figures
    environment = {"id": gate.environment.get("id"),
                   **dict(gate.environment.get("comparable", {}))}
    from ..budget.items import items_path
    from ..files import locked
    from ..quality.gate import scores_path

    # One locked read-merge-write for every file the bless writes: each is read again
    # under the lock (a bless beside this one may have written since this run started),
    # this run's entries are merged in and the file is replaced atomically. The lock is
    # per directory and re-entrant, so each file's own writer takes it again at no cost.
    with locked(gate.path), locked(items_path(gate.path)), locked(scores_path(gate.path)):
        result = budget_mod.update(gate.path, measured, mode=mode, environment=environment)
        items_written = _bless_items(gate, [o.run for o in kept], measured, result)
        written = _bless_quality(gate, scores, mode) if scores else ()
    return BlessResult(result, written, items_written)


def _bless_items(
    gate: Gate,
    runs: Sequence[ScenarioRun],
    measured: Mapping[str, Mapping[str, budget_mod.Measured]],
    result: budget_mod.UpdateResult,
) -> tuple[str, ...]:
    """Keep each item's value of every key whose baseline the bless wrote."""
    from ..budget.items import items_path, merge_items
    from . import itemvalues as ic

    skipped = {(s.scenario, s.key) for s in result.skipped}
    keyed: dict[str, list[tuple[str, ItemValues]]] = {}
    written: list[str] = []
    for run in runs:
        if run.scenario not in measured or not ic.has_items(run.requests):
            continue
        pairs = []
        for key in measured[run.scenario]:
            if (run.scenario, key) in skipped or metric_class(split_key(key)[1]) not in (
                "exact", "noisy", "derived"
            ):
                continue
            got = ic.item_values(run.requests, key)
            rounded = {i: float(f"{v:.6g}") for i, v in got.values.items()}
            pairs.append((key, ItemValues(rounded, got.labels)))
        if pairs:
            keyed[run.scenario] = pairs
            n = len({i for _, v in pairs for i in v.values})
            written.append(f"{run.scenario} ({n} items)")
    if keyed:
        gate.items = merge_items(items_path(gate.path), keyed)
    return tuple(written)


def _bless_quality(
    gate: Gate, results: Mapping[str, Mapping[str, MetricScores]], mode: budget_mod.UpdateMode
) -> tuple[str, ...]:
    """Store per-sample baselines of every scored metric; returns what was written."""
    from ..quality import stored_from
    from ..quality.gate import scores_path
    from ..quality.store import ScoreStore, merge_scores, with_metric

    path = scores_path(gate.path)
    written: list[str] = []

    def change(store: ScoreStore) -> ScoreStore:
        # decided against what is on disk now, under the lock (improvements included)
        written.clear()
        for scenario, metrics in results.items():
            for metric, scores in metrics.items():
                if scores.unknown() or scores.misses():
                    continue  # quality unknown is not a baseline
                old = store.get(scenario, metric)
                if mode == "improvements" and old is not None:
                    old_scores = list(old.scores().values())
                    old_mean = sum(old_scores) / len(old_scores) if old_scores else None
                    new_mean = scores.mean()
                    if new_mean is None or (old_mean is not None and new_mean <= old_mean):
                        continue
                store = with_metric(store, scenario, metric, stored_from(scores))
                written.append(f"{scenario}.{metric}")
        return store

    merge_scores(path, change)
    return tuple(written)
