"""The quality half of the gate: a scenario's samples scored and compared, sample by sample,
with the baseline scores kept next to ragcost.yaml.

Which metrics a scenario is scored on:

- the retrieval metrics (``hit_at_k``, ``mrr``, ``context_precision``,
  ``context_recall``) whenever its samples carry references (``reference_ids`` or
  ``reference_contexts``): always offline, always on;
- every quality metric named in its ragcost.yaml entries (``ragas_*`` opt in there).

Files beside ragcost.yaml (both committed, both human-readable):

- ``<name>.scores.json``: per-sample baseline scores with a hash of each sample's
  output, written by ``--ragcost-update``. An unchanged output reuses its score;
- ``<name>.judge.json``: the LLM judge's recorded answers, written by
  ``--ragcost-record-judge`` and replayed on every other run.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from ..models import Sample, ScenarioRun, Tolerance, Verdict

JudgeMode = Literal["replay", "record", "live"]
DEFAULT_QUALITY_DROP = Tolerance(0.01, relative=True)
RETRIEVAL = ("hit_at_k", "mrr", "context_precision", "context_recall")


def scores_path(config_path: Path) -> Path:
    return config_path.with_name(f"{config_path.stem}.scores.json")


def judge_path(config_path: Path) -> Path:
    return config_path.with_name(f"{config_path.stem}.judge.json")


def _has_references(samples: Sequence[Sample]) -> bool:
    return any(s.reference_ids or s.reference_contexts for s in samples)


@dataclass
class QualityResult:
    verdicts: list[Verdict]
    scores: dict[str, Any]  # metric -> MetricScores


class QualityGate:
    """Scores samples and judges them against stored per-sample baselines."""

    def __init__(self, config_path: Path, budget: Any, mode: JudgeMode = "replay") -> None:
        from . import JudgeRecord
        from .store import load_scores

        self.config_path = config_path
        self.budget = budget
        self.mode = mode
        self.store = load_scores(scores_path(config_path))
        jpath = judge_path(config_path)
        self.record = JudgeRecord.load(jpath) if jpath.exists() else JudgeRecord()

    def metrics_for(self, run: ScenarioRun) -> list[str]:
        from ..models import metric_class

        names: list[str] = []
        if run.samples and _has_references(run.samples):
            names += list(RETRIEVAL)
        scenario = self.budget.scenarios.get(run.scenario)
        if scenario is not None:
            for key in scenario.entries:
                if metric_class(key) == "quality" and key not in names:
                    names.append(key)
        return names

    def _judge(self) -> Any:
        from . import JudgeSettings, JudgeSetup

        j = self.budget.judge
        if j is None or j.model is None:
            return None
        settings = JudgeSettings(
            model=j.model,
            base_url=j.base_url,
            api_key_env=j.api_key_env,
            concurrency=j.concurrency,
            timeout_s=j.timeout_s,
            retries=j.retries,
        )
        return JudgeSetup(settings=settings, mode=self.mode, record=self.record)

    def evaluate(self, run: ScenarioRun) -> QualityResult:
        from . import quality_verdict, score_metric

        metrics = self.metrics_for(run)
        if not metrics or not run.samples:
            return QualityResult([], {})
        judge = self._judge()
        scenario = self.budget.scenarios.get(run.scenario)
        verdicts: list[Verdict] = []
        scores: dict[str, Any] = {}
        for metric in metrics:
            entry = scenario.entries.get(metric) if scenario is not None else None
            stored = self.store.get(run.scenario, metric)
            try:
                result = score_metric(metric, run.samples, baseline=stored, judge=judge)
            except Exception as exc:  # a metric that cannot run is a finding, not a crash
                verdicts.append(
                    Verdict(run.scenario, metric, "FAIL" if entry is not None else "WARN",
                            f"{metric}: could not be scored: {type(exc).__name__}: {exc}",
                            n=len(run.samples))
                )
                continue
            scores[metric] = result
            drop = (entry.quality_drop if entry is not None else None) or (
                self.budget.defaults.quality_drop or DEFAULT_QUALITY_DROP
            )
            severity: Literal["fail", "warn"] = entry.severity if entry is not None else "fail"
            verdict = quality_verdict(
                run.scenario,
                result,
                stored,
                drop,
                severity,
                on_judge_miss=self.budget.defaults.on_judge_miss,
            )
            mean = result.mean()
            if entry is not None and entry.budget is not None and mean is not None:
                verdict = _floor(verdict, mean, entry.budget)
            verdicts.append(verdict)
        if self.mode == "record" and judge is not None:
            self.record.save(judge_path(self.config_path))
        return QualityResult(verdicts, scores)

    def update(self, results: Mapping[str, Mapping[str, Any]], *, mode: str) -> list[str]:
        """Store per-sample baselines of every scored metric; returns what was written."""
        from . import stored_from
        from .store import save_scores, with_metric

        store = self.store
        written: list[str] = []
        for scenario, metrics in results.items():
            for metric, scores in metrics.items():
                if scores.unknown() or scores.misses():
                    continue  # quality unknown is not a baseline
                old = store.get(scenario, metric)
                new = stored_from(scores)
                if mode == "improvements" and old is not None:
                    old_mean = _mean(old.scores().values())
                    new_mean = scores.mean()
                    if new_mean is None or (old_mean is not None and new_mean <= old_mean):
                        continue
                store = with_metric(store, scenario, metric, new)
                written.append(f"{scenario}.{metric}")
        if written:
            save_scores(scores_path(self.config_path), store)
            self.store = store
        return written


def _mean(values: Any) -> float | None:
    vals = list(values)
    return sum(vals) / len(vals) if vals else None


def _floor(verdict: Verdict, mean: float, floor: float) -> Verdict:
    """A ``budget`` on a quality score is a floor: below it fails, whatever the baseline."""
    from dataclasses import replace

    if mean >= floor:
        return replace(verdict, budget=floor)
    status: Literal["WARN", "FAIL"] = "WARN" if verdict.severity == "warn" else "FAIL"
    return replace(
        verdict,
        status=status,
        budget=floor,
        message=f"{verdict.key}: mean {mean:.4f} is below its floor {floor:g}; {verdict.message}",
    )
