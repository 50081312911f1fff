"""What scoring one quality metric over a scenario's samples produced: the records live
in the run model (:mod:`pytest_ragcost.run.model`), since every run carries them."""

from __future__ import annotations

from typing import Literal

from ..run.model import TIERS, MetricScores, SampleScore, Tier

#: What to do with a sample whose judge answer is not in the record.
OnJudgeMiss = Literal["fail", "skip"]

__all__ = ["TIERS", "MetricScores", "OnJudgeMiss", "SampleScore", "Tier"]
