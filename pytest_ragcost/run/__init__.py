"""The one run model: the vocabulary (:mod:`.metrics`) and the typed records
(:mod:`.model`) of a metered run."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .metrics import (
    DERIVED_NAMES,
    ENERGY_KINDS,
    EXACT_NAMES,
    EXACT_PREFIXES,
    HIGHER_IS_BETTER,
    JUDGE_MODES,
    NAME_RE,
    NOISY_NAMES,
    QUALITY_NAMES,
    QUALITY_PREFIXES,
    SOURCE_LABELS,
    STATS,
    STATUSES,
    TOKEN_KINDS,
    TOKEN_METRICS,
    UNITS,
    UPDATE_MODES,
    EnergyKind,
    JudgeMode,
    MetricClass,
    Stat,
    Status,
    Tolerance,
    UpdateMode,
    metric_class,
    split_key,
    unit_of,
    value_range,
)

# The typed records load on first use: every pytest run imports the option table, which
# needs only the vocabulary, and the records' dataclasses take about 15 ms to build.
_MODEL_NAMES = frozenset(
    {"ItemValues", "Outcome", "RequestRecord", "Sample", "ScenarioRun", "StageRecord", "Verdict"}
)

if TYPE_CHECKING:
    from .model import (
        ItemValues,
        Outcome,
        RequestRecord,
        Sample,
        ScenarioRun,
        StageRecord,
        Verdict,
    )
else:

    def __getattr__(name: str) -> object:
        if name in _MODEL_NAMES:
            from . import model

            return getattr(model, name)
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "DERIVED_NAMES",
    "ENERGY_KINDS",
    "EXACT_NAMES",
    "EXACT_PREFIXES",
    "HIGHER_IS_BETTER",
    "JUDGE_MODES",
    "NAME_RE",
    "NOISY_NAMES",
    "QUALITY_NAMES",
    "QUALITY_PREFIXES",
    "SOURCE_LABELS",
    "STATS",
    "STATUSES",
    "TOKEN_KINDS",
    "TOKEN_METRICS",
    "UNITS",
    "UPDATE_MODES",
    "EnergyKind",
    "ItemValues",
    "JudgeMode",
    "MetricClass",
    "Outcome",
    "RequestRecord",
    "Sample",
    "ScenarioRun",
    "StageRecord",
    "Stat",
    "Status",
    "Tolerance",
    "UpdateMode",
    "Verdict",
    "metric_class",
    "split_key",
    "unit_of",
    "value_range",
]
