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

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from ..compare.evaluate import QualityScores
from ..run import JudgeMode, Sample, ScenarioRun
from .retrieval import RETRIEVAL_METRICS

if TYPE_CHECKING:
    from ..budget import Budget
    from .evaluate import JudgeSetup
    from .results import MetricScores

RETRIEVAL = RETRIEVAL_METRICS


def scores_path(config_path: Path) -> Path:
    return config_path.with_name(f"{config_path.stem}.scores.json")


def judge_path(config_path: Path) -> Path:
    return config_path.with_name(f"{config_path.stem}.judge.json")


def check_files(config_path: Path) -> None:
    """Read the score store and the judge record beside ``config_path`` when they exist,
    so a broken one stops the run at its start, named, instead of turning every quality
    metric UNMEASURED. Raises :class:`~pytest_ragcost.inputs.InputError`."""
    from .judge import JudgeRecord
    from .store import load_scores

    load_scores(scores_path(config_path))
    JudgeRecord.load(judge_path(config_path))


def _has_references(samples: Sequence[Sample]) -> bool:
    return any(s.reference_ids or s.reference_contexts for s in samples)


class QualityGate:
    """Scores a run's samples, reusing the stored score of an unchanged output and the
    recorded answers of the LLM judge. The verdicts are the compare step's."""

    def __init__(self, config_path: Path, budget: Budget, mode: JudgeMode = "replay") -> None:
        from . import JudgeRecord
        from .store import load_scores

        self.config_path = config_path
        self.budget = budget
        self.mode = mode
        self.store = load_scores(scores_path(config_path))
        jpath = judge_path(config_path)
        self.record = JudgeRecord.load(jpath)

    def metrics_for(self, run: ScenarioRun) -> list[str]:
        from ..run import metric_class

        names: list[str] = []
        if run.samples and _has_references(run.samples):
            names += list(RETRIEVAL)
        scenario = self.budget.scenarios.get(run.scenario)
        if scenario is not None:
            for key in scenario.entries:
                if metric_class(key) == "quality" and key not in names:
                    names.append(key)
        return names

    def _judge(self) -> JudgeSetup | None:
        from . import JudgeSetup

        if self.budget.judge is None:
            return None
        return JudgeSetup(settings=self.budget.judge, mode=self.mode, record=self.record)

    def score(self, run: ScenarioRun) -> QualityScores:
        """Score the run's samples on every metric it is gated on; a metric that cannot be
        scored is kept with the reason, for the compare step to judge."""
        from . import score_metric

        metrics = self.metrics_for(run)
        if not metrics or not run.samples:
            return QualityScores()
        judge = self._judge()
        scores: dict[str, MetricScores] = {}
        errors: dict[str, str] = {}
        for metric in metrics:
            stored = self.store.get(run.scenario, metric)
            try:
                scores[metric] = score_metric(metric, run.samples, baseline=stored, judge=judge)
            except Exception as exc:  # a metric that cannot run is a finding, not a crash
                errors[metric] = f"{type(exc).__name__}: {exc}"
        if self.mode == "record" and judge is not None:
            self.record.save(judge_path(self.config_path))
        return QualityScores(scores, errors)
