"""Charts as inline SVG strings, drawn on the server: no JavaScript, no external file.

Why our own: a report must open from ``file://`` and under a strict Content Security
Policy, and its size should follow the data. plotly inline is 4.8 MB per report and
altair 0.9 MB plus an 84 MB install; the charts here are bars, lines and dots, a few kB
each. Tooltips are SVG ``<title>`` elements (native, no script). Colours are
presentation attributes, not ``style=`` attributes, so a CSP without
``'unsafe-inline'`` keeps them. Output is deterministic (no ids, no dates): the same data
gives the same bytes.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape, quoteattr

#: One colour per stage or series, in order (colour-blind-friendly categorical palette).
PALETTE = (
    "#4e79a7", "#f28e2b", "#59a14f", "#e15759", "#76b7b2",
    "#edc948", "#b07aa1", "#ff9da7", "#9c755f", "#bab0ac",
)
INK = "#333"
GRID = "#ddd"
FONT = 11


def colour(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def num(x: float) -> str:
    """A short label for an axis or a bar."""
    if x == 0:
        return "0"
    a = abs(x)
    if a >= 10000:
        return f"{x:,.0f}"
    if a >= 100:
        return f"{x:.0f}"
    if a >= 10:
        return f"{x:.1f}".rstrip("0").rstrip(".")
    if a >= 0.01:
        return f"{x:.3g}"
    return f"{x:.2g}"


def _c(x: float) -> str:
    """A coordinate: two decimals are plenty and keep the file small."""
    return f"{x:.2f}".rstrip("0").rstrip(".")


def _t(text: object) -> str:
    return escape(str(text))


def nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    """Round tick values covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return [0.0, 1.0]
    if hi <= lo:
        hi = lo + (abs(lo) or 1.0)
    raw = (hi - lo) / max(1, count)
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.floor(lo / step) * step
    ticks = []
    v = start
    while v <= hi + step * 1e-9:
        ticks.append(round(v, 12))
        v += step
    if ticks[-1] < hi:
        ticks.append(round(v, 12))
    return ticks


@dataclass(frozen=True)
class Frame:
    """A plot area inside an SVG of ``width`` x ``height`` with the given margins."""

    width: float
    height: float
    left: float = 56
    right: float = 16
    top: float = 24
    bottom: float = 40

    @property
    def x0(self) -> float:
        return self.left

    @property
    def x1(self) -> float:
        return self.width - self.right

    @property
    def y0(self) -> float:
        return self.height - self.bottom

    @property
    def y1(self) -> float:
        return self.top


def svg(frame: Frame, body: Sequence[str], label: str) -> str:
    """Wrap chart parts into one ``<svg>`` element with an accessible name."""
    head = (
        f'<svg class="chart" role="img" '
        f'viewBox="0 0 {_c(frame.width)} {_c(frame.height)}" width="{_c(frame.width)}" '
        f'height="{_c(frame.height)}" aria-label={quoteattr(label)} '
        f'font-family="system-ui, sans-serif" font-size="{FONT}">'
    )
    return head + f"<title>{_t(label)}</title>" + "".join(body) + "</svg>"


def text(x: float, y: float, s: object, anchor: str = "start", **attrs: object) -> str:
    extra = "".join(f' {k.replace("_", "-")}={quoteattr(str(v))}' for k, v in attrs.items())
    return (
        f'<text x="{_c(x)}" y="{_c(y)}" text-anchor="{anchor}" fill="{INK}"{extra}>'
        f"{_t(s)}</text>"
    )


def rect(x: float, y: float, w: float, h: float, fill: str, tip: str = "") -> str:
    title = f"<title>{_t(tip)}</title>" if tip else ""
    return (
        f'<rect x="{_c(x)}" y="{_c(y)}" width="{_c(max(w, 0.0))}" height="{_c(max(h, 0.0))}" '
        f'fill="{fill}">{title}</rect>'
    )


def line(x1: float, y1: float, x2: float, y2: float, stroke: str = GRID, width: float = 1,
         dash: str = "") -> str:
    d = f' stroke-dasharray="{dash}"' if dash else ""
    return (
        f'<line x1="{_c(x1)}" y1="{_c(y1)}" x2="{_c(x2)}" y2="{_c(y2)}" stroke="{stroke}" '
        f'stroke-width="{_c(width)}"{d}/>'
    )


def circle(x: float, y: float, r: float, fill: str, tip: str = "", stroke: str = "none") -> str:
    title = f"<title>{_t(tip)}</title>" if tip else ""
    return (
        f'<circle cx="{_c(x)}" cy="{_c(y)}" r="{_c(r)}" fill="{fill}" stroke="{stroke}" '
        f'stroke-width="1.5">{title}</circle>'
    )


def polyline(points: Sequence[tuple[float, float]], stroke: str, width: float = 1.5,
             dash: str = "") -> str:
    pts = " ".join(f"{_c(x)},{_c(y)}" for x, y in points)
    d = f' stroke-dasharray="{dash}"' if dash else ""
    return (
        f'<polyline points="{pts}" fill="none" stroke="{stroke}" stroke-width="{_c(width)}"'
        f"{d}/>"
    )


def _scale(lo: float, hi: float, a: float, b: float) -> tuple[float, float, list[float]]:
    ticks = nice_ticks(lo, hi)
    t0, t1 = ticks[0], ticks[-1]
    span = (t1 - t0) or 1.0
    return t0, span, ticks


def _y_axis(frame: Frame, lo: float, hi: float, unit: str) -> tuple[list[str], float, float]:
    t0, span, ticks = _scale(lo, hi, frame.y0, frame.y1)
    parts = []
    for t in ticks:
        y = frame.y0 - (t - t0) / span * (frame.y0 - frame.y1)
        parts.append(line(frame.x0, y, frame.x1, y))
        parts.append(text(frame.x0 - 4, y + 4, num(t), "end"))
    if unit:
        parts.append(text(4, frame.y1 - 10, unit))
    return parts, t0, span


def _x_axis(frame: Frame, lo: float, hi: float, unit: str) -> tuple[list[str], float, float]:
    t0, span, ticks = _scale(lo, hi, frame.x0, frame.x1)
    parts = []
    for t in ticks:
        x = frame.x0 + (t - t0) / span * (frame.x1 - frame.x0)
        parts.append(line(x, frame.y1, x, frame.y0))
        parts.append(text(x, frame.y0 + 14, num(t), "middle"))
    if unit:
        parts.append(text((frame.x0 + frame.x1) / 2, frame.height - 6, unit, "middle"))
    return parts, t0, span


def legend(names: Sequence[str], colours: Mapping[str, str], x: float, y: float) -> list[str]:
    parts = []
    cx = x
    for name in names:
        parts.append(rect(cx, y - 9, 10, 10, colours[name]))
        parts.append(text(cx + 14, y, name))
        cx += 22 + 7 * len(name)
    return parts


# -- charts ------------------------------------------------------------------------------


def pareto(labels: Sequence[str], values: Sequence[float], unit: str, label: str,
           width: float = 640) -> str:
    """Sorted bars (largest first) and the cumulative share as a line on a 0-100% axis."""
    pairs = sorted(zip(labels, values, strict=True), key=lambda p: (-p[1], p[0]))
    total = math.fsum(v for _, v in pairs) or 1.0
    frame = Frame(width, 240, left=56, right=44, bottom=56)
    parts, t0, span = _y_axis(frame, 0.0, max([v for _, v in pairs] or [1.0]), unit)
    n = max(1, len(pairs))
    slot = (frame.x1 - frame.x0) / n
    cum = 0.0
    pts = []
    for i, (name, v) in enumerate(pairs):
        h = (v - t0) / span * (frame.y0 - frame.y1)
        x = frame.x0 + i * slot
        cum += v
        share = cum / total
        parts.append(rect(x + slot * 0.15, frame.y0 - h, slot * 0.7, h, colour(i),
                          f"{name}: {num(v)} {unit} ({v / total * 100:.1f}%)"))
        parts.append(text(x + slot / 2, frame.y0 + 14, name, "middle"))
        pts.append((x + slot / 2, frame.y0 - share * (frame.y0 - frame.y1)))
    parts.append(polyline(pts, INK))
    for (x, y), (name, _v) in zip(pts, pairs, strict=True):
        pct = (y - frame.y0) / (frame.y1 - frame.y0) * 100
        parts.append(circle(x, y, 3, INK, f"cumulative to {name}: {pct:.1f}%"))
    for p in (0, 50, 80, 100):
        y = frame.y0 - p / 100 * (frame.y0 - frame.y1)
        parts.append(text(frame.x1 + 4, y + 4, f"{p}%"))
    parts.append(line(frame.x0, frame.y0 - 0.8 * (frame.y0 - frame.y1), frame.x1,
                      frame.y0 - 0.8 * (frame.y0 - frame.y1), "#999", 1, "4 3"))
    return svg(frame, parts, label)


def grouped_bars(labels: Sequence[str], series: Mapping[str, Sequence[float]], unit: str,
                 label: str, width: float = 640) -> str:
    """Horizontal bars, one group per label, one bar per series (e.g. p50 and p95)."""
    names = list(series)
    rows = len(labels)
    bar_h = 10.0
    group_h = bar_h * len(names) + 8
    frame = Frame(width, 40 + rows * group_h + 30, left=120, right=60, top=30, bottom=30)
    hi = max([v for s in series.values() for v in s] or [1.0])
    parts, t0, span = _x_axis(frame, 0.0, hi, unit)
    colours = {n: colour(i) for i, n in enumerate(names)}
    for r, lab in enumerate(labels):
        gy = frame.y1 + 4 + r * group_h
        parts.append(text(frame.x0 - 6, gy + group_h / 2, lab, "end"))
        for j, name in enumerate(names):
            v = series[name][r]
            w = (v - t0) / span * (frame.x1 - frame.x0)
            y = gy + j * bar_h
            parts.append(rect(frame.x0, y, w, bar_h - 1, colours[name],
                              f"{lab} {name}: {num(v)} {unit}"))
            parts.append(text(frame.x0 + w + 3, y + bar_h - 2, num(v), font_size=9))
    parts += legend(names, colours, frame.x0, 14)
    return svg(frame, parts, label)


@dataclass(frozen=True)
class Span:
    """One bar of a waterfall row: a stage from ``start_ms`` for ``duration_ms``."""

    stage: str
    start_ms: float
    duration_ms: float


def waterfall(rows: Sequence[tuple[str, Sequence[Span]]], stages: Sequence[str], label: str,
              width: float = 760) -> str:
    """A Gantt chart: one row per request, each stage drawn at its start offset."""
    row_h = 16.0
    frame = Frame(width, 30 + len(rows) * row_h + 40, left=150, right=20, top=30, bottom=36)
    end = max([s.start_ms + s.duration_ms for _, spans in rows for s in spans] or [1.0])
    parts, t0, span = _x_axis(frame, 0.0, end, "ms after the request started")
    colours = {s: colour(i) for i, s in enumerate(stages)}
    scale = (frame.x1 - frame.x0) / span
    for r, (lab, spans) in enumerate(rows):
        y = frame.y1 + r * row_h + 2
        parts.append(text(frame.x0 - 6, y + row_h - 5, lab, "end", font_size=10))
        for s in spans:
            x = frame.x0 + (s.start_ms - t0) * scale
            w = max(1.0, s.duration_ms * scale)
            parts.append(rect(x, y, w, row_h - 3, colours.get(s.stage, "#999"),
                              f"{lab} {s.stage}: starts at {num(s.start_ms)} ms, "
                              f"takes {num(s.duration_ms)} ms"))
    parts += legend(list(stages), colours, frame.x0, 14)
    return svg(frame, parts, label)


def histogram(values: Sequence[float], unit: str, label: str, bins: int = 12,
              width: float = 320, fill: str = PALETTE[0]) -> str:
    """Counts of values in equal-width bins, with the median marked."""
    frame = Frame(width, 200, left=40, right=12, bottom=40)
    vals = sorted(v for v in values if math.isfinite(v))
    if not vals:
        return svg(frame, [text(frame.x0, frame.y0 / 2, "no values")], label)
    lo, hi = vals[0], vals[-1]
    if hi == lo:
        lo, hi = lo - 0.5, hi + 0.5
    bins = max(1, min(bins, len(vals)))
    step = (hi - lo) / bins
    counts = [0] * bins
    for v in vals:
        counts[min(bins - 1, int((v - lo) / step))] += 1
    yparts, _y_t0, y_span = _y_axis(frame, 0.0, max(counts), "")
    xparts, x_t0, x_span = _x_axis(frame, lo, hi, unit)
    parts = yparts + [p for p in xparts if p.startswith("<text")]
    sx = (frame.x1 - frame.x0) / x_span
    for i, c in enumerate(counts):
        x = frame.x0 + (lo + i * step - x_t0) * sx
        h = c / y_span * (frame.y0 - frame.y1)
        parts.append(rect(x + 0.5, frame.y0 - h, step * sx - 1, h, fill,
                          f"{num(lo + i * step)}-{num(lo + (i + 1) * step)} {unit}: {c}"))
    median = vals[len(vals) // 2] if len(vals) % 2 else (
        (vals[len(vals) // 2 - 1] + vals[len(vals) // 2]) / 2)
    mx = frame.x0 + (median - x_t0) * sx
    parts.append(line(mx, frame.y1, mx, frame.y0, INK, 1, "3 2"))
    parts.append(text(mx + 3, frame.y1 + 10, f"p50 {num(median)}", font_size=9))
    return svg(frame, parts, label)


@dataclass(frozen=True)
class Dot:
    """One configuration or scenario on a cost-quality plane."""

    name: str
    x: float
    y: float
    y_low: float | None = None
    y_high: float | None = None
    on_frontier: bool = True
    highlight: bool = False
    note: str = ""


def scatter(dots: Sequence[Dot], x_unit: str, y_unit: str, label: str,
            width: float = 640, frontier_line: bool = True) -> str:
    """Quality (y) against cost (x): whiskers for intervals, the frontier as a step line,
    dominated points hollow, the highlighted (recommended) point ringed."""
    frame = Frame(width, 300, left=56, right=24, bottom=44)
    if not dots:
        return svg(frame, [text(frame.x0, frame.y0 / 2, "no configurations")], label)
    xs = [d.x for d in dots]
    ys = [d.y for d in dots] + [v for d in dots for v in (d.y_low, d.y_high) if v is not None]
    pad = (max(xs) - min(xs)) * 0.05 or abs(max(xs)) * 0.1 or 1.0
    yparts, y_t0, y_span = _y_axis(frame, min(ys), max(ys), y_unit)
    xparts, x_t0, x_span = _x_axis(frame, max(0.0, min(xs) - pad), max(xs) + pad, x_unit)
    parts = yparts + xparts

    def px(x: float) -> float:
        return frame.x0 + (x - x_t0) / x_span * (frame.x1 - frame.x0)

    def py(y: float) -> float:
        return frame.y0 - (y - y_t0) / y_span * (frame.y0 - frame.y1)

    front = sorted((d for d in dots if d.on_frontier), key=lambda d: d.x)
    if frontier_line and len(front) > 1:
        pts: list[tuple[float, float]] = []
        for i, d in enumerate(front):
            if i:
                pts.append((px(d.x), py(front[i - 1].y)))
            pts.append((px(d.x), py(d.y)))
        parts.append(polyline(pts, PALETTE[0], 1.5))
    for i, d in enumerate(dots):
        x, y = px(d.x), py(d.y)
        if d.y_low is not None and d.y_high is not None:
            parts.append(line(x, py(d.y_low), x, py(d.y_high), "#888", 1))
        fill = PALETTE[0] if d.on_frontier else "#fff"
        tip = f"{d.name}: {num(d.x)} {x_unit}, {d.y:.3f} {y_unit}"
        if d.note:
            tip += f" ({d.note})"
        if d.highlight:
            parts.append(circle(x, y, 9, "none", "", PALETTE[3]))
        parts.append(circle(x, y, 5, fill, tip, PALETTE[0]))
        dy = -9 if i % 2 == 0 else 16
        parts.append(text(x + 7, y + dy, d.name, font_size=10))
    return svg(frame, parts, label)


def trend(labels: Sequence[str], values: Sequence[float], change_points: Sequence[int],
          unit: str, label: str, width: float = 480, ranges: Sequence[str] = ()) -> str:
    """A metric over runs (oldest first), with each change point marked by a dashed line
    (labelled with its commit range when ``ranges`` gives one) and the mean of each
    segment drawn flat."""
    frame = Frame(width, 180, left=52, right=12, bottom=36)
    if not values:
        return svg(frame, [text(frame.x0, frame.y0 / 2, "no history")], label)
    parts, t0, span = _y_axis(frame, min(values), max(values), unit)
    n = len(values)
    step = (frame.x1 - frame.x0) / max(1, n - 1)

    def py(v: float) -> float:
        return frame.y0 - (v - t0) / span * (frame.y0 - frame.y1)

    pts = [(frame.x0 + i * step, py(v)) for i, v in enumerate(values)]
    parts.append(polyline(pts, PALETTE[0]))
    for (x, y), lab, v in zip(pts, labels, values, strict=True):
        parts.append(circle(x, y, 2.5, PALETTE[0], f"{lab}: {num(v)} {unit}"))
    bounds = [0, *sorted(change_points), n]
    for a, b in itertools.pairwise(bounds):
        if b <= a:
            continue
        mean = math.fsum(values[a:b]) / (b - a)
        parts.append(line(pts[a][0], py(mean), pts[b - 1][0], py(mean), PALETTE[1], 2))
    for k, cp in enumerate(change_points):
        x = frame.x0 + (cp - 0.5) * step
        parts.append(line(x, frame.y1, x, frame.y0, PALETTE[3], 1.5, "4 3"))
        where = ranges[k] if k < len(ranges) and ranges[k] else labels[cp]
        parts.append(text(x + 3, frame.y1 + 10 + 10 * (k % 2), f"change in {where}",
                          font_size=9))
    if n > 1:
        parts.append(text(frame.x0, frame.y0 + 16, labels[0], font_size=9))
        parts.append(text(frame.x1, frame.y0 + 16, labels[-1], "end", font_size=9))
    return svg(frame, parts, label)


def load_profile(levels: Sequence[str], loads: Sequence[float],
                 latency_ms: Mapping[str, Sequence[float | None]],
                 cost: Sequence[float | None], x_unit: str, cost_unit: str, label: str,
                 width: float = 640) -> str:
    """Latency (left axis, one line per series such as p50 and p95) and cost per answer
    (right axis, dashed) against the load level on the x axis."""
    frame = Frame(width, 280, left=56, right=64, top=32, bottom=44)
    lat = [v for s in latency_ms.values() for v in s if v is not None and math.isfinite(v)]
    costs = [v for v in cost if v is not None and math.isfinite(v)]
    if not loads or not lat:
        return svg(frame, [text(frame.x0, frame.y0 / 2, "no load levels")], label)
    yparts, y_t0, y_span = _y_axis(frame, 0.0, max(lat), "ms")
    lo, hi = min(loads), max(loads)
    if hi == lo:
        lo, hi = max(0.0, lo - 1), hi + 1
    xparts, x_t0, x_span = _x_axis(frame, lo, hi, x_unit)
    parts = yparts + xparts

    def px(x: float) -> float:
        return frame.x0 + (x - x_t0) / x_span * (frame.x1 - frame.x0)

    def py(y: float, t0: float, span: float) -> float:
        return frame.y0 - (y - t0) / span * (frame.y0 - frame.y1)

    names = list(latency_ms)
    colours = {n: colour(i) for i, n in enumerate(names)}
    for name in names:
        pts = [(px(x), py(v, y_t0, y_span), lab, v)
               for x, v, lab in zip(loads, latency_ms[name], levels, strict=True)
               if v is not None and math.isfinite(v)]
        if len(pts) > 1:
            parts.append(polyline([(x, y) for x, y, _, _ in pts], colours[name], 2))
        for x, y, lab, v in pts:
            parts.append(circle(x, y, 3.5, colours[name], f"{lab} {name}: {num(v)} ms"))
    cost_name = f"{cost_unit} per answer"
    if costs:
        c_ticks = nice_ticks(0.0, max(costs))
        c_t0, c_span = c_ticks[0], (c_ticks[-1] - c_ticks[0]) or 1.0
        for t in c_ticks:
            parts.append(text(frame.x1 + 4, py(t, c_t0, c_span) + 4, num(t)))
        parts.append(text(frame.x1 + 4, frame.y1 - 10, cost_unit))
        ink = colour(len(names))
        colours[cost_name] = ink
        pts2 = [(px(x), py(v, c_t0, c_span), lab, v)
                for x, v, lab in zip(loads, cost, levels, strict=True)
                if v is not None and math.isfinite(v)]
        if len(pts2) > 1:
            parts.append(polyline([(x, y) for x, y, _, _ in pts2], ink, 1.5, "5 3"))
        for x, y, lab, v in pts2:
            parts.append(rect(x - 3, y - 3, 6, 6, ink, f"{lab}: {num(v)} {cost_name}"))
        names.append(cost_name)
    parts += legend(names, colours, frame.x0, 14)
    return svg(frame, parts, label)
