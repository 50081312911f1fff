"""Pure numbers behind the gate: statistics over a scenario's requests and the verdict rules.

A scenario runs N requests; every metric key yields one value per request. This module turns
such a list into the statistic a budget entry names (``mean``, ``median``, ``p95``, ``p99``,
``max``, ``total``) together with its standard error, and decides a :class:`Verdict` from the
current summary, the stored baseline evidence, the tolerance and the budget.

It imports nothing but the standard library and :mod:`pytest_ragcost.models`, so the same
verdict is reached from the pytest plugin, the ``ragcost`` CLI and the unit tests.

The rules, in brief (:func:`judge` has the details):

- exact metrics (tokens, counts, errors, and ``cost_usd`` which is derived from them) are
  compared exactly: FAIL when ``current > baseline + tolerance``;
- noisy metrics (times, energy, memory) FAIL only when the whole confidence interval of the
  rise lies above the tolerance and the rise clearly exceeds the noise, INCONCLUSIVE when
  the estimate is above but the evidence is not, PASS otherwise; INCOMPARABLE when the
  machine or the energy source changed;
- a budget is an absolute cap checked whatever the baseline says;
- a fall larger than the tolerance is a PASS marked ``improved`` (re-bless to lock it in).

The operating characteristics of these rules (false failures on unchanged code, share of
real regressions caught) are measured by ``benchmarks/bench_verdicts.py``.
"""

from __future__ import annotations

import math
import random
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any, Literal

from pytest_ragcost.models import STATS, STATUSES, MetricClass, Stat, Status, Tolerance, Verdict

__all__ = [
    "DEFAULT_CONFIDENCE",
    "DEFAULT_NOISE_CONFIDENCE",
    "DEFAULT_RESAMPLES",
    "MIN_HISTORY_DF",
    "MIN_TAIL_REQUESTS",
    "PRIOR_BETWEEN_CV",
    "PRIOR_WEIGHT_RUNS",
    "BetweenRun",
    "RunSummary",
    "Summary",
    "between_run_noise",
    "describe",
    "judge",
    "min_requests",
    "quantile",
    "rank",
    "stat_value",
    "summarize",
    "t_cdf",
    "t_quantile",
    "welch_df",
    "worst",
    "worst_status",
]

#: Two-sided level of the interval of the change. FAIL needs its lower end above the
#: tolerance, so a run whose true rise sits exactly at the tolerance fails with probability
#: at most (1 - 0.95) / 2 = 2.5%, and unchanged code far less (see the benchmark).
DEFAULT_CONFIDENCE = 0.90

#: One-sided level at which a noisy FAIL must also show the rise is above zero. When the
#: noise dwarfs the tolerance the interval alone lets unchanged code fail up to
#: (1 - confidence) / 2 = 5% of the time; this second test holds it near 0.5%. It is set above
#: 0.99 because the t statistic of small skewed samples has heavier tails than Student's t:
#: with 0.99 the A/A study still saw 1.2% in its heavy-tailed cells.
DEFAULT_NOISE_CONFIDENCE = 0.995

#: Requests expected beyond a quantile before its bootstrap error is trusted (min_requests).
#: Measured: p95 of 40 requests (2 beyond) false-failed 1.2-2.1% of A/A runs with heavy tails;
#: of 100 requests (5 beyond) at most 0.5%.
MIN_TAIL_REQUESTS = 5

#: Bootstrap resamples behind the standard error of median / p95 / p99 / max. The Monte-Carlo
#: error of a bootstrap standard error is about 1/sqrt(2 * resamples), 3% here, small next to
#: the sampling error of the SE itself; 500 keeps summarize() near 1.3 ms for n = 100.
DEFAULT_RESAMPLES = 500

#: Where each quantile statistic sits on [0, 1].
_QUANTILE_OF_STAT: Mapping[str, float] = {"median": 0.5, "p95": 0.95, "p99": 0.99, "max": 1.0}

_RANK: Mapping[str, int] = {status: i for i, status in enumerate(STATUSES)}

#: Relative slack for "exactly": a limit computed as 3259.2000000000003 must not fail 3259.2.
#: Far below one token or one count at any realistic size.
_FLOAT_SLACK = 1e-9

_UPDATE_HINT = "run `pytest --ragcost --ragcost-update` to lock in the saving"


# --------------------------------------------------------------------------- statistics


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


def _check_stat(stat: str) -> None:
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


def _fsum(xs: Iterable[float]) -> float:
    """``math.fsum``, but a sum past the float range is infinity, not an OverflowError."""
    xs = list(xs)
    try:
        return math.fsum(xs)
    except OverflowError:
        return math.copysign(math.inf, sum(math.copysign(1.0, x) for x in xs))


def _mean(xs: Sequence[float]) -> float:
    n = len(xs)
    total = _fsum(xs)
    if math.isfinite(total):
        return total / n
    return _fsum(x / n for x in xs)  # huge values: divide first, so the mean stays finite


def _stdev(xs: Sequence[float]) -> float:
    """Sample standard deviation (n - 1); 0 for a single value.

    ``statistics.stdev`` works in exact fractions and costs ~1 ms for 2000 values; the
    two-pass float formula is exact enough for costs and 30x faster.
    """
    n = len(xs)
    if n < 2:
        return 0.0
    m = _mean(xs)
    try:
        return math.sqrt(_fsum((x - m) ** 2 for x in xs) / (n - 1))
    except OverflowError:
        return math.inf


def stat_value(values: Iterable[float], stat: Stat) -> float:
    """The statistic ``stat`` over per-request ``values``.

    ``mean`` and ``total`` are the plain mean and sum; ``median``, ``p95``, ``p99`` are
    type-7 quantiles (see :func:`quantile`); ``max`` is the largest value.
    """
    _check_stat(stat)
    xs = _clean(values, f"stat {stat}")
    if stat == "mean":
        return _mean(xs)
    if stat == "total":
        return _fsum(xs)
    return _quantile_sorted(sorted(xs), _QUANTILE_OF_STAT[stat])


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
    return _stdev(reps)


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
    _check_stat(stat)
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
        se = _stdev(xs) / math.sqrt(n)
    elif stat == "total":
        se = _stdev(xs) * math.sqrt(n)
    else:
        xs_sorted = sorted(xs)
        if xs_sorted[0] == xs_sorted[-1]:
            se = 0.0
        else:
            rng = random.Random(seed)
            se = _bootstrap_se(xs_sorted, _QUANTILE_OF_STAT[stat], rng, resamples)
    return Summary(value=value, n=n, se=se, stat=stat)


def describe(values: Iterable[float]) -> dict[str, float]:
    """Figures for reports: ``n``, ``mean``, ``std``, ``min``, ``p50``, ``p95``, ``max``.

    ``std`` is the sample standard deviation (0 for one value); p50 and p95 are type-7
    quantiles. ``n`` is a count but kept as a float so the mapping has one value type.
    """
    xs = sorted(_clean(values, "describe"))
    return {
        "n": float(len(xs)),
        "mean": _mean(xs),
        "std": _stdev(xs),
        "min": xs[0],
        "p50": _quantile_sorted(xs, 0.5),
        "p95": _quantile_sorted(xs, 0.95),
        "max": xs[-1],
    }


# --------------------------------------------------------------------------- intervals


def _betacf(a: float, b: float, x: float) -> float:
    """Continued fraction of the incomplete beta function (modified Lentz)."""
    tiny = 1e-300
    qab, qap, qam = a + b, a + 1.0, a - 1.0
    c, d = 1.0, 1.0 - qab * x / qap
    d = 1.0 / (d if abs(d) > tiny else tiny)
    h = d
    for m in range(1, 400):
        m2 = 2 * m
        aa = m * (b - m) * x / ((qam + m2) * (a + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        h *= d * c
        aa = -(a + m) * (qab + m) * x / ((a + m2) * (qap + m2))
        d = 1.0 + aa * d
        d = 1.0 / (d if abs(d) > tiny else tiny)
        c = 1.0 + aa / c
        c = c if abs(c) > tiny else tiny
        delta = d * c
        h *= delta
        if abs(delta - 1.0) < 1e-15:
            break
    return h


def _betainc(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    ln_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    front = math.exp(ln_front)
    if x < (a + 1.0) / (a + b + 2.0):
        return front * _betacf(a, b, x) / a
    return 1.0 - front * _betacf(b, a, 1.0 - x) / b


def t_cdf(t: float, df: float) -> float:
    """P(T <= t) for Student's t with ``df`` degrees of freedom."""
    tail = 0.5 * _betainc(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def t_quantile(p: float, df: float) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom (fractional df, as
    Welch's gives, included; ``inf`` is the normal quantile). Exact to 1e-12 by bisection
    on the regularised incomplete beta function, without scipy (the library keeps its
    dependencies small)."""
    if not 0.0 < p < 1.0:
        msg = f"t_quantile: p must be strictly between 0 and 1, got {p!r}"
        raise ValueError(msg)
    if not df > 0:
        msg = f"t_quantile: df must be positive, got {df!r}"
        raise ValueError(msg)
    if math.isinf(df):
        return NormalDist().inv_cdf(p)
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    lo, hi = 0.0, 1.0
    while t_cdf(hi, df) < p:
        hi *= 2.0
    for _ in range(200):
        mid = (lo + hi) / 2.0
        if t_cdf(mid, df) < p:
            lo = mid
        else:
            hi = mid
        if hi - lo < 1e-12:
            break
    return (lo + hi) / 2.0


def welch_df(se_a: float, n_a: int, se_b: float | None, n_b: int | None) -> float:
    """Welch-Satterthwaite degrees of freedom of a difference with errors ``se_a``, ``se_b``.

    ``se_b = None`` (an exact, hand-written baseline) leaves ``n_a - 1``. Never below 1.
    """
    if se_b is None or se_b == 0.0 or n_b is None or n_b < 2:
        return float(max(n_a - 1, 1))
    if se_a == 0.0 or n_a < 2:
        return float(max(n_b - 1, 1))
    va, vb = se_a * se_a, se_b * se_b
    df = (va + vb) ** 2 / (va * va / (n_a - 1) + vb * vb / (n_b - 1))
    return max(df, 1.0)


# --------------------------------------------------------------------------- messages


def _num(x: float) -> str:
    """A number as a person reads it: 3414, 412.5, 3.41, 0.0023 (1.5e+300 when huge)."""
    if not math.isfinite(x):
        return str(x)
    if abs(x) >= 1e15:
        return f"{x:.4g}"
    if x == int(x):
        return str(int(x))
    if abs(x) >= 100:
        return f"{x:.1f}"
    return f"{x:.4g}"


def _signed(x: float) -> str:
    text = _num(x)
    return text if text.startswith("-") else f"+{text}"


def _pct(change: float, base: float) -> str:
    try:
        pct = change / abs(base) * 100
    except (ZeroDivisionError, OverflowError):
        return "n/a%"
    if not math.isfinite(pct):
        return "n/a%"
    if abs(pct) >= 1e6:
        return f"{pct:+.3g}%"
    return f"{pct:+.1f}%"


def _ci_text(confidence: float, interval: tuple[float, float]) -> str:
    level = f"{confidence * 100:g}%"
    return f"{level} CI of change [{_signed(interval[0])}, {_signed(interval[1])}]"


@dataclass(frozen=True)
class _Finding:
    """One half of a verdict (baseline comparison or budget), before folding."""

    status: Status
    clause: str
    interval: tuple[float, float] | None = None
    improved: bool = False
    hint: str | None = None


# --------------------------------------------------------------------------- between runs

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


@dataclass(frozen=True)
class BetweenRun:
    """The between-run noise a noisy metric's interval includes.

    ``sd`` is the standard deviation of a whole run's log value around its environment's
    level (about the coefficient of variation), ``df`` the degrees of freedom of that
    estimate (``inf`` for a fixed prior), ``runs`` how many earlier runs informed it and
    ``source`` whether it is the history's estimate (``history``) or the prior (``prior``).
    """

    sd: float
    df: float
    runs: int
    source: str
    prior_cv: float = PRIOR_BETWEEN_CV

    def describe(self) -> str:
        """How the verdict names the noise it used."""
        if self.source == "prior":
            return (
                f"between-run noise {self.sd * 100:.3g}% (prior: {self.runs} earlier run(s) "
                "here, too few to estimate it)"
            )
        return (
            f"between-run noise {self.sd * 100:.3g}% (from {self.runs} earlier runs here, "
            f"with the {self.prior_cv * 100:g}% prior)"
        )

    def to_dict(self) -> dict[str, Any]:
        return {"sd": self.sd, "df": self.df, "runs": self.runs, "source": self.source}


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
        (y - _mean(ys)) ** 2 for ys in groups.values() for y in ys
    )
    within_var = _mean(within) if within else 0.0
    estimate = max(0.0, ss / df - within_var)
    pooled = (prior_weight * prior_cv**2 + df * estimate) / (prior_weight + df)
    return BetweenRun(math.sqrt(pooled), prior_weight + df, runs, "history", prior_cv)


def _satterthwaite(parts: Sequence[tuple[float, float]]) -> float:
    """Degrees of freedom of a sum of variances ``(variance, df)``; never below 1."""
    total = math.fsum(v for v, _ in parts)
    if total <= 0.0:
        return 1.0
    denom = math.fsum(v * v / d for v, d in parts if v > 0.0 and math.isfinite(d))
    if denom <= 0.0:
        return math.inf
    return max(total * total / denom, 1.0)


# --------------------------------------------------------------------------- rules


def _over(value: float, limit: float) -> bool:
    return value > limit + _FLOAT_SLACK * abs(limit)


def _under(value: float, limit: float) -> bool:
    return value < limit - _FLOAT_SLACK * abs(limit)


def _exact_vs_baseline(current: float, baseline: float, tolerance: Tolerance) -> _Finding:
    allowed = tolerance.absolute(baseline)
    if _over(current, baseline + allowed):
        return _Finding("FAIL", f"over tolerance {tolerance}")
    if _under(current, baseline - allowed):
        return _Finding(
            "PASS",
            f"fell by more than tolerance {tolerance}",
            improved=True,
            hint=_UPDATE_HINT,
        )
    return _Finding("PASS", f"within tolerance {tolerance}")


_LOG_CAP = 700.0  # exp(709) is the largest finite float


def _log_ok(*xs: float) -> bool:
    return all(x > 0.0 for x in xs)


def min_requests(stat: Stat) -> int | None:
    """Fewest requests for which ``stat`` of a noisy metric can be gated on evidence.

    A quantile's bootstrap error is only trustworthy when a few requests lie beyond it:
    at least :data:`MIN_TAIL_REQUESTS` (5) expected on the far side, so p95 needs 100
    requests, p99 500, the median 10, the mean and total 2. ``max`` is a single request
    whatever n is, so it never has enough (``None``): gate a high quantile instead, or cap
    it with a budget.
    """
    _check_stat(stat)
    if stat in ("mean", "total"):
        return 2
    q = _QUANTILE_OF_STAT[stat]
    tail = min(q, 1.0 - q)
    if tail <= 0.0:
        return None
    # round() first: 1 - 0.95 is 0.050000000000000044 in floats, and ceil() must not see it
    return math.ceil(round(MIN_TAIL_REQUESTS / tail, 6))


def _too_few(stat: Stat, *counts: int | None) -> str | None:
    """Why this statistic cannot be gated on evidence at these request counts, if it cannot."""
    need = min_requests(stat)
    if need is None:
        return (
            f"the {stat} of a noisy metric is one request, not evidence; "
            "gate p95 instead or cap it with a budget"
        )
    short = [n for n in counts if n is not None and n < need]
    if short:
        return (
            f"its {stat} needs at least {need} requests to be gated on evidence ({min(short)} ran)"
        )
    return None


@dataclass(frozen=True)
class _Evidence:
    """How much evidence a noisy FAIL needs (see :func:`judge`)."""

    confidence: float
    noise_confidence: float | None
    scale: Literal["log", "difference"]

    def t(self, df: float) -> float:
        return t_quantile(0.5 + self.confidence / 2.0, df)

    def t_noise(self, df: float) -> float:
        if self.noise_confidence is None:
            return -math.inf
        return t_quantile(self.noise_confidence, df)


def _noisy_vs_baseline(
    current: Summary,
    baseline: float,
    baseline_n: int | None,
    baseline_se: float | None,
    tolerance: Tolerance,
    ev: _Evidence,
    between: BetweenRun | None = None,
) -> _Finding:
    """Interval of the rise; FAIL when all of it lies above the tolerance (and above noise)."""
    allowed = tolerance.absolute(baseline)
    c = current.value
    rise = c - baseline
    more = "run more requests to tell noise from a regression"
    if current.se is None:
        if _over(rise, allowed):
            return _Finding(
                "INCONCLUSIVE",
                f"above tolerance {tolerance} but one request gives no estimate of the noise",
                hint=more,
            )
        if _under(rise, -allowed):
            return _Finding(
                "PASS",
                f"fell by more than tolerance {tolerance} (one request, no noise estimate)",
            )
        return _Finding("PASS", f"within tolerance {tolerance} (one request)")

    se_b = baseline_se if baseline_se is not None else 0.0
    n_b = baseline_n if baseline_n is not None else current.n
    use_log = ev.scale == "log" and _log_ok(c, baseline)
    if use_log:
        # On the log scale the rise is log(current / baseline): relative tolerances become a
        # fixed threshold log(1 + tol), the error of each side is its relative error (delta
        # method), and the right skew of costs is folded in, so the interval is asymmetric
        # in the unit the way the data are.
        se_c_used, se_b_used = current.se / c, se_b / baseline
        centre = math.log(c / baseline)
        up_limit = math.log1p(allowed / baseline)
        down_limit = math.log1p(-allowed / baseline) if allowed < baseline else -math.inf
    else:
        se_c_used, se_b_used = current.se, se_b
        centre = rise
        up_limit, down_limit = allowed, -allowed
    se = math.hypot(se_c_used, se_b_used)
    df = welch_df(se_c_used, current.n, se_b_used, n_b)
    if between is not None:
        # the baseline's run and this run each drew their own run effect (random effects)
        b_sd = between.sd if use_log else between.sd * abs(baseline)
        between_var = 2.0 * b_sd * b_sd
        parts = [(se_c_used**2, float(max(current.n - 1, 1))), (between_var, between.df)]
        if se_b_used > 0.0 and n_b >= 2:
            parts.append((se_b_used**2, float(n_b - 1)))
        if between_var > se * se:
            more = (
                "whole runs shift more than this run's own noise: more runs of this commit in "
                "the history, or a same-job A/B, tell noise from a regression"
            )
        se = math.sqrt(se * se + between_var)
        df = _satterthwaite(parts)
    lo, hi = centre - ev.t(df) * se, centre + ev.t(df) * se
    if use_log:
        # a near-zero baseline with a wide spread (a wait that is usually 0 ms) puts the log
        # interval far out; exp() of it is only shown, so it is capped rather than overflow
        lo_c, hi_c = min(lo, _LOG_CAP), min(hi, _LOG_CAP)
        interval = (baseline * math.expm1(lo_c), baseline * math.expm1(hi_c))
    else:
        interval = (lo, hi)
    ci = _ci_text(ev.confidence, interval)
    if between is not None:
        ci += f" incl. {between.describe()}"
    est_over = centre > up_limit and _over(rise, allowed)
    if est_over:
        few = _too_few(current.stat, current.n, baseline_n)
        if few is not None:
            return _Finding(
                "INCONCLUSIVE", f"above tolerance {tolerance} but {few}, {ci}", interval, hint=more
            )
        if lo <= up_limit:
            return _Finding(
                "INCONCLUSIVE",
                f"above tolerance {tolerance} but within the noise, {ci}",
                interval,
                hint=more if more.startswith("whole runs") else (
                    "noise too large to tell; more requests narrow the interval"
                ),
            )
        if centre - ev.t_noise(df) * se <= 0.0:
            level = f"{(ev.noise_confidence or 0.0) * 100:g}%"
            return _Finding(
                "INCONCLUSIVE",
                f"above tolerance {tolerance}, {ci}, but a rise this size is within the "
                f"noise of so few {'runs' if between is not None else 'requests'} "
                f"({level} bound below no change)",
                interval,
                hint=more,
            )
        return _Finding("FAIL", f"over tolerance {tolerance}, {ci}", interval)
    if hi < down_limit:
        return _Finding(
            "PASS",
            f"fell by more than tolerance {tolerance}, {ci}",
            interval,
            improved=True,
            hint=_UPDATE_HINT,
        )
    return _Finding("PASS", f"within tolerance {tolerance}, {ci}", interval)


def _budget(
    current: Summary,
    budget: float,
    noisy: bool,
    ev: _Evidence,
    between: BetweenRun | None = None,
) -> _Finding:
    """The cap: exact metrics and ``max`` fail on any excess; noisy ones need evidence too."""
    c = current.value
    excess = f"({_signed(c - budget)}, {_pct(c - budget, budget)})"
    if not _over(c, budget):
        return _Finding("PASS", f"within budget {_num(budget)}")
    over = f"over budget {_num(budget)} {excess}"
    # A maximum over the cap is a fact about this run (a request went over), not an estimate.
    if not noisy or current.se == 0.0 or current.stat == "max":
        return _Finding("FAIL", over)
    more = "run more requests to tell noise from a regression"
    if current.se is None:
        return _Finding(
            "INCONCLUSIVE", f"{over} but one request gives no estimate of the noise", hint=more
        )
    few = _too_few(current.stat, current.n)
    if few is not None:
        return _Finding("INCONCLUSIVE", f"{over} but {few}", hint=more)
    df = float(max(current.n - 1, 1))
    rel_se = current.se / c if c > 0 else 0.0
    if between is not None:
        # one run effect: this run's level against the environment's
        df = _satterthwaite([(rel_se**2, df), (between.sd**2, between.df)])
        rel_se = math.hypot(rel_se, between.sd)
    t = ev.t(df)
    level = f"{ev.confidence * 100:g}%"
    if ev.scale == "log" and _log_ok(c, budget):
        low = c * math.exp(-t * rel_se)
    else:
        low = c - t * (rel_se * c if between is not None else current.se)
    if _over(low, budget):
        return _Finding("FAIL", f"{over}, {level} CI lower end {_num(low)}")
    return _Finding(
        "INCONCLUSIVE",
        f"{over} but within the noise, {level} CI lower end {_num(low)}",
        hint="noise too large to tell; more requests narrow the interval",
    )


def _incomparable_reason(
    noisy: bool,
    environment_matches: bool,
    current_source: str | None,
    baseline_source: str | None,
) -> str | None:
    if "unavailable" in (current_source, baseline_source):
        which = "current run" if current_source == "unavailable" else "baseline"
        return f"not comparable: no measurement in the {which} (source 'unavailable')"
    if (
        current_source is not None
        and baseline_source is not None
        and current_source != baseline_source
    ):
        return f"not comparable: {current_source} now vs {baseline_source} in the baseline"
    if noisy and not environment_matches:
        return "not comparable: measured on another machine or meter than the baseline"
    return None


def judge(
    *,
    scenario: str,
    key: str,
    metric_class: MetricClass,
    current: Summary | None,
    baseline: float | None,
    baseline_n: int | None,
    baseline_se: float | None,
    tolerance: Tolerance,
    budget: float | None,
    severity: Literal["fail", "warn"],
    current_source: str | None,
    baseline_source: str | None,
    environment_matches: bool,
    confidence: float = DEFAULT_CONFIDENCE,
    noise_confidence: float | None = DEFAULT_NOISE_CONFIDENCE,
    stat: Stat | None = None,
    scale: Literal["log", "difference"] = "log",
    between: BetweenRun | None = None,
) -> list[Verdict]:
    """The gate's verdict on one (scenario, metric key).

    Returns a list holding exactly one :class:`Verdict`: the baseline comparison and the
    budget are folded into one verdict whose status is the worse of the two and whose
    message carries both, because the spec promises one verdict per (scenario, metric) and
    a report row per key. (A list, so callers can ``extend`` and later rules can add more.)

    Arguments: ``current`` is this run's :class:`Summary` (``None`` when ragcost.yaml has
    the entry but no test produced it); ``baseline``, ``baseline_n``, ``baseline_se`` and
    ``baseline_source`` come from the entry (``baseline_se`` is ``None`` for a hand-written
    baseline, which is then taken as exact); ``budget`` is the absolute cap or ``None``;
    ``environment_matches`` says whether this machine and meter match the baseline's;
    ``stat`` names the entry's statistic when ``current`` is ``None``.

    Rules, in order:

    1. ``current is None`` -> STALE. No baseline and no budget -> NEW.
    2. Quality metrics are refused (``ValueError``): they are judged per sample, paired,
       in ``quality.py``.
    3. Exact metrics (``exact`` and ``derived``): FAIL when
       ``current > baseline + tolerance.absolute(baseline)``, exactly (to 1e-9 relative
       float slack), with no statistics: the same questions give the same tokens.
    4. Noisy metrics (``noisy`` and ``unknown``): INCOMPARABLE when the environment
       differs. Otherwise a two-sided ``confidence`` interval of the rise is built from both
       standard errors with a Student t multiplier (Welch degrees of freedom). FAIL needs
       three things: the estimate above the tolerance, the interval's lower end above the
       tolerance, and the rise above zero at the one-sided ``noise_confidence`` level (the
       noise test; ``None`` switches it off). The estimate above the tolerance without the
       rest is INCONCLUSIVE, as is any rise of a statistic measured on fewer requests than
       :func:`min_requests` asks for (``max`` never has enough). Anything else is PASS.

       Why these levels: with ``confidence=0.90`` a rise sitting exactly at the tolerance
       fails at most 5% of the time, and a rise of twice a 10% tolerance is caught 95% of
       the time at 30 requests and CV 10% (the project's target; 0.95 catches 91.5%). The
       noise test costs nothing there but keeps unchanged code under 1% false failures at
       every noise level, which the interval alone does not (up to 2.3% in the study).

       By default all this is done on the log scale, ``log(current / baseline)``, when both
       are positive: costs are positive and right-skewed, regressions are multiplicative (a
       slower CPU scales every request), tolerances are mostly relative, and the log of a
       mean of skewed data is closer to normal than the mean itself. A zero or negative
       value falls back to the difference scale; ``scale="difference"`` forces it.

       ``between`` (see :func:`between_run_noise`) adds the between-run noise: the
       baseline's run and this run each carry a run effect, so the interval's variance
       gains ``2 * between.sd**2`` on the log scale and its degrees of freedom follow
       Satterthwaite; the message names the noise used. Without it both runs are taken as
       samples of one distribution, which holds only on a quiet, dedicated machine.
    5. For every class, a source label that differs from the baseline's (energy measured vs
       estimated, tokens counted vs provider-reported) or is ``unavailable`` makes the
       baseline comparison INCOMPARABLE: the numbers are not of the same kind.
    6. A fall larger than the tolerance (for noisy metrics: the whole interval below it) is
       PASS with ``improved=True`` and a hint to run ``--ragcost-update``.
    7. ``budget`` is checked whatever the baseline says: FAIL when the current statistic is
       over the cap (equal is allowed). For noisy metrics the cap needs evidence too, as the
       spec promises noisy metrics never fail on one unlucky sample: FAIL when the lower end
       of the current statistic's interval is over the cap, INCONCLUSIVE when only the
       estimate is (or too few requests ran for the statistic). ``max`` is the exception: a
       maximum over the cap is a fact about this run, so it fails outright. A source
       mismatch or another machine does not excuse a budget: the cap is absolute.
    8. ``severity="warn"`` turns every FAIL into WARN.

    The message names the key (with its stage), the statistic when not the mean, the
    current value, the baseline, the change (absolute and %), the tolerance, the interval
    (noisy metrics), the budget when set, and the request counts, e.g.
    ``generate.tokens_context: 3414 vs baseline 3104 (+310, +10.0%) over tolerance 5% (n=30)``.
    """
    if metric_class == "quality":
        msg = (
            f"{scenario} {key}: quality metrics are judged by the paired per-sample test in "
            "pytest_ragcost.quality, not by stats.judge"
        )
        raise ValueError(msg)
    if severity not in ("fail", "warn"):
        msg = f"{scenario} {key}: severity must be 'fail' or 'warn', got {severity!r}"
        raise ValueError(msg)
    if not 0.0 < confidence < 1.0:
        msg = f"{scenario} {key}: confidence must be in (0, 1), e.g. 0.95; got {confidence!r}"
        raise ValueError(msg)
    if noise_confidence is not None and not 0.5 <= noise_confidence < 1.0:
        msg = (
            f"{scenario} {key}: noise_confidence must be in [0.5, 1), e.g. 0.99, or None; "
            f"got {noise_confidence!r}"
        )
        raise ValueError(msg)
    ev = _Evidence(confidence, noise_confidence, scale)
    if tolerance.value < 0 or not math.isfinite(tolerance.value):
        msg = f"{scenario} {key}: tolerance must be a finite number >= 0, got {tolerance.value!r}"
        raise ValueError(msg)
    if stat is not None:
        _check_stat(stat)
    if current is not None and stat is not None and current.stat != stat:
        msg = (
            f"{scenario} {key}: the entry's stat is {stat!r} but the current summary is "
            f"{current.stat!r}; summarise the run with the entry's stat"
        )
        raise ValueError(msg)
    shown_stat: Stat = current.stat if current is not None else (stat or "mean")
    label = key if shown_stat == "mean" else f"{key} ({shown_stat})"
    common: dict[str, Any] = {
        "scenario": scenario,
        "key": key,
        "baseline": baseline,
        "budget": budget,
        "tolerance": str(tolerance),
        "stat": shown_stat,
        "severity": severity,
    }

    if current is None:
        text = "in ragcost.yaml but no test produced it; remove the entry or restore its test"
        return [Verdict(status="STALE", message=f"{scenario} {label}: {text}", **common)]

    common.update(current=current.value, n=current.n, source=current_source)
    counts = f"(n={current.n})"
    noisy = metric_class in ("noisy", "unknown")
    if noisy and baseline is not None and baseline_n is not None:
        counts = f"(n={current.n}, baseline n={baseline_n})"

    if baseline is None and budget is None:
        text = (
            f"{label}: {_num(current.value)} {counts}, no baseline yet; "
            "run `pytest --ragcost --ragcost-update` to record one"
        )
        return [Verdict(status="NEW", message=text, **common)]

    head = f"{label}: {_num(current.value)}"
    if baseline is not None:
        change = current.value - baseline
        head += f" vs baseline {_num(baseline)} ({_signed(change)}, {_pct(change, baseline)})"
    odd = _out_of_range(current, baseline, baseline_se, budget)
    if odd is not None:
        text = f"{head} cannot be compared: {odd} {counts}"
        return [Verdict(status="INCOMPARABLE", message=text, **common)]
    try:
        findings = _findings(
            current, baseline, baseline_n, baseline_se, budget, tolerance, noisy,
            environment_matches, current_source, baseline_source, ev, between,
        )
    except (OverflowError, ValueError, ZeroDivisionError) as exc:
        # a value the range check let through can still overflow in the arithmetic: the
        # verdict says so instead of ending the run
        text = (
            f"{head} cannot be compared: the numbers are too far apart to compute an "
            f"interval ({exc}); re-bless the baseline with --ragcost-update {counts}"
        )
        return [Verdict(status="INCOMPARABLE", message=text, **common)]
    status = min((f.status for f in findings), key=rank)
    if status == "FAIL" and severity == "warn":
        status = "WARN"
    improved = any(f.improved for f in findings)
    interval = next((f.interval for f in findings if f.interval is not None), None)
    hints = [f.hint for f in findings if f.hint is not None and (f.status != "PASS" or f.improved)]
    message = f"{head} {'; '.join(f.clause for f in findings)} {counts}"
    if hints:
        message += ": " + "; ".join(dict.fromkeys(hints))
    if status == "WARN":
        message += " [severity: warn]"
    return [Verdict(status=status, message=message, interval=interval, improved=improved, **common)]


#: values beyond this magnitude are not costs of an answer but mistakes; they are
#: INCOMPARABLE rather than fed to arithmetic that would overflow
MAX_MAGNITUDE = 1e15
#: a baseline closer to zero than this (but not zero) makes every relative change infinite
MIN_BASELINE = 1e-12


def _out_of_range(
    current: Summary, baseline: float | None, baseline_se: float | None, budget: float | None
) -> str | None:
    """Why these numbers cannot be compared, or None when they can."""
    named = [("the current value", current.value), ("its standard error", current.se),
             ("the baseline", baseline), ("the baseline's se", baseline_se),
             ("the budget", budget)]
    for name, value in named:
        if value is None:
            continue
        if not math.isfinite(value):
            return f"{name} is {value} (not a finite number)"
        if abs(value) > MAX_MAGNITUDE:
            return f"{name} ({_num(value)}) is beyond {MAX_MAGNITUDE:g}"
    if baseline is not None and 0 < abs(baseline) < MIN_BASELINE:
        return (
            f"the baseline ({_num(baseline)}) is too close to zero for a change to be "
            f"measured against it (write 0 or at least {MIN_BASELINE:g})"
        )
    return None


def _findings(
    current: Summary,
    baseline: float | None,
    baseline_n: int | None,
    baseline_se: float | None,
    budget: float | None,
    tolerance: Tolerance,
    noisy: bool,
    environment_matches: bool,
    current_source: str | None,
    baseline_source: str | None,
    ev: _Evidence,
    between: BetweenRun | None,
) -> list[_Finding]:
    findings: list[_Finding] = []
    if baseline is not None:
        reason = _incomparable_reason(noisy, environment_matches, current_source, baseline_source)
        if reason is not None:
            findings.append(
                _Finding("INCOMPARABLE", reason, hint="re-run `--ragcost-update` on this setup")
            )
        elif noisy:
            findings.append(
                _noisy_vs_baseline(
                    current, baseline, baseline_n, baseline_se, tolerance, ev,
                    between if noisy else None,
                )
            )
        else:
            findings.append(_exact_vs_baseline(current.value, baseline, tolerance))
    if budget is not None:
        findings.append(_budget(current, budget, noisy, ev, between if noisy else None))
    return findings


# --------------------------------------------------------------------------- ordering


def rank(status: str) -> int:
    """Position of a status in :data:`~pytest_ragcost.models.STATUSES` (0 = FAIL, the worst)."""
    try:
        return _RANK[status]
    except KeyError:
        msg = f"unknown verdict status {status!r}; expected one of {', '.join(STATUSES)}"
        raise ValueError(msg) from None


def worst(verdicts: Iterable[Verdict]) -> list[Verdict]:
    """The verdicts sorted worst first (FAIL, WARN, INCONCLUSIVE, ..., PASS); stable otherwise."""
    return sorted(verdicts, key=lambda v: rank(v.status))


def worst_status(verdicts: Iterable[Verdict]) -> Status | None:
    """The worst status among ``verdicts``, ``None`` when there are none."""
    statuses: list[Status] = [v.status for v in verdicts]
    if not statuses:
        return None
    return min(statuses, key=rank)
