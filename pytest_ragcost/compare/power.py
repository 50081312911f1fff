"""What a gate at a given sample size can see: the smallest change it catches with 80%
power, and the sample size at which it would catch the change its tolerance allows.

One formula for every verdict (quality scores over paired samples, costs over requests or
items), from the standard error of the change the verdict itself was judged on.
"""

from __future__ import annotations

import math

from .tdist import t_quantile

__all__ = ["detectable_drop", "needed_samples", "power_figures"]


def detectable_drop(
    sd_of_differences: float, n: int, confidence: float = 0.95, power: float = 0.8,
    *, floor_se: float = 0.0,
) -> float:
    """The smallest true drop (metric units) this gate FAILs with probability ``power``.

    ``(t(confidence, n-1) + t(power, n-1)) * sd / sqrt(n)``: the usual one-sided power
    formula with Student's t in place of the normal, so it is honest for small ``n``.
    ``floor_se`` is error that more samples do not shrink (the run effects of two runs):
    it adds to ``sd / sqrt(n)`` in quadrature.
    """
    if n < 2:
        return math.inf
    if sd_of_differences < 0 or not math.isfinite(sd_of_differences):
        msg = f"sd_of_differences must be a finite number >= 0 (got {sd_of_differences!r})"
        raise ValueError(msg)
    crit = t_quantile(confidence, n - 1) + t_quantile(power, n - 1)
    return crit * math.sqrt(sd_of_differences**2 / n + floor_se**2)


def needed_samples(
    sd_of_differences: float, allowed: float, confidence: float = 0.95, power: float = 0.8,
    *, limit: int = 1_000_000, floor_se: float = 0.0,
) -> int | None:
    """The fewest paired samples at which a drop of ``allowed`` is caught with ``power``
    (None when the spread is zero or the answer passes ``limit``)."""
    if allowed <= 0 or sd_of_differences <= 0 or not math.isfinite(sd_of_differences):
        return None

    def enough(n: int) -> bool:
        return detectable_drop(sd_of_differences, n, confidence, power,
                               floor_se=floor_se) <= allowed

    if not enough(limit):
        return None
    lo, hi = 2, limit  # enough(hi) holds; find the smallest n that is enough
    while lo < hi:
        mid = (lo + hi) // 2
        if enough(mid):
            hi = mid
        else:
            lo = mid + 1
    return lo


def power_figures(se: float | None, n: int | None, allowed: float,
                  confidence: float = 0.95, *, floor_se: float = 0.0) -> dict[str, float]:
    """The figures of a gate too small to see the change it allows, else ``{}``.

    ``se`` is the standard error of the change the verdict was judged on, over ``n``
    samples (requests, items, paired scores), and ``allowed`` the change its tolerance
    allows, on the same scale. ``detectable`` is the smallest change caught with 80%
    power at this ``n``, ``sd_change`` the spread per sample behind it, and ``needed_n``
    (when finite) the ``n`` at which the allowed change would be caught. ``floor_se`` is
    the part of ``se`` that more samples do not shrink (between-run noise).
    """
    if se is None or n is None or n < 2 or not se > 0 or not math.isfinite(se) or allowed <= 0:
        return {}
    within = max(se * se - floor_se * floor_se, 0.0)
    sd = math.sqrt(within * n)
    mde = detectable_drop(sd, n, confidence, floor_se=floor_se)
    if mde <= allowed:
        return {}
    figures = {"detectable": mde, "sd_change": sd}
    need = needed_samples(sd, allowed, confidence, floor_se=floor_se)
    if need is not None:
        figures["needed_n"] = float(need)
    return figures
