"""What scoring one quality metric over a scenario's samples produced."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any, Literal

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

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> SampleScore:
        value = data.get("value")
        return cls(
            key=str(data["key"]),
            output=str(data["output"]),
            label=str(data["label"]),
            value=None if value is None else float(value),
            reused=bool(data.get("reused", False)),
            miss=bool(data.get("miss", False)),
            reason=data.get("reason"),
        )


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

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON types, for pytest-xdist and the JSON report."""
        out = asdict(self)
        out["samples"] = [x.to_dict() for x in self.samples]
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> MetricScores:
        tier = data["tier"]
        if tier not in TIERS:
            msg = f"MetricScores.tier must be one of {', '.join(TIERS)} (got {tier!r})"
            raise ValueError(msg)
        return cls(
            metric=str(data["metric"]),
            tier=tier,
            samples=tuple(SampleScore.from_dict(x) for x in data["samples"]),
            seconds=float(data.get("seconds", 0.0)),
            judge_model=data.get("judge_model"),
            judge_live_calls=int(data.get("judge_live_calls", 0)),
            judge_replayed_calls=int(data.get("judge_replayed_calls", 0)),
            judge_input_tokens=int(data.get("judge_input_tokens", 0)),
            judge_output_tokens=int(data.get("judge_output_tokens", 0)),
        )

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
