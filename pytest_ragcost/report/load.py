"""The load profile: one row per load level, latency and cost per answer against load.

The terminal, the Markdown and the HTML report all build their load table from
:func:`load_rows`, so the three show the same figures.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from ..run import ScenarioRun
from .fmt import fmt
from .summary import summarize_run

#: the load table's columns, as every renderer heads them
HEAD = ("scenario", "level", "n", "wall_ms p50/p95", "wait_ms p50/p95", "queue", "req/s",
        "err/timeout", "cpu_ms/answer", "energy_j/answer", "cost_usd/answer")

#: what the table's title says about its figures
NOTE = ("wall_ms from each request's intended start; queue: time-averaged depth; cost per "
        "answer: the level's total / its requests")


@dataclass(frozen=True)
class LoadRow:
    """One load level's figures: latency and wait percentiles over its requests, the
    level's queue, throughput and failures, and the cost per answer."""

    scenario: str
    nodeid: str
    level: str
    mode: str
    #: users (closed loop) or requests per second offered (open loop); 0 when unknown
    load: float
    n: int
    wall_ms_p50: float | None
    wall_ms_p95: float | None
    wait_ms_p50: float | None
    wait_ms_p95: float | None
    queue_depth_mean: float
    throughput_rps: float
    errors: int
    timeouts: int
    cpu_ms: float | None
    energy_j: float | None
    cost_usd: float | None

    def cells(self) -> list[str]:
        """The row as text, in the order of :data:`HEAD`."""
        return [
            self.scenario,
            self.level,
            str(self.n),
            f"{fmt(self.wall_ms_p50)} / {fmt(self.wall_ms_p95)}",
            f"{fmt(self.wait_ms_p50)} / {fmt(self.wait_ms_p95)}",
            fmt(self.queue_depth_mean),
            fmt(self.throughput_rps),
            f"{self.errors}/{self.timeouts}",
            fmt(self.cpu_ms),
            fmt(self.energy_j),
            fmt(self.cost_usd),
        ]


def _load_of(run: ScenarioRun) -> float:
    if run.load is None:
        return 0.0
    return float(run.load.spec.users or run.load.spec.rate or 0.0)


def load_rows(runs: Sequence[ScenarioRun]) -> list[LoadRow]:
    """The load levels among ``runs`` (those with ``load`` figures and requests), sorted by
    mode, then users or rate, then scenario."""
    loaded = [r for r in runs if r.load is not None and r.requests]
    loaded.sort(key=lambda r: (r.load.mode if r.load else "", _load_of(r), r.scenario))
    rows = []
    for run in loaded:
        summary = summarize_run(run)
        load = run.load
        assert load is not None

        def get(key: str, field: str, summary: dict[str, Any] = summary) -> float | None:
            row = summary.get(key)
            return None if row is None else float(row[field])

        rows.append(LoadRow(
            scenario=run.scenario,
            nodeid=run.nodeid,
            level=load.level,
            mode=load.mode,
            load=_load_of(run),
            n=load.requests,
            wall_ms_p50=get("wall_ms", "p50"),
            wall_ms_p95=get("wall_ms", "p95"),
            wait_ms_p50=get("wait_ms", "p50"),
            wait_ms_p95=get("wait_ms", "p95"),
            queue_depth_mean=load.queue_depth_mean,
            throughput_rps=load.throughput_rps,
            errors=load.errors,
            timeouts=load.timeouts,
            cpu_ms=get("cpu_ms", "mean"),
            energy_j=get("energy_j", "mean"),
            cost_usd=get("cost_usd", "mean"),
        ))
    return rows


def family(row: LoadRow) -> str:
    """The levels that belong on one chart: the same test (parametrized over the level)
    driven the same way."""
    return f"{row.nodeid.split('[', 1)[0] or row.scenario} ({row.mode} loop)"


def cost_per_answer(rows: Sequence[LoadRow]) -> tuple[str, list[float | None]]:
    """The cost to chart against load: dollars when the levels are priced (and not all
    zero), else CPU milliseconds, else energy."""
    usd = [r.cost_usd for r in rows]
    if all(u is not None for u in usd) and any(usd):
        return "cost_usd", usd
    cpu = [r.cpu_ms for r in rows]
    if any(c is not None for c in cpu):
        return "cpu_ms", cpu
    return "energy_j", [r.energy_j for r in rows]
