"""The terminal summary, the waterfall section and the failure text of a test."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from tabulate import tabulate

from ..run import ScenarioRun, Verdict, split_key, unit_of
from ..run.model import MetricScores, PerSuccess
from .fmt import fmt, frontier_lower, pct_text, positional, shown
from .fmt import signed_cell as _signed
from .load import HEAD, NOTE, load_rows
from .summary import summarize_run
from .system import system_lines
from .verdicts import power_note, sentence

if TYPE_CHECKING:
    from ..compare.frontier import Frontier
    from ..meters.registry import MeterSet
    from ..run import Outcome




WIDTH = 80


def fit(rows: Sequence[Sequence[object]], headers: Sequence[str], flex: int,
        width: int = WIDTH) -> str:
    """A table no wider than ``width``: column ``flex`` wraps to the room the others leave
    (at least 12 characters)."""
    cols = len(headers)
    natural = [
        max([len(str(headers[i]))] + [len(str(r[i])) for r in rows]) for i in range(cols)
    ]
    others = sum(w for i, w in enumerate(natural) if i != flex) + 2 * (cols - 1)
    room = max(12, width - others)
    cells = [[str(c) for c in r] for r in rows]
    if natural[flex] > room:
        for r in cells:
            # metric keys have no spaces: break after a dot or underscore when one is near
            text = r[flex].replace(".", ". ").replace("_", "_ ")
            r[flex] = "\n".join(
                ln.replace(". ", ".").replace("_ ", "_")
                for ln in textwrap.wrap(text, room + text.count(" ") - r[flex].count(" "),
                                        break_long_words=True, break_on_hyphens=False)
            )
    # the header and its rule as rows of a plain table: tabulate's own header would pad
    # every column by two more characters than its widest cell
    head = [str(h) for h in headers]
    widths = [max(len(ln) for c in [head[i]] + [r[i] for r in cells] for ln in c.split("\n"))
              for i in range(cols)]
    return tabulate([head, ["-" * w for w in widths], *cells], tablefmt="plain",
                    disable_numparse=True)


def metrics_table(run: ScenarioRun) -> str:
    """Request-level metrics: p50, p95, mean, unit and where each number came from."""
    rows = []
    for key, row in summarize_run(run).items():
        stage, _ = split_key(key)
        if stage is not None:
            continue
        rows.append(
            [key, fmt(row["p50"], row["unit"]), fmt(row["p95"], row["unit"]),
             fmt(row["mean"], row["unit"]), row["unit"], row["source"]]
        )
    return fit(rows, ["metric", "p50", "p95", "mean", "unit", "source"], flex=5)


def waterfall_text(run: ScenarioRun) -> str:
    """Per stage, in request order: wall p50/p95, CPU, energy and tokens."""
    summary = summarize_run(run)
    rows = []
    energy_source = ""
    for stage in run.stage_names():
        def get(metric: str, field: str, stage: str = stage) -> float | None:
            row = summary.get(f"{stage}.{metric}")
            return None if row is None else float(row[field])

        e_row = summary.get(f"{stage}.energy_j")
        if e_row is not None:
            energy_source = e_row["source"]
        rows.append(
            [
                stage,
                fmt(get("wall_ms", "p50")),
                fmt(get("wall_ms", "p95")),
                fmt(get("cpu_ms", "p50")),
                fmt(get("energy_j", "mean")),
                fmt(get("tokens_total", "mean") or get("tokens_context", "mean"), "tokens"),
                fmt(get("errors", "total"), "count") if get("errors", "total") else "",
            ]
        )
    energy_head = f"J ({energy_source})" if energy_source else "J"
    headers = ["stage", "wall p50", "wall p95", "cpu p50", energy_head, "tokens", "errors"]
    return "stages: ms, mean energy and tokens per request\n" + fit(rows, headers, flex=0)






def inert(text: str) -> str:
    """Whole lines for a terminal: line breaks and tabs kept, every other control
    character (an escape sequence's ESC, BEL, a C1 code) shown escaped, so a name from a
    file cannot recolour, retitle or rewrite the user's terminal."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() or ch in "\n\t" else repr(ch)[1:-1] for ch in text)


def _change(v: Verdict) -> str:
    """The change as a percentage of the baseline (in the unit when the baseline is 0);
    float noise far below the shown precision is no change."""
    if v.change is None or v.baseline is None:
        return "-"
    scale = max(abs(v.baseline), abs(v.current or 0.0))
    if abs(v.change) <= 1e-9 * scale or abs(v.change) < 1e-15:
        return "0"
    pct = v.change_pct
    if pct is not None:
        if not math.isfinite(pct) or abs(pct) >= 1e6:
            return pct_text(pct)
        if abs(pct) >= 0.05:
            return f"{pct:+.1f}%"
        return ("+" if pct > 0 else "") + positional(pct, 2) + "%"
    return ("+" if v.change >= 0 else "") + fmt(v.change)


def _unit(key: str) -> str:
    try:
        return unit_of(split_key(key)[1])
    except ValueError:
        return ""


def _limit(v: Verdict) -> str:
    parts = []
    if v.tolerance:
        parts.append(f"±{v.tolerance}" if v.baseline is not None else v.tolerance)
    if v.budget is not None:
        parts.append(f"≤{fmt(v.budget, _unit(v.key))}")
    return " ".join(parts) or "-"


def verdict_table(verdicts: Sequence[Verdict], width: int = WIDTH) -> str:
    """One row per metric that fits ``width`` columns: the metric (with its statistic
    when not the mean) wraps, the verdict never does."""
    rows = [
        [v.key + ("" if v.stat == "mean" else f" ({v.stat})"),
         fmt(v.baseline, _unit(v.key)), fmt(v.current, _unit(v.key)), _change(v), _limit(v),
         v.n if v.n is not None else "-",
         v.status + (" (improved)" if v.improved else "")]
        for v in verdicts
    ]
    return fit(rows, ["metric", "baseline", "current", "change", "limit", "n", "verdict"],
               flex=0, width=width)


def quality_table(quality: Mapping[str, MetricScores]) -> str:
    """Per quality metric: its tier, mean score, and what judging cost (apart from the
    pipeline's own tokens)."""
    rows = []
    for metric, data in quality.items():
        judge = "-"
        if data.judge_model:
            judge = (
                f"{data.judge_live_calls} live / {data.judge_replayed_calls} replayed, "
                f"{data.judge_input_tokens:,} in + {data.judge_output_tokens:,} out tokens"
            )
        rows.append([metric, data.tier, fmt(data.mean()), len(data.samples),
                     data.reused_count(), f"{data.seconds:.2f}", judge])
    return fit(rows, ["quality", "tier", "mean", "n", "reused", "seconds", "judge"], flex=6)


def per_success_line(per: PerSuccess) -> str:
    units = {"tokens_total": "tokens", "energy_j": "J", "cpu_ms": "ms CPU", "gpu_ms": "ms GPU",
             "cost_usd": "USD"}
    costs = per.costs()
    parts = [f"{fmt(costs[k])} {u}" for k, u in units.items() if costs.get(k) is not None]
    head = (
        f"per successful answer ({per.metric} >= {per.min:g}: "
        f"{per.successes} of {per.answers})"
    )
    return f"{head}: {', '.join(parts) if parts else 'no successful answer'}"


def load_table(runs: Sequence[ScenarioRun]) -> str:
    """Latency and cost per answer against load: one row per load level."""
    return tabulate([r.cells() for r in load_rows(runs)], headers=list(HEAD),
                    disable_numparse=True)


def failure_text(run: ScenarioRun, failing: Sequence[Verdict], word: str, meaning: str) -> str:
    """The long representation of a test the gate failed: its status word and what it
    means, one line per metric, then where the cost went (the stage table itself is in
    the ragcost summary, once)."""
    lines = [f"ragcost: scenario {shown(run.scenario)!r}: {word}: {meaning}"]
    lines += [f"  {sentence(v)}" for v in failing]
    share = stage_shares(run)
    if share:
        lines += ["", "where the time went: " + ", ".join(share),
                  "(per-stage table in the ragcost summary below)"]
    return "\n".join(lines)


def stage_shares(run: ScenarioRun) -> list[str]:
    """Each stage's share of the requests' wall time, largest first."""
    totals: dict[str, float] = {}
    for req in run.requests:
        for st in req.stages:
            totals[st.name] = totals.get(st.name, 0.0) + float(st.metrics.get("wall_ms", 0.0))
    whole = sum(float(r.metrics.get("wall_ms", 0.0)) for r in run.requests)
    if not totals or not 0 < whole < math.inf:
        return []
    ranked = sorted(totals.items(), key=lambda kv: -kv[1])
    return [f"{name} {total / whole * 100:.0f}%" for name, total in ranked]


def _label(knobs: Any, name: str) -> str:
    return ", ".join(f"{k}={v}" for k, v in knobs.items()) or name


def frontier_lines(f: Frontier, width: int = 80) -> list[str]:
    """A sweep's frontier as a table that fits ``width`` columns, then the recommendation."""

    labels = {p.name: _label(p.knobs, p.name) for p in f.points}
    ref_quality = f.point(f.reference).quality
    rows = []
    for p in f.points:
        lower = frontier_lower(p.lower, f.quality_metric, ref_quality)
        front = "yes" if p.on_frontier else f"< {labels.get(p.dominated_by or '', '?')}"
        ok = "ref" if p.name == f.reference else ("yes" if p.acceptable else "no")
        if p.name == f.recommended:
            ok += " *"
        rows.append([labels[p.name], p.n, fmt(p.cost), _signed(p.delta_cost),
                     f"{p.quality:.3f}", lower, front, ok])
    head = ["config", "n", "cost", "Δcost", "quality", "Δq low", "frontier", "ok"]
    title = (
        f"sweep {f.sweep}: quality {f.quality_metric}, cost {f.cost_metric} per answer "
        f"({f.cost_unit}); Δq low: {f.confidence * 100:g}% lower bound of the change vs "
        f"{labels[f.reference]}"
    )
    lines = textwrap.wrap(title, width, subsequent_indent="  ", break_on_hyphens=False)
    lines.append(tabulate(rows, headers=head, disable_numparse=True))
    lines += textwrap.wrap("recommendation: " + f.recommendation(), width,
                           subsequent_indent="  ", break_on_hyphens=False)
    return lines




def summary_lines(
    outcomes: Sequence[Outcome],
    meters: MeterSet | None,
    update_result: Any,
    problems: Sequence[str],
    *,
    verbose: bool = False,
    quiet: bool = False,
    frontiers: Sequence[Frontier] = (),
) -> list[str]:
    if quiet:
        return quiet_lines(outcomes, update_result, problems, frontiers)
    lines: list[str] = []
    price_notes: dict[str, str] = {}
    if meters is not None:
        lines.append(f"energy: {meters.energy_label()}")
        for missing in meters.unavailable:
            lines += textwrap.wrap(f"  {missing.name} unavailable: {missing.reason}", WIDTH,
                                   subsequent_indent="    ", break_on_hyphens=False)
    for outcome in sorted(outcomes, key=lambda o: o.run.scenario):
        run = outcome.run
        if run.requests:
            lines.append("")
            warm = f", {run.warmup} warm-up" if run.warmup else ""
            lines.append(
                f"scenario {shown(run.scenario)} ({shown(run.nodeid)}): {len(run.requests)} "
                f"requests{warm}"
            )
            lines.append(metrics_table(run))
            if run.stage_names():
                lines.append("")
                lines.append(waterfall_text(run))
                lines.extend(system_lines(run))
            for note in run.token_notes.values():
                lines += textwrap.wrap(f"note: {note}", WIDTH, subsequent_indent="  ")
            price_notes.update(outcome.price_notes)
        if outcome.quality:
            lines.append("")
            lines.append(quality_table(outcome.quality))
        if outcome.per_success:
            lines.append(per_success_line(outcome.per_success))
        elif outcome.error:
            lines.append("")
            lines.append(f"scenario {shown(run.scenario)} ({shown(run.nodeid)}): {outcome.error}")
        if outcome.verdicts:
            lines.append("")
            if not run.requests:
                lines.append(f"scenario {shown(run.scenario)}: not run")
            lines.append(verdict_table(outcome.verdicts))
            for v in outcome.verdicts:
                if "detectable" in v.figures and v.status == "PASS":
                    # a pass that could have missed the change its tolerance allows
                    lines += textwrap.wrap(f"note: {v.key}: {power_note(v)}", WIDTH,
                                           subsequent_indent="  ", break_on_hyphens=False)
            hints = [v for v in outcome.verdicts if v.improved]
            if hints:
                lines.append(
                    f"{len(hints)} metric(s) improved past their tolerance: run with "
                    "--ragcost-update to lower the baselines"
                )
    loaded = [o.run for o in outcomes if o.run.load is not None and o.run.requests]
    if loaded:
        lines.append("")
        lines.append(f"load profile ({NOTE}):")
        lines.append(load_table(loaded))
    for f in frontiers:
        lines.append("")
        lines.extend(frontier_lines(f))
    if update_result is not None:
        lines.append("")
        lines.extend(update_result_lines(update_result))
    if price_notes:
        lines.append("")
        # once per run: a self-hosted model is unpriced in every scenario alike
        for note in price_notes.values():
            lines += textwrap.wrap(f"note: cost_usd not computed: {note}", WIDTH,
                                   subsequent_indent="  ")
    for problem in problems:
        lines.append(f"ragcost error: {problem}")
    return [inert(line) for line in lines]


def quiet_lines(
    outcomes: Sequence[Outcome],
    update_result: Any,
    problems: Sequence[str],
    frontiers: Sequence[Frontier] = (),
) -> list[str]:
    """Under ``-q``: one line per scenario, the verdicts that are not PASS, and each
    sweep's recommendation."""
    lines: list[str] = []
    for outcome in sorted(outcomes, key=lambda o: o.run.scenario):
        counts: dict[str, int] = {}
        for v in outcome.verdicts:
            counts[v.status] = counts.get(v.status, 0) + 1
        tally = ", ".join(f"{n} {status}" for status, n in sorted(counts.items()))
        head = f"{outcome.run.scenario}: {len(outcome.run.requests)} requests"
        lines.append(f"{head}; {tally}" if tally else head)
        if outcome.error:
            lines.append(f"  {outcome.error}")
        shown = [v for v in outcome.verdicts if v.status != "PASS"]
        if shown:
            lines.append(verdict_table(shown))

    for f in frontiers:
        lines += textwrap.wrap(f"sweep {f.sweep}: {f.recommendation()}", WIDTH,
                               subsequent_indent="  ", break_on_hyphens=False)
    if update_result is not None:
        lines.extend(update_result_lines(update_result))
    lines += [f"ragcost error: {problem}" for problem in problems]
    return lines


def update_result_lines(result: Any) -> list[str]:
    changes = list(getattr(result, "changes", []) or [])
    path = getattr(result, "path", "ragcost.yaml")
    if not changes:
        return [f"ragcost: {path} already up to date"]
    return [f"ragcost: updated {len(changes)} baseline(s) in {path}"]
