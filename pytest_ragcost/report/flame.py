"""Flame graphs of stage profiles as inline SVG, and the table of the hottest functions.

A flame graph stacks the sampled call paths of one stage: the outermost frame (the
test's code that opened the stage) at the bottom, what it called above, each box as wide
as the share of the stage's sampled wall time spent there. Hovering a box shows its
function, file and line and its time (an SVG ``<title>``: no script, so the report's
Content Security Policy holds). Boxes are coloured in warm hues by function, so
neighbours can be told apart.

:func:`diff_flame` draws head's profile of a stage with each box marked by how much
its time per request grew against base's (red) or shrank (blue), and
:func:`grown_frames` lists the functions that grew.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from xml.sax.saxutils import escape, quoteattr

from ..profile.sampler import Frame, StageProfile

WIDTH = 960.0
ROW = 17.0
MAX_ROWS = 40
#: boxes narrower than this (px) are not drawn (their time stays in their parent's)
MIN_BOX = 0.6
#: a frame "grew" when its time per request rose by this share of the stage's head time
GROWTH_SHARE = 0.05


@dataclass
class Node:
    frame: Frame | None
    ms: float = 0.0
    children: dict[Frame, Node] = field(default_factory=dict)


def tree(profile: StageProfile) -> Node:
    """The stage's stacks merged into one call tree (root: the whole stage)."""
    root = Node(None)
    for stack, ms in profile.stacks.items():
        root.ms += ms
        node = root
        for frame in stack:
            child = node.children.get(frame)
            if child is None:
                child = node.children[frame] = Node(frame)
            child.ms += ms
            node = child
    return root


def short_file(path: str) -> str:
    """A file as a reader finds it: relative to the working directory when inside it,
    else from ``site-packages`` on, else the last three parts."""
    try:
        rel = os.path.relpath(path)
        if not rel.startswith(".."):
            return rel
    except ValueError:
        pass
    marker = "site-packages" + os.sep
    if marker in path:
        return path.split(marker, 1)[1]
    parts = path.replace("\\", "/").split("/")
    return "/".join(parts[-3:])


def _warm(key: str) -> str:
    h = int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:6], 16)
    return f"hsl({10 + h % 40},{65 + (h >> 8) % 25}%,{58 + (h >> 16) % 14}%)"


def _growth_fill(change: float) -> str:
    """Red for growth, blue for shrinkage, by how large a share of the stage moved."""
    strength = min(1.0, abs(change) / 0.25)
    light = 88 - 40 * strength
    return f"hsl(0,80%,{light:.0f}%)" if change > 0 else f"hsl(215,70%,{light:.0f}%)"


def _label(frame: Frame, width: float) -> str:
    chars = int((width - 6) / 6.2)
    if chars < 3:
        return ""
    name = frame.function
    return name if len(name) <= chars else name[: chars - 1] + "…"


def flame(profile: StageProfile, title: str, *, per_request: int = 0,
          growth: Mapping[tuple[Frame, ...], float] | None = None,
          width: float = WIDTH) -> str:
    """One stage's flame graph as a ``<figure>`` (an ``<svg>`` and its caption).
    ``growth`` maps a call path to the change of its share (head minus base, of head's
    stage time); such boxes are coloured red (grew) or blue (shrank) instead of by file."""
    root = tree(profile)
    total = root.ms or 1.0
    rows: list[str] = []
    depth_used = 0

    def place(node: Node, path: tuple[Frame, ...], x: float, depth: int) -> None:
        nonlocal depth_used
        for child in sorted(node.children.values(), key=lambda n: n.frame or ""):
            w = child.ms / total * width
            if w < MIN_BOX or depth >= MAX_ROWS or child.frame is None:
                x += w
                continue
            here = (*path, child.frame)
            depth_used = max(depth_used, depth + 1)
            y_from_bottom = depth
            share = child.ms / total
            per = (f", {child.ms / per_request:.3g} ms per request" if per_request else "")
            tip = (f"{child.frame.function} ({short_file(child.frame.file)}:"
                   f"{child.frame.line}): {share * 100:.1f}% of the stage, "
                   f"{child.ms:.4g} ms sampled{per}")
            fill = _warm(f"{child.frame.file}:{child.frame.function}")
            stroke = "#fff"
            if growth is not None:
                change = growth.get(here, 0.0)
                if abs(change) >= GROWTH_SHARE:
                    fill = _growth_fill(change)
                    stroke = "#900" if change > 0 else "#036"
                    tip += f"; {'grew' if change > 0 else 'shrank'} by {abs(change) * 100:.0f}%"
                    tip += " of the stage against base"
                else:
                    fill = "hsl(0,0%,85%)"
            rows.append(
                f'<g><title>{escape(tip)}</title>'
                f'<rect x="{x:.2f}" y="{{Y{y_from_bottom}}}" width="{w:.2f}" '
                f'height="{ROW - 1:.0f}" fill={quoteattr(fill)} stroke={quoteattr(stroke)} '
                f'stroke-width="0.5"/>'
                + (f'<text x="{x + 3:.2f}" y="{{T{y_from_bottom}}}">{escape(lab)}</text>'
                   if (lab := _label(child.frame, w)) else "")
                + "</g>"
            )
            place(child, here, x, depth + 1)
            x += w

    place(root, (), 0.0, 0)
    top = 4.0
    height = top + max(1, depth_used) * ROW + 4
    body = []
    for part in rows:
        for d in range(depth_used, -1, -1):
            y = top + (depth_used - 1 - d) * ROW
            part = part.replace(f"{{Y{d}}}", f"{y:.0f}").replace(f"{{T{d}}}", f"{y + 12:.0f}")
        body.append(part)
    head = (f'<svg class="chart flame" role="img" viewBox="0 0 {width:.0f} {height:.0f}" '
            f'width="{width:.0f}" height="{height:.0f}" aria-label={quoteattr(title)} '
            'font-family="system-ui, sans-serif" font-size="11">')
    if not rows:
        body = [f'<text x="0" y="{top + 12:.0f}">no samples</text>']
    chart = head + f"<title>{escape(title)}</title>" + "".join(body) + "</svg>"
    return f'<figure class="chart">{chart}<figcaption>{escape(title)}</figcaption></figure>'


@dataclass(frozen=True)
class HotFrame:
    """A function's own time in a stage when called from ``caller``: ``self_ms`` as the
    innermost frame, ``total_ms`` of the function anywhere on the stack."""

    frame: Frame
    caller: Frame | None
    self_ms: float
    total_ms: float
    share: float  # of the stage's sampled time, by self time


def hottest(profile: StageProfile, n: int = 10) -> list[HotFrame]:
    """The ``n`` (function, caller) pairs with the most self time, heaviest first: a
    helper that burns the time (a loop, a tokenizer) is shown with the function that
    called it, which is where a change usually goes."""
    total = profile.total_ms or 1.0
    pairs: dict[tuple[Frame, Frame | None], float] = {}
    for stack, ms in profile.stacks.items():
        if stack:
            key = (stack[-1], stack[-2] if len(stack) > 1 else None)
            pairs[key] = pairs.get(key, 0.0) + ms
    inclusive = profile.total_by_frame()
    ranked = sorted(pairs.items(), key=lambda kv: (-kv[1], kv[0][0].text(),
                                                   kv[0][1].text() if kv[0][1] else ""))[:n]
    return [HotFrame(f, caller, ms, inclusive.get(f, ms), ms / total)
            for (f, caller), ms in ranked]


def path_shares(profile: StageProfile, per_request: int) -> dict[tuple[Frame, ...], float]:
    """Per call path (every prefix of every stack), its time per request (ms)."""
    out: dict[tuple[Frame, ...], float] = {}
    n = max(1, per_request)
    for stack, ms in profile.stacks.items():
        for i in range(1, len(stack) + 1):
            out[stack[:i]] = out.get(stack[:i], 0.0) + ms / n
    return out


def growth(base: StageProfile, base_requests: int, head: StageProfile,
           head_requests: int) -> dict[tuple[Frame, ...], float]:
    """Per call path of head, the change of its time per request against base, as a
    share of head's stage time per request (so 0.3 means it grew by 30% of the stage)."""
    b = path_shares(base, base_requests)
    h = path_shares(head, head_requests)
    stage_ms = head.total_ms / max(1, head_requests) or 1.0
    return {path: (ms - b.get(path, 0.0)) / stage_ms for path, ms in h.items()}


def grown_frames(base: StageProfile, base_requests: int, head: StageProfile,
                 head_requests: int, n: int = 8) -> list[tuple[Frame, float, float]]:
    """Functions whose time per request (anywhere on the stack) grew the most from base
    to head: (frame, base ms, head ms) per request, largest growth first, only those
    that grew by at least :data:`GROWTH_SHARE` of head's stage time."""
    bn, hn = max(1, base_requests), max(1, head_requests)
    b = {f: ms / bn for f, ms in base.total_by_frame().items()}
    h = {f: ms / hn for f, ms in head.total_by_frame().items()}
    stage_ms = head.total_ms / hn or 1.0
    rows = [(f, b.get(f, 0.0), ms) for f, ms in h.items()
            if (ms - b.get(f, 0.0)) / stage_ms >= GROWTH_SHARE]
    rows.sort(key=lambda r: (-(r[2] - r[1]), r[0]))
    return rows[:n]


def diff_flame(base: StageProfile, base_requests: int, head: StageProfile,
               head_requests: int, title: str, width: float = WIDTH) -> str:
    """Head's flame graph of a stage, boxes coloured by their growth against base."""
    return flame(head, title, per_request=head_requests,
                 growth=growth(base, base_requests, head, head_requests), width=width)
