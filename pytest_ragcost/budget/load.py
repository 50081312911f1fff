"""``ragcost.yaml``: read it, check it with line numbers, and bless new baselines in place.

The file is reviewed like code, so two promises shape this module:

* **Every problem is reported at once**, each with the file, the line, the key path,
  what was expected, what was found and how to fix it. :func:`load` raises only
  :class:`BudgetError`, whatever the bytes on disk are.
* **Blessing touches only the numbers it must.** :func:`update` splices new
  ``baseline`` values (and their evidence ``n``, ``se``, ``source``) into the original
  text, so comments, key order, alignment, quoting and flow/block style stay byte for
  byte as they were. The result is re-read and checked before it atomically replaces
  the old file.

Choices a user may meet:

* Percentages: ``"10%"``, ``"10 %"``, ``"+10%"`` and ``"2.5%"`` are accepted (the space
  changes nothing, so refusing it would only annoy). Negative, non-numeric, NaN or
  infinite values are refused, and so is a ``quality_drop`` above ``100%``.
* ``tolerance`` is for costs, ``quality_drop`` for quality scores; writing the other one
  on an entry is an error rather than a silently ignored key.
* For a quality score, ``budget`` is a floor (the score must stay at or above it).
* Anchors and aliases (``&name`` / ``*name``) and non-standard tags (``!foo``,
  ``!!python/...``) are refused: a blessed baseline must not silently change another
  scenario through an alias, and nothing in the file may build Python objects.
* Keys are strings; quote a scenario named like a number (``"2024": ...``).
* An empty scenario or entry (``qa-typical:`` with nothing under it) is empty, not an
  error, so a sketched file can be filled by ``--ragcost-update``.
"""

from __future__ import annotations

import contextlib
import difflib
import math
import os
import re
import stat as stat_module
import tempfile
import warnings
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError

from pytest_ragcost.models import (
    DERIVED_NAMES,
    NAME_RE,
    NOISY_NAMES,
    QUALITY_NAMES,
    SOURCE_LABELS,
    STATS,
    MetricClass,
    Stat,
    Tolerance,
    metric_class,
    split_key,
    unit_of,
)
from pytest_ragcost.prices import ModelRates

__all__ = [
    "BaselineChange",
    "Budget",
    "BudgetError",
    "Defaults",
    "Entry",
    "Judge",
    "Measured",
    "ModelRates",
    "Problem",
    "ScenarioBudget",
    "Severity",
    "Skipped",
    "Success",
    "UpdateResult",
    "format_baseline",
    "load",
    "loads",
    "parse_tolerance",
    "update",
]

Severity = Literal["fail", "warn"]
JudgeMiss = Literal["fail", "skip"]
UpdateMode = Literal["all", "improvements"]

SEVERITIES: tuple[Severity, ...] = ("fail", "warn")
JUDGE_MISSES: tuple[JudgeMiss, ...] = ("fail", "skip")
TOP_KEYS = ("version", "defaults", "scenarios", "environment", "judge", "prices")
DEFAULT_KEYS = ("tolerance", "quality_drop", "stat", "severity", "on_judge_miss")
ENTRY_KEYS = (
    "baseline", "budget", "tolerance", "quality_drop", "stat", "severity", "n", "se", "source"
)
SUCCESS_KEY = "success"
SUCCESS_KEYS = ("metric", "min")
JUDGE_KEYS = ("model", "base_url", "api_key_env", "concurrency", "timeout_s", "retries")
PRICE_KEYS = ("input_per_mtok", "output_per_mtok", "cached_input_per_mtok")
FILE_VERSION = 1

#: Names offered when a metric is misspelt; the ``tokens_``, ``count_`` and ``ragas_``
#: families are open, so a few common members stand in for them.
KNOWN_METRICS: tuple[str, ...] = (
    *sorted(NOISY_NAMES),
    "tokens_prompt",
    "tokens_context",
    "tokens_completion",
    "tokens_rerank_in",
    "tokens_total",
    "errors",
    "requests",
    *sorted(DERIVED_NAMES),
    *sorted(QUALITY_NAMES),
    "ragas_faithfulness",
    "ragas_answer_relevancy",
    "ragas_context_precision",
    "ragas_context_recall",
)

_ENV_VAR_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_PERCENT_RE = re.compile(r"^\s*(?P<num>[^%]*?)\s*%\s*$")
_NUMBER_RE = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_STD_TAG = "tag:yaml.org,2002:"
_ALLOWED_TAGS = frozenset(
    _STD_TAG + t for t in ("map", "seq", "str", "int", "float", "bool", "null", "timestamp")
)
_MAX_ENV_DEPTH = 32


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
        self.problems: tuple[Problem, ...] = tuple(problems)
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
class Judge:
    """The LLM judge used for RAGAS scores (an OpenAI-compatible endpoint)."""

    model: str | None = None
    base_url: str | None = None
    api_key_env: str | None = None
    concurrency: int = 4
    timeout_s: float = 60.0
    retries: int = 2


@dataclass(frozen=True)
class Budget:
    """A checked ``ragcost.yaml``. ``exists`` is false when the file was absent."""

    path: Path
    version: int = FILE_VERSION
    defaults: Defaults = field(default_factory=Defaults)
    scenarios: Mapping[str, ScenarioBudget] = field(default_factory=dict)
    environment: Mapping[str, Any] = field(default_factory=dict)
    judge: Judge | None = None
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
        amount = _finite(value)
        if amount < 0:
            raise ValueError("must not be negative")
        return Tolerance(amount, relative=False)
    if isinstance(value, str):
        m = _PERCENT_RE.match(value)
        if m is None:
            raise ValueError('must be a number or a percentage like "10%"')
        num = m.group("num")
        if not _NUMBER_RE.match(num):
            raise ValueError('must be a number or a percentage like "10%"')
        pct = _finite(float(num))
        if pct < 0:
            raise ValueError("must not be negative")
        if max_relative is not None and pct / 100.0 > max_relative:
            raise ValueError(f"must be at most {max_relative * 100:g}%")
        return Tolerance(pct / 100.0, relative=True)
    raise ValueError('must be a number or a percentage like "10%"')


def _finite(value: float) -> float:
    try:
        out = float(value)
    except OverflowError:
        raise ValueError("must be a finite number") from None
    if not math.isfinite(out):
        raise ValueError("must be a finite number")
    return out


_INT_RE = re.compile(r"^[+-]?(0o[0-7_]+|0x[0-9a-fA-F_]+|0b[01_]+|[0-9_]+)$")


def _scalar(node: ScalarNode) -> object:
    """The Python value of a scalar node, resolved by its (standard) tag."""
    tag = node.tag
    text = str(node.value)
    if tag == _STD_TAG + "null":
        return None
    if tag == _STD_TAG + "bool":
        return text.lower() in ("true", "yes", "on", "y")
    if tag == _STD_TAG + "int":
        if not _INT_RE.match(text):
            return text
        digits = text.replace("_", "")
        sign = -1 if digits.startswith("-") else 1
        digits = digits.lstrip("+-")
        try:
            if digits[:2] in ("0o", "0x", "0b"):
                return sign * int(digits[2:], {"o": 8, "x": 16, "b": 2}[digits[1]])
            return sign * int(digits)
        except ValueError:
            return text
    if tag == _STD_TAG + "float":
        low = text.replace("_", "").lower()
        if low in (".inf", "+.inf"):
            return math.inf
        if low == "-.inf":
            return -math.inf
        if low == ".nan":
            return math.nan
        try:
            return float(low)
        except ValueError:
            return text
    return text


def _describe(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    value = _scalar(cast(ScalarNode, node))
    if value is None:
        return "nothing"
    if isinstance(value, str):
        return repr(value) if len(value) <= 60 else repr(value[:57] + "...")
    return str(node.value)


def _key_segment(name: str) -> str:
    return name if re.match(r"^[^.\s\[\]\"']+$", name) else _dq(name)


# --------------------------------------------------------------------------- parsing


@dataclass
class _Located:
    """Where things are in the source text, for splicing new baselines in."""

    root: Node | None = None
    scenarios: tuple[ScalarNode, Node] | None = None
    environment: tuple[ScalarNode, Node] | None = None
    scenario: dict[str, tuple[ScalarNode, Node]] = field(default_factory=dict)
    entry: dict[tuple[str, str], tuple[ScalarNode, Node]] = field(default_factory=dict)
    indent_step: int | None = None


def _line_of_offset(text: str, offset: int) -> int:
    return text.count("\n", 0, max(0, offset)) + 1


def _compose(text: str, display: str) -> tuple[Node | None, list[Problem]]:
    """Parse YAML text into a node tree, turning every parser failure into a Problem."""
    yaml = YAML(typ="rt")
    try:
        with warnings.catch_warnings():
            # a reused anchor name is harmless without aliases (which are refused anyway)
            warnings.simplefilter("ignore")
            return yaml.compose(text), []
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = None if mark is None else int(mark.line) + 1
        what = " ".join(str(x) for x in (exc.context, exc.problem) if x) or "unreadable YAML"
        return None, [
            Problem(display, line, "", f"is not valid YAML: {what}", "",
                    "fix the syntax at that line (indentation, quotes, a missing ':')")
        ]
    except ReaderError as exc:
        line = _line_of_offset(text, int(exc.position))
        return None, [
            Problem(display, line, "", "contains a character YAML does not allow",
                    f"{exc.character!r}", "remove the control character or save as UTF-8 text")
        ]
    except Exception as exc:  # ruamel raises assorted types (even RecursionError) on hostile input
        return None, [
            Problem(display, None, "", "could not be parsed as YAML",
                    f"{type(exc).__name__}: {exc}",
                    "check the file is a single, plain YAML document")
        ]


def _prewalk(root: Node, display: str) -> list[Problem]:
    """Refuse aliases and non-standard tags before anything reads values."""
    problems: list[Problem] = []
    seen: set[int] = set()
    stack: list[Node] = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            problems.append(
                Problem(display, int(node.start_mark.line) + 1, "",
                        "uses an alias (*name) of the anchor defined on this line", "",
                        "write the values out; a blessed baseline must not change other keys")
            )
            continue
        seen.add(id(node))
        if node.tag not in _ALLOWED_TAGS:
            problems.append(
                Problem(display, int(node.start_mark.line) + 1, "",
                        "uses a YAML tag that is not allowed", repr(str(node.tag)),
                        "remove the tag; only plain strings, numbers, booleans, mappings and"
                        " lists are read")
            )
            continue
        if isinstance(node, MappingNode):
            for k, v in node.value:
                stack.extend((v, k))
        elif isinstance(node, SequenceNode):
            stack.extend(reversed(node.value))
    return problems


class _Checker:
    """Walks the node tree once, collecting every problem and building the Budget."""

    def __init__(self, display: str, path: Path) -> None:
        self.display = display
        self.path = path
        self.problems: list[Problem] = []
        self.where = _Located()

    def add(self, node: Node | None, key_path: str, expected: str, found: str = "",
            hint: str = "") -> None:
        line = None if node is None else int(node.start_mark.line) + 1
        self.problems.append(Problem(self.display, line, key_path, expected, found, hint))

    # -- generic helpers

    def items(self, node: Node, path: str) -> list[tuple[str, ScalarNode, Node]]:
        """String-keyed items of a mapping node, reporting odd and duplicate keys."""
        out: list[tuple[str, ScalarNode, Node]] = []
        first: dict[str, int] = {}
        for k, v in cast(MappingNode, node).value:
            if not isinstance(k, ScalarNode) or k.tag != _STD_TAG + "str":
                shown = _describe(k)
                self.add(k, path or "top level", "has a key that is not a string", shown,
                         f'quote it, e.g. "{k.value}"' if isinstance(k, ScalarNode) else
                         "keys must be plain names")
                continue
            name = str(k.value)
            line = int(k.start_mark.line) + 1
            if name in first:
                self.add(k, self.join(path, name), f"appears twice (first on line {first[name]})",
                         "", "keep one of them")
                continue
            first[name] = line
            out.append((name, k, v))
        return out

    @staticmethod
    def join(path: str, name: str) -> str:
        return f"{path}.{_key_segment(name)}" if path else _key_segment(name)

    def unknown(self, keynode: ScalarNode, path: str, name: str, valid: Iterable[str],
                what: str) -> None:
        options = list(valid)
        close = difflib.get_close_matches(name, options, n=1, cutoff=0.6)
        hint = f"did you mean {close[0]!r}?" if close else f"valid keys: {', '.join(options)}"
        self.add(keynode, self.join(path, name), f"is not a known {what} key", "", hint)

    def mapping(self, node: Node, path: str, example: str, keynode: Node | None = None,
                ) -> bool:
        if isinstance(node, MappingNode):
            return True
        self.add(keynode or node, path, f"must be a mapping like {example}", _describe(node))
        return False

    def number(self, keynode: Node, node: Node, path: str, *, positive: bool = False,
               unit: str = "") -> float | None:
        value = _scalar(node) if isinstance(node, ScalarNode) else None
        if isinstance(value, bool) or not isinstance(value, int | float) or not isinstance(
            node, ScalarNode
        ):
            hint = "write a plain number"
            if isinstance(value, str) and _NUMBER_RE.match(value.strip()):
                hint = "remove the quotes so it reads as a number"
            self.add(keynode, path, "must be a number" + (f" in {unit}" if unit else ""),
                     _describe(node), hint)
            return None
        try:
            out = _finite(value)
        except ValueError:
            self.add(keynode, path, "must be a finite number", str(node.value),
                     "NaN and infinity cannot be compared; write a real value")
            return None
        if out < 0 or (positive and out == 0):
            expected = "must be greater than 0" if positive else "must not be negative"
            self.add(keynode, path, expected, str(node.value),
                     "costs, scores and their tolerances are never negative")
            return None
        return out

    def integer(self, keynode: Node, node: Node, path: str, minimum: int) -> int | None:
        value = _scalar(node) if isinstance(node, ScalarNode) else None
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(keynode, path, "must be a whole number", _describe(node),
                     f"write an integer of at least {minimum}")
            return None
        if value < minimum:
            self.add(keynode, path, f"must be at least {minimum}", str(value), "")
            return None
        return value

    def choice(self, keynode: Node, node: Node, path: str, options: Iterable[str]) -> str | None:
        opts = list(options)
        value = _scalar(node) if isinstance(node, ScalarNode) else None
        if isinstance(value, str) and value in opts:
            return value
        hint = f"choose one of {', '.join(opts)}"
        if isinstance(value, str):
            close = difflib.get_close_matches(value, opts, n=1, cutoff=0.5)
            if close:
                hint = f"did you mean {close[0]!r}? ({hint})"
        self.add(keynode, path, f"must be one of {', '.join(opts)}", _describe(node), hint)
        return None

    def text(self, keynode: Node, node: Node, path: str) -> str | None:
        value = _scalar(node) if isinstance(node, ScalarNode) else None
        if isinstance(value, str) and value and node.tag == _STD_TAG + "str":
            return value
        self.add(keynode, path, "must be a non-empty string", _describe(node),
                 "quote it if it looks like a number or a boolean")
        return None

    def tolerance(self, keynode: Node, node: Node, path: str, unit: str,
                  max_relative: float | None = None) -> Tolerance | None:
        value = _scalar(node) if isinstance(node, ScalarNode) else None
        try:
            if not isinstance(node, ScalarNode):
                raise ValueError('must be a number or a percentage like "10%"')
            return parse_tolerance(value, max_relative=max_relative)
        except ValueError as exc:
            reason = str(exc)
            if reason.startswith("must be a number or"):
                hint = 'write a percentage such as "10%" or an absolute amount' + (
                    f" in {unit}" if unit else "")
            elif "negative" in reason:
                hint = "a tolerance is a distance from the baseline; drop the minus sign"
            elif "at most" in reason:
                hint = "a score cannot drop by more than all of it"
            else:
                hint = "write a real percentage or number"
            self.add(keynode, path, reason, _describe(node), hint)
            return None

    # -- the document

    def check(self, root: Node | None, exists: bool) -> Budget | None:
        self.where.root = root
        if root is None or (isinstance(root, ScalarNode) and _scalar(root) is None):
            return Budget(path=self.path, exists=exists)
        if not isinstance(root, MappingNode):
            self.add(root, "", "must have a mapping at the top level", _describe(root),
                     "start the file with 'version: 1' followed by 'scenarios:'")
            return None
        items = self.items(root, "")
        seen = {name: (k, v) for name, k, v in items}
        for _name, k, v in items:
            # new blocks copy the file's own indentation width
            if isinstance(v, MappingNode) and not v.flow_style and v.value:
                step = int(v.start_mark.column) - int(k.start_mark.column)
                if step > 0:
                    self.where.indent_step = step
                    break
        for name, k, _v in items:
            if name not in TOP_KEYS:
                self.unknown(k, "", name, TOP_KEYS, "top-level")

        if "version" not in seen:
            self.add(root, "version", "is missing", "",
                     "add 'version: 1' as the first line of the file")
        else:
            vk, vv = seen["version"]
            value = _scalar(vv) if isinstance(vv, ScalarNode) else None
            if isinstance(value, bool) or value != FILE_VERSION:
                self.add(vk, "version", f"must be {FILE_VERSION}", _describe(vv),
                         "this pytest-ragcost reads version 1 files; upgrade it for newer ones")

        defaults = Defaults()
        if "defaults" in seen:
            defaults = self.defaults(*seen["defaults"]) or defaults
        scenarios: dict[str, ScenarioBudget] = {}
        if "scenarios" in seen:
            self.where.scenarios = seen["scenarios"]
            scenarios = self.scenarios(*seen["scenarios"], defaults)
        environment: dict[str, Any] = {}
        if "environment" in seen:
            self.where.environment = seen["environment"]
            ek, ev = seen["environment"]
            if not (isinstance(ev, ScalarNode) and _scalar(ev) is None) and self.mapping(
                ev, "environment", "{cpu: 'AMD EPYC', gpu: none}", ek
            ):
                environment = cast(dict[str, Any], self.plain(ev, "environment", 0))
        judge = None
        if "judge" in seen:
            judge = self.judge(*seen["judge"])
        prices: dict[str, ModelRates] = {}
        if "prices" in seen:
            prices = self.prices(*seen["prices"])
        if self.problems:
            return None
        return Budget(
            path=self.path,
            version=FILE_VERSION,
            defaults=defaults,
            scenarios=scenarios,
            environment=environment,
            judge=judge,
            prices=prices,
            exists=exists,
        )

    def defaults(self, keynode: ScalarNode, node: Node) -> Defaults | None:
        if isinstance(node, ScalarNode) and _scalar(node) is None:
            return None
        if not self.mapping(node, "defaults", "{tolerance: 5%, quality_drop: 1%}", keynode):
            return None
        got: dict[str, Any] = {}
        for name, k, v in self.items(node, "defaults"):
            path = f"defaults.{name}"
            if name == "tolerance":
                got[name] = self.tolerance(k, v, path, "")
            elif name == "quality_drop":
                got[name] = self.tolerance(k, v, path, "", max_relative=1.0)
            elif name == "stat":
                got[name] = self.choice(k, v, path, STATS)
            elif name == "severity":
                got[name] = self.choice(k, v, path, SEVERITIES)
            elif name == "on_judge_miss":
                got[name] = self.choice(k, v, path, JUDGE_MISSES)
            else:
                self.unknown(k, "defaults", name, DEFAULT_KEYS, "defaults")
        return Defaults(**{k: v for k, v in got.items() if v is not None})

    def scenarios(self, keynode: ScalarNode, node: Node, defaults: Defaults,
                  ) -> dict[str, ScenarioBudget]:
        out: dict[str, ScenarioBudget] = {}
        if isinstance(node, ScalarNode) and _scalar(node) is None:
            return out
        if not self.mapping(node, "scenarios", "{qa-typical: {tokens_context: {baseline: 3104}}}",
                            keynode):
            return out
        for name, k, v in self.items(node, "scenarios"):
            path = self.join("scenarios", name)
            if not name.strip():
                self.add(k, path, "must be a non-empty scenario name", repr(name),
                         "name it after the test or the traffic profile")
                continue
            self.where.scenario[name] = (k, v)
            sc = self.scenario(name, k, v, path, defaults)
            if sc is not None:
                out[name] = sc
        return out

    def scenario(self, name: str, keynode: ScalarNode, node: Node, path: str,
                 defaults: Defaults) -> ScenarioBudget | None:
        line = int(keynode.start_mark.line) + 1
        if isinstance(node, ScalarNode) and _scalar(node) is None:
            return ScenarioBudget(name=name, line=line)
        if not self.mapping(node, path, "{tokens_context: {baseline: 3104}}", keynode):
            return None
        entries: dict[str, Entry] = {}
        success: Success | None = None
        for key, k, v in self.items(node, path):
            if key == SUCCESS_KEY:
                success = self.success(k, v, self.join(path, key))
                continue
            if not self.metric_key(k, key, path):
                continue
            self.where.entry[(name, key)] = (k, v)
            entry = self.entry(key, k, v, f"{path}.{key}", defaults)
            if entry is not None:
                entries[key] = entry
        return ScenarioBudget(name=name, entries=entries, success=success, line=line)

    def metric_key(self, keynode: ScalarNode, key: str, path: str) -> bool:
        found = _key_problem(key)
        if found is None:
            return True
        expected, hint = found
        if key in ENTRY_KEYS:
            hint = f"{key} belongs inside a metric's entry, e.g. tokens_context: {{{key}: ...}}"
        shown = key if expected.startswith("names an unknown") else _key_segment(key)
        self.add(keynode, f"{path}.{shown}", expected, "", hint)
        return False

    def entry(self, key: str, keynode: ScalarNode, node: Node, path: str,
              defaults: Defaults) -> Entry | None:
        metric = split_key(key)[1]
        quality = metric_class(metric) == "quality"
        unit = unit_of(metric)
        line = int(keynode.start_mark.line) + 1
        if isinstance(node, ScalarNode) and _scalar(node) is None:
            items: list[tuple[str, ScalarNode, Node]] = []
        elif self.mapping(node, path, "{baseline: 3104}", keynode):
            items = self.items(node, path)
        else:
            return None
        got: dict[str, Any] = {}
        ok = True
        for name, k, v in items:
            fpath = f"{path}.{name}"
            value: Any = None
            if name in ("baseline", "budget"):
                value = self.number(k, v, fpath, unit=unit)
            elif name == "tolerance":
                if quality:
                    self.add(k, fpath, "does not apply to a quality score", "",
                             "write quality_drop for how far the score may fall")
                else:
                    value = self.tolerance(k, v, fpath, unit)
            elif name == "quality_drop":
                if not quality:
                    self.add(k, fpath, "applies only to quality scores", "",
                             "write tolerance for how far a cost may rise")
                else:
                    value = self.tolerance(k, v, fpath, "score points", max_relative=1.0)
            elif name == "stat":
                value = self.choice(k, v, fpath, STATS)
            elif name == "severity":
                value = self.choice(k, v, fpath, SEVERITIES)
            elif name == "n":
                value = self.integer(k, v, fpath, 0)
            elif name == "se":
                value = self.number(k, v, fpath, unit=unit)
            elif name == "source" and key.rsplit(".", 1)[-1] == "cost_usd":
                # a cost's source is the price table's version (see prices.py)
                value = self.text(k, v, fpath)
            elif name == "source":
                value = self.choice(k, v, fpath, SOURCE_LABELS)
            else:
                self.unknown(k, path, name, ENTRY_KEYS, "entry")
                ok = False
                continue
            if value is None:
                ok = False
            got[name] = value
        if not ok:
            return None
        tolerance = None if quality else got.get("tolerance", defaults.tolerance)
        quality_drop = got.get("quality_drop", defaults.quality_drop) if quality else None
        return Entry(
            key=key,
            baseline=got.get("baseline"),
            budget=got.get("budget"),
            tolerance=tolerance,
            quality_drop=quality_drop,
            stat=got.get("stat", defaults.stat),
            severity=got.get("severity", defaults.severity),
            n=got.get("n"),
            se=got.get("se"),
            source=got.get("source"),
            line=line,
        )

    def success(self, keynode: ScalarNode, node: Node, path: str) -> Success | None:
        if not self.mapping(node, path, "{metric: ragas_answer_correctness, min: 0.7}", keynode):
            return None
        got: dict[str, Any] = {}
        for name, k, v in self.items(node, path):
            fpath = f"{path}.{name}"
            if name == "metric":
                value = self.text(k, v, fpath)
                if value is not None and (not NAME_RE.match(value)
                                          or metric_class(value) != "quality"):
                    self.add(k, fpath, "must name a quality score", repr(value),
                             "e.g. ragas_answer_correctness, ragas_faithfulness or hit_at_k")
                    value = None
                got[name] = value
            elif name == "min":
                got[name] = self.number(k, v, fpath)
            else:
                self.unknown(k, path, name, SUCCESS_KEYS, "success")
                got[name] = None
        for required in SUCCESS_KEYS:
            if required not in got:
                self.add(keynode, f"{path}.{required}", "is missing", "",
                         "success needs both metric and min")
        if any(v is None for v in got.values()) or len(got) < len(SUCCESS_KEYS):
            return None
        return Success(metric=got["metric"], min=got["min"],
                       line=int(keynode.start_mark.line) + 1)

    def judge(self, keynode: ScalarNode, node: Node) -> Judge | None:
        if isinstance(node, ScalarNode) and _scalar(node) is None:
            return None
        if not self.mapping(node, "judge", "{model: gpt-4o-mini, api_key_env: OPENAI_API_KEY}",
                            keynode):
            return None
        got: dict[str, Any] = {}
        for name, k, v in self.items(node, "judge"):
            path = f"judge.{name}"
            value: Any
            if name in ("model", "base_url"):
                value = self.text(k, v, path)
            elif name == "api_key_env":
                value = self.text(k, v, path)
                if value is not None and not _ENV_VAR_RE.match(value):
                    self.add(k, path, "must be the name of an environment variable", repr(value),
                             "name the variable (OPENAI_API_KEY), never the key itself")
                    value = None
            elif name == "concurrency":
                value = self.integer(k, v, path, 1)
            elif name == "retries":
                value = self.integer(k, v, path, 0)
            elif name == "timeout_s":
                value = self.number(k, v, path, positive=True, unit="seconds")
            else:
                self.unknown(k, "judge", name, JUDGE_KEYS, "judge")
                continue
            if value is not None:
                got[name] = float(value) if name == "timeout_s" else value
        return Judge(**got)

    def prices(self, keynode: ScalarNode, node: Node) -> dict[str, ModelRates]:
        out: dict[str, ModelRates] = {}
        if isinstance(node, ScalarNode) and _scalar(node) is None:
            return out
        example = "{gpt-4o-mini: {input_per_mtok: 0.15, output_per_mtok: 0.6}}"
        if not self.mapping(node, "prices", example, keynode):
            return out
        for model, k, v in self.items(node, "prices"):
            path = self.join("prices", model)
            if not self.mapping(v, path, "{input_per_mtok: 0.15, output_per_mtok: 0.6}", k):
                continue
            got: dict[str, float | None] = {}
            for name, pk, pv in self.items(v, path):
                if name in PRICE_KEYS:
                    got[name] = self.number(pk, pv, f"{path}.{name}", unit="USD per million tokens")
                else:
                    self.unknown(pk, path, name, PRICE_KEYS, "price")
            for required in PRICE_KEYS[:2]:
                if required not in got:
                    self.add(k, f"{path}.{required}", "is missing", "",
                             "a price needs input_per_mtok and output_per_mtok")
            if all(got.get(r) is not None for r in PRICE_KEYS[:2]) and all(
                x is not None for x in got.values()
            ):
                out[model] = ModelRates(
                    input_per_mtok=cast(float, got["input_per_mtok"]),
                    output_per_mtok=cast(float, got["output_per_mtok"]),
                    cached_input_per_mtok=got.get("cached_input_per_mtok"),
                )
        return out

    def plain(self, node: Node, path: str, depth: int) -> object:
        """Environment values as plain Python data (mappings, lists, scalars)."""
        if depth > _MAX_ENV_DEPTH:
            self.add(node, path, f"is nested deeper than {_MAX_ENV_DEPTH} levels", "",
                     "keep the environment fingerprint flat")
            return None
        if isinstance(node, MappingNode):
            return {name: self.plain(v, self.join(path, name), depth + 1)
                    for name, _k, v in self.items(node, path)}
        if isinstance(node, SequenceNode):
            return [self.plain(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(node.value)]
        return _scalar(cast(ScalarNode, node))


def _key_problem(key: str) -> tuple[str, str] | None:
    """Why ``key`` is not a valid metric key, as (expected, hint); ``None`` when valid."""
    try:
        stage, metric = split_key(key)
    except ValueError:
        return ("must be 'metric' or 'stage.metric'",
                "use at most one dot, with a name on both sides (generate.wall_ms)")
    if stage is not None and not NAME_RE.match(stage):
        return (f"has a stage name {stage!r} that is not an identifier",
                "stage names use letters, digits, '_' and '-', and start with a letter or '_'")
    if not NAME_RE.match(metric) or metric_class(metric) == "unknown":
        close = difflib.get_close_matches(metric, KNOWN_METRICS, n=1, cutoff=0.6)
        known = "wall_ms, cpu_ms, energy_j, tokens_context, cost_usd, tokens_<kind>, count_<name>"
        known += ", ragas_<metric>"
        hint = (f"did you mean {close[0]!r}? " if close else "") + f"valid metrics include {known}"
        return (f"names an unknown metric {metric!r}", hint)
    if stage is not None and metric_class(metric) == "quality":
        return ("puts a quality score under a stage",
                f"quality scores belong to the whole scenario; write {metric!r} alone")
    return None


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class _Source:
    text: str
    bom: bool
    crlf: bool


def _read(path: Path, display: str) -> _Source | None:
    """The file's text with newlines normalised, or ``None`` when it does not exist."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:  # ValueError: a NUL byte in the path
        reason = getattr(exc, "strerror", None) or str(exc)
        raise BudgetError([Problem(display, None, "", "cannot be read", reason,
                                   "check the path and its permissions")]) from None
    bom = data.startswith(b"\xef\xbb\xbf")
    if bom:
        data = data[3:]
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise BudgetError([Problem(display, line, "", "is not UTF-8 text",
                                   f"byte 0x{data[exc.start]:02x}",
                                   "save the file as UTF-8")]) from None
    crlf = "\r\n" in text
    return _Source(text.replace("\r\n", "\n"), bom, crlf)


def _check_text(text: str, display: str, path: Path, exists: bool = True,
                ) -> tuple[Budget, _Located]:
    root, problems = _compose(text, display)
    if problems:
        raise BudgetError(problems)
    if root is not None:
        problems = _prewalk(root, display)
        if problems:
            raise BudgetError(problems)
    checker = _Checker(display, path)
    budget = checker.check(root, exists)
    if checker.problems or budget is None:
        raise BudgetError(sorted(checker.problems, key=lambda p: (p.line or 0)))
    return budget, checker.where


def loads(text: str, path: str | os.PathLike[str] = "ragcost.yaml") -> Budget:
    """Check budget text (as if read from ``path``); raises :class:`BudgetError`."""
    p = Path(path)
    return _check_text(text.replace("\r\n", "\n").removeprefix("\ufeff"), str(p), p)[0]


def load(path: str | os.PathLike[str]) -> Budget:
    """Read and check ``ragcost.yaml``.

    A missing file gives an empty budget (``exists=False``) so ``--ragcost-update`` can
    create it. Any other trouble raises :class:`BudgetError` listing every problem.
    """
    p = Path(path)
    display = str(path)
    src = _read(p, display)
    if src is None:
        return Budget(path=p, exists=False)
    return _check_text(src.text, display, p)[0]


# --------------------------------------------------------------------------- update


@dataclass(frozen=True)
class Measured:
    """A fresh value to bless: ``value`` is ``stat`` over ``n`` requests, ``se`` its error."""

    value: float
    n: int | None = None
    se: float | None = None
    source: str | None = None
    stat: Stat = "mean"


@dataclass(frozen=True)
class BaselineChange:
    """One baseline that :func:`update` wrote (``old`` is ``None`` for a new entry)."""

    scenario: str
    key: str
    old: float | None
    new: float


@dataclass(frozen=True)
class Skipped:
    """A measured value :func:`update` left alone, and why."""

    scenario: str
    key: str
    reason: str


@dataclass(frozen=True)
class UpdateResult:
    """What a bless did. ``written`` is false when the file already said all of it."""

    path: Path
    changes: tuple[BaselineChange, ...] = ()
    skipped: tuple[Skipped, ...] = ()
    created: bool = False
    written: bool = False


_SIG_DIGITS: Mapping[str, int] = {"noisy": 4, "quality": 4, "derived": 6}


def _float_text(value: float) -> str:
    text = repr(float(value))
    if "e" in text and "." not in text.split("e")[0]:
        # YAML readers want a dot in the mantissa to see a float: 1e-05 -> 1.0e-05
        mantissa, exp = text.split("e")
        text = f"{mantissa}.0e{exp}"
    return text


def format_baseline(key: str, value: float) -> tuple[str, float]:
    """How :func:`update` writes ``value`` for ``key``: (YAML text, the number it reads as).

    Exact metrics keep every digit (integers as integers) because they are compared
    exactly; noisy metrics and scores keep 4 significant digits, dollars 6, so a bless
    does not churn the diff with digits below the noise.
    """
    cls = metric_class(split_key(key)[1])
    if cls == "exact":
        if float(value).is_integer() and abs(value) < 2**53:
            return str(int(value)), float(int(value))
        return _float_text(value), float(value)
    rounded = float(f"{value:.{_SIG_DIGITS.get(cls, 6)}g}")
    return _float_text(rounded), rounded


def _se_text(se: float) -> str:
    return _float_text(float(f"{se:.3g}"))


_PLAIN_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]*$")
_RESERVED = frozenset({"null", "true", "false", "yes", "no", "on", "off", "y", "n", "~"})


def _yaml_str(text: str) -> str:
    """``text`` as a YAML scalar that reads back as exactly this string."""
    if _PLAIN_RE.match(text) and text.lower() not in _RESERVED:
        return text
    return _dq(text)


def _dq(text: str) -> str:
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


def _inline(value: object) -> str:
    """Flow-style YAML for an environment value."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return ".nan"
        if math.isinf(value):
            return ".inf" if value > 0 else "-.inf"
        return _float_text(value)
    if isinstance(value, str):
        return _yaml_str(value)
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{_yaml_str(str(k))}: {_inline(v)}" for k, v in value.items()) + "}"
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_inline(v) for v in value) + "]"
    return _yaml_str(str(value))


def _environment_lines(env: Mapping[str, Any], indent: int, step: int) -> list[str]:
    lines: list[str] = []
    pad = " " * indent
    for k, v in env.items():
        if isinstance(v, Mapping) and v:
            lines.append(f"{pad}{_yaml_str(str(k))}:")
            lines.extend(_environment_lines(v, indent + step, step))
        else:
            lines.append(f"{pad}{_yaml_str(str(k))}: {_inline(v)}")
    return lines


def _check_environment(env: object, path: str, display: str, depth: int = 0) -> list[Problem]:
    if depth > _MAX_ENV_DEPTH:
        return [Problem(display, None, path, "is nested too deeply", "", "keep it flat")]
    if isinstance(env, Mapping):
        problems: list[Problem] = []
        for k, v in env.items():
            if not isinstance(k, str) or not _encodable(k):
                problems.append(Problem(display, None, path, "must have string keys", repr(k), ""))
                continue
            problems += _check_environment(v, f"{path}.{_key_segment(k)}", display, depth + 1)
        return problems
    if isinstance(env, list | tuple):
        return [p for i, v in enumerate(env)
                for p in _check_environment(v, f"{path}[{i}]", display, depth + 1)]
    if env is None or isinstance(env, bool | int | float):
        return []
    if isinstance(env, str) and _encodable(env):
        return []
    return [Problem(display, None, path, "must be a string, number, boolean, list or mapping",
                    repr(env), "convert it to a string first")]


def _encodable(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _non_negative(value: object) -> bool:
    """A real, finite, non-negative number (an int too large for a float is not)."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return False
    try:
        number = float(value)
    except OverflowError:
        return False
    return math.isfinite(number) and number >= 0


def _check_measured(measured: Mapping[str, Mapping[str, Measured]], display: str,
                    ) -> list[Problem]:
    problems: list[Problem] = []
    for scenario, keys in measured.items():
        shown = _key_segment(scenario) if isinstance(scenario, str) else repr(scenario)
        spath = f"scenarios.{shown}"
        if not isinstance(scenario, str) or not scenario.strip() or not _encodable(scenario):
            problems.append(Problem(display, None, spath, "must be a non-empty scenario name",
                                    repr(scenario), "pass the scenario's name as a string"))
            continue
        for key, m in keys.items():
            kpath = f"{spath}.{key}"
            why = _key_problem(key) if isinstance(key, str) else ("must be a string", "")
            if why is not None:
                problems.append(Problem(display, None, kpath, why[0], "", why[1]))
                continue
            if not isinstance(m, Measured):
                problems.append(Problem(display, None, kpath, "must be a Measured value",
                                        type(m).__name__, ""))
                continue
            bad = []
            if not _non_negative(m.value):
                bad.append(("value", repr(m.value)))
            if m.n is not None and (isinstance(m.n, bool) or not isinstance(m.n, int) or m.n < 0):
                bad.append(("n", repr(m.n)))
            if m.se is not None and not _non_negative(m.se):
                bad.append(("se", repr(m.se)))
            priced = isinstance(key, str) and key.rsplit(".", 1)[-1] == "cost_usd"
            if m.source is not None and not (
                m.source in SOURCE_LABELS
                or (priced and isinstance(m.source, str) and m.source.strip())
            ):
                bad.append(("source", repr(m.source)))
            if m.stat not in STATS:
                bad.append(("stat", repr(m.stat)))
            problems.extend(
                Problem(display, None, f"{kpath}.{name}", "is not a value ragcost.yaml can hold",
                        found, "measured values are finite and non-negative, with known labels")
                for name, found in bad
            )
    return problems


@dataclass(frozen=True)
class _Write:
    """One entry to write: its fields as YAML text (``None`` removes the field)."""

    scenario: str
    key: str
    fields: Mapping[str, str | None]
    new_fields: Mapping[str, str]  # extra fields written only when the entry is created


@dataclass(frozen=True)
class _Edit:
    start: int
    end: int
    text: str


def _plan(budget: Budget, measured: Mapping[str, Mapping[str, Measured]], mode: UpdateMode,
          ) -> tuple[list[_Write], list[BaselineChange], list[Skipped]]:
    writes: list[_Write] = []
    changes: list[BaselineChange] = []
    skipped: list[Skipped] = []
    for scenario in measured:
        for key in sorted(measured[scenario]):
            m = measured[scenario][key]
            entry = budget.entry(scenario, key)
            text, value = format_baseline(key, float(m.value))
            old = entry.baseline if entry is not None else None
            if entry is not None and entry.stat != m.stat:
                skipped.append(Skipped(scenario, key,
                                       f"the entry gates {entry.stat} but {m.stat} was measured"))
                continue
            if mode == "improvements" and old is not None:
                quality = metric_class(split_key(key)[1]) == "quality"
                better = value > old if quality else value < old
                if not better:
                    skipped.append(Skipped(scenario, key, "not an improvement"))
                    continue
            fields: dict[str, str | None] = {
                "baseline": text,
                "n": None if m.n is None else str(int(m.n)),
                "se": None if m.se is None else _se_text(float(m.se)),
                "source": None if m.source is None else _yaml_str(m.source),
            }
            extra = {} if m.stat == budget.defaults.stat else {"stat": m.stat}
            writes.append(_Write(scenario, key, fields, extra))
            if old != value:
                changes.append(BaselineChange(scenario, key, old, value))
    return writes, changes, skipped


def _flow_entry(write: _Write) -> str:
    parts = [f"{name}: {text}" for name, text in write.fields.items() if text is not None]
    parts += [f"{name}: {text}" for name, text in write.new_fields.items()]
    return "{" + ", ".join(parts) + "}"


def _is_empty(node: Node) -> bool:
    """A null value, or an empty flow mapping ``{}``: both are filled as new blocks."""
    if isinstance(node, ScalarNode):
        return _scalar(node) is None
    return isinstance(node, MappingNode) and not node.value


def _line_end(text: str, index: int) -> int:
    nl = text.find("\n", index)
    return len(text) if nl < 0 else nl


def _line_start(text: str, index: int) -> int:
    return text.rfind("\n", 0, index) + 1


def _content_end(text: str, node: Node, fallback: int) -> int:
    """Where the last character of ``node`` is, ignoring the blank lines it swallowed."""
    if isinstance(node, MappingNode) and not node.flow_style and node.value:
        k, v = node.value[-1]
        return _content_end(text, v, int(k.end_mark.index))
    if isinstance(node, SequenceNode) and not node.flow_style and node.value:
        last = node.value[-1]
        return _content_end(text, last, int(last.start_mark.index))
    start, end = int(node.start_mark.index), int(node.end_mark.index)
    if end <= start:
        return fallback
    while end > start and text[end - 1] in " \t\n":
        end -= 1
    return end


def _colon_after(text: str, keynode: Node) -> int:
    return text.find(":", int(keynode.end_mark.index))


class _Splicer:
    """Turns planned writes into text edits that leave every other byte alone."""

    def __init__(self, text: str, where: _Located) -> None:
        self.text = text
        self.where = where
        self.step = where.indent_step or 2
        self.edits: list[_Edit] = []

    def apply(self) -> str:
        out = self.text
        # back to front so earlier offsets stay valid; of two insertions at one place the
        # one planned first (an existing scenario's new entry) must come out first
        order = sorted(enumerate(self.edits), key=lambda ie: (ie[1].start, ie[1].end, ie[0]),
                       reverse=True)
        for _seq, e in order:
            out = out[: e.start] + e.text + out[e.end :]
        return out

    def insert_lines(self, after: int, lines: list[str]) -> None:
        """New lines below the line holding index ``after``."""
        pos = _line_end(self.text, after)
        self.edits.append(_Edit(pos, pos, "".join("\n" + line for line in lines)))

    def fill(self, keynode: Node, node: Node, lines: list[str]) -> None:
        """Replace an empty value (``~``, nothing, ``{}``) by a block of ``lines``."""
        start, end = int(node.start_mark.index), int(node.end_mark.index)
        if end > start:
            colon = _colon_after(self.text, keynode)
            if 0 <= colon < start and "\n" not in self.text[colon:start]:
                start = colon + 1  # also drop the space that separated the value
            self.edits.append(_Edit(start, end, ""))
        self.insert_lines(int(keynode.end_mark.index), lines)

    def add_items(self, keynode: Node, node: Node, items: list[tuple[str, str]],
                  render_block: Callable[[str, str, int], list[str]]) -> None:
        """Append ``key: value`` items to a mapping, in the mapping's own style."""
        if _is_empty(node):
            indent = int(keynode.start_mark.column) + self.step
            self.fill(keynode, node, [ln for k, v in items for ln in render_block(k, v, indent)])
            return
        mapping = cast(MappingNode, node)
        if mapping.flow_style:
            close = int(mapping.end_mark.index) - 1
            body = ", ".join(f"{k}: {v}" for k, v in items)
            self.edits.append(_Edit(close, close, (", " if mapping.value else "") + body))
            return
        indent = int(mapping.value[0][0].start_mark.column)
        end = _content_end(self.text, mapping, int(keynode.end_mark.index))
        self.insert_lines(end, [ln for k, v in items for ln in render_block(k, v, indent)])

    def entry(self, keynode: ScalarNode, node: Node, write: _Write) -> None:
        if _is_empty(node):
            colon = _colon_after(self.text, keynode)
            start, end = int(node.start_mark.index), int(node.end_mark.index)
            if end > start:
                self.edits.append(_Edit(start, end, _flow_entry(write)))
            else:
                self.edits.append(_Edit(colon + 1, colon + 1, " " + _flow_entry(write)))
            return
        mapping = cast(MappingNode, node)
        present = {str(k.value): (i, k, v) for i, (k, v) in enumerate(mapping.value)}
        added: list[tuple[str, str]] = []
        for name, text in write.fields.items():
            if name in present:
                i, _k, v = present[name]
                if text is None:
                    self.remove(mapping, i)
                else:
                    self.edits.append(_Edit(int(v.start_mark.index), int(v.end_mark.index), text))
            elif text is not None:
                added.append((name, text))
        if not added:
            return
        # evidence sits next to the baseline it describes; a new baseline leads its entry
        pad = "" if mapping.flow_style else " " * int(mapping.value[0][0].start_mark.column)
        if "baseline" in present:
            _i, bkey, bvalue = present["baseline"]
            if mapping.flow_style:
                pos = int(bvalue.end_mark.index)
                self.edits.append(_Edit(pos, pos, "".join(f", {k}: {v}" for k, v in added)))
            else:
                end = _content_end(self.text, bvalue, int(bkey.end_mark.index))
                self.insert_lines(end, [f"{pad}{k}: {v}" for k, v in added])
        elif mapping.flow_style:
            opening = int(mapping.start_mark.index) + 1
            body = ", ".join(f"{k}: {v}" for k, v in added)
            self.edits.append(_Edit(opening, opening, body + ", "))
        else:
            first = _line_start(self.text, int(mapping.value[0][0].start_mark.index))
            self.edits.append(_Edit(first, first, "".join(f"{pad}{k}: {v}\n" for k, v in added)))

    def remove(self, mapping: MappingNode, i: int) -> None:
        k, v = mapping.value[i]
        if mapping.flow_style:
            if i > 0:
                start = int(mapping.value[i - 1][1].end_mark.index)
                self.edits.append(_Edit(start, int(v.end_mark.index), ""))
            elif len(mapping.value) > 1:
                nxt = int(mapping.value[1][0].start_mark.index)
                self.edits.append(_Edit(int(k.start_mark.index), nxt, ""))
            else:
                self.edits.append(_Edit(int(k.start_mark.index), int(v.end_mark.index), ""))
            return
        start = _line_start(self.text, int(k.start_mark.index))
        end = _line_end(self.text, _content_end(self.text, v, int(k.end_mark.index)))
        self.edits.append(_Edit(start, min(end + 1, len(self.text)), ""))


def _scenario_block(name: str, entries: list[_Write], indent: int, step: int) -> list[str]:
    pad = " " * indent
    lines = [f"{pad}{_yaml_str(name)}:"]
    lines += [f"{pad}{' ' * step}{_yaml_str(w.key)}: {_flow_entry(w)}" for w in entries]
    return lines


def _render(text: str, where: _Located, writes: list[_Write],
            environment: Mapping[str, Any] | None) -> str:
    """The new file text: ``text`` with ``writes`` and ``environment`` spliced in."""
    sp = _Splicer(text, where)
    step = sp.step
    by_scenario: dict[str, list[_Write]] = {}
    for w in writes:
        by_scenario.setdefault(w.scenario, []).append(w)
    new_scenarios: list[tuple[str, list[_Write]]] = []
    for name, ws in by_scenario.items():
        if name not in where.scenario:
            new_scenarios.append((name, ws))
            continue
        skey, snode = where.scenario[name]
        added = []
        for w in ws:
            if (name, w.key) in where.entry:
                sp.entry(*where.entry[(name, w.key)], w)
            else:
                added.append(w)
        if added:
            sp.add_items(skey, snode, [(_yaml_str(w.key), _flow_entry(w)) for w in added],
                         lambda k, v, ind: [f"{' ' * ind}{k}: {v}"])
    tail: list[str] = []
    new_scenarios.sort(key=lambda item: item[0])
    if new_scenarios:
        if where.scenarios is None:
            tail.append("scenarios:")
            for name, ws in new_scenarios:
                tail += _scenario_block(name, ws, step, step)
        else:
            skey, snode = where.scenarios
            items = [(_yaml_str(name), "{" + ", ".join(
                f"{_yaml_str(w.key)}: {_flow_entry(w)}" for w in ws) + "}")
                for name, ws in new_scenarios]
            blocks = {(_yaml_str(name)): ws for name, ws in new_scenarios}

            def block(k: str, _v: str, indent: int) -> list[str]:
                return [f"{' ' * indent}{k}:"] + [
                    f"{' ' * (indent + step)}{_yaml_str(w.key)}: {_flow_entry(w)}"
                    for w in blocks[k]
                ]

            sp.add_items(skey, snode, items, block)
    if environment is not None:
        lines = ["environment:" + (" {}" if not environment else "")]
        lines += _environment_lines(environment, step, step)
        if where.environment is not None:
            ekey, enode = where.environment
            start = _line_start(text, int(ekey.start_mark.index))
            end = _line_end(text, _content_end(text, enode, int(ekey.end_mark.index)))
            sp.edits.append(_Edit(start, end, "\n".join(lines)))
        else:
            tail += lines
    out = sp.apply()
    if tail:
        if out and not out.endswith("\n"):
            out += "\n"
        out += "\n".join(tail) + "\n"
    return out


_HEADER = """\
# ragcost.yaml: cost and quality budgets for pytest-ragcost.
# `pytest --ragcost --ragcost-update` rewrites baselines (and their n, se, source);
# everything else here is yours: tolerances, budgets, severities, comments.
version: 1
defaults:
  tolerance: 5%        # a cost may rise this much over its baseline
  quality_drop: 1%     # a quality score may drop this much below its baseline
"""


def _atomic_write(path: Path, text: str, display: str) -> None:
    """Replace ``path`` with ``text`` so a reader sees the old file or the new, never half."""
    try:
        mode = stat_module.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        umask = os.umask(0)
        os.umask(umask)
        mode = 0o666 & ~umask
    directory = path.parent if str(path.parent) else Path(".")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(text.encode("utf-8"))
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException as exc:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        if isinstance(exc, OSError):
            raise BudgetError([Problem(display, None, "", "could not be written",
                                       exc.strerror or str(exc),
                                       "the old file is unchanged; check permissions and space")]
                              ) from None
        raise
    with contextlib.suppress(OSError):
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)


def update(
    path: str | os.PathLike[str],
    measured: Mapping[str, Mapping[str, Measured]],
    *,
    mode: UpdateMode = "all",
    environment: Mapping[str, Any] | None = None,
) -> UpdateResult:
    """Bless ``measured`` values as the baselines of ``path``, in place and atomically.

    Only ``baseline`` and its evidence (``n``, ``se``, ``source``) of the measured
    entries change; a measured key without an entry is added after the existing ones
    (sorted), a new scenario at the end. ``mode="improvements"`` only lowers cost
    baselines and raises quality baselines (a missing baseline is always written).
    ``environment``, when given, replaces the ``environment:`` block. A broken file is
    left untouched and reported with :class:`BudgetError`.
    """
    if mode not in ("all", "improvements"):
        raise ValueError(f"mode must be 'all' or 'improvements', not {mode!r}")
    p = Path(path)
    display = str(path)
    src = _read(p, display)
    problems = _check_measured(measured, display)
    if environment is not None:
        problems += _check_environment(environment, "environment", display)
    if problems:
        raise BudgetError(problems)
    text = _HEADER if src is None else src.text
    budget, where = _check_text(text, display, p)
    writes, changes, skipped = _plan(budget, measured, mode)
    if where.root is None and (writes or environment is not None):
        # an existing file holding only comments: keep them, then start the document
        if not text.strip():
            text = _HEADER
        else:
            text += ("" if text.endswith("\n") else "\n") + _HEADER.split("\n", 3)[3]
        budget, where = _check_text(text, display, p)
    new_text = _render(text, where, writes, environment)
    _verify(new_text, display, p, writes, environment)
    old_text = None if src is None else src.text
    written = new_text != old_text
    if written:
        out = new_text.replace("\n", "\r\n") if src is not None and src.crlf else new_text
        if src is not None and src.bom:
            out = "\ufeff" + out
        _atomic_write(p, out, display)
    return UpdateResult(
        path=p,
        changes=tuple(changes),
        skipped=tuple(skipped),
        created=src is None and written,
        written=written,
    )


def _verify(text: str, display: str, path: Path, writes: list[_Write],
            environment: Mapping[str, Any] | None) -> None:
    """Re-read the new text: a splice that went wrong must never reach the disk."""
    try:
        budget = _check_text(text, display, path)[0]
    except BudgetError as exc:
        raise BudgetError([
            Problem(display, None, "", "could not be updated in place (the layout is unusual)",
                    "; ".join(str(p) for p in exc.problems[:3]),
                    "the file is unchanged; please report this layout as a bug")
        ]) from None
    wrong = []
    for w in writes:
        entry = budget.entry(w.scenario, w.key)
        expected = {name: _scalar_text_value(text_) for name, text_ in w.fields.items()}
        got = None if entry is None else {
            "baseline": entry.baseline, "n": entry.n, "se": entry.se, "source": entry.source}
        if got != expected:
            wrong.append(f"{w.scenario}/{w.key}")
    if environment is not None and _normalise(budget.environment) != _normalise(environment):
        wrong.append("environment")
    if wrong:
        raise BudgetError([
            Problem(display, None, "", "could not be updated in place (the layout is unusual)",
                    ", ".join(wrong[:5]),
                    "the file is unchanged; please report this layout as a bug")
        ])


def _scalar_text_value(text: str | None) -> object:
    """The value a field written as ``text`` reads back as (numbers compare as floats)."""
    if text is None:
        return None
    try:
        return float(text)
    except ValueError:
        return text.strip('"')


def _normalise(value: object) -> object:
    if isinstance(value, Mapping):
        return {str(k): _normalise(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_normalise(v) for v in value]
    if isinstance(value, float) and math.isnan(value):
        return "nan"
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return float(value)
    return value
