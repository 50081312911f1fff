"""The compare step: one scenario run against ragcost.yaml, as an :class:`Outcome`.

This is the one place a run's verdicts are assembled. The plugin calls :func:`evaluate`
on each test's run, ``ragcost compare`` on each scenario of a saved ``--ragcost-json``
document, ``ragcost merge`` on merged shards; all then ask :func:`fails` which verdicts
fail. Each metric's evidence is built in :mod:`.evidence` and judged by
:func:`.rules.judge`. Nothing here imports pytest.

The run goes in as the recorder produced it (or as the JSON saved it): pricing is part of
the comparison, with the prices of the budget file it is compared with, so the plugin and
the command line price the same tokens the same way and say the same thing about a model
that has no price.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from ..run import (
    HIGHER_IS_BETTER,
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
from ..run.model import (
    BetweenRun,
    Finding,
    LoadFigures,
    LookFigures,
    MetricScores,
    PerSuccess,
    SecondLook,
)
from .costing import add_costs
from .describe import Summary, stat_value, summarize
from .evidence import Evidence, items_change, items_exact, whole_run
from .itemvalues import has_items, item_values
from .noise import NoiseBook
from .rules import Rule, judge, stale, worst

if TYPE_CHECKING:
    from ..budget import Budget, Entry
    from ..budget.items import ItemStore
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
#: higher is better: a fall is the regression and a budget is a floor
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
    "stale_scenarios",
    "takes_second_look",
]


@dataclass(frozen=True)
class QualityScores:
    """What the quality layer measured for one run: each metric's per-sample scores, and
    for a metric that could not be scored, why (:data:`QUALITY_LAYER` for the whole layer)."""

    scores: Mapping[str, MetricScores] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_outcome(cls, outcome: Outcome) -> QualityScores | None:
        """The scores an outcome carries (how a saved run is compared again), or None
        when it carries none."""
        if not outcome.quality and not outcome.quality_errors:
            return None
        return cls(dict(outcome.quality), dict(outcome.quality_errors))


def evaluate(
    run: ScenarioRun,
    gate: Gate | None,
    *,
    quality: QualityScores | None = None,
    stored: ScoreStore | None = None,
    test_passed: bool = True,
    noise: NoiseBook | None = None,
) -> Outcome:
    """Compare ``run`` with the loaded ragcost.yaml ``gate`` (``None``: no file is used).

    ``quality`` holds the quality scores of the run's samples (the plugin scores them with
    the judge, the command line reads them from the saved run) and ``stored`` the
    per-sample baseline scores kept beside ragcost.yaml. A run whose test failed, or that
    recorded no request, gets no verdicts: its numbers are shown, never judged.
    ``noise`` says where noisy metrics take their between-run noise from: the history's
    earlier runs of this scenario on this environment, what a saved run recorded, else
    the prior (:class:`~pytest_ragcost.compare.noise.NoiseBook`).
    """
    budget = gate.budget if gate is not None else None
    priced, notes, _versions = add_costs(run, budget.prices if budget is not None else None)
    outcome = Outcome(run=priced, test_passed=test_passed, price_notes=notes)
    if quality is not None:
        outcome.quality = dict(quality.scores)
        outcome.quality_errors = dict(quality.errors)
    if not priced.requests:
        outcome.error = (
            "no request was recorded: iterate `for item in ragcost.requests(items):` "
            "to meter requests"
        )
        return outcome
    if gate is None or budget is None or not test_passed:
        return outcome
    book = noise or NoiseBook()
    verdicts = _cost_verdicts(
        priced, budget, gate.environment_matches(), notes, book, gate.items
    )
    if priced.recheck is not None:
        verdicts = _second_look(verdicts, priced, budget, gate, book)
    if quality is not None and priced.samples:
        verdicts += _quality_verdicts(priced.scenario, quality, budget, stored)
        outcome.per_success = per_success(priced, budget, quality.scores)
    outcome.verdicts = worst(verdicts)
    return outcome


def takes_second_look(verdict: Verdict) -> bool:
    """Whether a verdict is a FAIL that a second measurement could clear: a noisy metric
    (times, energy), judged on the evidence of this run's requests. An exact metric
    (tokens, counts, dollars from tokens) fails the same way however often it is measured."""
    if verdict.status != "FAIL" or verdict.basis not in ("run", "items"):
        return False
    return metric_class(split_key(verdict.key)[1]) in ("noisy", "unknown")


def _look(v: Verdict) -> LookFigures:
    return LookFigures(v.status, v.current, v.interval, v.n)


def _second_look(
    first: list[Verdict], run: ScenarioRun, budget: Budget, gate: Gate, book: NoiseBook
) -> list[Verdict]:
    """The verdicts after the second look at the noisy metrics that failed the first.

    A FAIL stands only when the second, separate measurement fails too (``confirmed``);
    else the second look's verdict is the verdict (``cleared``). Requiring both looks to
    fail spends no extra error: unchanged code fails at most as often as with the first
    look alone, and far less often when what failed it was a burst of load that the
    second measurement, taken later, does not share. The price is power: a real rise
    must show twice, which a rise past the tolerance does at the rate the rule detects
    it, squared at worst.
    """
    recheck = run.recheck
    if recheck is None or not any(takes_second_look(v) for v in first):
        return first
    again: dict[str, Verdict] = {}
    if recheck.skipped is None and recheck.requests:
        priced, notes, _ = add_costs(replace(run, requests=recheck.requests, recheck=None),
                                     budget.prices)
        again = {v.key: v for v in _cost_verdicts(
            priced, budget, gate.environment_matches(), notes, book, gate.items)}
    out: list[Verdict] = []
    for v in first:
        if not takes_second_look(v):
            out.append(v)
            continue
        second = again.get(v.key)
        if second is None:
            why = recheck.skipped or "the second measurement has no figure for it"
            out.append(replace(v, second_look=SecondLook(
                "skipped", _look(v), seconds=recheck.seconds, why=why)))
        elif second.status == "FAIL":
            out.append(replace(v, second_look=SecondLook(
                "confirmed", _look(v), _look(second), recheck.seconds)))
        else:
            out.append(replace(second, second_look=SecondLook(
                "cleared", _look(v), _look(second), recheck.seconds)))
    return out


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


#: reasons whose figure could not be measured at all
_UNMEASURED = frozenset({"unpriced", "unscored", "quality_unknown", "judge_misses"})


def _word(v: Verdict) -> str:
    if v.status != "FAIL":
        return v.status
    if v.reason in _UNMEASURED or v.current is None:
        return "UNMEASURED"
    if any(f.reason == "over_budget" and f.status == "FAIL" for f in v.findings):
        return "OVER BUDGET"
    quality = v.basis == "samples" or v.key == QUALITY_LAYER
    return "QUALITY DROP" if quality else "REGRESSED"


def exit_code(outcomes: Iterable[Outcome], *, strict: bool) -> int:
    """pytest's exit code for these outcomes: 1 when a verdict fails, else 0."""
    return int(any(fails(v, strict=strict) for o in outcomes for v in o.verdicts))


def stale_scenarios(gate: Gate, ran: Iterable[str]) -> list[Verdict]:
    """A STALE verdict per scenario of ragcost.yaml that no test in ``ran`` produced. Only
    meaningful when the whole suite ran: a ``-k`` selection leaves scenarios out on purpose."""
    produced = set(ran)
    return [
        Verdict(name, "*", "STALE", "scenario_not_run",
                (Finding("STALE", "scenario_not_run"),), basis="entry", note=gate.path.name)
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


def _rule(kind: MetricClass, key: str, entry: Entry | None, budget: Budget | None) -> Rule:
    """The rule a budget entry (or, for a scenario without entries, the defaults) sets."""
    defaults = budget.defaults if budget is not None else None
    tolerance = (entry.tolerance if entry is not None else None) or (
        defaults.tolerance if defaults is not None else None) or DEFAULT_TOLERANCE
    return Rule(
        kind=kind,
        tolerance=tolerance,
        budget=entry.budget if entry is not None else None,
        severity=entry.severity if entry is not None else "fail",
        stat=entry.stat if entry is not None else "mean",
        higher_is_better=split_key(key)[1] in HIGHER_IS_BETTER,
    )


def _cost_verdicts(
    run: ScenarioRun,
    budget: Budget,
    same_env: bool,
    price_notes: Mapping[str, str],
    book: NoiseBook,
    items: ItemStore | None = None,
) -> list[Verdict]:
    scenario = budget.scenarios.get(run.scenario)
    series = run.series()
    sources = run.sources()
    wanted: list[tuple[str, Entry | None]]
    if scenario is None:
        wanted = [(key, None) for key in default_keys(run)]
    else:
        wanted = list(scenario.entries.items())
    verdicts: list[Verdict] = []
    for key, entry in wanted:
        _, metric = split_key(key)
        kind = metric_class(metric)
        if kind == "quality":
            continue  # gated on paired per-sample scores, below
        rule = _rule(kind, key, entry, budget if scenario is not None else None)
        noise = book.of(key, rule.stat) if kind in ("noisy", "unknown") else None
        baseline = entry.baseline if entry is not None else None
        if key == THROUGHPUT:
            verdicts.append(_throughput(run, key, entry, rule, same_env, noise))
            continue
        values = series.get(key)
        if metric == "cost_usd" and not values and price_notes and entry is not None:
            verdicts.append(_unpriced(run.scenario, key, rule, baseline, price_notes))
            continue
        if not values:
            if entry is not None:
                verdicts.append(stale(run.scenario, key, rule, reason="vanished",
                                      baseline=baseline))
            continue
        raw_source = sources.get(key)
        source = comparable_source(metric, raw_source)
        baseline_source = comparable_source(metric, entry.source if entry else None)
        current = summarize(values, rule.stat)
        ev = None
        if entry is not None:
            ev = _by_item(run, key, kind, entry, rule, current, same_env, items, noise,
                          (source, baseline_source))
        if ev is None:
            if (
                entry is not None
                and kind in ("exact", "derived")
                and entry.n is not None
                and baseline is not None
                and current.n != entry.n
            ):
                # an exact metric's mean over other requests is another number, not a change
                if entry.budget is None:
                    verdicts.append(_other_count(run.scenario, key, rule, entry, current,
                                                 raw_source))
                    continue
                baseline = None  # the budget still holds whatever the request count
            change = None
            if baseline is not None and kind in ("noisy", "unknown"):
                change = whole_run(current, baseline, entry.se if entry else None,
                                   entry.n if entry else None, noise)
            ev = Evidence(
                run.scenario, key, current=current.value, n=current.n, stat=rule.stat,
                baseline=baseline, baseline_n=entry.n if entry is not None else None,
                baseline_se=entry.se if entry is not None else None, change=change,
                current_se=current.se, noise=noise, environment_matches=same_env,
                source=source, baseline_source=baseline_source,
            )
        verdicts.append(replace(judge(ev, rule), source=raw_source))
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
    rule: Rule,
    current: Summary,
    same_env: bool,
    items: ItemStore | None,
    noise: BetweenRun | None,
    sources: tuple[str | None, str | None],
) -> Evidence | None:
    """The evidence of the items this run shares with the per-item baseline, or None
    when there is no usable per-item baseline for ``key`` (then the whole-run rule)."""
    if entry.baseline is None or kind not in ("exact", "derived", "noisy"):
        return None
    stored = items.get(run.scenario) if items is not None else None
    if stored is None or not has_items(run.requests):
        return None
    base = stored.values(key)
    if not base.values:
        return None
    # the per-item file must be what the reviewed baseline was computed from (a hand
    # edit or a partial bless of ragcost.yaml makes it stale: then the whole-run rule)
    full = stat_value(list(base.values.values()), entry.stat)
    if abs(full - entry.baseline) > 1e-3 * abs(entry.baseline) + 1e-12:
        return None
    cur = item_values(run.requests, key)
    if kind == "noisy":
        # item difficulty cancels in the pairs, the run's own drift does not
        ev = items_change(run.scenario, key, base, cur, entry.stat, noise=noise,
                          environment_matches=same_env, source=sources[0],
                          baseline_source=sources[1])
    else:
        ev = items_exact(run.scenario, key, base, cur, entry.stat, source=sources[0],
                         baseline_source=sources[1])
    # the budget caps this run's statistic, whichever items it ran
    return replace(ev, run_value=current.value, current_se=current.se, noise=noise)


def _other_count(
    scenario: str, key: str, rule: Rule, entry: Entry, current: Summary, source: str | None
) -> Verdict:
    return Verdict(
        scenario, key, "INCOMPARABLE", "request_count",
        (Finding("INCOMPARABLE", "request_count"),),
        baseline=entry.baseline, current=current.value, n=current.n, baseline_n=entry.n,
        stat=rule.stat, tolerance=str(rule.tolerance), severity=rule.severity, source=source,
    )


def _throughput(
    run: ScenarioRun,
    key: str,
    entry: Entry | None,
    rule: Rule,
    same_env: bool,
    noise: BetweenRun | None,
) -> Verdict:
    """A load level's throughput: higher is better, so a fall is the regression and a
    budget is a floor; its error is that of a count of completions."""
    baseline = entry.baseline if entry is not None else None
    if run.load is None:
        return stale(run.scenario, key, rule, reason="no_load_level", baseline=baseline)
    current = run.load.throughput_rps
    n = max(run.load.requests - run.load.errors, 0)
    se = throughput_se(run.load)
    summary = Summary(current, n, se, "mean")
    change = None
    if baseline is not None:
        change = whole_run(summary, baseline, entry.se if entry else None,
                           entry.n if entry else None, noise)
    ev = Evidence(
        run.scenario, key, current=current, n=n, baseline=baseline,
        baseline_n=entry.n if entry is not None else None,
        baseline_se=entry.se if entry is not None else None, change=change, current_se=se,
        noise=noise, source="timer", environment_matches=same_env, basis="load",
    )
    return judge(ev, rule)


def _unpriced(
    scenario: str, key: str, rule: Rule, baseline: float | None, notes: Mapping[str, str]
) -> Verdict:
    """A cost entry whose model has no price fails: a silent zero would pass any budget."""
    status: Status = "WARN" if rule.severity == "warn" else "FAIL"
    return Verdict(scenario, key, status, "unpriced", (Finding("FAIL", "unpriced"),),
                   baseline=baseline, budget=rule.budget, stat=rule.stat,
                   severity=rule.severity, tolerance=str(rule.tolerance),
                   note="; ".join(notes.values()))


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
        verdicts.append(Verdict(scenario, metric, status, "unscored",
                                (Finding(status, "unscored"),), basis="samples", note=reason))
    for metric, result in quality.scores.items():
        entry = sc.entries.get(metric) if sc is not None else None
        baseline = stored.get(scenario, metric) if stored is not None else None
        drop = (entry.quality_drop if entry is not None else None) or (
            budget.defaults.quality_drop or DEFAULT_QUALITY_DROP
        )
        verdicts.append(quality_verdict(
            scenario,
            result,
            baseline,
            drop,
            entry.severity if entry is not None else "fail",
            on_judge_miss=budget.defaults.on_judge_miss,
            floor=entry.budget if entry is not None else None,
        ))
    return verdicts


def per_success(
    run: ScenarioRun, budget: Budget, scores: Mapping[str, MetricScores]
) -> PerSuccess | None:
    """Costs per successful answer, where ``success: {metric, min}`` defines success."""
    from ..prices import cost_per_success, count_successes

    scenario = budget.scenarios.get(run.scenario)
    success = scenario.success if scenario is not None else None
    if success is None or success.metric not in scores:
        return None
    result = scores[success.metric]
    wins = count_successes([s.value for s in result.samples], success.min)
    series = run.series()
    costs = {
        key: cost_per_success(float(math.fsum(series[key])), wins)
        for key in PerSuccess.COSTS
        if key in series
    }
    return PerSuccess(
        metric=success.metric, min=success.min, successes=wins,
        answers=len(result.samples), **costs,
    )


def throughput_se(load: LoadFigures) -> float | None:
    """A standard error for ``throughput_rps``: completions counted over a window vary
    like a Poisson count (sd sqrt(n)), which is on the safe (large) side for a closed
    loop, whose completions are more regular than that."""
    n = load.requests - load.errors
    if n < 2:
        return None
    return load.throughput_rps / math.sqrt(n)
