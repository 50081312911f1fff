"""Base against head, stage by stage: which stages of an A/B regressed, and their two
profiles side by side (:mod:`pytest_ragcost.report.flame` marks the frames that grew).

A stage regressed when a verdict on one of its keys (``stage.metric``) failed. When only
a whole-request key failed (``wall_ms``), the stage whose sampled time per request grew
the most stands for it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from ..run import Verdict, split_key
from .sampler import ScenarioProfile, StageProfile


@dataclass(frozen=True)
class ProfileDiff:
    """One regressed stage's profiles on both sides, with their request counts."""

    scenario: str
    stage: str
    base: StageProfile
    base_requests: int
    head: StageProfile
    head_requests: int
    because: str  # the failing verdict's key


def regressed(verdicts: Mapping[str, Sequence[Verdict]],
              base: Mapping[str, ScenarioProfile],
              head: Mapping[str, ScenarioProfile]) -> list[ProfileDiff]:
    """The profile pairs of every stage that regressed (see the module doc)."""
    out: list[ProfileDiff] = []
    for scenario, vs in sorted(verdicts.items()):
        h = head.get(scenario)
        if h is None:
            continue
        # a side without samples of the stage (too short for the interval) is drawn empty
        b = base.get(scenario) or ScenarioProfile(scenario, h.interval_ms)
        failing = [v for v in vs if v.status == "FAIL"]
        stages: dict[str, str] = {}
        whole: list[str] = []
        for v in failing:
            try:
                stage, _ = split_key(v.key)
            except ValueError:
                continue
            if stage is None:
                whole.append(v.key)
            else:
                stages.setdefault(stage, v.key)
        if not stages and whole:
            grown = _most_grown(b, h)
            if grown is not None:
                stages[grown] = whole[0]
        for stage, key in sorted(stages.items()):
            if stage in h.stages:
                base_stage = b.stages.get(stage) or StageProfile(stage, {}, 0)
                out.append(ProfileDiff(scenario, stage, base_stage, b.requests,
                                       h.stages[stage], h.requests, key))
    return out


def _most_grown(base: ScenarioProfile, head: ScenarioProfile) -> str | None:
    def per_request(p: ScenarioProfile, stage: str) -> float:
        sp = p.stages.get(stage)
        return sp.total_ms / max(1, p.requests) if sp is not None else 0.0

    names: Iterable[str] = set(base.stages) & set(head.stages)
    ranked = sorted(names, key=lambda s: per_request(head, s) - per_request(base, s),
                    reverse=True)
    return ranked[0] if ranked else None
