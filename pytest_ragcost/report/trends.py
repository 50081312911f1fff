"""Metrics over past runs, and where their level changed.

The history store hands the report a list of run summaries, oldest first; this module
only needs their shape (:class:`RunSummary`) and finds change points in each series.

Change points: binary segmentation on the mean. A split is kept when it lowers the sum
of squared deviations by more than a BIC-style penalty, ``2 * sigma^2 * log(n)``, with
``sigma`` estimated from successive differences (robust to the steps themselves: a
step moves one difference, not the median of them). Segments shorter than
``min_size`` runs are not formed, so one odd run is never a change.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class RunSummary:
    """One past run: a label (commit, date or run id) and per scenario, metric key -> value."""

    label: str
    values: Mapping[str, Mapping[str, float]] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSummary:
        return cls(
            label=str(data["label"]),
            values={str(s): {str(k): float(v) for k, v in m.items()}
                    for s, m in data.get("values", {}).items()},
        )


def _sse(xs: Sequence[float]) -> float:
    if not xs:
        return 0.0
    m = math.fsum(xs) / len(xs)
    return math.fsum((x - m) ** 2 for x in xs)


def _sigma(values: Sequence[float]) -> float:
    diffs = [abs(b - a) for a, b in itertools.pairwise(values)]
    if not diffs:
        return 0.0
    return statistics.median(diffs) / (0.6745 * math.sqrt(2))


def change_points(values: Sequence[float], min_size: int = 2) -> list[int]:
    """Indices where a new level starts (each ``i`` means ``values[i]`` opens a segment)."""
    n = len(values)
    if n < 2 * min_size:
        return []
    sigma = _sigma(values)
    scale = max(abs(v) for v in values) or 1.0
    # exact metrics repeat exactly: any real step is a change, float noise is not
    sigma = max(sigma, scale * 1e-9)
    penalty = 2.0 * sigma * sigma * math.log(n)
    found: list[int] = []

    def split(lo: int, hi: int) -> None:
        seg = values[lo:hi]
        if len(seg) < 2 * min_size:
            return
        whole = _sse(seg)
        best, best_gain = None, 0.0
        for i in range(min_size, len(seg) - min_size + 1):
            gain = whole - _sse(seg[:i]) - _sse(seg[i:])
            if gain > best_gain:
                best, best_gain = i, gain
        if best is not None and best_gain > penalty:
            found.append(lo + best)
            split(lo, lo + best)
            split(lo + best, hi)

    split(0, n)
    return sorted(found)


def series(history: Sequence[RunSummary], scenario: str, key: str) -> tuple[list[str], list[float]]:
    """The labels and values of one metric of one scenario, over the runs that have it."""
    labels, values = [], []
    for run in history:
        v = run.values.get(scenario, {}).get(key)
        if v is not None and math.isfinite(v):
            labels.append(run.label)
            values.append(v)
    return labels, values
