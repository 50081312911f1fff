"""Student's t distribution (CDF and quantiles, fractional degrees of freedom included) and
the degrees of freedom of combined errors (Welch, Satterthwaite), without scipy.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist

__all__ = ["satterthwaite", "t_cdf", "t_quantile", "welch_df"]


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


def satterthwaite(parts: Sequence[tuple[float, float]]) -> float:
    """Degrees of freedom of a sum of variances ``(variance, df)``; never below 1."""
    total = math.fsum(v for v, _ in parts)
    if total <= 0.0:
        return 1.0
    denom = math.fsum(v * v / d for v, d in parts if v > 0.0 and math.isfinite(d))
    if denom <= 0.0:
        return math.inf
    return max(total * total / denom, 1.0)
