"""``ragcost.yaml``: its shape (:mod:`.schema`), reading it with line numbers
(:mod:`.load`) and blessing new baselines into it byte for byte (:mod:`.bless`)."""

from __future__ import annotations

from pytest_ragcost.prices import ModelRates

from ..run import UpdateMode
from .bless import BaselineChange, Measured, Skipped, UpdateResult, format_baseline, update
from .load import load, loads
from .schema import (
    Budget,
    BudgetError,
    Defaults,
    Entry,
    JudgeMiss,
    Problem,
    ScenarioBudget,
    Severity,
    Success,
    parse_tolerance,
)

__all__ = [
    "BaselineChange",
    "Budget",
    "BudgetError",
    "Defaults",
    "Entry",
    "JudgeMiss",
    "Measured",
    "ModelRates",
    "Problem",
    "ScenarioBudget",
    "Severity",
    "Skipped",
    "Success",
    "UpdateMode",
    "UpdateResult",
    "format_baseline",
    "load",
    "loads",
    "parse_tolerance",
    "update",
]
