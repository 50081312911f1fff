"""The shape of ``ragcost.yaml``: its keys, its checked data model, and the errors that
say what is wrong with it and where."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from pytest_ragcost.prices import ModelRates
from pytest_ragcost.quality.judge import JudgeSettings
from pytest_ragcost.run import (
    DERIVED_NAMES,
    NOISY_NAMES,
    QUALITY_NAMES,
    TOKEN_METRICS,
    MetricClass,
    Stat,
    Tolerance,
    metric_class,
    split_key,
)

Severity = Literal["fail", "warn"]
JudgeMiss = Literal["fail", "skip"]

SEVERITIES: tuple[Severity, ...] = ("fail", "warn")
JUDGE_MISSES: tuple[JudgeMiss, ...] = ("fail", "skip")
TOP_KEYS = ("version", "defaults", "scenarios", "environment", "judge", "prices")
DEFAULT_KEYS = ("tolerance", "quality_drop", "stat", "severity", "on_judge_miss")
ENTRY_KEYS = (
    "baseline", "budget", "tolerance", "quality_drop", "stat", "severity", "n", "se", "source"
)
SUCCESS_KEY = "success"
SUCCESS_KEYS = ("metric", "min")
JUDGE_KEYS = (
    "model", "base_url", "api_key_env", "concurrency", "timeout_s", "retries", "structured_mode"
)
PRICE_KEYS = ("input_per_mtok", "output_per_mtok", "cached_input_per_mtok")
FILE_VERSION = 1

#: Names offered when a metric is misspelt; the ``tokens_``, ``count_`` and ``ragas_``
#: families are open, so a few common members stand in for them.
KNOWN_METRICS: tuple[str, ...] = (
    *sorted(NOISY_NAMES),
    *TOKEN_METRICS,
    "errors",
    "requests",
    *sorted(DERIVED_NAMES),
    *sorted(QUALITY_NAMES),
    "ragas_faithfulness",
    "ragas_answer_relevancy",
    "ragas_context_precision",
    "ragas_context_recall",
)

_PERCENT_RE = re.compile(r"^\s*(?P<num>[^%]*?)\s*%\s*$")
NUMBER_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
MAX_ENV_DEPTH = 32


# --------------------------------------------------------------------------- errors


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a budget file, precise enough to fix without reading code.

    ``line`` is 1-based (``None`` when the problem has no place, e.g. an unreadable
    file); ``expected`` is a predicate phrase such as ``must be a number``.
    """

    path: str
    line: int | None
    key_path: str
    expected: str
    found: str = ""
    hint: str = ""

    def __str__(self) -> str:
        where = self.path if self.line is None else f"{self.path}:{self.line}"
        text = f"{where}: {self.key_path} {self.expected}" if self.key_path else (
            f"{where}: {self.expected}"
        )
        if self.found:
            text += f" (got {self.found})"
        if self.hint:
            text += f"; {self.hint}"
        return text


class BudgetError(Exception):
    """A budget file (or data meant for it) is wrong; ``problems`` lists every finding."""

    def __init__(self, problems: Iterable[Problem]) -> None:
        # one finding reached along many paths (an alias used 72 times) is said once
        self.problems: tuple[Problem, ...] = tuple(dict.fromkeys(problems))
        super().__init__("\n".join(str(p) for p in self.problems))


# --------------------------------------------------------------------------- data model


@dataclass(frozen=True)
class Defaults:
    """File-wide settings an entry inherits unless it says otherwise."""

    tolerance: Tolerance | None = None
    quality_drop: Tolerance | None = None
    stat: Stat = "mean"
    severity: Severity = "fail"
    on_judge_miss: JudgeMiss = "fail"


@dataclass(frozen=True)
class Entry:
    """One gated metric of one scenario, with the file defaults already applied.

    ``tolerance`` is set for cost metrics and ``quality_drop`` for quality scores (the
    other is ``None``). ``n``, ``se`` and ``source`` are the evidence written with the
    baseline: sample count, standard error of ``stat`` and the source label.
    """

    key: str
    baseline: float | None = None
    budget: float | None = None
    tolerance: Tolerance | None = None
    quality_drop: Tolerance | None = None
    stat: Stat = "mean"
    severity: Severity = "fail"
    n: int | None = None
    se: float | None = None
    source: str | None = None
    line: int = 0

    @property
    def stage(self) -> str | None:
        """The stage part of ``stage.metric`` (``None`` for a whole-request metric)."""
        return split_key(self.key)[0]

    @property
    def metric(self) -> str:
        """The bare metric name."""
        return split_key(self.key)[1]

    @property
    def metric_class(self) -> MetricClass:
        return metric_class(self.metric)

    @property
    def is_quality(self) -> bool:
        """Quality scores improve upwards; every other metric is a cost."""
        return self.metric_class == "quality"

    @property
    def allowed(self) -> Tolerance | None:
        """The tolerance that applies: ``quality_drop`` for scores, else ``tolerance``."""
        return self.quality_drop if self.is_quality else self.tolerance


@dataclass(frozen=True)
class Success:
    """What counts as a successful answer: ``metric`` (a quality score) at least ``min``."""

    metric: str
    min: float
    line: int = 0


@dataclass(frozen=True)
class ScenarioBudget:
    """The entries of one scenario, keyed by metric key (``metric`` or ``stage.metric``)."""

    name: str
    entries: Mapping[str, Entry] = field(default_factory=dict)
    success: Success | None = None
    line: int = 0


@dataclass(frozen=True)
class Budget:
    """A checked ``ragcost.yaml``. ``exists`` is false when the file was absent."""

    path: Path
    version: int = FILE_VERSION
    defaults: Defaults = field(default_factory=Defaults)
    scenarios: Mapping[str, ScenarioBudget] = field(default_factory=dict)
    environment: Mapping[str, Any] = field(default_factory=dict)
    judge: JudgeSettings | None = None
    prices: Mapping[str, ModelRates] = field(default_factory=dict)
    exists: bool = True

    def entry(self, scenario: str, key: str) -> Entry | None:
        """The entry for ``key`` in ``scenario``, or ``None`` when the file has none."""
        sc = self.scenarios.get(scenario)
        return None if sc is None else sc.entries.get(key)

    def entries(self) -> Iterator[tuple[str, Entry]]:
        """Every (scenario name, entry) in file order."""
        for name, sc in self.scenarios.items():
            for entry in sc.entries.values():
                yield name, entry


# --------------------------------------------------------------------------- scalars


def parse_tolerance(value: object, *, max_relative: float | None = None) -> Tolerance:
    """Read ``"5%"`` (relative, 0.05) or a bare number (absolute, in the metric's unit).

    Raises ``ValueError`` with a user-facing reason.
    """
    if isinstance(value, bool):
        raise ValueError('must be a number or a percentage like "10%"')
    if isinstance(value, int | float):
        amount = finite(value)
        if amount < 0:
            raise ValueError("must not be negative")
        if amount > MAX_NUMBER:
            raise ValueError(f"must be at most {MAX_NUMBER:g}")
        return Tolerance(amount, relative=False)
    if isinstance(value, str):
        m = _PERCENT_RE.match(value)
        if m is None:
            raise ValueError('must be a number or a percentage like "10%"')
        num = m.group("num")
        if not NUMBER_RE.match(num):
            raise ValueError('must be a number or a percentage like "10%"')
        pct = finite(float(num))
        if pct < 0:
            raise ValueError("must not be negative")
        if pct > MAX_NUMBER:
            raise ValueError(f"must be at most {MAX_NUMBER:g}%")
        if max_relative is not None and pct / 100.0 > max_relative:
            raise ValueError(f"must be at most {max_relative * 100:g}%")
        return Tolerance(pct / 100.0, relative=True)
    raise ValueError('must be a number or a percentage like "10%"')


#: the range of a number in ragcost.yaml: beyond it no cost of an answer lies, and the
#: arithmetic of a comparison would overflow or divide by (almost) zero
MAX_NUMBER = 1e15
MIN_NUMBER = 1e-12
MAX_COUNT = 2**53


def short_text(text: str) -> str:
    """A scalar as an error message shows it: long ones cut, with their length."""
    return text if len(text) <= 40 else f"{text[:20]}...({len(text)} characters)"


def finite(value: float) -> float:
    try:
        out = float(value)
    except OverflowError:
        raise ValueError("must be a finite number") from None
    if not math.isfinite(out):
        raise ValueError("must be a finite number")
    return out

def double_quoted(text: str) -> str:
    """``text`` as a double-quoted YAML scalar that reads back as exactly this string."""
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch in '"\\':
            out.append("\\" + ch)
        elif 0x20 <= code <= 0x7E or 0xA0 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or (
            0x10000 <= code <= 0x10FFFF and code != 0xFEFF
        ):
            out.append(ch)
        elif code <= 0xFF:
            out.append(f"\\x{code:02x}")
        elif code <= 0xFFFF:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)
