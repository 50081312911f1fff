"""What scoring one quality metric over a scenario's samples produced."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

#: How a score was obtained, named in every result:
#:  - ``deterministic``: string, ROUGE/BLEU and retrieval metrics; always offline.
#:  - ``judged-replayed``: an LLM judge's answers read back from the committed record.
#:  - ``judged-live``: an LLM judge called now (``live`` or ``record`` mode).
Tier = Literal["deterministic", "judged-replayed", "judged-live"]
TIERS: tuple[Tier, ...] = ("deterministic", "judged-replayed", "judged-live")

#: What to do with a sample whose judge answer is not in the record.
OnJudgeMiss = Literal["fail", "skip"]


@dataclass(frozen=True)
class SampleScore:
    """One sample's score on one metric.

    ``value`` is ``None`` when quality is unknown (a failed or NaN judgement, a judge
    miss, a sample lacking an input the metric needs); ``reason`` then says why.
    ``reused`` marks a baseline score taken over because the output is unchanged.
    """

    key: str
    output: str
    label: str
    value: float | None
    reused: bool = False
    miss: bool = False
    reason: str | None = None


@dataclass(frozen=True)
class MetricScores:
    """All samples' scores on one metric, with the judge's bill."""

    metric: str
    tier: Tier
    samples: tuple[SampleScore, ...]
    seconds: float = 0.0
    judge_model: str | None = None
    judge_live_calls: int = 0
    judge_replayed_calls: int = 0
    judge_input_tokens: int = 0
    judge_output_tokens: int = 0

    def scores(self) -> dict[str, float]:
        """``sample_key -> score`` for the samples with a known score."""
        return {s.key: s.value for s in self.samples if s.value is not None}

    def misses(self) -> list[SampleScore]:
        """Samples whose judge answer was not in the record."""
        return [s for s in self.samples if s.miss]

    def unknown(self) -> list[SampleScore]:
        """Samples whose quality is unknown for any other reason."""
        return [s for s in self.samples if s.value is None and not s.miss]

    def reused_count(self) -> int:
        return sum(1 for s in self.samples if s.reused)

    def mean(self) -> float | None:
        """Mean of the known scores (``None`` when there are none)."""
        vals = [s.value for s in self.samples if s.value is not None]
        return sum(vals) / len(vals) if vals else None
