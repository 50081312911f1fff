"""The gate: a scenario run compared with ragcost.yaml, as a list of verdicts.

Pure library code: it reads the budget through :mod:`pytest_ragcost.budget`, decides
with :mod:`pytest_ragcost.compare.stats` and never imports pytest, so the ``ragcost`` command
line can reach the same verdicts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import budget as budget_mod
from ..models import ScenarioRun, Tolerance, Verdict, metric_class, split_key
from . import stats

if TYPE_CHECKING:
    from ..config import Settings

#: what ``--ragcost-update`` records for a scenario that has no entries yet
DEFAULT_KEYS = (
    "cost_usd",
    "wall_ms",
    "cpu_ms",
    "energy_j",
    "tokens_prompt",
    "tokens_context",
    "tokens_completion",
    "tokens_rerank_in",
    "tokens_total",
    "errors",
)
#: and for each of its stages
DEFAULT_STAGE_KEYS = ("wall_ms", "tokens_total")
#: and, for a load level (``ragcost.load()``), its latency under load and its queue
DEFAULT_LOAD_KEYS = ("wait_ms", "queue_depth", "timeouts", "throughput_rps")
DEFAULT_TOLERANCE = Tolerance(0.05, relative=True)


class GateError(ValueError):
    """ragcost.yaml cannot be used; ``str()`` is the message for the user."""


@dataclass
class Gate:
    path: Path
    text: str
    exists: bool
    budget: Any  # budget.Budget
    environment: Mapping[str, Any]

    # -- the header --------------------------------------------------------------------
    def header(self) -> str:
        if not self.exists:
            return (
                f"config: {self.path} (not found: every scenario is NEW; "
                "--ragcost-update writes it)"
            )
        n = len(self.budget.scenarios)
        match = "" if self.environment_matches() else ", baselines from another machine or meter"
        return f"config: {self.path} ({n} scenario{'s' if n != 1 else ''}{match})"

    def environment_matches(self) -> bool:
        recorded = dict(self.budget.environment or {})
        if not recorded.get("id"):
            return True  # hand-written baselines: nothing recorded to compare with
        return str(recorded.get("id")) == str(self.environment.get("id"))

    # -- verdicts ----------------------------------------------------------------------
    def evaluate(self, run: ScenarioRun) -> list[Verdict]:
        scenario = self.budget.scenarios.get(run.scenario)
        series = run.series()
        sources = run.sources()
        same_env = self.environment_matches()
        verdicts: list[Verdict] = []
        if scenario is None:
            return [
                Verdict(run.scenario, key, "NEW", f"{key}: no baseline yet (run --ragcost-update)",
                        current=stats.stat_value(series[key], "mean"), n=len(series[key]),
                        source=sources.get(key))
                if key != "throughput_rps" else _throughput(run, key, None, same_env)
                for key in default_keys(run)
            ]
        for key, entry in scenario.entries.items():
            _, metric = split_key(key)
            kind = metric_class(metric)
            if key == "throughput_rps":
                verdicts.append(_throughput(run, key, entry, same_env))
                continue
            if kind == "quality":
                continue  # gated by the quality layer, on paired per-sample scores
            values = series.get(key)
            if metric == "cost_usd" and not values and run.energy.get("price_notes"):
                notes = "; ".join(run.energy["price_notes"].values())
                verdicts.append(
                    Verdict(run.scenario, key, "FAIL", f"{key}: cannot be priced: {notes}",
                            baseline=entry.baseline, budget=entry.budget)
                )
                continue
            current = stats.summarize(values, entry.stat) if values else None
            baseline = entry.baseline
            if (
                kind in ("exact", "derived")
                and current is not None
                and entry.n is not None
                and baseline is not None
                and current.n != entry.n
            ):
                # an exact metric's mean over other requests is another number, not a change
                if entry.budget is None:
                    verdicts.append(
                        Verdict(
                            run.scenario, key, "INCOMPARABLE",
                            f"{key}: the baseline covers {entry.n} requests, this run "
                            f"{current.n}; exact metrics compare the same requests: run with "
                            f"--ragcost-requests={entry.n} or re-bless at this count",
                            baseline=baseline, current=current.value, n=current.n,
                            stat=entry.stat,
                        )
                    )
                    continue
                baseline = None  # the budget still holds whatever the request count
            verdicts.extend(
                stats.judge(
                    scenario=run.scenario,
                    key=key,
                    metric_class=kind,
                    current=current,
                    baseline=baseline,
                    baseline_n=entry.n,
                    baseline_se=entry.se,
                    tolerance=entry.tolerance or DEFAULT_TOLERANCE,
                    budget=entry.budget,
                    severity=entry.severity,
                    current_source=sources.get(key),
                    baseline_source=entry.source,
                    environment_matches=same_env,
                    stat=entry.stat,
                )
            )
        return stats.worst(verdicts)

    def per_success(self, run: ScenarioRun, scores: Mapping[str, Any]) -> dict[str, Any]:
        """Costs per successful answer, where ``success: {metric, min}`` defines success."""
        from ..prices import cost_per_success, count_successes

        scenario = self.budget.scenarios.get(run.scenario)
        success = scenario.success if scenario is not None else None
        if success is None or success.metric not in scores:
            return {}
        result = scores[success.metric]
        wins = count_successes([s.value for s in result.samples], success.min)
        out: dict[str, Any] = {
            "metric": success.metric,
            "min": success.min,
            "successes": wins,
            "answers": len(result.samples),
        }
        series = run.series()
        for key in ("tokens_total", "energy_j", "cpu_ms", "gpu_ms", "cost_usd"):
            if key in series:
                out[key] = cost_per_success(float(sum(series[key])), wins)
        return out

    def stale(self, ran: set[str], *, session_complete: bool) -> list[Verdict]:
        """Entries of scenarios no test produced (only when the whole suite ran)."""
        if not session_complete:
            return []
        return [
            Verdict(name, "*", "STALE",
                    f"scenario {name!r} is in {self.path.name} but no test produced it; "
                    "remove it or fix the marker's scenario name")
            for name in self.budget.scenarios
            if name not in ran
        ]

    # -- bless -------------------------------------------------------------------------
    def update(
        self,
        runs: Sequence[ScenarioRun],
        *,
        mode: str,
        quality: Mapping[str, Mapping[str, float]] | None = None,
    ) -> Any:
        """Write measured baselines; ``quality`` holds each scenario's mean quality scores
        (their per-sample scores go to the score store, see quality/gate.py)."""
        measured: dict[str, dict[str, Any]] = {}
        for run in runs:
            scenario = self.budget.scenarios.get(run.scenario)
            if scenario is None:
                keys: Iterable[tuple[str, str]] = [(k, default_stat(k)) for k in default_keys(run)]
            else:
                keys = [
                    (key, entry.stat)
                    for key, entry in scenario.entries.items()
                    if entry.baseline is not None and metric_class(split_key(key)[1]) in
                    ("exact", "noisy", "derived")
                ]
            series = run.series()
            sources = run.sources()
            out: dict[str, Any] = {}
            for key, stat in keys:
                if key == "throughput_rps":
                    if run.load:
                        out[key] = _throughput_measured(run)
                    continue
                values = series.get(key)
                if not values:
                    continue
                summary = stats.summarize(values, stat)  # type: ignore[arg-type]
                noisy = metric_class(split_key(key)[1]) == "noisy"
                out[key] = budget_mod.Measured(
                    value=summary.value,
                    n=summary.n,
                    se=summary.se if noisy else None,
                    source=sources.get(key) if _labelled(split_key(key)[1]) else None,
                    stat=stat,  # type: ignore[arg-type]
                )
            for metric, mean in (quality or {}).get(run.scenario, {}).items():
                out[metric] = budget_mod.Measured(
                    value=mean, n=None, se=None, source=None, stat="mean"
                )
            if out:
                measured[run.scenario] = out
        environment = {"id": self.environment.get("id"),
                       **dict(self.environment.get("comparable", {}))}
        return budget_mod.update(self.path, measured, mode=mode, environment=environment)  # type: ignore[arg-type]


def _throughput(run: ScenarioRun, key: str, entry: Any, same_env: bool) -> Verdict:
    from ..load.verdict import judge_throughput

    return judge_throughput(
        scenario=run.scenario,
        key=key,
        figures=run.load,
        baseline=entry.baseline if entry is not None else None,
        baseline_se=entry.se if entry is not None else None,
        baseline_n=entry.n if entry is not None else None,
        tolerance=(entry.tolerance if entry is not None else None) or DEFAULT_TOLERANCE,
        budget=entry.budget if entry is not None else None,
        severity=entry.severity if entry is not None else "fail",
        environment_matches=same_env,
    )


def _throughput_measured(run: ScenarioRun) -> Any:
    from ..load.runner import throughput_se

    figures = run.load
    return budget_mod.Measured(
        value=float(figures["throughput_rps"]),
        n=int(figures["requests"]) - int(figures["errors"]),
        se=throughput_se(figures),
        source=None,
        stat="mean",
    )


def _labelled(metric: str) -> bool:
    """Metrics whose baseline keeps its source: energy (meter kind) and cost (price table)."""
    return metric.startswith("energy") or metric == "cost_usd"


def default_stat(key: str) -> str:
    """The stat a new entry is gated on: the median for latencies (one scheduler hiccup
    must not move it), the mean for additive costs (tokens, CPU, energy, dollars)."""
    return "median" if split_key(key)[1] in ("wall_ms", "ttft_ms", "wait_ms") else "mean"


def default_keys(run: ScenarioRun) -> list[str]:
    """The metric keys a new scenario gets: request totals and each stage's time and tokens."""
    present = run.series()
    keys = [k for k in DEFAULT_KEYS if k in present]
    if run.load:
        keys += [k for k in DEFAULT_LOAD_KEYS if k in present or k == "throughput_rps"]
    for stage in run.stage_names():
        keys += [f"{stage}.{m}" for m in DEFAULT_STAGE_KEYS if f"{stage}.{m}" in present]
    return keys


def load_gate(
    settings: Settings,
    environment: Mapping[str, Any],
    *,
    text: str | None = None,
    from_worker: Any = None,
) -> Gate | None:
    """Load ragcost.yaml (or, on an xdist worker, the text the controller sent).

    Raises :class:`GateError` with the file's problems, one per line.
    """
    path = settings.config_path
    if path is None:
        return None
    if from_worker is not None and text is None:
        # the controller found no file: every scenario is NEW
        return Gate(path, "", False, budget_mod.loads("", path), environment)
    try:
        if text is not None:
            loaded = budget_mod.loads(text, path)
            exists = True
        else:
            exists = path.exists()
            loaded = budget_mod.load(path)
            text = path.read_text(encoding="utf-8") if exists else ""
    except budget_mod.BudgetError as exc:
        raise GateError(str(exc)) from None
    except OSError as exc:
        raise GateError(f"{path}: cannot read: {exc.strerror or exc}") from None
    return Gate(path, text, exists, loaded, environment)


__all__ = ["Gate", "GateError", "default_keys", "load_gate"]
