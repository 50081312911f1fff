"""Where a metric's level changed over past runs, and between which commits.

A series is one metric of one scenario over runs, oldest first: each :class:`Point` has
the run's value and, where known, its commit. :func:`change_points` finds the runs that
open a new level, with the ``ruptures`` library (PELT on the mean, an L2 cost), and says
per change the level before and after and the commit range it happened in: the last
commit of the old level and the first of the new one (``git log A..B`` lists the
candidates; ``ragcost bisect A B`` finds the one).

How a change is told from noise: the series is scaled by its noise, estimated from the
median absolute successive difference (a step moves one difference, not their median,
so the estimate is not inflated by the changes it looks for), values beyond
:data:`CLIP_SD` noise units are pulled in, and a new level costs a penalty of
:data:`PENALTY_PER_LOG_N` ``* log(n)`` in those units. A level needs at least two runs,
so one odd run on a busy machine is not a change.

Exact metrics (tokens, counts, dollars priced from them, and quality scores of a
deterministic pipeline) repeat to the last digit: their noise estimate is zero, and then
every change of value is a change, including one made by the newest run alone.

``ruptures`` needs NumPy and SciPy, so it is an extra: ``pip install
'pytest-ragcost[history]'``. Without it :func:`change_points` raises
:class:`ChangePointsUnavailableError`, whose message says that.
"""

from __future__ import annotations

import itertools
import math
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

#: the penalty of one more level, per log(number of runs), in units of the noise's
#: variance; chosen by benchmarks/study_change_points.py (false alarms under 2% of
#: unchanged series of 60 runs with this machine's run-to-run noise)
PENALTY_PER_LOG_N = 6.0
#: runs a level needs before it counts, for noisy series
MIN_RUNS = 2
#: values further than this many noise units from the median are pulled in to it, so
#: one slow run on a busy machine weighs like a merely slow one (a real shift of the
#: level moves many runs and still shows)
CLIP_SD = 4.0
#: a value this close (relative to the series' scale) to its neighbour is the same value
_EXACT_REL = 1e-9
#: MAD of a normal distribution over its standard deviation
_MAD_TO_SD = 0.6744897501960817


class ChangePointsUnavailableError(RuntimeError):
    """The change-point library is not installed; ``str()`` says how to install it."""


@dataclass(frozen=True)
class Point:
    """One run's value of one metric: ``commit`` (a sha, may be short or ``None``) and a
    ``label`` for people (a date, a run id)."""

    value: float
    commit: str | None = None
    label: str = ""


@dataclass(frozen=True)
class ChangePoint:
    """A run that opened a new level: ``index`` is its position in the series.

    ``before`` and ``after`` are the means of the level it closed and the one it opened;
    ``last_commit`` is the commit of the last run of the old level and ``first_commit``
    the one of the first run of the new level (either may be ``None`` when unknown).
    """

    index: int
    before: float
    after: float
    last_commit: str | None
    first_commit: str | None
    label: str = ""

    @property
    def change(self) -> float:
        """After minus before, in the metric's unit."""
        return self.after - self.before

    @property
    def change_pct(self) -> float | None:
        """The change relative to the old level, in percent (``None`` when it was zero)."""
        if self.before == 0:
            return None
        return (self.after - self.before) / abs(self.before) * 100.0

    @property
    def commit_range(self) -> str:
        """``last..first`` in git's notation (short shas), or what is known of it."""
        last = (self.last_commit or "")[:12]
        first = (self.first_commit or "")[:12]
        if last and first:
            return first if last == first else f"{last}..{first}"
        return first or (f"after {last}" if last else "")


def noise_sd(values: Sequence[float]) -> float:
    """A robust estimate of the run-to-run standard deviation of ``values`` (0 when the
    series repeats exactly, as an exact metric does)."""
    diffs = [abs(b - a) for a, b in itertools.pairwise(values)]
    if not diffs:
        return 0.0
    return statistics.median(diffs) / (_MAD_TO_SD * math.sqrt(2.0))


def _points(series: Iterable[Point | float]) -> list[Point]:
    out = []
    for p in series:
        point = p if isinstance(p, Point) else Point(float(p))
        if math.isfinite(point.value):
            out.append(point)
    return out


def _ruptures() -> Any:
    try:
        import ruptures
    except ImportError:
        msg = (
            "change points need the ruptures library: pip install 'pytest-ragcost[history]'"
        )
        raise ChangePointsUnavailableError(msg) from None
    return ruptures


def breakpoints(values: Sequence[float], *, penalty: float = PENALTY_PER_LOG_N,
                clip: float | None = CLIP_SD) -> list[int]:
    """Indices where a new level starts (``i`` means ``values[i]`` opens one), by PELT.

    The lower-level call behind :func:`change_points`, for studies of the rule:
    ``penalty`` is per ``log(n)`` in units of the noise's variance, ``clip`` the
    winsorising bound in noise units (``None``: none).
    """
    n = len(values)
    if n < 2:
        return []
    scale = max(abs(v) for v in values) or 1.0
    sd = noise_sd(values)
    exact = sd <= scale * _EXACT_REL
    if exact:
        # every change of value is real: split exactly where the value changes (the
        # library would too, with a vanishing penalty; no need to ask it)
        return [i for i in range(1, n) if abs(values[i] - values[i - 1]) > scale * _EXACT_REL]
    min_size = MIN_RUNS
    if n < 2 * min_size:
        return []
    rpt = _ruptures()
    import numpy as np

    centre = statistics.median(values)
    signal = np.asarray([(v - centre) / sd for v in values], dtype=float)
    if clip is not None:
        signal = np.clip(signal, -clip, clip)
    # a linear kernel's cost is the L2 cost (squared deviations from the segment mean);
    # ruptures solves it with PELT in C, hundreds of times faster than its Python Pelt
    algo = rpt.KernelCPD(kernel="linear", min_size=min_size, jump=1)
    ends: list[int] = algo.fit(signal.reshape(-1, 1)).predict(pen=penalty * math.log(n))
    return [int(e) for e in ends if 0 < int(e) < n]


def change_points(series: Iterable[Point | float]) -> list[ChangePoint]:
    """The change points of one metric over runs, oldest first (see the module doc).

    ``series`` holds :class:`Point` objects (or bare numbers); non-finite values are
    left out. Raises :class:`ChangePointsUnavailableError` when a noisy series needs
    the ``ruptures`` library and it is not installed.
    """
    points = _points(series)
    values = [p.value for p in points]
    if not values:
        return []
    cuts = breakpoints(values)
    bounds = [0, *cuts, len(values)]
    means = [math.fsum(values[a:b]) / (b - a) for a, b in itertools.pairwise(bounds)]
    out = []
    for k, i in enumerate(cuts):
        out.append(ChangePoint(
            index=i, before=means[k], after=means[k + 1],
            last_commit=points[i - 1].commit, first_commit=points[i].commit,
            label=points[i].label,
        ))
    return out
