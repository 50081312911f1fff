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
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
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
    if a >= 1e-7:
        # positional, not 3e-05: a reader compares digits along an axis
        digits = 1 - math.floor(math.log10(a))
        return f"{x:.{digits}f}".rstrip("0").rstrip(".")
    return f"{x:.2g}"


def text_width(s: object, size: float = FONT) -> float:
    """The width a label takes in the browser, estimated on the wide side (system-ui
    digits and lower-case letters are about 0.55 em; capitals and symbols more)."""
    return sum(0.72 if (c.isupper() or c in "%@#&mwMW") else 0.6 for c in str(s)) * size


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


def figure(chart: str, caption: str) -> str:
    """A chart and its visible caption, as one ``<figure>``."""
    return f'<figure class="chart">{chart}<figcaption>{_t(caption)}</figcaption></figure>'


def svg(frame: Frame, body: Sequence[str], label: str) -> str:
    """Wrap chart parts into one ``<figure>``: an ``<svg>`` element with an accessible name,
    and ``label`` as its visible caption."""
    head = (
        f'<svg class="chart" role="img" '
        f'viewBox="0 0 {_c(frame.width)} {_c(frame.height)}" width="{_c(frame.width)}" '
        f'height="{_c(frame.height)}" aria-label={quoteattr(label)} '
        f'font-family="system-ui, sans-serif" font-size="{FONT}">'
    )
    return figure(head + f"<title>{_t(label)}</title>" + "".join(body) + "</svg>", label)


def text(x: float, y: float, s: object, anchor: str = "start", **attrs: object) -> str:
    """A label; ``text_width`` estimates its width (so labels can be placed apart)."""
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


#: Room left between two tick labels, in pixels.
TICK_GAP = 8.0
#: The height a line of text takes, in pixels (a box, not the font size).
LINE = FONT * 1.3
#: Where a rotated axis title's centre line sits from the chart's edge.
TITLE_INSET = 12.0


def tick_labels(ticks: Sequence[float]) -> list[str]:
    """Labels for evenly spaced ticks: as many decimals as tell them apart (``num`` alone
    rounds 0.0000105 and 0.000011 to the same text)."""
    plain = [num(t) for t in ticks]
    if len(ticks) < 2 or len(set(plain)) == len(plain):
        return plain
    step = abs(ticks[1] - ticks[0]) or 1.0
    for d in range(13):
        out = [f"{t:.{d}f}" for t in ticks]
        if all(abs(float(o) - t) <= step * 1e-6 for o, t in zip(out, ticks, strict=True)):
            return [o.rstrip("0").rstrip(".") if "." in o else o for o in out]
    return plain


def fit_ticks(lo: float, hi: float, length: float, size: Callable[[str], float]) -> list[float]:
    """Round ticks over [lo, hi], as many as fit along ``length`` pixels with no two
    labels touching; ``size`` gives the room one label takes along the axis."""
    best = nice_ticks(lo, hi, 1)
    for count in range(2, 11):
        ticks = nice_ticks(lo, hi, count)
        if len(ticks) <= len(best):
            continue
        room = length / (len(ticks) - 1)
        if room >= max(size(lab) for lab in tick_labels(ticks)) + TICK_GAP:
            best = ticks
    return best


def clip(s: str, width: float, size: float = FONT) -> str:
    """``s`` shortened with an ellipsis to fit ``width`` pixels."""
    if text_width(s, size) <= width:
        return s
    while s and text_width(s + "…", size) > width:
        s = s[:-1]
    return s + "…" if s else ""


def _axis_title(x: float, y: float, s: str, length: float) -> str:
    """A title along a vertical axis, read bottom to top, centred on (x, y)."""
    return text(x, y, clip(s, length), "middle", transform=f"rotate(-90 {_c(x)} {_c(y)})")


def _y_ticks(frame: Frame, lo: float, hi: float) -> list[float]:
    return fit_ticks(lo, hi, frame.y0 - frame.y1, lambda _s: LINE)


def y_frame(frame: Frame, lo: float, hi: float, titled: bool = True) -> Frame:
    """``frame`` with a left margin wide enough for the y tick labels and the title."""
    widest = max(text_width(lab) for lab in tick_labels(_y_ticks(frame, lo, hi)))
    need = widest + 8 + (TITLE_INSET + 8 if titled else 0)
    return replace(frame, left=max(frame.left, need))


def _y_axis(frame: Frame, lo: float, hi: float, title: str) -> tuple[list[str], float, float]:
    ticks = _y_ticks(frame, lo, hi)
    t0, span = ticks[0], (ticks[-1] - ticks[0]) or 1.0
    parts = []
    for t, label in zip(ticks, tick_labels(ticks), strict=True):
        y = frame.y0 - (t - t0) / span * (frame.y0 - frame.y1)
        parts.append(line(frame.x0, y, frame.x1, y))
        parts.append(text(frame.x0 - 4, y + 4, label, "end"))
    if title:
        parts.append(_axis_title(TITLE_INSET, (frame.y0 + frame.y1) / 2, title,
                                 frame.y0 - frame.y1))
    return parts, t0, span


def _x_axis(frame: Frame, lo: float, hi: float, title: str,
            grid: bool = True) -> tuple[list[str], float, float]:
    ticks = fit_ticks(lo, hi, frame.x1 - frame.x0, text_width)
    t0, span = ticks[0], (ticks[-1] - ticks[0]) or 1.0
    parts = []
    boxes: list[tuple[float, float]] = []
    for t, label in zip(ticks, tick_labels(ticks), strict=True):
        x = frame.x0 + (t - t0) / span * (frame.x1 - frame.x0)
        if grid:
            parts.append(line(x, frame.y1, x, frame.y0))
        half = text_width(label) / 2
        # an end label is moved inwards rather than cut at the chart's edge; one that
        # would then touch its neighbour is left out (its grid line stays)
        cx = min(max(x, half + 1), frame.width - half - 1)
        if boxes and cx - half < boxes[-1][1] + 2:
            continue
        boxes.append((cx - half, cx + half))
        parts.append(text(cx, frame.y0 + 18, label, "middle"))
    if title:
        parts.append(text((frame.x0 + frame.x1) / 2, frame.height - 6,
                          clip(title, frame.width - 8), "middle"))
    return parts, t0, span


def legend_rows(names: Sequence[str], x: float, max_x: float) -> list[list[tuple[str, float]]]:
    """Legend entries laid out left to right, wrapping before ``max_x``."""
    rows: list[list[tuple[str, float]]] = [[]]
    cx = x
    for name in names:
        w = 14 + text_width(name) + 12
        if rows[-1] and cx + w > max_x:
            rows.append([])
            cx = x
        rows[-1].append((name, cx))
        cx += w
    return rows


def legend(names: Sequence[str], colours: Mapping[str, str], x: float, y: float,
           max_x: float = 10_000) -> list[str]:
    parts = []
    for r, row in enumerate(legend_rows(names, x, max_x)):
        for name, cx in row:
            ly = y + r * LINE
            parts.append(rect(cx, ly - 9, 10, 10, colours[name]))
            parts.append(text(cx + 14, ly, name))
    return parts


def _free(box: tuple[float, float, float, float],
          taken: Sequence[tuple[float, float, float, float]]) -> bool:
    x0, y0, x1, y1 = box
    return all(x1 <= a or x0 >= c or y1 <= b or y0 >= d for a, b, c, d in taken)


# -- charts ------------------------------------------------------------------------------


def pareto(labels: Sequence[str], values: Sequence[float], unit: str, label: str,
           width: float = 640, quantity: str = "total") -> str:
    """Sorted bars (largest first) and the cumulative share as a line on a 0-100% axis."""
    pairs = sorted(zip(labels, values, strict=True), key=lambda p: (-p[1], p[0]))
    total = math.fsum(v for _, v in pairs) or 1.0
    hi = max([v for _, v in pairs] or [1.0])
    frame = y_frame(Frame(width, 240, left=56, right=16 + text_width("100%") + TITLE_INSET + 8,
                          bottom=52), 0.0, hi)
    parts, t0, span = _y_axis(frame, 0.0, hi, f"{quantity} ({unit})")
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
        parts.append(text(x + slot / 2, frame.y0 + 14, clip(name, slot - 6), "middle"))
        pts.append((x + slot / 2, frame.y0 - share * (frame.y0 - frame.y1)))
    parts.append(polyline(pts, INK))
    for (x, y), (name, _v) in zip(pts, pairs, strict=True):
        pct = (y - frame.y0) / (frame.y1 - frame.y0) * 100
        parts.append(circle(x, y, 3, INK, f"cumulative to {name}: {pct:.1f}%"))
    for p in (0, 50, 80, 100):
        y = frame.y0 - p / 100 * (frame.y0 - frame.y1)
        parts.append(text(frame.x1 + 4, y + 4, f"{p}%"))
    parts.append(_axis_title(frame.width - TITLE_INSET, (frame.y0 + frame.y1) / 2,
                             "cumulative share (%)", frame.y0 - frame.y1))
    parts.append(text((frame.x0 + frame.x1) / 2, frame.height - 6, "stage", "middle"))
    parts.append(line(frame.x0, frame.y0 - 0.8 * (frame.y0 - frame.y1), frame.x1,
                      frame.y0 - 0.8 * (frame.y0 - frame.y1), "#999", 1, "4 3"))
    return svg(frame, parts, label)


def grouped_bars(labels: Sequence[str], series: Mapping[str, Sequence[float]], unit: str,
                 label: str, width: float = 640, quantity: str = "wall time") -> str:
    """Horizontal bars, one group per label, one bar per series (e.g. p50 and p95)."""
    names = list(series)
    rows = len(labels)
    bar_h = 14.0
    group_h = bar_h * len(names) + 8
    top = 16 + LINE * len(legend_rows(names, 120, width - 60))
    frame = Frame(width, top + 8 + rows * group_h + 40, left=120, right=60, top=top,
                  bottom=40)
    hi = max([v for s in series.values() for v in s] or [1.0])
    parts, t0, span = _x_axis(frame, 0.0, hi, f"{quantity} ({unit})")
    colours = {n: colour(i) for i, n in enumerate(names)}
    for r, lab in enumerate(labels):
        gy = frame.y1 + 4 + r * group_h
        parts.append(text(frame.x0 - 6, gy + group_h / 2, clip(lab, frame.x0 - 10), "end"))
        for j, name in enumerate(names):
            v = series[name][r]
            w = (v - t0) / span * (frame.x1 - frame.x0)
            y = gy + j * bar_h
            parts.append(rect(frame.x0, y, w, bar_h - 2, colours[name],
                              f"{lab} {name}: {num(v)} {unit}"))
            parts.append(text(frame.x0 + w + 3, y + bar_h - 4, num(v), font_size=9))
    parts += legend(names, colours, frame.x0, 14, frame.x1)
    return svg(frame, parts, label)


@dataclass(frozen=True)
class Span:
    """One bar of a waterfall row: a stage from ``start_ms`` for ``duration_ms``."""

    stage: str
    start_ms: float
    duration_ms: float


#: The waterfall's band for the part of a request no stage covers.
OUTSIDE = "outside stages"
OUTSIDE_FILL = "#e4e4e4"


def waterfall(rows: Sequence[tuple[str, Sequence[Span]]], stages: Sequence[str], label: str,
              width: float = 760, totals_ms: Sequence[float] = ()) -> str:
    """A Gantt chart: one row per request, each stage drawn at its start offset. With
    ``totals_ms`` (each request's wall time) the whole request is drawn: a grey band
    from 0 to its end, so time outside any stage shows as its own band."""
    row_h = 18.0
    names = [*stages, OUTSIDE] if totals_ms else list(stages)
    top = 16 + LINE * len(legend_rows(names, 150, width - 20))
    frame = Frame(width, top + 8 + len(rows) * row_h + 40, left=150, right=20, top=top,
                  bottom=40)
    end = max([s.start_ms + s.duration_ms for _, spans in rows for s in spans]
              + list(totals_ms) or [1.0])
    parts, t0, span = _x_axis(frame, 0.0, end, "time since the request started (ms)")
    colours = {s: colour(i) for i, s in enumerate(stages)}
    colours[OUTSIDE] = OUTSIDE_FILL
    scale = (frame.x1 - frame.x0) / span
    for r, (lab, spans) in enumerate(rows):
        y = frame.y1 + r * row_h + 2
        parts.append(text(frame.x0 - 6, y + row_h - 6, clip(lab, frame.x0 - 10, 10), "end",
                          font_size=10))
        if r < len(totals_ms):
            covered = _covered_ms(spans)
            parts.append(rect(frame.x0, y, totals_ms[r] * scale, row_h - 4, OUTSIDE_FILL,
                              f"{lab} {OUTSIDE}: {num(max(0.0, totals_ms[r] - covered))} ms "
                              f"of {num(totals_ms[r])} ms"))
        for s in spans:
            x = frame.x0 + (s.start_ms - t0) * scale
            w = max(1.0, s.duration_ms * scale)
            parts.append(rect(x, y, w, row_h - 4, colours.get(s.stage, "#999"),
                              f"{lab} {s.stage}: starts at {num(s.start_ms)} ms, "
                              f"takes {num(s.duration_ms)} ms"))
    parts += legend(names, colours, frame.x0, 14, frame.x1)
    return svg(frame, parts, label)


def _covered_ms(spans: Sequence[Span]) -> float:
    """The time at least one stage of a request was open (overlaps counted once)."""
    covered, reach = 0.0, -math.inf
    for s in sorted(spans, key=lambda s: s.start_ms):
        a, b = s.start_ms, s.start_ms + s.duration_ms
        if b > reach:
            covered += b - max(a, reach)
            reach = b
    return covered


def histogram(values: Sequence[float], unit: str, label: str, bins: int = 12,
              width: float = 320, fill: str = PALETTE[0], quantity: str = "") -> str:
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
    frame = y_frame(frame, 0.0, max(counts))
    yparts, _y_t0, y_span = _y_axis(frame, 0.0, max(counts), "requests")
    xparts, x_t0, x_span = _x_axis(frame, lo, hi, f"{quantity} ({unit})" if quantity else unit,
                                   grid=False)
    parts = yparts + xparts
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
    note = f"p50 {num(median)}"
    right = mx + 3 + text_width(note, 9) <= frame.x1
    parts.append(text(mx + 3 if right else mx - 3, frame.y1 - 4, note,
                      "start" if right else "end", font_size=9))
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
            width: float = 640, frontier_line: bool = True,
            y_range: tuple[float, float] | None = None) -> str:
    """Quality (y) against cost (x): whiskers for intervals, the frontier as a step line,
    dominated points hollow, the highlighted (recommended) point ringed. ``y_range`` fixes
    the y axis (a score's 0-1); intervals are drawn clipped to it."""
    frame = Frame(width, 300, left=56, right=24, bottom=44)
    if not dots:
        return svg(frame, [text(frame.x0, frame.y0 / 2, "no configurations")], label)
    xs = [d.x for d in dots]
    if y_range is None:
        ys = [d.y for d in dots] + [v for d in dots for v in (d.y_low, d.y_high)
                                    if v is not None]
        y_lo, y_hi = min(ys), max(ys)
    else:
        y_lo, y_hi = y_range
    pad = (max(xs) - min(xs)) * 0.05 or abs(max(xs)) * 0.1 or 1.0
    frame = y_frame(frame, y_lo, y_hi)
    yparts, y_t0, y_span = _y_axis(frame, y_lo, y_hi, y_unit)
    xparts, x_t0, x_span = _x_axis(frame, max(0.0, min(xs) - pad), max(xs) + pad, x_unit)
    parts = yparts + xparts

    def px(x: float) -> float:
        return frame.x0 + (x - x_t0) / x_span * (frame.x1 - frame.x0)

    def py(y: float) -> float:
        if y_range is not None:
            y = min(max(y, y_t0), y_t0 + y_span)
        return frame.y0 - (y - y_t0) / y_span * (frame.y0 - frame.y1)

    front = sorted((d for d in dots if d.on_frontier), key=lambda d: d.x)
    if frontier_line and len(front) > 1:
        pts: list[tuple[float, float]] = []
        for i, d in enumerate(front):
            if i:
                pts.append((px(d.x), py(front[i - 1].y)))
            pts.append((px(d.x), py(d.y)))
        parts.append(polyline(pts, PALETTE[0], 1.5))
    taken: list[tuple[float, float, float, float]] = []
    names: list[str] = []
    for d in dots:
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
        # the name goes beside its dot where it touches no other name and stays in the
        # plot; where no place is free it is left to the dot's tooltip
        w = text_width(d.name, 10)
        for dx, dy, anchor in ((8, -8, "start"), (8, 15, "start"), (-8, -8, "end"),
                               (-8, 15, "end")):
            x0 = x + dx if anchor == "start" else x + dx - w
            box = (x0, y + dy - 10, x0 + w, y + dy + 3)
            if box[0] >= frame.x0 and box[2] <= frame.width - 2 and box[1] >= 0 and \
                    box[3] <= frame.y0 and _free(box, taken):
                taken.append(box)
                names.append(text(x + dx, y + dy, d.name, anchor, font_size=10))
                break
    return svg(frame, parts + names, label)


def trend(labels: Sequence[str], values: Sequence[float], change_points: Sequence[int],
          unit: str, label: str, width: float = 480, ranges: Sequence[str] = (),
          y_title: str = "") -> str:
    """A metric over runs (oldest first), with each change point marked by a dashed line
    (labelled with its commit range when ``ranges`` gives one) and the mean of each
    segment drawn flat."""
    frame = Frame(width, 200, left=52, right=12, top=34, bottom=44)
    if not values:
        return svg(frame, [text(frame.x0, frame.y0 / 2, "no history")], label)
    frame = y_frame(frame, min(values), max(values))
    title = y_title or unit
    parts, t0, span = _y_axis(frame, min(values), max(values),
                              f"{title} ({unit})" if y_title and unit else title)
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
    taken: list[tuple[float, float, float, float]] = []
    for k, cp in enumerate(change_points):
        x = frame.x0 + (cp - 0.5) * step
        parts.append(line(x, frame.y1, x, frame.y0, PALETTE[3], 1.5, "4 3"))
        where = ranges[k] if k < len(ranges) and ranges[k] else labels[cp]
        note = clip(f"change in {where}", frame.width - 4, 9)
        w = text_width(note, 9)
        # above the plot, right of its line (left of it near the right edge), on the
        # first of two lines where it touches no other note; the list beside the charts
        # names every change point
        x0 = x + 3 if x + 3 + w <= frame.width - 2 else max(2.0, x - 3 - w)
        for row in range(2):
            baseline = frame.y1 - 6 - row * 12
            box = (x0, baseline - 9, x0 + w, baseline + 3)
            if _free(box, taken):
                taken.append(box)
                parts.append(text(x0, baseline, note, font_size=9))
                break
    if n > 1:
        first, last = labels[0], labels[-1]
        room = (frame.x1 - frame.x0) / 2 - 6
        parts.append(text(frame.x0, frame.y0 + 16, clip(first, room, 9), font_size=9))
        parts.append(text(frame.x1, frame.y0 + 16, clip(last, room, 9), "end", font_size=9))
    parts.append(text((frame.x0 + frame.x1) / 2, frame.height - 6, "run (oldest first)",
                      "middle"))
    return svg(frame, parts, label)


def load_profile(levels: Sequence[str], loads: Sequence[float],
                 latency_ms: Mapping[str, Sequence[float | None]],
                 cost: Sequence[float | None], x_unit: str, cost_unit: str, label: str,
                 width: float = 640) -> str:
    """Latency (left axis, one line per series such as p50 and p95) and cost per answer
    (right axis, dashed) against the load level on the x axis."""
    lat = [v for s in latency_ms.values() for v in s if v is not None and math.isfinite(v)]
    costs = [v for v in cost if v is not None and math.isfinite(v)]
    names = list(latency_ms)
    cost_name = f"{cost_unit} per answer"
    shown = [*names, cost_name] if costs else names
    top = 24 + LINE * len(legend_rows(shown, 56, width - 64))
    frame = Frame(width, 260 + top, left=56, right=64, top=top, bottom=44)
    if not loads or not lat:
        return svg(frame, [text(frame.x0, frame.y0 / 2, "no load levels")], label)
    c_ticks = fit_ticks(0.0, max(costs), frame.y0 - frame.y1, lambda _s: LINE) if costs else []
    if c_ticks:
        frame = replace(frame, right=max(frame.right, max(text_width(lab)
                                                          for lab in tick_labels(c_ticks))
                                         + 4 + TITLE_INSET + 10))
    frame = y_frame(frame, 0.0, max(lat))
    yparts, y_t0, y_span = _y_axis(frame, 0.0, max(lat), "latency (ms)")
    lo, hi = min(loads), max(loads)
    if hi == lo:
        lo, hi = max(0.0, lo - 1), hi + 1
    xparts, x_t0, x_span = _x_axis(frame, lo, hi, x_unit)
    parts = yparts + xparts

    def px(x: float) -> float:
        return frame.x0 + (x - x_t0) / x_span * (frame.x1 - frame.x0)

    def py(y: float, t0: float, span: float) -> float:
        return frame.y0 - (y - t0) / span * (frame.y0 - frame.y1)

    colours = {n: colour(i) for i, n in enumerate(names)}
    for name in names:
        pts = [(px(x), py(v, y_t0, y_span), lab, v)
               for x, v, lab in zip(loads, latency_ms[name], levels, strict=True)
               if v is not None and math.isfinite(v)]
        if len(pts) > 1:
            parts.append(polyline([(x, y) for x, y, _, _ in pts], colours[name], 2))
        for x, y, lab, v in pts:
            parts.append(circle(x, y, 3.5, colours[name], f"{lab} {name}: {num(v)} ms"))
    if c_ticks:
        c_t0, c_span = c_ticks[0], (c_ticks[-1] - c_ticks[0]) or 1.0
        for t, lab in zip(c_ticks, tick_labels(c_ticks), strict=True):
            parts.append(text(frame.x1 + 4, py(t, c_t0, c_span) + 4, lab))
        parts.append(_axis_title(frame.width - TITLE_INSET, (frame.y0 + frame.y1) / 2,
                                 cost_name, frame.y0 - frame.y1))
        ink = colour(len(names))
        colours[cost_name] = ink
        pts2 = [(px(x), py(v, c_t0, c_span), lab, v)
                for x, v, lab in zip(loads, cost, levels, strict=True)
                if v is not None and math.isfinite(v)]
        if len(pts2) > 1:
            parts.append(polyline([(x, y) for x, y, _, _ in pts2], ink, 1.5, "5 3"))
        for x, y, lab, v in pts2:
            parts.append(rect(x - 3, y - 3, 6, 6, ink, f"{lab}: {num(v)} {cost_name}"))
    parts += legend(shown, colours, frame.x0, 14, frame.x1)
    return svg(frame, parts, label)


#: the heatmap's shade: the share of calls that failed, from none (white) to all (this)
HEAT = "#c0392b"


@dataclass(frozen=True)
class HeatCell:
    """One cell of :func:`heatmap`: the share that shades it (0..1), its text and tooltip."""

    share: float
    text: str
    tip: str


def heatmap(rows: Sequence[str], columns: Sequence[str],
            cells: Mapping[tuple[int, int], HeatCell], label: str, row_title: str,
            column_title: str) -> str:
    """A grid with one row per ``rows`` and one column per ``columns``; cell ``(r, c)`` is
    shaded by its share (darker: more) and shows its text; a cell not in ``cells`` is
    left blank (nothing to count there)."""
    cell_h = 22.0
    widest_cell = max([text_width(c.text, 10) for c in cells.values()] or [0.0])
    widest_col = max([text_width(c) for c in columns] or [0.0])
    cell_w = min(max(widest_cell + 12, widest_col + 10, 64.0), 160.0)
    left = min(max([text_width(r) for r in rows] or [0.0]) + 14, 260.0)
    top = 40.0
    width = max(left + cell_w * len(columns) + 16, text_width(column_title) + left + 16)
    frame = Frame(width, top + cell_h * len(rows) + 34, left=left, right=16, top=top,
                  bottom=34)
    parts = [text(frame.x0, 14, clip(column_title, width - frame.x0 - 4), font_size=10)]
    for c, name in enumerate(columns):
        x = frame.x0 + c * cell_w + cell_w / 2
        parts.append(text(x, top - 8, clip(name, cell_w - 6), "middle"))
    for r, name in enumerate(rows):
        y = top + r * cell_h
        parts.append(text(frame.x0 - 6, y + cell_h / 2 + 4, clip(name, frame.x0 - 10), "end"))
        for c in range(len(columns)):
            x = frame.x0 + c * cell_w
            cell = cells.get((r, c))
            if cell is None:
                parts.append(
                    f'<rect x="{_c(x + 1)}" y="{_c(y + 1)}" width="{_c(cell_w - 2)}" '
                    f'height="{_c(cell_h - 2)}" fill="none" stroke="{GRID}"/>')
                continue
            share = min(max(cell.share, 0.0), 1.0)
            parts.append(
                f'<rect x="{_c(x + 1)}" y="{_c(y + 1)}" width="{_c(cell_w - 2)}" '
                f'height="{_c(cell_h - 2)}" fill="{HEAT}" fill-opacity="{share * 0.9 + 0.04:.2f}" '
                f'stroke="{GRID}"><title>{_t(cell.tip)}</title></rect>')
            ink = "#fff" if share > 0.5 else INK
            parts.append(
                f'<text x="{_c(x + cell_w / 2)}" y="{_c(y + cell_h / 2 + 4)}" '
                f'text-anchor="middle" fill="{ink}" font-size="10">'
                f"{_t(clip(cell.text, cell_w - 6, 10))}</text>")
    parts.append(text(frame.x0, frame.height - 12,
                      clip(row_title, width - frame.x0 - 4), font_size=10))
    return svg(frame, parts, label)
