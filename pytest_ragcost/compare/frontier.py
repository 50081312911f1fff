"""The efficiency frontier of a sweep, and the cheapest configuration that keeps quality.

A sweep is one parametrized scenario run at several configurations (``top_k`` 4, 8,
16, 32 ...) over the same questions. Each configuration has a cost per answer and a
quality score per question.

The frontier
------------
Configuration ``a`` *dominates* ``b`` when it costs no more and scores no lower, and is
strictly better on one of the two (point estimates: mean cost per answer, mean quality).
The frontier is the configurations nobody dominates; each dominated one names the
cheapest frontier configuration that dominates it.

The recommendation
------------------
Against a reference configuration ``r`` (the best by mean quality unless the caller
names the current one), configuration ``c`` is *acceptable* when its quality drop stays
within ``quality_drop``, shown by a paired one-sided test over the questions both
answered: with ``d_i = q_c,i - q_r,i`` and ``allowed = quality_drop.absolute(mean q_r)``,
H0 is ``mean(d) <= -allowed`` (a drop past the allowance) and the paired Student's t
test rejects it at ``alpha = 1 - confidence``. The ``m`` comparisons share one error
budget through Holm's step-down correction, so testing more configurations does not
make a lucky one look acceptable. ``lower`` is each change's one-sided lower bound at
the Bonferroni level ``alpha / m`` (what the tables show). Fewer than two paired
questions give no bound: not acceptable.

The recommendation is the cheapest acceptable configuration (the reference itself is
always acceptable), with the cost it saves against the reference.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..report.fmt import frontier_lower
from ..run import Outcome, Tolerance
from ..run.model import MetricScores
from .describe import mean as fmean
from .describe import sample_sd
from .evidence import Change, paired
from .tdist import t_cdf, t_quantile

#: Quality metrics a sweep is judged on when the caller names none, most telling first:
#: the answer's own correctness, then whether retrieval found the evidence.
QUALITY_PREFERENCE = (
    "ragas_answer_correctness",
    "ragas_factual_correctness",
    "ragas_string_presence",
    "ragas_exact_match",
    "ragas_rouge_score",
    "ragas_faithfulness",
    "context_recall",
    "hit_at_k",
    "mrr",
    "context_precision",
)

#: The units of the cost axes :func:`sweeps` can choose.
COST_UNITS = {"cost_usd": "USD", "cpu_gpu_s": "CPU+GPU s", "wall_s": "s", "energy_j": "J",
              "tokens_total": "tokens"}


@dataclass(frozen=True)
class Config:
    """One configuration of a sweep: its cost per answer and its per-question quality."""

    name: str
    knobs: Mapping[str, Any]
    cost: float
    quality: Mapping[str, float]
    #: other per-answer figures, for tables and the CSV (``tokens_total``, ``energy_j`` ...)
    figures: Mapping[str, float] = field(default_factory=dict)

    @property
    def quality_mean(self) -> float:
        vals = list(self.quality.values())
        return math.fsum(vals) / len(vals) if vals else math.nan


@dataclass(frozen=True)
class Point:
    """Where one configuration lands, and what the test said about it."""

    name: str
    knobs: Mapping[str, Any]
    n: int
    cost: float
    quality: float
    #: the interval of the mean quality (two-sided, at the sweep's confidence)
    quality_low: float | None
    quality_high: float | None
    on_frontier: bool
    dominated_by: str | None
    #: paired comparison with the reference: mean change, its one-sided lower bound
    #: (Bonferroni level), the Holm-adjusted p-value of "dropped past the allowance"
    change: float | None
    lower: float | None
    p_value: float | None
    paired_n: int
    acceptable: bool
    delta_cost: float
    figures: Mapping[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name, "knobs": dict(self.knobs), "n": self.n, "cost": self.cost,
            "quality": self.quality, "quality_low": self.quality_low,
            "quality_high": self.quality_high, "on_frontier": self.on_frontier,
            "dominated_by": self.dominated_by, "change": self.change, "lower": self.lower,
            "p_value": self.p_value, "paired_n": self.paired_n, "acceptable": self.acceptable,
            "delta_cost": self.delta_cost, "figures": dict(self.figures),
        }


@dataclass(frozen=True)
class Frontier:
    """A sweep's frontier and its recommendation."""

    sweep: str
    cost_metric: str
    quality_metric: str
    reference: str
    reference_rule: str  # "best" or "current"
    quality_drop: Tolerance
    allowed: float
    confidence: float
    points: tuple[Point, ...]
    recommended: str | None

    @property
    def cost_unit(self) -> str:
        return COST_UNITS.get(self.cost_metric, "")

    def point(self, name: str) -> Point:
        return next(p for p in self.points if p.name == name)

    def recommendation(self) -> str:
        """One sentence: what to run, what it saves, and the evidence."""
        ref = self.point(self.reference)
        if self.recommended is None:
            return f"no configuration could be compared with {self.reference}"
        rec = self.point(self.recommended)
        if rec.name == ref.name:
            cheaper = [p for p in self.points if p.cost < ref.cost]
            why = (
                "no cheaper configuration kept quality within "
                f"{self.quality_drop} ({len(cheaper)} tried)"
                if cheaper else "it is already the cheapest"
            )
            return f"keep {ref.name} ({_knobs(ref.knobs)}): {why}"
        pct = f" ({rec.delta_cost / ref.cost * 100:+.0f}%)" if ref.cost else ""
        bound = (
            f"{self.quality_metric} change {rec.change:+.3f}, "
            f"{self.confidence * 100:g}% lower bound "
            f"{frontier_lower(rec.lower, self.quality_metric, ref.quality)} "
            if rec.change is not None and rec.lower is not None else ""
        )
        return (
            f"use {rec.name} ({_knobs(rec.knobs)}): {self.cost_metric} per answer "
            f"{_num(rec.cost)} vs {_num(ref.cost)} ({_signed(rec.delta_cost)} {self.cost_unit}"
            f"{pct}) for {bound}(allowed drop {self.quality_drop} = {self.allowed:.3f}, "
            f"n={rec.paired_n}, Holm over {len(self.points) - 1})"
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "sweep": self.sweep, "cost_metric": self.cost_metric,
            "cost_unit": self.cost_unit, "quality_metric": self.quality_metric,
            "reference": self.reference, "reference_rule": self.reference_rule,
            "quality_drop": str(self.quality_drop), "allowed": self.allowed,
            "confidence": self.confidence, "recommended": self.recommended,
            "recommendation": self.recommendation(),
            "points": [p.to_dict() for p in self.points],
        }


def _num(x: float) -> str:
    if x == 0 or not math.isfinite(x):
        return f"{x:g}"
    return f"{x:.4g}" if abs(x) < 1000 else f"{x:,.0f}"


def _signed(x: float) -> str:
    return ("+" if x >= 0 else "-") + _num(abs(x))


def _knobs(knobs: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in knobs.items()) or "no knobs"


def dominates(a: Config, b: Config) -> bool:
    """``a`` costs no more, scores no lower, and is strictly better on one of the two."""
    qa, qb = a.quality_mean, b.quality_mean
    return a.cost <= b.cost and qa >= qb and (a.cost < b.cost or qa > qb)


def _mean_interval(values: Sequence[float], confidence: float) -> tuple[float, float] | None:
    n = len(values)
    if n < 2:
        return None
    mean = fmean(values)
    half = t_quantile(0.5 + confidence / 2, n - 1) * sample_sd(values) / math.sqrt(n)
    if min(values) >= 0.0 and max(values) <= 1.0:
        # a score in [0, 1] has its mean there too
        return max(0.0, mean - half), min(1.0, mean + half)
    return mean - half, mean + half


def _noninferiority(change: Change, allowed: float) -> float:
    """The one-sided p-value of H0 "mean change <= -allowed" for a paired change."""
    margin = change.estimate + allowed
    if not change.se:
        # every question moved by the same amount: the sign of the margin decides
        return 0.0 if margin > 1e-12 else 1.0
    return 1.0 - t_cdf(margin / change.se, change.df)


def holm(p_values: Mapping[str, float]) -> dict[str, float]:
    """Holm's step-down adjusted p-values (monotone, capped at 1)."""
    m = len(p_values)
    adjusted: dict[str, float] = {}
    running = 0.0
    for i, (name, p) in enumerate(sorted(p_values.items(), key=lambda kv: (kv[1], kv[0]))):
        running = max(running, min(1.0, (m - i) * p))
        adjusted[name] = running
    return adjusted


def frontier(
    configs: Sequence[Config],
    quality_drop: Tolerance,
    *,
    sweep: str = "",
    cost_metric: str = "cost",
    quality_metric: str = "quality",
    reference: str | None = None,
    confidence: float = 0.95,
) -> Frontier:
    """The frontier of ``configs`` and the cheapest one within ``quality_drop`` of the
    reference (``reference`` names the current configuration; default: the best)."""
    if not configs:
        msg = "frontier() needs at least one configuration"
        raise ValueError(msg)
    if not 0.5 <= confidence < 1.0:
        msg = f"confidence must be in [0.5, 1) (got {confidence!r})"
        raise ValueError(msg)
    by_name = {c.name: c for c in configs}
    if reference is not None and reference not in by_name:
        msg = (
            f"reference configuration {reference!r} is not in the sweep "
            f"(expected one of {', '.join(sorted(by_name))})"
        )
        raise ValueError(msg)
    rule = "current" if reference is not None else "best"
    if reference is None:
        scored = [c for c in configs if c.quality]
        pool = scored or list(configs)
        reference = max(pool, key=lambda c: (c.quality_mean, -c.cost, c.name)).name
    ref = by_name[reference]
    ref_mean = ref.quality_mean
    allowed = quality_drop.absolute(ref_mean if math.isfinite(ref_mean) else 0.0)

    frontier_names = [c.name for c in configs if not any(dominates(o, c) for o in configs)]
    alpha = 1.0 - confidence
    others = [c for c in configs if c.name != ref.name]
    m = max(1, len(others))
    raw_p: dict[str, float] = {}
    stats: dict[str, tuple[float, float, int]] = {}
    for c in others:
        keys = sorted(c.quality.keys() & ref.quality.keys())
        if len(keys) < 2:
            continue
        # the gate's one paired estimator, over the questions both configurations answered
        found = paired([c.quality[k] - ref.quality[k] for k in keys], "difference")
        assert found is not None
        assert found.se is not None
        bound = found.estimate - t_quantile(1.0 - alpha / m, found.df) * found.se
        raw_p[c.name] = _noninferiority(found, allowed)
        stats[c.name] = (found.estimate, bound, len(keys))
    adjusted = holm(raw_p)

    points = []
    for c in sorted(configs, key=lambda c: (c.cost, -c.quality_mean, c.name)):
        dominators = [by_name[f] for f in frontier_names if dominates(by_name[f], c)]
        dom = min(dominators, key=lambda d: (d.cost, -d.quality_mean, d.name)).name \
            if dominators else None
        interval = _mean_interval(list(c.quality.values()), confidence)
        if c.name == ref.name:
            change: float | None = 0.0
            lower: float | None = 0.0
            p_adj: float | None = None
            paired_n = len(c.quality)
            ok = True
        elif c.name in stats:
            change, lower, paired_n = stats[c.name]
            p_adj = adjusted[c.name]
            ok = p_adj <= alpha
        else:
            change, lower, p_adj, paired_n, ok = None, None, None, 0, False
        points.append(
            Point(
                name=c.name, knobs=dict(c.knobs), n=len(c.quality), cost=c.cost,
                quality=c.quality_mean,
                quality_low=interval[0] if interval else None,
                quality_high=interval[1] if interval else None,
                on_frontier=c.name in frontier_names, dominated_by=dom,
                change=change, lower=lower, p_value=p_adj, paired_n=paired_n,
                acceptable=ok, delta_cost=c.cost - ref.cost, figures=dict(c.figures),
            )
        )
    acceptable = [p for p in points if p.acceptable]
    recommended = min(acceptable, key=lambda p: (p.cost, -p.quality, p.name)).name \
        if acceptable else None
    return Frontier(
        sweep=sweep, cost_metric=cost_metric, quality_metric=quality_metric,
        reference=ref.name, reference_rule=rule, quality_drop=quality_drop, allowed=allowed,
        confidence=confidence, points=tuple(points), recommended=recommended,
    )


# -- from a run's outcomes ---------------------------------------------------------------


def per_answer(outcome: Outcome, metric: str) -> float | None:
    values = []
    for req in outcome.run.requests:
        flat = req.metrics
        if metric == "cpu_gpu_s":
            if "cpu_ms" not in flat and "gpu_ms" not in flat:
                return None
            values.append((flat.get("cpu_ms", 0.0) + flat.get("gpu_ms", 0.0)) / 1000.0)
        elif metric == "wall_s":
            if "wall_ms" not in flat:
                return None
            values.append(flat["wall_ms"] / 1000.0)
        else:
            if metric not in flat:
                return None
            values.append(flat[metric])
    return math.fsum(values) / len(values) if values else None


def choose_cost_metric(outcomes: Sequence[Outcome]) -> str:
    """Dollars when the sweep is priced (and not all zero), else CPU+GPU seconds per answer
    (the blueprint's cost proxy), else wall seconds."""
    usd = [per_answer(o, "cost_usd") for o in outcomes]
    if all(u is not None for u in usd) and any(u for u in usd):
        return "cost_usd"
    if all(per_answer(o, "cpu_gpu_s") is not None for o in outcomes):
        return "cpu_gpu_s"
    return "wall_s"


def choose_quality_metric(outcomes: Sequence[Outcome]) -> str | None:
    """The most telling quality metric every configuration was scored on."""
    common: set[str] | None = None
    for o in outcomes:
        names = {m for m, d in o.quality.items() if scores_of(d)}
        common = names if common is None else common & names
    if not common:
        return None
    for name in QUALITY_PREFERENCE:
        if name in common:
            return name
    return sorted(common)[0]


def scores_of(data: MetricScores) -> dict[str, float]:
    """``sample key -> score`` of the samples with a known score."""
    return data.scores()


FIGURES = ("tokens_total", "tokens_context", "energy_j", "cpu_gpu_s", "wall_s", "cost_usd")


def sweeps(
    outcomes: Sequence[Outcome],
    quality_drop: Tolerance,
    *,
    confidence: float = 0.95,
    quality_metric: str | None = None,
    cost_metric: str | None = None,
) -> list[Frontier]:
    """One frontier per sweep in a run: scenarios of one parametrized test (same
    ``run.sweep``) with at least two configurations that recorded requests and quality.

    Load levels (``ragcost.load()``) are not configurations: the number of users is the
    traffic, not a choice, so a load test's levels get the load table, never a frontier."""
    groups: dict[str, list[Outcome]] = {}
    for o in outcomes:
        if o.run.sweep and o.run.requests and o.test_passed and not o.run.load:
            groups.setdefault(o.run.sweep, []).append(o)
    out = []
    for sweep, members in sorted(groups.items()):
        if len(members) < 2:
            continue
        qm = quality_metric or choose_quality_metric(members)
        if qm is None or any(qm not in o.quality for o in members):
            continue
        cm = cost_metric or choose_cost_metric(members)
        configs = []
        for o in members:
            cost = per_answer(o, cm)
            if cost is None:
                break
            figures = {f: v for f in FIGURES if (v := per_answer(o, f)) is not None}
            configs.append(
                Config(o.run.scenario, dict(o.run.knobs), cost, scores_of(o.quality[qm]), figures)
            )
        else:
            out.append(
                frontier(configs, quality_drop, sweep=sweep, cost_metric=cm, quality_metric=qm,
                         confidence=confidence)
            )
    return out
