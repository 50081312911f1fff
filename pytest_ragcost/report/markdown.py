"""Markdown for a pull request: a compact verdict table first (failures on top), the
details folded below. Everything that comes from test ids or files is escaped."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..compare.rules import rank
from ..run import ScenarioRun, Verdict, split_key, unit_of
from .fmt import count, fmt, frontier_lower, interval, pct_text, shown, signed_cell
from .load import HEAD, NOTE, load_rows
from .summary import summarize_run
from .verdicts import power_note, sentence

if TYPE_CHECKING:
    from ..compare.frontier import Frontier
    from ..run import Outcome

_ICON = {"FAIL": "❌", "WARN": "⚠️", "INCONCLUSIVE": "❔", "INCOMPARABLE": "≠", "STALE": "🕸",
         "NEW": "🆕", "PASS": "✅"}


def esc(text: object) -> str:
    """Make text inert in a Markdown table cell: no HTML, no table breaks, no links or code."""
    out = html.escape(str(text), quote=False).replace("\\", "\\\\")
    for ch in "`*_[]|#!~":
        out = out.replace(ch, "\\" + ch)
    return out.replace("\r", " ").replace("\n", " ")


def _html(text: object) -> str:
    return html.escape(shown(text), quote=True)


def _unit(key: str) -> str:
    try:
        return unit_of(split_key(key)[1])
    except ValueError:
        return ""


def _row(v: Verdict, *, reason: bool) -> str:
    """One verdict, its status first so long scenario names never push it out of view."""
    unit = _unit(v.key)
    change = pct_text(v.change_pct)
    if v.change is not None and v.baseline is not None and abs(v.change) <= 1e-9 * max(
        abs(v.baseline), abs(v.current or 0.0)
    ):
        change = "0"
    status = f"{_ICON.get(v.status, '')} {v.status}" + (" (improved)" if v.improved else "")
    cells = [status, esc(v.scenario), esc(v.key), esc(fmt(v.baseline, unit)),
             esc(fmt(v.current, unit)), esc(change), esc(v.tolerance or "-")]
    if reason:
        shown_interval = "-" if v.interval is None else interval(
            v.interval[0], v.interval[1], v.key, v.baseline, lambda x: fmt(x, unit))
        cells += [esc("-" if v.n is None else v.n), esc(shown_interval), esc(sentence(v))]
    return "| " + " | ".join(cells) + " |"


_HEAD = "| verdict | scenario | metric | baseline | current | change | tolerance |"
_RULE = "|---|---|---|---:|---:|---:|---|"


def frontier_markdown(f: Frontier) -> list[str]:
    """A sweep's frontier: the recommendation first, then one row per configuration."""
    labels = {p.name: ", ".join(f"{k}={v}" for k, v in p.knobs.items()) or p.name
              for p in f.points}
    lines = [f"### Sweep {esc(f.sweep)}", "", f"**Recommendation:** {esc(f.recommendation())}",
             "", f"| config | n | {esc(f.cost_metric)} ({esc(f.cost_unit)}) | Δcost "
             f"| {esc(f.quality_metric)} | Δ lower bound | frontier | acceptable |",
             "|---|---:|---:|---:|---:|---:|---|---|"]
    ref_quality = f.point(f.reference).quality
    for p in f.points:
        front = "yes" if p.on_frontier else f"dominated by {labels.get(p.dominated_by or '', '')}"
        ok = "reference" if p.name == f.reference else ("yes" if p.acceptable else "no")
        if p.name == f.recommended:
            ok = f"**{ok}, recommended**"
        lower = frontier_lower(p.lower, f.quality_metric, ref_quality)
        lines.append(
            f"| {esc(labels[p.name])} | {p.n} | {esc(fmt(p.cost))} "
            f"| {esc(signed_cell(p.delta_cost))} "
            f"| {p.quality:.3f} | {esc(lower)} | {esc(front)} | {ok} |"
        )
    rule = "current" if f.reference_rule == "current" else "best"
    lines += ["", f"Paired one-sided test over the same questions against "
              f"{esc(labels[f.reference])} (the {rule} "
              f"configuration), allowed drop {esc(str(f.quality_drop))}, Holm-corrected over "
              f"{max(1, len(f.points) - 1)} comparisons.", ""]
    return lines


def load_markdown(runs: Sequence[ScenarioRun]) -> list[str]:
    """The load profile, one row per load level (the terminal's table); nothing when no
    scenario ran under load."""
    rows = load_rows(runs)
    if not rows:
        return []
    lines = ["", "### Load profile", "",
             f"Latency and cost per answer against load ({esc(NOTE)}).", "",
             "| " + " | ".join(esc(h) for h in HEAD) + " |",
             "|---|---|" + "---:|" * (len(HEAD) - 2)]
    lines += ["| " + " | ".join(esc(c) for c in r.cells()) + " |" for r in rows]
    return lines


def markdown(
    outcomes: Sequence[Outcome], environment: dict[str, Any], frontiers: Sequence[Frontier] = ()
) -> str:
    verdicts = [v for o in outcomes for v in o.verdicts]
    verdicts.sort(key=lambda v: (rank(v.status), v.scenario, v.key))
    failed = sum(1 for v in verdicts if v.status == "FAIL")
    lines = ["## ragcost", ""]
    if verdicts:
        incomparable = sum(1 for v in verdicts if v.status == "INCOMPARABLE")
        # an incomparable verdict gates nothing: say so where a reviewer looks first
        also = f", **{incomparable} incomparable** (not gated)" if incomparable else ""
        lines.append(
            f"**{failed} failing**{also} of {count(len(verdicts), 'gated metric')} in "
            f"{count(len({v.scenario for v in verdicts}), 'scenario')}."
        )
        shown = [v for v in verdicts if v.status != "PASS"]
        passed = [v for v in verdicts if v.status == "PASS"]
        if shown:
            lines += ["", _HEAD + " n | interval | reason |", _RULE + "---:|---|---|"]
            lines += [_row(v, reason=True) for v in shown]
        if passed:
            lines += ["", f"<details><summary>{len(passed)} passing</summary>", "",
                      _HEAD, _RULE]
            lines += [_row(v, reason=False) for v in passed]
            lines += ["", "</details>"]
        weak = [v for v in passed if "detectable" in v.figures]
        if weak:
            lines += ["", "Passing, but too few samples to see the change the tolerance "
                      "allows:", ""]
            lines += [f"- {esc(v.scenario)} {esc(v.key)}: {esc(power_note(v))}" for v in weak]
    else:
        lines.append("No gated metrics (no ragcost.yaml entries for the scenarios that ran).")
    for f in frontiers:
        lines += ["", *frontier_markdown(f)]
    lines += load_markdown([o.run for o in outcomes])
    comp = environment.get("comparable", {})
    lines += ["", f"Machine: {esc(comp.get('cpu', '?'))}, {esc(comp.get('cpus', '?'))} CPUs; "
              f"energy: {esc(', '.join(comp.get('energy', [])) or 'none')}.", ""]
    for outcome in sorted(outcomes, key=lambda o: o.run.scenario):
        run = outcome.run
        if not run.requests:
            continue
        # inside HTML, Markdown escapes are not undone: a backslash would show, so the
        # summary line gets HTML escaping only
        lines += [f"<details><summary>{_html(run.scenario)}: {len(run.requests)} requests"
                  "</summary>", "", "| metric | p50 | p95 | mean | unit | source |",
                  "|---|---:|---:|---:|---|---|"]
        for key, row in summarize_run(run).items():
            lines.append(
                f"| {esc(key)} | {esc(fmt(row['p50'], row['unit']))} "
                f"| {esc(fmt(row['p95'], row['unit']))} | {esc(fmt(row['mean'], row['unit']))} "
                f"| {esc(row['unit'])} | {esc(row['source'])} |"
            )
        lines += ["", "</details>", ""]
    return "\n".join(lines) + "\n"
