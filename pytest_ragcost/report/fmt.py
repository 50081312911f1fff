"""How pytest-ragcost writes numbers, changes, units and counts, for every renderer.

Two registers: ``fmt`` for table cells (short, aligned, thousands separated) and ``num``
for sentences (``3414``, ``412.5``, ``0.0023``). Plurals and scenario names that came
from a test go through here too, so every output says "1 scenario" and never prints a
control character raw.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from ..run.metrics import split_key, value_range

__all__ = ["bound", "count", "fmt", "frontier_lower", "interval", "num", "pct", "pct_text",
           "positional", "score_change", "shown", "signed", "signed_cell", "within_range"]

#: what a table shows for a value that is not a finite number
NOT_A_NUMBER = "—"

#: below this magnitude a figure is float noise and shows as 0
TINY = 1e-12

def positional(x: float, significant: int = 3) -> str:
    """A small number with its significant digits written out, never in e-notation:
    0.00456, 0.00000456 (0 below 1e-12, where it is float noise)."""
    magnitude = abs(x)
    if magnitude < TINY:
        return "0"
    if magnitude >= 1:
        return f"{x:.{significant}g}"
    decimals = min(significant - 1 - math.floor(math.log10(magnitude)), 12)
    text = f"{x:.{decimals}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def fmt(value: float | None, unit: str = "") -> str:
    """A number short enough for a table, precise enough to compare, never in e-notation
    below 1e15: ``3,414``, ``412.5``, ``0.00456``, ``0.00000456`` (the unit stays the
    column's: a column that mixed ms and ns would be misread); ``-`` for none, ``—`` for
    a value that is not a finite number."""
    if value is None:
        return "-"
    if not math.isfinite(value):
        return NOT_A_NUMBER
    if abs(value) >= 1e15:
        return f"{value:.4g}"  # not 300 digits: a number this size is a mistake to spot
    magnitude = abs(value)
    if magnitude < 0.01:
        return positional(value)
    if unit in ("tokens", "count") or (value == int(value) and magnitude >= 1000):
        if value == int(value):
            return f"{value:,.0f}"
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    if magnitude >= 100:
        return f"{value:,.1f}"
    if magnitude >= 1:
        return f"{value:.3g}" if magnitude < 10 else f"{value:.1f}"
    return f"{value:.3g}"


def _metric(key: str) -> str:
    try:
        return split_key(key)[1]
    except ValueError:
        return key


def within_range(x: float, key: str, base: float | None = None) -> float:
    """``x`` clipped so that it stays a possible value of the metric ``key`` (a bare
    metric or ``stage.metric``), or with ``base`` a possible change from ``base``: a 0-1
    score's change from 0.4 lies in [-0.4, +0.6], a cost's change from 10 is at least
    -10."""
    low, high = value_range(_metric(key))
    origin = 0.0 if base is None or not math.isfinite(base) else base
    return min(max(x, low - origin), high - origin)


def interval(low: float, high: float, key: str, base: float | None = None,
             number: Callable[[float], str] | None = None) -> str:
    """``[low, high]`` clipped to the values the metric ``key`` can take (its changes from
    ``base`` when given), each end written by ``number`` (:func:`signed` for a change,
    :func:`fmt` otherwise)."""
    write = number or (signed if base is not None else fmt)
    return (f"[{write(within_range(low, key, base))}, "
            f"{write(within_range(high, key, base))}]")


def score_change(x: float) -> str:
    """A change of a 0-1 score, to three decimals: ``+0.125``, ``-0.040``."""
    return f"{x:+.3f}"


def frontier_lower(lower: float | None, quality_metric: str, reference_quality: float) -> str:
    """A sweep point's lower bound on its quality change against the reference, clipped
    to the changes the score can make from the reference's mean; ``-`` when it has none."""
    if lower is None:
        return "-"
    return bound(lower, quality_metric, reference_quality, score_change)


def bound(x: float, key: str, base: float | None = None,
          number: Callable[[float], str] | None = None) -> str:
    """One end of an interval, clipped as :func:`interval` clips it."""
    write = number or (signed if base is not None else num)
    return write(within_range(x, key, base))


def pct_text(pct: float | None) -> str:
    """A change in percent for a table: +12.5%, +1.2e+08% when huge, n/a when undefined."""
    if pct is None:
        return "-"
    if not math.isfinite(pct):
        return "n/a"
    if abs(pct) >= 1e6:
        return f"{pct:+.3g}%"
    return f"{pct:+.1f}%"


def shown(text: object) -> str:
    """A name from a test (scenario, node id) for one line of output: control characters
    such as a newline are shown escaped instead of breaking the line."""
    out = str(text)
    if out.isprintable():
        return out
    return "".join(ch if ch.isprintable() else repr(ch)[1:-1] for ch in out)


def signed_cell(x: float) -> str:
    if abs(x) < 5e-13:
        return "0"
    return ("+" if x > 0 else "-") + fmt(abs(x))


def num(x: float) -> str:
    """A number for a sentence, as a person reads it: 3414, 412.5, 3.41, 0.0023
    (1.5e+300 when huge)."""
    if not math.isfinite(x):
        return str(x)
    if abs(x) >= 1e15:
        return f"{x:.4g}"
    if x == int(x):
        return str(int(x))
    if abs(x) >= 100:
        return f"{x:.1f}"
    if abs(x) < 1e-3:
        return positional(x, 4)
    return f"{x:.4g}"


def signed(x: float) -> str:
    text = num(x)
    return text if text.startswith("-") else f"+{text}"


def pct(change: float, base: float) -> str:
    try:
        pct = change / abs(base) * 100
    except (ZeroDivisionError, OverflowError):
        return "n/a%"
    if not math.isfinite(pct):
        return "n/a%"
    if abs(pct) >= 1e6:
        return f"{pct:+.3g}%"
    return f"{pct:+.1f}%"


def count(n: int | float, singular: str, plural: str | None = None) -> str:
    """``1 scenario``, ``2 scenarios``, ``0 scenarios``: a count with its noun agreeing."""
    word = singular if n == 1 else (plural or singular + "s")
    shown_n = f"{n:,}" if isinstance(n, int) else fmt(n)
    return f"{shown_n} {word}"
