"""The compare step: one scenario run against ragcost.yaml, as an :class:`Outcome`.

This is the one place verdicts are reached. The plugin calls :func:`evaluate` on each
test's run, the ``ragcost compare`` command on each run of a saved ``--ragcost-json``
document; both then ask :func:`fails` which verdicts fail. Nothing here imports pytest.

The run goes in as the recorder produced it (or as the JSON saved it): pricing is part of
the comparison, with the prices of the budget file it is compared with, so the plugin and
the command line price the same tokens the same way and say the same thing about a model
that has no price.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from ..models import (
    TOKEN_METRICS,
    MetricClass,
    Outcome,
    ScenarioRun,
    Status,
    Tolerance,
    Verdict,
    metric_class,
    split_key,
)
from . import stats
from .costing import add_costs

if TYPE_CHECKING:
    from ..budget import Budget, Entry
    from ..budget.items import ItemStore
    from ..quality.results import MetricScores
    from ..quality.store import ScoreStore
    from .gate import Gate

#: what ``--ragcost-update`` records for a scenario that has no entries yet
DEFAULT_KEYS = (
    "cost_usd",
    "wall_ms",
    "cpu_ms",
    "energy_j",
    *TOKEN_METRICS,
    "errors",
)
#: and for each of its stages
DEFAULT_STAGE_KEYS = ("wall_ms", "tokens_total")
#: and, for a load level (``ragcost.load()``), its latency under load and its queue
DEFAULT_LOAD_KEYS = ("wait_ms", "queue_depth", "timeouts", "throughput_rps")
#: higher is better: a fall is the regression and a budget is a floor (load/verdict.py)
THROUGHPUT = "throughput_rps"
DEFAULT_TOLERANCE = Tolerance(0.05, relative=True)
DEFAULT_QUALITY_DROP = Tolerance(0.01, relative=True)
#: the key of a verdict about the quality layer as a whole (a broken score file)
QUALITY_LAYER = "quality"
#: statuses that fail only under ``--ragcost-strict``
STRICT_STATUSES: frozenset[Status] = frozenset({"INCOMPARABLE", "INCONCLUSIVE", "NEW", "STALE"})

__all__ = [
    "DEFAULT_QUALITY_DROP",
    "DEFAULT_TOLERANCE",
    "FAILURE_WORDS",
    "QUALITY_LAYER",
    "QualityScores",
    "comparable_source",
    "default_keys",
    "evaluate",
    "exit_code",
    "fails",
    "failure_word",
    "stale",
]


@dataclass(frozen=True)
class QualityScores:
    """What the quality layer measured for one run: each metric's per-sample scores, and
    for a metric that could not be scored, why (:data:`QUALITY_LAYER` for the whole layer)."""

    scores: Mapping[str, MetricScores] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_outcome(cls, outcome: Outcome) -> QualityScores:
        """The scores an outcome carries (how a saved run is compared again)."""
        from ..quality.results import MetricScores

        return cls(
            {m: MetricScores.from_dict(d) for m, d in outcome.quality.items()},
            dict(outcome.quality_errors),
        )


def evaluate(
    run: ScenarioRun,
    gate: Gate | None,
    *,
    quality: QualityScores | None = None,
    stored: ScoreStore | None = None,
    test_passed: bool = True,
    history: Mapping[str, Mapping[str, Sequence[stats.RunSummary]]] | None = None,
) -> Outcome:
    """Compare ``run`` with the loaded ragcost.yaml ``gate`` (``None``: no file is used).

    ``quality`` holds the quality scores of the run's samples (the plugin scores them with
    the judge, the command line reads them from the saved run) and ``stored`` the
    per-sample baseline scores kept beside ragcost.yaml. A run whose test failed, or that
    recorded no request, gets no verdicts: its numbers are shown, never judged.
    ``history`` maps metric key -> stat -> earlier runs' summaries on this environment
    (the run history); noisy metrics take their between-run noise from it, or from the
    prior when it is short or absent.
    """
    budget = gate.budget if gate is not None else None
    priced, notes, _versions = add_costs(run, budget.prices if budget is not None else None)
    outcome = Outcome(run=priced, test_passed=test_passed, price_notes=notes)
    if quality is not None:
        outcome.quality = {m: s.to_dict() for m, s in quality.scores.items()}
        outcome.quality_errors = dict(quality.errors)
    if not priced.requests:
        outcome.error = (
            "no request was recorded: iterate `for item in ragcost.requests(items):` "
            "to meter requests"
        )
        return outcome
    if gate is None or budget is None or not test_passed:
        return outcome
    verdicts = _cost_verdicts(
        priced, budget, gate.environment_matches(), notes, history, gate.items
    )
    if quality is not None and priced.samples:
        verdicts += _quality_verdicts(priced.scenario, quality, budget, stored)
        outcome.per_success = per_success(priced, budget, quality.scores)
    outcome.verdicts = stats.worst(verdicts)
    return outcome


def fails(verdict: Verdict, *, strict: bool) -> bool:
    """Whether ``verdict`` fails its test: FAIL always; INCOMPARABLE, INCONCLUSIVE, NEW and
    STALE only under ``--ragcost-strict``."""
    return verdict.status == "FAIL" or (strict and verdict.status in STRICT_STATUSES)


#: the word pytest shows for a test the gate failed, and what it means
FAILURE_WORDS: Mapping[str, str] = {
    "OVER BUDGET": "a figure went past its absolute budget (a cost cap or a quality floor)",
    "REGRESSED": "a cost rose past its baseline's tolerance",
    "QUALITY DROP": "a quality score dropped past its allowed drop",
    "UNMEASURED": "a gated figure could not be priced or scored",
    "NEW": "no baseline yet (--ragcost-strict)",
    "STALE": "a budget entry nothing produced (--ragcost-strict)",
    "INCOMPARABLE": "measured unlike its baseline (--ragcost-strict)",
    "INCONCLUSIVE": "noise too large to tell (--ragcost-strict)",
}


def failure_word(failing: Iterable[Verdict]) -> str:
    """The :data:`FAILURE_WORDS` entry for the worst of ``failing`` (verdicts that fail)."""
    words = [_word(v) for v in failing]
    order = list(FAILURE_WORDS)
    return min(words, key=order.index) if words else "REGRESSED"


def _word(v: Verdict) -> str:
    if v.status != "FAIL":
        return v.status
    quality = metric_class(split_key(v.key)[1]) == "quality" or v.key == QUALITY_LAYER
    if v.current is None:
        return "UNMEASURED"
    if v.budget is not None:
        floor = quality or split_key(v.key)[1] == THROUGHPUT  # higher is better: a floor
        beyond = v.current < v.budget if floor else v.current > v.budget
        if beyond:
            return "OVER BUDGET"
    return "QUALITY DROP" if quality else "REGRESSED"


def exit_code(outcomes: Iterable[Outcome], *, strict: bool) -> int:
    """pytest's exit code for these outcomes: 1 when a verdict fails, else 0."""
    return int(any(fails(v, strict=strict) for o in outcomes for v in o.verdicts))


def stale(gate: Gate, ran: Iterable[str]) -> list[Verdict]:
    """A STALE verdict per scenario of ragcost.yaml that no test in ``ran`` produced. Only
    meaningful when the whole suite ran: a ``-k`` selection leaves scenarios out on purpose."""
    produced = set(ran)
    return [
        Verdict(name, "*", "STALE",
                f"scenario {name!r} is in {gate.path.name} but no test produced it; "
                "remove it or fix the marker's scenario name")
        for name in gate.budget.scenarios
        if name not in produced
    ]


def default_keys(run: ScenarioRun) -> list[str]:
    """The metric keys a new scenario gets: request totals and each stage's time and tokens."""
    present = run.series()
    keys = [k for k in DEFAULT_KEYS if k in present]
    if run.load:
        keys += [k for k in DEFAULT_LOAD_KEYS if k in present or k == THROUGHPUT]
    for stage in run.stage_names():
        keys += [f"{stage}.{m}" for m in DEFAULT_STAGE_KEYS if f"{stage}.{m}" in present]
    return keys


# --------------------------------------------------------------------------- costs


def _between(
    history: Mapping[str, Mapping[str, Sequence[stats.RunSummary]]] | None, key: str, stat: str
) -> stats.BetweenRun:
    """The between-run noise of ``key``: from earlier runs of its statistic (else of its
    mean: a run effect shifts a run's whole distribution alike), else the prior."""
    by_stat = (history or {}).get(key, {})
    runs = by_stat.get(stat) or by_stat.get("mean") or ()
    return stats.between_run_noise(runs)


def _cost_verdicts(
    run: ScenarioRun,
    budget: Budget,
    same_env: bool,
    price_notes: Mapping[str, str],
    history: Mapping[str, Mapping[str, Sequence[stats.RunSummary]]] | None = None,
    items: ItemStore | None = None,
) -> list[Verdict]:
    scenario = budget.scenarios.get(run.scenario)
    series = run.series()
    sources = run.sources()
    if scenario is None:
        return [
            Verdict(run.scenario, key, "NEW", f"{key}: no baseline yet (run --ragcost-update)",
                    current=stats.stat_value(series[key], "mean"), n=len(series[key]),
                    source=sources.get(key))
            if key != THROUGHPUT else _throughput(run, key, None, same_env)
            for key in default_keys(run)
        ]
    verdicts: list[Verdict] = []
    for key, entry in scenario.entries.items():
        _, metric = split_key(key)
        kind = metric_class(metric)
        if key == THROUGHPUT:
            verdicts.append(_throughput(run, key, entry, same_env))
            continue
        if kind == "quality":
            continue  # gated on paired per-sample scores, below
        values = series.get(key)
        if metric == "cost_usd" and not values and price_notes:
            verdicts.append(_unpriced(run.scenario, key, entry, price_notes))
            continue
        if not values:
            verdicts.append(_vanished(run.scenario, key, entry))
            continue
        paired = _by_item(run, key, kind, entry, values, same_env, items,
                          _between(history, key, entry.stat) if kind == "noisy" else None)
        if paired is not None:
            verdicts.append(paired)
            continue
        current = stats.summarize(values, entry.stat)
        baseline = entry.baseline
        if (
            kind in ("exact", "derived")
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
        found = stats.judge(
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
            current_source=comparable_source(metric, sources.get(key)),
            baseline_source=comparable_source(metric, entry.source),
            environment_matches=same_env,
            stat=entry.stat,
            between=_between(history, key, entry.stat) if kind in ("noisy", "unknown") else None,
        )
        verdicts.extend(replace(v, source=sources.get(key)) for v in found)
    return verdicts


def comparable_source(metric: str, source: str | None) -> str | None:
    """The part of a source label that decides whether two figures compare: for
    ``cost_usd`` the hashes of the price rates used, not the price package's version."""
    if metric != "cost_usd":
        return source
    from ..prices import rates_hash

    return rates_hash(source)


def _by_item(
    run: ScenarioRun,
    key: str,
    kind: MetricClass,
    entry: Entry,
    values: list[float],
    same_env: bool,
    items: ItemStore | None,
    between: stats.BetweenRun | None = None,
) -> Verdict | None:
    """The verdict on the items this run shares with the per-item baseline, or None
    when there is no usable per-item baseline for ``key`` (then the whole-run rule)."""
    from . import items as ic

    if entry.baseline is None or not values or kind not in ("exact", "derived", "noisy"):
        return None
    stored = items.get(run.scenario) if items is not None else None
    if stored is None or not ic.has_items(run.requests):
        return None
    base = stored.values(key)
    if not base.values:
        return None
    # the per-item file must be what the reviewed baseline was computed from (a hand
    # edit or a partial bless of ragcost.yaml makes it stale: then the whole-run rule)
    full = stats.stat_value(list(base.values.values()), entry.stat)
    if abs(full - entry.baseline) > 1e-3 * abs(entry.baseline) + 1e-12:
        return None
    _, metric = split_key(key)
    cur = ic.item_values(run.requests, key)
    sources = run.sources()
    tolerance = entry.tolerance or DEFAULT_TOLERANCE
    common: dict[str, Any] = {
        "scenario": run.scenario,
        "key": key,
        "base": base,
        "cur": cur,
        "stat": entry.stat,
        "tolerance": tolerance,
        "severity": entry.severity,
        "current_source": comparable_source(metric, sources.get(key)),
        "baseline_source": comparable_source(metric, entry.source),
    }
    if kind == "noisy":
        # item difficulty cancels in the pairs, the run's own drift does not
        verdict = ic.paired_verdict(**common, environment_matches=same_env, between=between)
    else:
        verdict = ic.exact_verdict(kind=kind, **common)
    verdict = replace(verdict, source=sources.get(key), budget=entry.budget)
    if entry.budget is None:
        return verdict
    # the budget caps this run's statistic, whichever items it ran
    capped = stats.judge(
        scenario=run.scenario, key=key, metric_class=kind,
        current=stats.summarize(values, entry.stat), baseline=None, baseline_n=None,
        baseline_se=None, tolerance=tolerance, budget=entry.budget, severity=entry.severity,
        current_source=sources.get(key), baseline_source=None, environment_matches=same_env,
        stat=entry.stat,
    )[0]
    if stats.rank(capped.status) < stats.rank(verdict.status):
        return replace(capped, baseline=verdict.baseline,
                       message=f"{capped.message}; {verdict.message}")
    return verdict


def _throughput(run: ScenarioRun, key: str, entry: Entry | None, same_env: bool) -> Verdict:
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


def _unpriced(scenario: str, key: str, entry: Entry, notes: Mapping[str, str]) -> Verdict:
    """A cost entry whose model has no price fails: a silent zero would pass any budget."""
    status: Status = "WARN" if entry.severity == "warn" else "FAIL"
    return Verdict(scenario, key, status, f"{key}: cannot be priced: {'; '.join(notes.values())}",
                   baseline=entry.baseline, budget=entry.budget, stat=entry.stat,
                   severity=entry.severity)


def _vanished(scenario: str, key: str, entry: Entry) -> Verdict:
    """An entry the scenario ran without producing: a stage renamed or removed, or a figure
    no longer recorded. It is STALE (a warning; ``--ragcost-strict`` fails it), never a
    silent pass."""
    stage, _metric = split_key(key)
    why = f"stage {stage!r} did not run" if stage is not None else "the figure was not recorded"
    return Verdict(
        scenario, key, "STALE",
        f"{key}: the scenario ran but produced no {key} ({why}); rename or remove the "
        "entry in ragcost.yaml, or restore what produced it",
        baseline=entry.baseline, budget=entry.budget, stat=entry.stat, severity=entry.severity,
    )


# --------------------------------------------------------------------------- quality


def _quality_verdicts(
    scenario: str, quality: QualityScores, budget: Budget, stored: ScoreStore | None
) -> list[Verdict]:
    from ..quality import quality_verdict

    sc = budget.scenarios.get(scenario)
    verdicts: list[Verdict] = []
    for metric, reason in quality.errors.items():
        entry = sc.entries.get(metric) if sc is not None else None
        status: Status = "FAIL" if entry is not None or metric == QUALITY_LAYER else "WARN"
        what = "quality could not be scored" if metric == QUALITY_LAYER else (
            f"{metric}: could not be scored")
        verdicts.append(Verdict(scenario, metric, status, f"{what}: {reason}"))
    for metric, result in quality.scores.items():
        entry = sc.entries.get(metric) if sc is not None else None
        baseline = stored.get(scenario, metric) if stored is not None else None
        drop = (entry.quality_drop if entry is not None else None) or (
            budget.defaults.quality_drop or DEFAULT_QUALITY_DROP
        )
        verdict = quality_verdict(
            scenario,
            result,
            baseline,
            drop,
            entry.severity if entry is not None else "fail",
            on_judge_miss=budget.defaults.on_judge_miss,
        )
        mean = result.mean()
        if entry is not None and entry.budget is not None and mean is not None:
            verdict = _floor(verdict, mean, entry.budget)
        verdicts.append(verdict)
    return verdicts


def _floor(verdict: Verdict, mean: float, floor: float) -> Verdict:
    """A ``budget`` on a quality score is a floor: below it fails, whatever the baseline."""
    if mean >= floor:
        return replace(verdict, budget=floor)
    status: Status = "WARN" if verdict.severity == "warn" else "FAIL"
    return replace(
        verdict,
        status=status,
        budget=floor,
        message=f"{verdict.key}: mean {mean:.4f} is below its floor {floor:g}; {verdict.message}",
    )


def per_success(
    run: ScenarioRun, budget: Budget, scores: Mapping[str, MetricScores]
) -> dict[str, Any]:
    """Costs per successful answer, where ``success: {metric, min}`` defines success."""
    from ..prices import cost_per_success, count_successes

    scenario = budget.scenarios.get(run.scenario)
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
