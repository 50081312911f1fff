"""The terminal summary, the waterfall section and the failure text of a test."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from tabulate import tabulate

from ..models import ScenarioRun, Verdict, split_key, unit_of
from .summary import summarize_run

if TYPE_CHECKING:
    from ..compare.frontier import Frontier
    from ..meters.registry import MeterSet
    from ..models import Outcome


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
    return tabulate(
        rows, headers=["metric", "p50", "p95", "mean", "unit", "source"], disable_numparse=True
    )


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
    energy_head = f"energy J mean ({energy_source})" if energy_source else "energy J mean"
    headers = ["stage", "wall p50 ms", "wall p95 ms", "cpu p50 ms", energy_head, "tokens mean",
               "errors"]
    return tabulate(rows, headers=headers, disable_numparse=True)


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


def _change(v: Verdict) -> str:
    if v.change is None:
        return "-"
    sign = "+" if v.change >= 0 else ""
    text = f"{sign}{fmt(v.change)}"
    return f"{text} ({pct_text(v.change_pct)})" if v.change_pct is not None else text


def _unit(key: str) -> str:
    try:
        return unit_of(split_key(key)[1])
    except ValueError:
        return ""


def verdict_table(verdicts: Sequence[Verdict]) -> str:
    rows = [
        [v.key, v.stat, fmt(v.baseline, _unit(v.key)), fmt(v.current, _unit(v.key)),
         _change(v), v.tolerance or "-",
         fmt(v.budget, _unit(v.key)) if v.budget is not None else "-",
         v.n if v.n is not None else "-",
         v.status + (" (improved)" if v.improved else "")]
        for v in verdicts
    ]
    return tabulate(
        rows,
        headers=["metric", "stat", "baseline", "current", "change", "tolerance", "budget", "n",
                 "verdict"],
        disable_numparse=True,
    )


def quality_table(quality: dict[str, Any]) -> str:
    """Per quality metric: its tier, mean score, and what judging cost (apart from the
    pipeline's own tokens)."""
    rows = []
    for metric, data in quality.items():
        values = [s["value"] for s in data["samples"] if s["value"] is not None]
        reused = sum(1 for s in data["samples"] if s.get("reused"))
        mean = sum(values) / len(values) if values else None
        judge = "-"
        if data.get("judge_model"):
            judge = (
                f"{data['judge_live_calls']} live / {data['judge_replayed_calls']} replayed, "
                f"{data['judge_input_tokens']:,} in + {data['judge_output_tokens']:,} out tokens"
            )
        rows.append([metric, data["tier"], fmt(mean), len(data["samples"]), reused,
                     f"{data.get('seconds', 0.0):.2f}", judge])
    return tabulate(
        rows,
        headers=["quality", "tier", "mean", "n", "reused", "seconds", "judge"],
        disable_numparse=True,
    )


def per_success_line(per: dict[str, Any]) -> str:
    units = {"tokens_total": "tokens", "energy_j": "J", "cpu_ms": "ms CPU", "gpu_ms": "ms GPU",
             "cost_usd": "USD"}
    parts = [f"{fmt(per[k])} {u}" for k, u in units.items() if per.get(k) is not None]
    head = (
        f"per successful answer ({per['metric']} >= {per['min']:g}: "
        f"{per['successes']} of {per['answers']})"
    )
    return f"{head}: {', '.join(parts) if parts else 'no successful answer'}"


def load_table(runs: Sequence[ScenarioRun]) -> str:
    """Latency and cost per answer against load: one row per load level."""
    rows = []

    def level_order(run: ScenarioRun) -> tuple[str, float, str]:
        spec = run.load.get("spec", {})
        return (str(run.load.get("mode", "")), float(spec.get("users") or spec.get("rate") or 0),
                run.scenario)

    for run in sorted(runs, key=level_order):
        summary = summarize_run(run)

        def get(key: str, field: str, summary: dict[str, Any] = summary) -> float | None:
            row = summary.get(key)
            return None if row is None else float(row[field])

        load = run.load
        rows.append([
            run.scenario,
            str(load.get("level", "")),
            str(load.get("requests", len(run.requests))),
            f"{fmt(get('wall_ms', 'p50'))} / {fmt(get('wall_ms', 'p95'))}",
            f"{fmt(get('wait_ms', 'p50'))} / {fmt(get('wait_ms', 'p95'))}",
            fmt(float(load.get("queue_depth_mean", 0.0))),
            fmt(float(load.get("throughput_rps", 0.0))),
            f"{int(load.get('errors', 0))}/{int(load.get('timeouts', 0))}",
            fmt(get("cpu_ms", "mean")),
            fmt(get("energy_j", "mean")),
            fmt(get("cost_usd", "mean")),
        ])
    return tabulate(
        rows,
        headers=["scenario", "level", "n", "wall_ms p50/p95", "wait_ms p50/p95",
                 "queue", "req/s", "err/timeout", "cpu_ms/answer", "energy_j/answer",
                 "cost_usd/answer"],
        disable_numparse=True,
    )


def failure_text(run: ScenarioRun, failing: Sequence[Verdict], word: str, meaning: str) -> str:
    """The long representation of a test the gate failed: its status word and what it
    means, one line per metric, then where the cost went."""
    lines = [f"ragcost: scenario {shown(run.scenario)!r}: {word}: {meaning}"]
    lines += [f"  {v.message}" for v in failing]
    lines += ["", "stage waterfall:", waterfall_text(run)]
    return "\n".join(lines)


def _label(knobs: Any, name: str) -> str:
    return ", ".join(f"{k}={v}" for k, v in knobs.items()) or name


def frontier_lines(f: Frontier, width: int = 80) -> list[str]:
    """A sweep's frontier as a table that fits ``width`` columns, then the recommendation."""
    import textwrap

    labels = {p.name: _label(p.knobs, p.name) for p in f.points}
    rows = []
    for p in f.points:
        lower = "-" if p.lower is None else f"{p.lower:+.3f}"
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


def _signed(x: float) -> str:
    if abs(x) < 5e-13:
        return "0"
    return ("+" if x > 0 else "-") + fmt(abs(x))


def summary_lines(
    outcomes: Sequence[Outcome],
    meters: MeterSet | None,
    update_result: Any,
    problems: Sequence[str],
    *,
    verbose: bool = False,
    frontiers: Sequence[Frontier] = (),
) -> list[str]:
    lines: list[str] = []
    price_notes: dict[str, str] = {}
    if meters is not None:
        lines.append(f"energy: {meters.energy_label()}")
        for missing in meters.unavailable:
            lines.append(f"  {missing.name} unavailable: {missing.reason}")
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
            for note in run.token_notes.values():
                lines.append(f"note: {note}")
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
            hints = [v for v in outcome.verdicts if v.improved]
            if hints:
                lines.append(
                    f"{len(hints)} metric(s) improved past their tolerance: run with "
                    "--ragcost-update to lower the baselines"
                )
    loaded = [o.run for o in outcomes if o.run.load and o.run.requests]
    if loaded:
        lines.append("")
        lines.append(
            "load profile (wall_ms from each request's intended start; queue: time-averaged "
            "depth; cost per answer: the level's total / its requests):"
        )
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
        lines += [f"note: cost_usd not computed: {note}" for note in price_notes.values()]
    for problem in problems:
        lines.append(f"ragcost error: {problem}")
    return lines


def update_result_lines(result: Any) -> list[str]:
    changes = list(getattr(result, "changes", []) or [])
    path = getattr(result, "path", "ragcost.yaml")
    if not changes:
        return [f"ragcost: {path} already up to date"]
    return [f"ragcost: updated {len(changes)} baseline(s) in {path}"]
