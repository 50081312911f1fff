"""The CSV export: tidy per-request rows and one summary row per configuration.

``requests.csv`` has one row per (request, stage, metric) and per (question, quality
metric), with each knob of the run's configuration as its own column, so a spreadsheet
or pandas pivots it without parsing names. ``configs.csv`` has one row per scenario
(a configuration of a sweep, or a scenario of its own) with its quality interval, cost
per answer, latency percentiles and, for sweeps, the frontier columns.

Numbers are written as numbers. A text cell a spreadsheet would evaluate as a formula
(one that starts with ``=``, ``+``, ``-``, ``@``, a tab or a carriage return: a scenario
named by a parametrize value such as ``=cmd|' /C calc'!A0``) is written with a leading
``'``, as OWASP recommends for CSV injection, so the spreadsheet shows it as text; a
text cell that is just a number (``-3``) is left alone. Every CSV writer of the package
goes through :func:`writer`.
"""

from __future__ import annotations

import io
import math
import re
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

from ..compare.describe import quantile
from ..run import Outcome, unit_of

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


#: what a spreadsheet evaluates when a cell starts with it
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def neutralise(cell: object) -> object:
    """``cell`` as written to a CSV: numbers as they are, a formula-like text with a
    leading ``'``."""
    if isinstance(cell, str) and cell.startswith(FORMULA_START) and not _NUMBER_RE.match(cell):
        return "'" + cell
    return cell


class _SafeWriter:
    """Rows of RFC 4180 CSV: a text cell is quoted when it holds a comma, a quote, a line
    break or a carriage return (``csv`` leaves a lone carriage return bare when lines end
    in ``\\n``, which splits the row for a reader), numbers are written bare."""

    def __init__(self, out: io.StringIO) -> None:
        self._out = out

    def writerow(self, row: Iterable[object]) -> None:
        self._out.write(",".join(_field(neutralise(c)) for c in row) + "\n")


def _field(cell: object) -> str:
    if cell is None:
        return ""
    text = repr(cell) if isinstance(cell, float) else str(cell)
    if any(ch in text for ch in ',"\r\n'):
        return '"' + text.replace('"', '""') + '"'
    return text


def writer(out: io.StringIO) -> _SafeWriter:
    """A CSV writer (``\\n`` line ends) whose every text cell goes through
    :func:`neutralise`."""
    return _SafeWriter(out)


def _v(x: float | None) -> float | int | str:
    """A figure as a CSV number ("" when there is none)."""
    if x is None or isinstance(x, bool) or not isinstance(x, int | float):
        return ""
    if isinstance(x, float) and not math.isfinite(x):
        return ""
    return x


def request_rows(outcomes: Sequence[Outcome], run_id: str) -> str:
    """``requests.csv``: run, config, knob columns, item, request, stage, metric, value,
    unit, source."""
    knobs = knob_names(outcomes)
    out = io.StringIO()
    w = writer(out)
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
            for s in data.samples:
                w.writerow([run_id, run.scenario, *kv, s.key, "", "", metric,
                            _v(s.value), "score", data.tier])
    return out.getvalue()


def _cell(value: Any) -> object:
    """A knob's value: numbers as numbers, anything else as text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int | float):
        return _v(value)
    return str(value)


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
    w = writer(out)
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
