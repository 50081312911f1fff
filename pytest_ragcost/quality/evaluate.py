"""Score a scenario's samples on one quality metric and turn the scores into a verdict.

This is the one entry point the plugin needs::

    scores = score_metric("ragas_faithfulness", samples, baseline=stored, judge=setup)
    verdict = quality_verdict("qa-typical", scores, stored, Tolerance(0.01, True))

``score_metric`` reuses a sample's baseline score when its output is unchanged (judged
metrics only: no judge call, no judge cost), scores the rest, and names every sample
whose quality is unknown. ``quality_verdict`` fails on judge misses (unless
``on_judge_miss="skip"``) and on unknown quality, then applies the paired gate.
"""

from __future__ import annotations

import asyncio
import math
import threading
import time
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, replace
from typing import Any, Literal, TypeVar

from pytest_ragcost.compare.power import power_figures
from pytest_ragcost.compare.rules import judge
from pytest_ragcost.quality.identity import content_hash, output_hash, sample_keys
from pytest_ragcost.quality.judge import JudgeRecord, JudgeSettings
from pytest_ragcost.quality.paired import paired_evidence, quality_rule
from pytest_ragcost.quality.results import MetricScores, OnJudgeMiss, SampleScore, Tier
from pytest_ragcost.quality.retrieval import (
    RETRIEVAL_METRICS,
    MissingReferenceError,
    retrieval_scores,
)
from pytest_ragcost.quality.store import StoredMetric
from pytest_ragcost.run import JudgeMode, Sample, Status, Tolerance, Verdict
from pytest_ragcost.run.model import Finding

T = TypeVar("T")


@dataclass(frozen=True)
class JudgeSetup:
    """A judge and the mode to use it in; ``record`` is needed for replay and record."""

    settings: JudgeSettings
    mode: JudgeMode = "replay"
    record: JudgeRecord | None = None

    @property
    def tier(self) -> Tier:
        return "judged-replayed" if self.mode == "replay" else "judged-live"


def is_quality_metric(metric: str) -> bool:
    """True for the metric names this package can score."""
    if metric in RETRIEVAL_METRICS:
        return True
    if metric.startswith("ragas_"):
        from pytest_ragcost.quality.ragas_backend import RAGAS_METRICS

        return metric.removeprefix("ragas_") in RAGAS_METRICS
    return False


def tier_of(metric: str, judge: JudgeSetup | None = None) -> Tier:
    """The tier a metric is scored in (with this judge setup)."""
    if metric in RETRIEVAL_METRICS:
        return "deterministic"
    from pytest_ragcost.quality.ragas_backend import spec_for

    if not spec_for(metric).judged:
        return "deterministic"
    return judge.tier if judge is not None else "judged-live"


def label_of(sample: Sample, index: int) -> str:
    """How a sample is named in messages: its position and the start of its question."""
    label = f"sample {index}"
    if sample.question:
        q = " ".join(sample.question.split())
        label += f" {q[:50] + '...' if len(q) > 50 else q!r}"
    if sample.trace_id:
        label += f" [{sample.trace_id}]"
    return label


def _run(coro: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine from sync code, also when an event loop is already running."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(coro)
        except BaseException as exc:  # handed back to the caller below
            box["error"] = exc

    th = threading.Thread(target=target, name="ragcost-quality")
    th.start()
    th.join()
    if "error" in box:
        raise box["error"]
    return box["value"]  # type: ignore[no-any-return]


def score_metric(
    metric: str,
    samples: Sequence[Sample],
    *,
    baseline: StoredMetric | None = None,
    judge: JudgeSetup | None = None,
    k: int | None = None,
) -> MetricScores:
    """Score every sample on ``metric``; see the module docstring.

    ``k`` caps the retrieved contexts the retrieval metrics look at.
    """
    started = time.perf_counter()
    keys = sample_keys(samples)
    outputs = [output_hash(s) for s in samples]
    labels = [label_of(s, i) for i, s in enumerate(samples)]

    if metric in RETRIEVAL_METRICS:
        rows: list[SampleScore] = []
        for i, s in enumerate(samples):
            try:
                value: float | None = retrieval_scores(s, (metric,), k, index=i)[metric]
                reason = None
            except MissingReferenceError as exc:
                value, reason = None, str(exc)
            rows.append(SampleScore(keys[i], outputs[i], labels[i], value, reason=reason))
        return MetricScores(metric, "deterministic", tuple(rows), time.perf_counter() - started)

    from pytest_ragcost.quality.ragas_backend import Job, ascore_jobs, spec_for
    from pytest_ragcost.quality.transport import JudgeTransport

    spec = spec_for(metric)
    if not spec.judged:
        jobs = [Job(i, s, labels[i], content_hash(s)) for i, s in enumerate(samples)]
        outcomes = _run(ascore_jobs(metric, jobs))
        rows = [
            SampleScore(keys[o.index], outputs[o.index], labels[o.index], o.value, reason=o.reason)
            for o in outcomes
        ]
        return MetricScores(metric, "deterministic", tuple(rows), time.perf_counter() - started)

    if judge is None:
        msg = (
            f"{metric} is judged by an LLM but no judge is configured: add a judge: block "
            "(model, base_url, api_key_env) to ragcost.yaml, or use a deterministic metric"
        )
        raise ValueError(msg)
    model = judge.settings.model
    done: dict[int, SampleScore] = {}
    jobs = []
    for i, s in enumerate(samples):
        reuse = baseline.reusable(keys[i], outputs[i]) if baseline is not None else None
        if reuse is not None and (baseline is None or baseline.judge in (None, model)):
            done[i] = SampleScore(keys[i], outputs[i], labels[i], reuse, reused=True)
            continue
        content = content_hash(s)
        if (
            judge.mode == "replay"
            and judge.record is not None
            and not judge.record.has_sample(model, metric, content)
        ):
            done[i] = SampleScore(
                keys[i],
                outputs[i],
                labels[i],
                None,
                miss=True,
                reason="this pipeline output was never judged",
            )
            continue
        jobs.append(Job(i, s, labels[i], content))
    transport = JudgeTransport(judge.mode, judge.record)
    if jobs:
        for o in _run(ascore_jobs(metric, jobs, settings=judge.settings, transport=transport)):
            done[o.index] = SampleScore(
                keys[o.index],
                outputs[o.index],
                labels[o.index],
                o.value,
                miss=o.miss,
                reason=o.reason,
            )
    if judge.mode == "record" and judge.record is not None:
        judge.record.prune(model, metric, {content_hash(s) for s in samples})
    c = transport.counters
    return MetricScores(
        metric,
        judge.tier,
        tuple(done[i] for i in range(len(samples))),
        time.perf_counter() - started,
        judge_model=model,
        judge_live_calls=c.live_calls,
        judge_replayed_calls=c.replayed_calls,
        judge_input_tokens=c.input_tokens,
        judge_output_tokens=c.output_tokens,
    )


def _names(rows: Sequence[SampleScore], limit: int = 5) -> str:
    shown = [f"{r.label}: {r.reason}" for r in rows[:limit]]
    if len(rows) > limit:
        shown.append(f"... and {len(rows) - limit} more")
    return "; ".join(shown)


def quality_verdict(
    scenario: str,
    scores: MetricScores,
    baseline: StoredMetric | None,
    quality_drop: Tolerance,
    severity: Literal["fail", "warn"] = "fail",
    *,
    on_judge_miss: OnJudgeMiss = "fail",
    floor: float | None = None,
) -> Verdict:
    """The verdict for one (scenario, quality metric).

    Order: a baseline judged by another judge model (INCOMPARABLE), judge misses (FAIL
    naming the samples, or skipped with ``on_judge_miss= "skip"`` and still named), then
    unknown quality (FAIL naming the samples), then no baseline (NEW), then the paired
    gate (with ``floor``, the entry's budget, as a floor on the mean of all known scores).
    An under-powered gate says what it can detect (``figures["detectable"]``). ``source``
    on the verdict is the tier.
    """
    status_fail: Literal["FAIL", "WARN"] = "WARN" if severity == "warn" else "FAIL"

    def verdict(status: Status, reason: str, n: int = len(scores.samples),
                **figures: object) -> Verdict:
        """A verdict that is not a paired comparison."""
        return Verdict(
            scenario, scores.metric, status, reason,
            (Finding("FAIL" if status == "WARN" else status, reason),),
            tolerance=str(quality_drop), n=n, source=scores.tier, severity=severity,
            basis="samples", **figures,  # type: ignore[arg-type]
        )

    if (
        baseline is not None
        and baseline.judge is not None
        and scores.judge_model is not None
        and baseline.judge != scores.judge_model
    ):
        # Two judges grade differently; a drop would say more about them than the pipeline.
        return replace(verdict("INCOMPARABLE", "judge_changed"), source=scores.judge_model,
                       baseline_source=baseline.judge)
    misses = scores.misses()
    unknown = scores.unknown()
    notes: list[str] = []
    if misses and on_judge_miss == "fail":
        return verdict(status_fail, "judge_misses", note=_names(misses),
                       figures={"misses": float(len(misses))})
    if misses:
        notes.append(f"skipped {len(misses)} unjudged sample(s): {_names(misses)}")
    if unknown:
        return verdict(status_fail, "quality_unknown", note=_names(unknown),
                       figures={"unknown": float(len(unknown))})
    current = scores.scores()
    reused = scores.reused_count()
    if reused:
        notes.append(f"{reused} unchanged sample(s) kept their baseline score")
    note = "; ".join(notes) or None
    if baseline is None or not baseline.samples:
        return verdict("NEW", "no_sample_baseline", len(current), current=scores.mean(),
                       note=note)
    ev = paired_evidence(scenario, scores.metric, baseline.scores(), current, quality_drop)
    if ev.n == 0:
        return verdict("NEW", "no_paired_samples", 0, figures=dict(ev.figures), note=note)
    mean_all = scores.mean()
    ev = replace(ev, run_value=mean_all, note=note,
                 figures={**ev.figures, "mean": mean_all if mean_all is not None else math.nan})
    paired_v = judge(ev, quality_rule(quality_drop, severity, floor))
    change = ev.change
    # Only where it matters: a FAIL already saw its drop; a PASS may have missed one.
    if paired_v.status in ("PASS", "INCONCLUSIVE") and change is not None and (
        change.se is not None and change.se > 0 and ev.n >= 2
    ):
        extra = power_figures(change.se, ev.n, ev.figures.get("allowed", 0.0))
        if extra:
            paired_v = replace(paired_v, figures={**paired_v.figures, **extra})
    return replace(paired_v, source=scores.tier)


def stored_from(scores: MetricScores) -> StoredMetric:
    """The baseline entry to store for these scores (known scores only)."""
    from pytest_ragcost.quality.store import StoredScore

    return StoredMetric(
        tier=scores.tier,
        judge=scores.judge_model,
        samples={
            s.key: StoredScore(output=s.output, score=s.value)
            for s in scores.samples
            if s.value is not None
        },
    )
