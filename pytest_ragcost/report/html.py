"""The HTML report: one self-contained file that shows where the cost goes.

One page, no external URL, no script: charts are inline SVG drawn by
:mod:`pytest_ragcost.report.svg`, the page is a Jinja2 template, and a Content Security
Policy in the page forbids everything but its own hashed stylesheet and ``data:``
images. It opens from ``file://``, from a CI artifact viewer, or behind a strict CSP,
and its size follows the data: per-request detail is kept to the ``top_n`` slowest
requests of each scenario.
"""

from __future__ import annotations

import base64
import hashlib
import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from .. import __version__
from ..compare.frontier import COST_UNITS, QUALITY_PREFERENCE, choose_cost_metric
from ..run import Outcome, RequestRecord, ScenarioRun, split_key, unit_of
from . import svg
from .flame import GROWTH_SHARE
from .fmt import count, fmt, frontier_lower, interval, signed_cell
from .load import HEAD as LOAD_HEAD
from .load import NOTE as LOAD_NOTE
from .load import cost_per_answer, family, load_rows
from .summary import summarize_run
from .system import NO_CALLS_SEEN, endpoint_uses, network_metered, size
from .trends import RunSummary, change_line, trends
from .verdicts import sentence, short

if TYPE_CHECKING:
    from ..compare.frontier import Frontier
    from ..profile.diff import ProfileDiff
    from ..profile.sampler import ScenarioProfile

TOP_N = 20
_RANK = {"FAIL": 0, "WARN": 1, "INCONCLUSIVE": 2, "INCOMPARABLE": 3, "STALE": 4, "NEW": 5,
         "PASS": 6}
TOKEN_KINDS = ("tokens_prompt", "tokens_context", "tokens_completion", "tokens_rerank_in")
MAX_TREND_CHARTS = 24

CSS = """
body{font-family:system-ui,sans-serif;margin:0 auto;max-width:1100px;padding:0 16px 48px;
color:#222;line-height:1.4}
h1{font-size:1.5em;margin:16px 0 4px}h2{font-size:1.25em;margin-top:32px;
border-bottom:1px solid #ccc}h3{font-size:1.05em;margin:20px 0 6px}
table{border-collapse:collapse;margin:8px 0;font-size:.9em}
th,td{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
td.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
th{background:#f4f4f4}
.FAIL{background:#fde2e1}.WARN,.INCONCLUSIVE{background:#fff4d6}
.INCOMPARABLE,.STALE,.NEW{background:#eef}.PASS{background:#e8f6e8}
.status{font-weight:600;white-space:nowrap}
.muted{color:#666;font-size:.9em}.rec{font-size:1.05em;padding:8px 12px;
background:#eef6ee;border-left:4px solid #59a14f}
.charts{display:flex;flex-wrap:wrap;gap:12px;align-items:flex-start}
figure.chart{margin:0;max-width:100%}figure.chart figcaption{font-size:.9em;color:#333;
margin:2px 0 0 4px;font-weight:600}
svg.chart{max-width:100%;height:auto;background:#fff}svg.flame{min-width:720px}
details{margin:8px 0}summary{cursor:pointer;font-weight:600}
details.why{margin:0;max-width:36em}details.why summary{font-weight:400}
code{font-size:.9em}.wide{overflow-x:auto}
ul.changes{font-size:.9em;margin:4px 0}
""".strip()

TEMPLATE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="{{ csp }}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="pytest-ragcost {{ version }}">
<link rel="icon" href="data:,">
<title>ragcost report{% if title %}: {{ title }}{% endif %}</title>
<style>{{ css }}</style>
</head>
<body>
<h1>ragcost report</h1>
<p class="muted">{{ facts }}</p>

<h2 id="verdicts">Verdicts</h2>
{% if verdicts %}
<p><strong>{{ failing }} failing</strong> of {{ n_gated }} in {{ n_scenarios }}.</p>
{% if open_rows %}{{ table(verdict_head, open_rows) }}{% endif %}
{% if new_rows %}
<details><summary>{{ new_rows|length }} new (no baseline yet)</summary>
{{ table(verdict_head, new_rows) }}
</details>
{% endif %}
{% if pass_rows %}
<details><summary>{{ pass_rows|length }} passing</summary>
{{ table(verdict_head, pass_rows) }}
</details>
{% endif %}
{% else %}
<p>No gated metrics (no ragcost.yaml entries for the scenarios that ran).</p>
{% endif %}

{% for f in frontiers %}
<h2 id="sweep-{{ loop.index }}">Sweep {{ f.sweep }}</h2>
<p class="rec">{{ f.recommendation }}</p>
<div class="charts">{{ f.chart }}</div>
<p class="muted">Cost axis: {{ f.cost_metric }} per answer. Quality: mean {{ f.quality_metric }}
with its {{ f.confidence }} interval. Filled dots are on the frontier, hollow ones are
dominated; the ring marks the recommendation. Acceptable: the paired one-sided test over
the same questions shows the drop against {{ f.reference }} ({{ f.reference_rule }})
stays within {{ f.quality_drop }}, Holm-corrected over {{ f.m }} comparisons.</p>
{{ table(f.head, f.rows) }}
{% endfor %}

{% if load_rows %}
<h2 id="load-profile">Load profile</h2>
<p class="muted">Latency and cost per answer against load, one row per load level:
{{ load_note }}.</p>
<div class="charts">{% for c in load_charts %}{{ c }}{% endfor %}</div>
<div class="wide">{{ table(load_head, load_rows) }}</div>
{% endif %}

{% if quality_chart %}
<h2 id="quality-cost">Quality against cost</h2>
<div class="charts">{{ quality_chart }}</div>
{% endif %}

{% if ab_diffs %}
<h2 id="ab-profiles">Where the regressed stages grew: base against head</h2>
<p class="muted">Sampled profiles of each stage that regressed in the A/B, over all rounds:
base on the left, head on the right. On head's graph, red boxes grew against base by at
least {{ growth_pct }}% of the stage's time per request (the darker, the more) and blue
boxes shrank; grey ones stayed. Hover a box for its file, line and time.</p>
{% for d in ab_diffs %}
<h3>{{ d.scenario }}: stage {{ d.stage }} ({{ d.because }} failed)</h3>
<div class="charts">{{ d.base_svg }}{{ d.head_svg }}</div>
{% if d.rows %}{{ table(grown_head, d.rows) }}{% else %}
<p class="muted">No function grew by {{ growth_pct }}% of the stage or more.</p>{% endif %}
{% endfor %}
{% endif %}

{% if endpoint_heatmap %}
<h2 id="endpoint-failures">Errors and timeouts per endpoint</h2>
<p class="muted">Calls made inside each stage (--ragcost-system), per scenario: the darker
a cell, the larger the share of its calls that raised or timed out; a blank cell is an
endpoint the scenario never called.</p>
<div class="charts">{{ endpoint_heatmap }}</div>
{% endif %}

{% for s in scenarios %}
<h2 id="scenario-{{ loop.index }}">Scenario {{ s.name }}</h2>
<p class="muted">{{ s.facts }}</p>
{% if s.waterfall %}
<h3>Waterfall of the {{ s.top }} slowest requests</h3>
<p class="muted">{{ s.waterfall_note }}</p>
<div class="charts">{{ s.waterfall }}</div>
{% endif %}
{% if s.stages %}
<h3>Where the time and the compute go</h3>
<div class="charts">{{ s.stages }}{{ s.pareto_time }}{{ s.pareto_cpu }}</div>
{% endif %}
{% if s.distributions %}
<h3>Tokens, time to first token, tokens per second</h3>
<div class="charts">{% for c in s.distributions %}{{ c }}{% endfor %}</div>
{% endif %}
{% if s.endpoint_rows %}
<h3>Network calls per stage and endpoint</h3>
<p class="muted">Totals over the requests (--ragcost-system); round trip: mean, first byte
out to first byte back; rows with errors or timeouts are marked.</p>
{{ table(endpoint_head, s.endpoint_rows) }}
{% elif s.no_calls_note %}
<h3>Network calls per stage and endpoint</h3>
<p class="muted">None seen: {{ s.no_calls_note }}.</p>
{% endif %}
{% if s.profile_note %}<p class="muted">Profile: {{ s.profile_note }}</p>{% endif %}
{% for f in s.flames %}
<h3>Profile of stage {{ f.stage }}</h3>
<p class="muted">{{ f.facts }}</p>
<div class="wide">{{ f.svg }}</div>
{{ table(hot_head, f.rows) }}
{% endfor %}
<details><summary>All metrics ({{ s.metric_rows|length }})</summary>
{{ table(metric_head, s.metric_rows) }}
</details>
{% endfor %}

{% if trends %}
<h2 id="trends">Trends over {{ history_runs }} runs</h2>
<p class="muted">Oldest first. The orange lines are the mean of each level; a dashed red line
marks a change point, labelled with the commit range it happened in (the last commit of
the old level .. the first of the new one: <code>ragcost bisect</code> finds the commit).</p>
{% if trend_problem %}
<p class="muted">No change points for noisy metrics: {{ trend_problem }}.</p>
{% endif %}
{% if trend_changes %}
<ul class="changes">{% for line in trend_changes %}<li>{{ line }}</li>{% endfor %}</ul>
{% endif %}
<div class="charts">{% for c in trends %}{{ c }}{% endfor %}</div>
{% endif %}
<p class="muted">pytest-ragcost {{ version }}: one file, no script, no external request.</p>
</body>
</html>
"""

TABLE = """{% macro table(head, rows) -%}
<table><thead><tr>{% for h in head %}<th>{{ h }}</th>{% endfor %}</tr></thead><tbody>
{% for row in rows %}<tr{% if row.cls %} class="{{ row.cls }}"{% endif %}>
{%- for cell in row.cells %}<td{% if cell.num %} class="n"{% endif %}>
{%- if cell.more %}<details class="why"><summary>{{ cell.text }}</summary>{{ cell.more }}</details>
{%- else %}{{ cell.text }}{% endif %}</td>
{%- endfor %}</tr>
{% endfor %}</tbody></table>
{%- endmacro %}"""


class HtmlUnavailableError(RuntimeError):
    """Jinja2 is missing."""


def _cell(text: object, numeric: bool = False, more: str = "") -> dict[str, Any]:
    """A table cell; ``more`` is the full text, shown when the reader opens the cell."""
    return {"text": "-" if text is None else str(text), "num": numeric, "more": more}


def _row(cells: Sequence[dict[str, Any]], cls: str = "") -> dict[str, Any]:
    return {"cells": list(cells), "cls": cls}


def _reason(v: Any) -> dict[str, Any]:
    """The deciding clause of a verdict, with the whole explanation behind it."""
    if v.status == "PASS":
        return _cell("")
    full, brief = sentence(v), short(v)
    return _cell(brief, more="" if brief == full else full)


def _unit(key: str) -> str:
    try:
        return unit_of(split_key(key)[1])
    except ValueError:
        return ""


def _stage_offsets(req: RequestRecord) -> tuple[list[svg.Span], bool]:
    """Stage spans of a request; ``False`` when offsets were not recorded (laid end to end)."""
    spans = []
    t = 0.0
    exact = True
    for st in req.stages:
        dur = float(st.metrics.get("wall_ms", 0.0))
        if st.start_ms is None:
            exact = False
            start = t
        else:
            start = st.start_ms
        spans.append(svg.Span(st.name, start, dur))
        t = start + dur
    return spans, exact


def _per_stage_total(run: ScenarioRun, metric: str, scale: float = 1.0) -> dict[str, float]:
    totals: dict[str, float] = {}
    for req in run.requests:
        for st in req.stages:
            value = st.metrics.get(metric)
            if value is not None:
                totals[st.name] = totals.get(st.name, 0.0) + value * scale
    return totals


def _tokens_per_s(run: ScenarioRun) -> list[float]:
    """Decode speed of streamed stages: completion tokens after the first, per second
    after the first token."""
    out = []
    for req in run.requests:
        for st in req.stages:
            m = st.metrics
            ttft, wall, done = m.get("ttft_ms"), m.get("wall_ms"), m.get("tokens_completion")
            if ttft is None or wall is None or done is None or done < 2 or wall <= ttft:
                continue
            out.append((done - 1) / ((wall - ttft) / 1000.0))
    return out


def _scenario_view(outcome: Outcome, top_n: int) -> dict[str, Any]:
    run = outcome.run
    summary = summarize_run(run)
    stages = run.stage_names()
    view: dict[str, Any] = {"name": run.scenario, "top": 0, "waterfall": "", "stages": "",
                            "pareto_time": "", "pareto_cpu": "", "distributions": []}
    knobs = ", ".join(f"{k}={v}" for k, v in run.knobs.items())
    view["facts"] = (
        f"{run.nodeid}: {len(run.requests)} requests"
        + (f", {run.warmup} warm-up" if run.warmup else "")
        + (f"; knobs {knobs}" if knobs else "")
    )
    slowest = sorted(run.requests, key=lambda r: -float(r.metrics.get("wall_ms", 0.0)))[:top_n]
    if stages and slowest:
        rows = []
        totals = []
        exact = True
        for req in slowest:
            totals.append(float(req.metrics.get("wall_ms", 0.0)))
            spans, ok = _stage_offsets(req)
            exact = exact and ok
            rows.append((f"#{req.index} {fmt(req.metrics.get('wall_ms'))} ms", spans))
        view["top"] = len(rows)
        view["waterfall"] = svg.waterfall(rows, stages, f"{run.scenario}: waterfall",
                                          totals_ms=totals)
        view["waterfall_note"] = (
            "Each bar starts where its stage opened, so overlapping or idle time shows."
            if exact else
            "Stage start offsets were not recorded in this run: stages are laid end to end."
        )
        p50 = [float(summary.get(f"{s}.wall_ms", {}).get("p50", 0.0)) for s in stages]
        p95 = [float(summary.get(f"{s}.wall_ms", {}).get("p95", 0.0)) for s in stages]
        view["stages"] = svg.grouped_bars(stages, {"p50": p50, "p95": p95}, "ms",
                                          f"{run.scenario}: stage wall time p50 and p95")
        wall = _per_stage_total(run, "wall_ms", 1 / 1000)
        total_wall = math.fsum(float(r.metrics.get("wall_ms", 0.0)) for r in run.requests) / 1000
        outside = total_wall - math.fsum(wall.values())
        if outside > 0.01 * total_wall:
            wall["(outside stages)"] = outside
        view["pareto_time"] = svg.pareto(list(wall), list(wall.values()), "s",
                                         f"{run.scenario}: Pareto of wall time by stage",
                                         quantity="total wall time")
        cpu = _per_stage_total(run, "cpu_ms", 1 / 1000)
        for name, v in _per_stage_total(run, "gpu_ms", 1 / 1000).items():
            cpu[name] = cpu.get(name, 0.0) + v
        if cpu:
            view["pareto_cpu"] = svg.pareto(
                list(cpu), list(cpu.values()), "s",
                f"{run.scenario}: Pareto of CPU+GPU seconds by stage",
                quantity="total CPU+GPU time")
    series_ = run.series()
    charts = []
    for i, kind in enumerate(TOKEN_KINDS):
        values = series_.get(kind)
        if values and max(values) > 0:
            charts.append(svg.histogram(values, "tokens", f"{run.scenario}: {kind} per request",
                                        fill=svg.colour(i), quantity=kind))
    if series_.get("ttft_ms"):
        charts.append(svg.histogram(series_["ttft_ms"], "ms", f"{run.scenario}: TTFT",
                                    fill=svg.colour(5), quantity="time to first token"))
    tps = _tokens_per_s(run)
    if tps:
        charts.append(svg.histogram(tps, "tokens/s", f"{run.scenario}: decode tokens/s",
                                    fill=svg.colour(6), quantity="decode speed"))
    view["distributions"] = charts
    view["endpoint_rows"] = [
        _row([_cell(u.stage), _cell(u.endpoint), _cell(fmt(u.calls, "count"), True),
              _cell(size(u.sent_bytes), True), _cell(size(u.received_bytes), True),
              _cell(fmt(u.rtt_ms), True), _cell(fmt(u.errors, "count"), True),
              _cell(fmt(u.timeouts, "count"), True)],
             "WARN" if u.errors or u.timeouts else "")  # failing endpoints stand out
        for u in endpoint_uses(run)
    ]
    view["no_calls_note"] = (
        NO_CALLS_SEEN if network_metered(run) and not view["endpoint_rows"] else ""
    )
    view["metric_rows"] = [
        _row([_cell(key), _cell(fmt(r["p50"], r["unit"]), True),
              _cell(fmt(r["p95"], r["unit"]), True), _cell(fmt(r["mean"], r["unit"]), True),
              _cell(r["unit"]), _cell(r["source"])])
        for key, r in summary.items()
    ]
    return view


def _profile_view(profile: ScenarioProfile | None) -> tuple[list[dict[str, Any]], str]:
    """Per profiled stage: its flame graph and its hottest functions; and a note when
    the scenario's profile is empty (why)."""
    if profile is None:
        return [], ""
    from markupsafe import Markup

    from .flame import flame, hottest, short_file

    views = []
    n = profile.requests
    for name, sp in sorted(profile.stages.items()):
        per = f", {sp.total_ms / n:.3g} ms sampled per request" if n else ""
        rows = [
            _row([_cell(h.frame.function), _cell(f"{short_file(h.frame.file)}:{h.frame.line}"),
                  _cell("-" if h.caller is None else
                        f"{h.caller.function} ({short_file(h.caller.file)}:{h.caller.line})"),
                  _cell(f"{h.share * 100:.1f}%", True),
                  _cell(f"{h.self_ms / n:.3g}" if n else "-", True),
                  _cell(f"{h.total_ms / (sp.total_ms or 1) * 100:.1f}%", True)])
            for h in hottest(sp)
        ]
        views.append({
            "stage": name,
            "facts": (f"{sp.samples} samples by the {profile.sampler} sampler (asked every "
                      f"{profile.interval_ms:g} ms, jittered; a busy machine wakes it less "
                      f"often) over {n} requests{per}. Widest boxes take the most time; "
                      "hover a box for its file, line and time."),
            "svg": Markup(flame(sp, f"{profile.scenario}: stage {name}", per_request=n)),
            "rows": rows,
        })
    return views, profile.note or ""


def _ab_diff_view(d: ProfileDiff) -> dict[str, Any]:
    from markupsafe import Markup

    from .flame import diff_flame, flame, grown_frames, short_file

    width = 540.0
    rows = [
        _row([_cell(f.function), _cell(f"{short_file(f.file)}:{f.line}"),
              _cell(f"{b:.3g}", True), _cell(f"{h:.3g}", True), _cell(f"{h - b:+.3g}", True)],
             "FAIL")
        for f, b, h in grown_frames(d.base, d.base_requests, d.head, d.head_requests)
    ]
    return {
        "scenario": d.scenario, "stage": d.stage, "because": d.because,
        "base_svg": Markup(flame(d.base, f"base: {d.scenario}: stage {d.stage}",
                                 per_request=d.base_requests, width=width)),
        "head_svg": Markup(diff_flame(d.base, d.base_requests, d.head, d.head_requests,
                                      f"head: {d.scenario}: stage {d.stage}", width=width)),
        "rows": rows,
    }


def _frontier_view(f: Frontier) -> dict[str, Any]:
    unit = f.cost_unit
    knob_names = {p.name: ", ".join(f"{k}={v}" for k, v in p.knobs.items()) or p.name
             for p in f.points}
    dots = [
        svg.Dot(knob_names[p.name], p.cost, p.quality, p.quality_low, p.quality_high, p.on_frontier,
                p.name == f.recommended,
                f"{p.name}, on the frontier" if p.on_frontier
                else f"{p.name}, dominated by {knob_names.get(p.dominated_by or '', '')}")
        for p in f.points
    ]
    chart = svg.scatter(dots, f"{f.cost_metric} per answer ({unit})",
                        _score_title(f.quality_metric, [d.y for d in dots]),
                        f"{f.sweep}: {f.quality_metric} against {f.cost_metric}",
                        y_range=_score_range([d.y for d in dots]))
    head = ["configuration", "knobs", "n", f"{f.cost_metric} ({unit})", f"Δ vs {f.reference}",
            f"{f.quality_metric} [interval]", "change (lower bound)", "frontier", "acceptable"]
    rows = []
    ref_q = f.point(f.reference).quality
    for p in f.points:
        knobs = ", ".join(f"{k}={v}" for k, v in p.knobs.items())
        spread = (" " + interval(p.quality_low, p.quality_high, f.quality_metric,
                                 number=lambda x: f"{x:.3f}")
                  if p.quality_low is not None and p.quality_high is not None else "")
        change = ("-" if p.change is None else
                  f"{p.change:+.3f} ({frontier_lower(p.lower, f.quality_metric, ref_q)})"
                  if p.lower is not None else f"{p.change:+.3f}")
        pct = f" ({p.delta_cost / f.point(f.reference).cost * 100:+.0f}%)" \
            if f.point(f.reference).cost else ""
        front = "yes" if p.on_frontier else f"dominated by {p.dominated_by}"
        ok = ("reference" if p.name == f.reference else "yes" if p.acceptable else "no")
        if p.name == f.recommended:
            ok += ", recommended"
        rows.append(_row(
            [_cell(p.name), _cell(knobs), _cell(p.n, True), _cell(svg.num(p.cost), True),
             _cell(f"{signed_cell(p.delta_cost)}{pct}", True),
             _cell(f"{p.quality:.3f}{spread}", True),
             _cell(change, True), _cell(front), _cell(ok)],
            "PASS" if p.name == f.recommended else ""))
    return {
        "sweep": f.sweep, "recommendation": f.recommendation(), "chart": chart,
        "cost_metric": f.cost_metric, "quality_metric": f.quality_metric,
        "confidence": f"{f.confidence * 100:g}%", "reference": f.reference,
        "reference_rule": "the current configuration" if f.reference_rule == "current"
        else "the best by mean quality",
        "quality_drop": str(f.quality_drop), "m": max(1, len(f.points) - 1),
        "head": head, "rows": rows,
    }


def _score_range(values: Sequence[float]) -> tuple[float, float] | None:
    """A quality score's own axis, 0 to 1, when every mean lies in it."""
    return (0.0, 1.0) if values and all(0.0 <= v <= 1.0 for v in values) else None


def _score_title(metric: str, values: Sequence[float]) -> str:
    return f"{metric} (score, 0-1)" if _score_range(values) else metric


def _quality_chart(outcomes: Sequence[Outcome]) -> str:
    """Every scenario with quality scores on one cost-quality plane."""
    scored = [o for o in outcomes if o.quality and o.run.requests]
    if not scored:
        return ""
    counts: dict[str, int] = {}
    for o in scored:
        for m in o.quality:
            counts[m] = counts.get(m, 0) + 1
    best = max(counts.values())
    metric = next((m for m in QUALITY_PREFERENCE if counts.get(m) == best),
                  sorted(m for m, c in counts.items() if c == best)[0])
    members = [o for o in scored if metric in o.quality]
    cost = choose_cost_metric(members)
    from ..compare.frontier import per_answer, scores_of

    dots = []
    for o in members:
        x = per_answer(o, cost)
        vals = list(scores_of(o.quality[metric]).values())
        if x is None or not vals:
            continue
        y = math.fsum(vals) / len(vals)
        dots.append(svg.Dot(o.run.scenario, x, y, on_frontier=True))
    if not dots:
        return ""
    ys = [d.y for d in dots]
    return svg.scatter(dots, f"{cost} per answer ({COST_UNITS.get(cost, '')})",
                       _score_title(metric, ys), f"quality ({metric}) against cost per scenario",
                       frontier_line=False, y_range=_score_range(ys))


def _load_view(outcomes: Sequence[Outcome]) -> tuple[list[dict[str, Any]], list[str]]:
    """The load table's rows and one chart per test driven at several levels: latency p50
    and p95 and the cost per answer against the level."""
    rows = load_rows([o.run for o in outcomes])
    table = [_row([_cell(c, numeric=i >= 2) for i, c in enumerate(r.cells())]) for r in rows]
    groups: dict[str, list[Any]] = {}
    for r in rows:
        groups.setdefault(family(r), []).append(r)
    charts = []
    for name, members in list(groups.items())[:MAX_TREND_CHARTS]:
        metric, cost = cost_per_answer(members)
        unit = "requests per second offered" if members[0].mode == "open" else "concurrent users"
        charts.append(svg.load_profile(
            [r.level for r in members], [r.load for r in members],
            {"wall_ms p50": [r.wall_ms_p50 for r in members],
             "wall_ms p95": [r.wall_ms_p95 for r in members]},
            cost, unit, metric,
            f"{name}: latency and {metric} per answer against load"))
    return table, charts


def _trend_view(history: Sequence[RunSummary]) -> tuple[list[str], list[str], str | None]:
    """Trend charts (changed metrics first), one line per change point with its commit
    range, and why change points are missing, if they are."""
    found, problem = trends(history)
    shown = found[:MAX_TREND_CHARTS]
    charts = [
        svg.trend([p.label for p in t.points], [p.value for p in t.points],
                  [c.index for c in t.changes], _unit(t.key), f"{t.scenario}: {t.key}",
                  ranges=[c.commit_range for c in t.changes])
        for t in shown
    ]
    lines = [line for t in found for line in change_line(t, _unit(t.key))]
    return charts, lines, problem


def render(
    outcomes: Sequence[Outcome],
    environment: Mapping[str, Any],
    *,
    frontiers: Sequence[Frontier] = (),
    history: Sequence[RunSummary] = (),
    profiles: Mapping[str, ScenarioProfile] | None = None,
    ab_diffs: Sequence[ProfileDiff] = (),
    top_n: int = TOP_N,
    title: str = "",
    created: str = "",
) -> str:
    """The report as one HTML string."""
    try:
        import jinja2
    except ImportError as exc:  # pragma: no cover - jinja2 is a dependency
        msg = f"the HTML report needs jinja2 ({exc}): pip install jinja2"
        raise HtmlUnavailableError(msg) from None
    env = jinja2.Environment(autoescape=True, undefined=jinja2.StrictUndefined)
    macros = env.from_string(TABLE).module
    template = env.from_string(TEMPLATE)
    from markupsafe import Markup as safe

    verdicts = sorted((v for o in outcomes for v in o.verdicts),
                      key=lambda v: (_RANK.get(v.status, 9), v.scenario, v.key))
    verdict_head = ["scenario", "metric", "baseline", "current", "change", "tolerance", "n",
                    "verdict", "reason"]

    def vrow(v: Any) -> dict[str, Any]:
        u = _unit(v.key)
        change = "-" if v.change_pct is None else f"{v.change_pct:+.1f}%"
        if v.interval is not None:
            low, high = v.interval
            change += " " + interval(low, high, v.key, v.baseline, lambda x: fmt(x, u))
        status = v.status + (" (improved)" if v.improved else "")
        return _row([_cell(v.scenario), _cell(v.key), _cell(fmt(v.baseline, u), True),
                     _cell(fmt(v.current, u), True), _cell(change, True),
                     _cell(v.tolerance or "-"), _cell(v.n, True), _cell(status),
                     _reason(v)], v.status)

    comp = environment.get("comparable", {}) if isinstance(environment, Mapping) else {}
    if not isinstance(comp, Mapping):  # a saved run's environment is not checked field by field
        comp = {}
    energy = comp.get("energy", [])
    energy_text = ", ".join(map(str, energy)) if isinstance(energy, list) else str(energy)
    facts = (
        f"{_to_second(created) + '; ' if created else ''}machine: {comp.get('cpu', '?')}, "
        f"{comp.get('cpus', '?')} CPUs; energy: {energy_text or 'none'}"
    )

    def wrap(view: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in view.items():
            if isinstance(v, str) and v.startswith("<figure"):
                out[k] = safe(v)
            elif isinstance(v, list) and v and isinstance(v[0], str) and v[0].startswith(
                    "<figure"):
                out[k] = [safe(x) for x in v]
            else:
                out[k] = v
        return out

    with_requests = [o for o in sorted(outcomes, key=lambda o: o.run.scenario) if o.run.requests]
    scenarios = []
    for o in with_requests:
        view = wrap(_scenario_view(o, top_n))
        view["flames"], view["profile_note"] = _profile_view(
            (profiles or {}).get(o.run.scenario))
        scenarios.append(view)
    css_hash = base64.b64encode(hashlib.sha256(CSS.encode("utf-8")).digest()).decode("ascii")
    csp = (
        f"default-src 'none'; style-src 'sha256-{css_hash}'; img-src data:; "
        "base-uri 'none'; form-action 'none'"
    )
    quality_chart = _quality_chart(with_requests)
    heat = _endpoint_heatmap(with_requests)
    load_table, load_charts = _load_view(with_requests)
    trend_charts, trend_changes, trend_problem = _trend_view(history)
    return template.render(
        table=getattr(macros, "table"),  # noqa: B009 - a template macro, unknown to mypy
        csp=csp,
        css=safe(CSS),
        version=__version__,
        title=title,
        facts=facts,
        verdicts=verdicts,
        failing=sum(1 for v in verdicts if v.status == "FAIL"),
        n_scenarios=count(len({v.scenario for v in verdicts}), "scenario"),
        n_gated=count(len(verdicts), "gated metric"),
        verdict_head=verdict_head,
        open_rows=[vrow(v) for v in verdicts if v.status not in ("PASS", "NEW")],
        new_rows=[vrow(v) for v in verdicts if v.status == "NEW"],
        pass_rows=[vrow(v) for v in verdicts if v.status == "PASS"],
        frontiers=[wrap(_frontier_view(f)) for f in frontiers],
        quality_chart=safe(quality_chart) if quality_chart else "",
        endpoint_heatmap=safe(heat) if heat else "",
        scenarios=scenarios,
        load_rows=load_table,
        load_head=list(LOAD_HEAD),
        load_note=LOAD_NOTE,
        load_charts=[safe(c) for c in load_charts],
        metric_head=["metric", "p50", "p95", "mean", "unit", "source"],
        endpoint_head=["stage", "endpoint", "calls", "sent", "received", "round trip ms",
                       "errors", "timeouts"],
        ab_diffs=[_ab_diff_view(d) for d in ab_diffs],
        growth_pct=f"{GROWTH_SHARE * 100:g}",
        grown_head=["function (grew most first)", "file:line", "base ms per request",
                    "head ms per request", "change"],
        hot_head=["function (hottest first)", "file:line", "called from", "self share",
                  "self ms per request", "function's total share"],
        trends=[safe(c) for c in trend_charts],
        trend_changes=trend_changes,
        trend_problem=trend_problem,
        history_runs=len(history),
    )


def _endpoint_heatmap(outcomes: Sequence[Outcome]) -> str:
    """Stage and endpoint against scenario, shaded by the share of calls that raised or
    timed out; empty when no call anywhere failed (the endpoint tables say the rest)."""
    rows: dict[str, int] = {}
    columns: list[str] = []
    cells: dict[tuple[int, int], svg.HeatCell] = {}
    failed = False
    for o in outcomes:
        uses = endpoint_uses(o.run)
        if not uses:
            continue
        col = len(columns)
        columns.append(o.run.scenario)
        for u in uses:
            row = rows.setdefault(f"{u.stage} · {u.endpoint}", len(rows))
            bad = u.errors + u.timeouts
            failed = failed or bad > 0
            # a refused connect is an error with no call made: all of its attempts failed
            share = min(bad / u.calls, 1.0) if u.calls else float(bad > 0)
            text = (f"{u.errors} err, {u.timeouts} t/o" if bad
                    else f"0 of {count(u.calls, 'call')}")
            cells[(row, col)] = svg.HeatCell(
                share, text,
                f"{o.run.scenario}: {u.stage} to {u.endpoint}: {count(u.calls, 'call')}, "
                f"{count(u.errors, 'error')}, {count(u.timeouts, 'timeout')}")
    if not failed:
        return ""
    return svg.heatmap(list(rows), columns, cells,
                       "Errors and timeouts per stage and endpoint",
                       "rows: stage · endpoint (host:port); cells: errors and timeouts "
                       "of its calls", "columns: scenarios")


def _to_second(created: str) -> str:
    """A run's ISO time as a reader wants it: without its microseconds."""
    head, dot, tail = created.partition(".")
    if not dot:
        return created
    zone = tail.lstrip("0123456789")
    return head + zone
