"""Metrics over past runs, and where their level changed.

The history store (or a list of saved runs) hands the report a list of run summaries,
oldest first; this module only needs their shape (:class:`RunSummary`) and finds the
change points of each series with :func:`pytest_ragcost.history.changepoints.change_points`
(the ``ruptures`` library; the ``history`` extra), each with the commit range it
happened in.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..history.changepoints import ChangePoint, ChangePointsUnavailableError, Point, change_points


@dataclass(frozen=True)
class RunSummary:
    """One past run: a label (date, commit or run id), its commit when known, and per
    scenario, metric key -> value."""

    label: str
    values: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    commit: str | None = None

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSummary:
        commit = data.get("commit")
        return cls(
            label=str(data["label"]),
            values={str(s): {str(k): float(v) for k, v in m.items()}
                    for s, m in data.get("values", {}).items()},
            commit=None if commit is None else str(commit),
        )


def series(history: Sequence[RunSummary], scenario: str, key: str) -> tuple[list[str], list[float]]:
    """The labels and values of one metric of one scenario, over the runs that have it."""
    labels, values = [], []
    for run in history:
        v = run.values.get(scenario, {}).get(key)
        if v is not None and math.isfinite(v):
            labels.append(run.label)
            values.append(v)
    return labels, values


def points(history: Sequence[RunSummary], scenario: str, key: str) -> list[Point]:
    """One metric of one scenario as a change-point series (value, commit, label)."""
    out = []
    for run in history:
        v = run.values.get(scenario, {}).get(key)
        if v is not None and math.isfinite(v):
            out.append(Point(v, run.commit, run.label))
    return out


@dataclass(frozen=True)
class Trend:
    """One metric of one scenario over runs, with its change points."""

    scenario: str
    key: str
    points: tuple[Point, ...]
    changes: tuple[ChangePoint, ...]


def trends(history: Sequence[RunSummary], *, min_runs: int = 3) -> tuple[list[Trend], str | None]:
    """Every (scenario, metric) with at least ``min_runs`` runs, changed ones first; and,
    when noisy series could not be searched for change points, why (else ``None``)."""
    out: list[Trend] = []
    problem: str | None = None
    scenarios = sorted({s for run in history for s in run.values})
    for scenario in scenarios:
        keys = sorted({k for run in history for k in run.values.get(scenario, {})})
        for key in keys:
            pts = points(history, scenario, key)
            if len(pts) < min_runs:
                continue
            try:
                found = change_points(pts)
            except ChangePointsUnavailableError as exc:
                problem, found = str(exc), []
            out.append(Trend(scenario, key, tuple(pts), tuple(found)))
    out.sort(key=lambda t: (0 if t.changes else 1, t.scenario, t.key))
    return out, problem


def change_line(trend: Trend, unit: str = "") -> list[str]:
    """One line per change point of ``trend``, for a listing: where, from what to what,
    and the commit range it happened in."""
    lines = []
    for cp in trend.changes:
        pct = "" if cp.change_pct is None else f" ({cp.change_pct:+.1f}%)"
        where = f" in {cp.commit_range}" if cp.commit_range else ""
        at = f" at run {cp.index + 1}" + (f" ({cp.label})" if cp.label else "")
        lines.append(f"{trend.scenario} {trend.key}: {cp.before:.6g} -> {cp.after:.6g}"
                     f"{' ' + unit if unit else ''}{pct}{at}{where}")
    return lines
