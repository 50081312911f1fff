"""How pytest-ragcost writes numbers, changes, units and counts, for every renderer.

Two registers: ``fmt`` for table cells (short, aligned, thousands separated) and ``num``
for sentences (``3414``, ``412.5``, ``0.0023``). Plurals and scenario names that came
from a test go through here too, so every output says "1 scenario" and never prints a
control character raw.
"""

from __future__ import annotations

import math

__all__ = ["count", "fmt", "num", "pct", "pct_text", "shown", "signed", "signed_cell"]


def fmt(value: float | None, unit: str = "") -> str:
    """A number short enough for a table, precise enough to compare."""
    if value is None:
        return "-"
    if not math.isfinite(value):
        return str(value)
    if abs(value) >= 1e15:
        return f"{value:.4g}"  # not 300 digits: a number this size is a mistake to spot
    if unit in ("tokens", "count") or (value == int(value) and abs(value) >= 1000):
        if value == int(value):
            return f"{value:,.0f}"
        if abs(value) < 0.01:
            return f"{value:.3g}"
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:,.1f}"
    if magnitude >= 1:
        return f"{value:.3g}" if magnitude < 10 else f"{value:.1f}"
    if magnitude == 0:
        return "0"
    return f"{value:.3g}"


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
