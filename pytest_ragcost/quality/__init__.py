"""Quality scores for pytest-ragcost: retrieval metrics, ragas metrics, the LLM judge
(replayed from a committed record, or live), the paired per-sample gate and the
per-sample baseline store.

Importing this package is cheap: ragas, the openai client and httpx are imported only
when a ``ragas_*`` metric is scored.

Typical use (what the plugin does for each scenario and quality metric)::

    store = load_scores("ragcost.scores.json")
    stored = store.get("qa-typical", "context_recall")
    scores = score_metric("context_recall", samples, baseline=stored)
    verdict = quality_verdict("qa-typical", scores, stored, Tolerance(0.01, relative=True))
    # with --ragcost-update:
    save_scores("ragcost.scores.json", with_metric(store, "qa-typical", "context_recall",
                                                   stored_from(scores)))
"""

from pytest_ragcost.compare.power import detectable_drop, needed_samples
from pytest_ragcost.quality.evaluate import (
    JudgeSetup,
    is_quality_metric,
    label_of,
    quality_verdict,
    score_metric,
    stored_from,
    tier_of,
)
from pytest_ragcost.quality.identity import content_hash, output_hash, sample_key, sample_keys
from pytest_ragcost.quality.judge import (
    JudgeConfigError,
    JudgeRecord,
    JudgeRecordError,
    JudgeSettings,
    RecordedAnswer,
)
from pytest_ragcost.quality.paired import (
    paired_evidence,
    paired_verdict,
    quality_rule,
)
from pytest_ragcost.quality.results import (
    TIERS,
    MetricScores,
    OnJudgeMiss,
    SampleScore,
    Tier,
)
from pytest_ragcost.quality.retrieval import (
    RETRIEVAL_METRICS,
    MissingReferenceError,
    retrieval_scores,
    texts_match,
)
from pytest_ragcost.quality.store import (
    DEFAULT_FILENAME,
    ScoreStore,
    ScoreStoreError,
    StoredMetric,
    StoredScore,
    load_scores,
    save_scores,
    update_scores,
    with_metric,
)
from pytest_ragcost.run import JUDGE_MODES, JudgeMode

__all__ = [
    "DEFAULT_FILENAME",
    "JUDGE_MODES",
    "RETRIEVAL_METRICS",
    "TIERS",
    "JudgeConfigError",
    "JudgeMode",
    "JudgeRecord",
    "JudgeRecordError",
    "JudgeSettings",
    "JudgeSetup",
    "MetricScores",
    "MissingReferenceError",
    "OnJudgeMiss",
    "RecordedAnswer",
    "SampleScore",
    "ScoreStore",
    "ScoreStoreError",
    "StoredMetric",
    "StoredScore",
    "Tier",
    "content_hash",
    "detectable_drop",
    "is_quality_metric",
    "label_of",
    "load_scores",
    "needed_samples",
    "output_hash",
    "paired_evidence",
    "paired_verdict",
    "quality_rule",
    "quality_verdict",
    "retrieval_scores",
    "sample_key",
    "sample_keys",
    "save_scores",
    "score_metric",
    "stored_from",
    "texts_match",
    "tier_of",
    "update_scores",
    "with_metric",
]
