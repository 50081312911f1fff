"""The CSV export: tidy per-request rows and one summary row per configuration.

``requests.csv`` has one row per (request, stage, metric) and per (question, quality
metric), with each knob of the run's configuration as its own column, so a spreadsheet
or pandas pivots it without parsing names. ``configs.csv`` has one row per scenario
(a configuration of a sweep, or a scenario of its own) with its quality interval, cost
per answer, latency percentiles and, for sweeps, the frontier columns.
"""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..compare.stats import quantile
from ..models import Outcome, unit_of

if TYPE_CHECKING:
    from ..compare.frontier import Frontier

REQUEST_FILE = "requests.csv"
CONFIG_FILE = "configs.csv"


def knob_names(outcomes: Sequence[Outcome]) -> list[str]:
    """Every knob any scenario set, in first-seen order."""
    seen: dict[str, None] = {}
    for o in outcomes:
        for k in o.run.knobs:
            seen.setdefault(k, None)
    return list(seen)


def _v(x: float | None) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return ""
    return repr(float(x)) if isinstance(x, float) else str(x)


def request_rows(outcomes: Sequence[Outcome], run_id: str) -> str:
    """``requests.csv``: run, config, knob columns, item, request, stage, metric, value,
    unit, source."""
    knobs = knob_names(outcomes)
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["run", "config", *knobs, "item", "request", "stage", "metric", "value", "unit",
                "source"])
    from ..quality.identity import sample_keys

    for o in sorted(outcomes, key=lambda o: o.run.scenario):
        run = o.run
        kv = [_cell(run.knobs.get(k)) for k in knobs]
        keys = sample_keys(list(run.samples)) if run.samples else []
        item_of = {s.trace_id: keys[i] for i, s in enumerate(run.samples) if s.trace_id}
        for req in run.requests:
            item = item_of.get(req.trace_id, f"#{req.index}")
            for metric, value in sorted(req.metrics.items()):
                w.writerow([run_id, run.scenario, *kv, item, req.index, "", metric, _v(value),
                            unit_of(metric), req.sources.get(metric, "")])
            for st in req.stages:
                if st.start_ms is not None:
                    w.writerow([run_id, run.scenario, *kv, item, req.index, st.name, "start_ms",
                                _v(st.start_ms), "ms", "timer"])
                for metric, value in sorted(st.metrics.items()):
                    w.writerow([run_id, run.scenario, *kv, item, req.index, st.name, metric,
                                _v(value), unit_of(metric), st.sources.get(metric, "")])
        for metric, data in sorted(o.quality.items()):
            for s in data.get("samples", []):
                w.writerow([run_id, run.scenario, *kv, s["key"], "", "", metric,
                            _v(s.get("value")), "score", data.get("tier", "")])
    return out.getvalue()


def _cell(value: Any) -> str:
    return "" if value is None else str(value)


CONFIG_HEAD = [
    "config", "sweep", "n", "quality_metric", "quality_mean", "quality_low", "quality_high",
    "cost_metric", "cost_per_answer", "usd_per_answer", "wall_p50_ms", "wall_p95_ms", "cpu_s",
    "gpu_s", "energy_j", "tokens_total", "on_frontier", "dominated_by", "acceptable",
    "recommended",
]


def config_rows(outcomes: Sequence[Outcome], frontiers: Sequence[Frontier]) -> str:
    """``configs.csv``: one row per scenario, knob columns after its name."""
    from ..compare.frontier import per_answer

    knobs = knob_names(outcomes)
    points = {p.name: (f, p) for f in frontiers for p in f.points}
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow([CONFIG_HEAD[0], *knobs, *CONFIG_HEAD[1:]])
    for o in sorted(outcomes, key=lambda o: o.run.scenario):
        run = o.run
        if not run.requests:
            continue
        walls = [float(r.metrics["wall_ms"]) for r in run.requests if "wall_ms" in r.metrics]
        cpu = [float(r.metrics.get("cpu_ms", 0.0)) for r in run.requests]
        gpu = [float(r.metrics.get("gpu_ms", 0.0)) for r in run.requests]
        n = len(run.requests)
        fp = points.get(run.scenario)
        if fp is not None:
            f, p = fp
            q = [f.quality_metric, _v(p.quality), _v(p.quality_low), _v(p.quality_high),
                 f.cost_metric, _v(p.cost)]
            front = ["true" if p.on_frontier else "false", p.dominated_by or "",
                     "true" if p.acceptable else "false",
                     "true" if f.recommended == p.name else "false"]
            sweep = f.sweep
        else:
            q = ["", "", "", "", "", ""]
            front = ["", "", "", ""]
            sweep = run.sweep or ""
        w.writerow([
            run.scenario, *[_cell(run.knobs.get(k)) for k in knobs], sweep, n, *q,
            _v(per_answer(o, "cost_usd")),
            _v(quantile(walls, 0.5) if walls else None),
            _v(quantile(walls, 0.95) if walls else None),
            _v(math.fsum(cpu) / n / 1000.0), _v(math.fsum(gpu) / n / 1000.0),
            _v(per_answer(o, "energy_j")), _v(per_answer(o, "tokens_total")), *front,
        ])
    return out.getvalue()
