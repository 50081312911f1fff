"""Descriptive statistics of one run's per-request values: the statistic a budget entry
names (``mean``, ``median``, ``p95``, ``p99``, ``max``, ``total``) with its standard error,
type-7 quantiles, and the one sample standard deviation every module uses.

Pure standard library: the same numbers are reached from the plugin, the CLI and tests.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..run import STATS, Stat

__all__ = [
    "DEFAULT_RESAMPLES",
    "QUANTILE_OF_STAT",
    "Summary",
    "check_stat",
    "describe",
    "fsum",
    "mean",
    "quantile",
    "sample_sd",
    "stat_value",
    "summarize",
]


#: Bootstrap resamples behind the standard error of median / p95 / p99 / max. The Monte-Carlo
#: error of a bootstrap standard error is about 1/sqrt(2 * resamples), 3% here, small next to
#: the sampling error of the SE itself; 500 keeps summarize() near 1.3 ms for n = 100.
DEFAULT_RESAMPLES = 500


#: Where each quantile statistic sits on [0, 1].
QUANTILE_OF_STAT: Mapping[str, float] = {"median": 0.5, "p95": 0.95, "p99": 0.99, "max": 1.0}


def _clean(values: Iterable[float], what: str) -> list[float]:
    """The values as floats; refuses an empty list and NaN/inf with a message that says where."""
    out: list[float] = []
    for i, v in enumerate(values):
        try:
            x = float(v)
        except (TypeError, ValueError):
            msg = f"{what}: value #{i} must be a number, got {v!r}"
            raise ValueError(msg) from None
        if not math.isfinite(x):
            msg = (
                f"{what}: value #{i} is {x!r}; per-request values must be finite numbers "
                "(a NaN or inf usually means a meter failed for that request)"
            )
            raise ValueError(msg)
        out.append(x)
    if not out:
        msg = f"{what}: needs at least one value, got an empty list"
        raise ValueError(msg)
    return out


def check_stat(stat: str) -> None:
    if stat not in STATS:
        msg = f"unknown stat {stat!r}; expected one of {', '.join(STATS)}"
        raise ValueError(msg)


def _quantile_sorted(xs: Sequence[float], q: float) -> float:
    """Type-7 quantile of an already sorted, non-empty sequence."""
    h = (len(xs) - 1) * q
    j = math.floor(h)
    g = h - j
    if g == 0.0 or j + 1 >= len(xs):
        return xs[j]
    return xs[j] + g * (xs[j + 1] - xs[j])


def quantile(values: Iterable[float], q: float) -> float:
    """The ``q``-quantile (0 <= q <= 1) of ``values`` by linear interpolation.

    This is Hyndman & Fan's type 7, the default of R, NumPy and ``statistics.quantiles(...,
    method="inclusive")``: with the values sorted as x[0] <= ... <= x[n-1] and
    h = (n - 1) * q, the result is x[floor(h)] + (h - floor(h)) * (x[floor(h)+1] - x[floor(h)]).
    ``q = 0`` is the minimum, ``q = 1`` the maximum, and a single value is its own quantile.
    """
    if not 0.0 <= q <= 1.0 or math.isnan(q):
        msg = f"quantile: q must be between 0 and 1 (0.95 for p95), got {q!r}"
        raise ValueError(msg)
    return _quantile_sorted(sorted(_clean(values, "quantile")), q)


def fsum(xs: Iterable[float]) -> float:
    """``math.fsum``, but a sum past the float range is infinity, not an OverflowError."""
    xs = list(xs)
    try:
        return math.fsum(xs)
    except OverflowError:
        return math.copysign(math.inf, sum(math.copysign(1.0, x) for x in xs))


def mean(xs: Sequence[float]) -> float:
    n = len(xs)
    total = fsum(xs)
    if math.isfinite(total):
        return total / n
    return fsum(x / n for x in xs)  # huge values: divide first, so the mean stays finite


def sample_sd(xs: Sequence[float]) -> float:
    """Sample standard deviation (n - 1); 0 for a single value.

    ``statistics.stdev`` works in exact fractions and costs ~1 ms for 2000 values; the
    two-pass float formula is exact enough for costs and 30x faster.
    """
    n = len(xs)
    if n < 2:
        return 0.0
    m = mean(xs)
    try:
        return math.sqrt(fsum((x - m) ** 2 for x in xs) / (n - 1))
    except OverflowError:
        return math.inf


def stat_value(values: Iterable[float], stat: Stat) -> float:
    """The statistic ``stat`` over per-request ``values``.

    ``mean`` and ``total`` are the plain mean and sum; ``median``, ``p95``, ``p99`` are
    type-7 quantiles (see :func:`quantile`); ``max`` is the largest value.
    """
    check_stat(stat)
    xs = _clean(values, f"stat {stat}")
    if stat == "mean":
        return mean(xs)
    if stat == "total":
        return fsum(xs)
    return _quantile_sorted(sorted(xs), QUANTILE_OF_STAT[stat])


@dataclass(frozen=True)
class Summary:
    """A statistic over one run's requests, with the evidence the gate needs.

    ``value`` is the statistic in the metric's unit, ``n`` the number of requests, ``se``
    its standard error in the same unit (``None`` when it cannot be estimated: a single
    request), ``stat`` which statistic it is.
    """

    value: float
    n: int
    se: float | None
    stat: Stat = "mean"

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "n": self.n, "se": self.se, "stat": self.stat}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Summary:
        se = data.get("se")
        return cls(
            value=float(data["value"]),
            n=int(data["n"]),
            se=None if se is None else float(se),
            stat=data.get("stat", "mean"),
        )


def _bootstrap_se(
    xs_sorted: Sequence[float], q: float, rng: random.Random, resamples: int
) -> float:
    """Bootstrap standard error of the type-7 ``q``-quantile, two random draws per resample.

    A naive bootstrap draws n values and sorts them for each of the resamples. The same
    distribution is reached far cheaper: a resample's k-th smallest value is
    ``x[floor(n * U_(k))]`` where U_(k), the k-th smallest of n uniforms, is Beta(k, n-k+1);
    the next order statistic is U_(k) plus (1 - U_(k)) times the minimum of n-k uniforms,
    which is Beta(1, n-k). So each resample costs one beta draw and one uniform draw,
    whatever n is, and the result is the exact bootstrap distribution, not an approximation.
    """
    n = len(xs_sorted)
    h = (n - 1) * q
    j = math.floor(h)
    g = h - j
    k = j + 1  # 1-based rank of the lower order statistic
    last = n - 1
    reps: list[float] = []
    for _ in range(resamples):
        u_k = rng.betavariate(k, n - k + 1)
        lo = xs_sorted[min(int(n * u_k), last)]
        if g == 0.0 or k >= n:
            reps.append(lo)
            continue
        u_next = u_k + (1.0 - u_k) * (1.0 - rng.random() ** (1.0 / (n - k)))
        hi = xs_sorted[min(int(n * u_next), last)]
        reps.append(lo + g * (hi - lo))
    return sample_sd(reps)


def summarize(
    values: Iterable[float],
    stat: Stat,
    *,
    seed: int = 0,
    resamples: int = DEFAULT_RESAMPLES,
) -> Summary:
    """Summarise one run of per-request ``values`` as ``stat`` with its standard error.

    The standard error is what ``--ragcost-update`` stores next to a baseline as ``se``:

    - ``mean``: s / sqrt(n), with s the sample standard deviation;
    - ``total``: s * sqrt(n) (the sum of n independent requests);
    - ``median``, ``p95``, ``p99``, ``max``: the standard deviation of a bootstrap of the
      statistic, seeded by ``seed`` so the same values give the same ``se`` every time
      (on the same Python version). Bootstrap errors of extreme statistics are too small
      for small n (a resample's maximum equals the sample's maximum about 63% of the time),
      so ``max`` and ``p99`` with fewer than ~100 requests are better gated by a budget.

    With a single request the standard error cannot be estimated and ``se`` is ``None``.

    The errors treat requests as independent draws. Two caveats worth knowing: when the
    same questions run every time, part of the spread between requests is the questions'
    own and repeats exactly, so the error is on the safe (large) side; and a slowdown of a
    whole CI machine moves every request together, which no per-request error can see.
    That is why noisy metrics are only compared on a matching environment.
    """
    check_stat(stat)
    if resamples < 2:
        msg = f"summarize: resamples must be at least 2, got {resamples}"
        raise ValueError(msg)
    xs = _clean(values, f"summarize {stat}")
    n = len(xs)
    value = stat_value(xs, stat)
    se: float | None
    if n < 2:
        se = None
    elif stat == "mean":
        se = sample_sd(xs) / math.sqrt(n)
    elif stat == "total":
        se = sample_sd(xs) * math.sqrt(n)
    else:
        xs_sorted = sorted(xs)
        if xs_sorted[0] == xs_sorted[-1]:
            se = 0.0
        else:
            rng = random.Random(seed)
            se = _bootstrap_se(xs_sorted, QUANTILE_OF_STAT[stat], rng, resamples)
    return Summary(value=value, n=n, se=se, stat=stat)


def describe(values: Iterable[float]) -> dict[str, float]:
    """Figures for reports: ``n``, ``mean``, ``std``, ``min``, ``p50``, ``p95``, ``max``.

    ``std`` is the sample standard deviation (0 for one value); p50 and p95 are type-7
    quantiles. ``n`` is a count but kept as a float so the mapping has one value type.
    """
    xs = sorted(_clean(values, "describe"))
    return {
        "n": float(len(xs)),
        "mean": mean(xs),
        "std": sample_sd(xs),
        "min": xs[0],
        "p50": _quantile_sorted(xs, 0.5),
        "p95": _quantile_sorted(xs, 0.95),
        "max": xs[-1],
    }
