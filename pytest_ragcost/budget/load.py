"""Read ``ragcost.yaml`` and check it with line numbers.

**Every problem is reported at once**, each with the file, the line, the key path, what
was expected, what was found and how to fix it. :func:`load` raises only
:class:`BudgetError`, whatever the bytes on disk are.

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

import difflib
import math
import os
import re
import warnings
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

from ruamel.yaml import YAML
from ruamel.yaml.error import MarkedYAMLError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode
from ruamel.yaml.reader import ReaderError

from pytest_ragcost.inputs import InputError, read_bytes
from pytest_ragcost.prices import ModelRates
from pytest_ragcost.quality.judge import STRUCTURED_MODES, JudgeSettings
from pytest_ragcost.run import (
    NAME_RE,
    SOURCE_LABELS,
    STATS,
    Tolerance,
    metric_class,
    split_key,
    unit_of,
)

from .schema import (
    DEFAULT_KEYS,
    ENTRY_KEYS,
    FILE_VERSION,
    JUDGE_KEYS,
    JUDGE_MISSES,
    KNOWN_METRICS,
    MAX_COUNT,
    MAX_ENV_DEPTH,
    MAX_NUMBER,
    MIN_NUMBER,
    NUMBER_RE,
    PRICE_KEYS,
    SEVERITIES,
    SUCCESS_KEY,
    SUCCESS_KEYS,
    TOP_KEYS,
    Budget,
    BudgetError,
    Defaults,
    Entry,
    Problem,
    ScenarioBudget,
    Success,
    double_quoted,
    finite,
    parse_tolerance,
    short_text,
)

_ENV_VAR_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_STD_TAG = "tag:yaml.org,2002:"
_ALLOWED_TAGS = frozenset(
    _STD_TAG + t for t in ("map", "seq", "str", "int", "float", "bool", "null", "timestamp")
)
_INT_RE = re.compile(r"^[+-]?(0o[0-7_]+|0x[0-9a-fA-F_]+|0b[01_]+|[0-9_]+)$")


def scalar_value(node: ScalarNode) -> object:
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
    value = scalar_value(cast(ScalarNode, node))
    if value is None:
        return "nothing"
    if isinstance(value, str):
        return repr(value) if len(value) <= 60 else repr(value[:57] + "...")
    return str(node.value)


def key_segment(name: str) -> str:
    return name if re.match(r"^[^.\s\[\]\"']+$", name) else double_quoted(name)


# --------------------------------------------------------------------------- parsing


@dataclass
class Located:
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
        self.where = Located()

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
        return f"{path}.{key_segment(name)}" if path else key_segment(name)

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
        value = scalar_value(node) if isinstance(node, ScalarNode) else None
        if isinstance(value, bool) or not isinstance(value, int | float) or not isinstance(
            node, ScalarNode
        ):
            hint = "write a plain number"
            if isinstance(value, str) and NUMBER_RE.match(value.strip()):
                hint = "remove the quotes so it reads as a number"
            self.add(keynode, path, "must be a number" + (f" in {unit}" if unit else ""),
                     _describe(node), hint)
            return None
        try:
            out = finite(value)
        except ValueError:
            self.add(keynode, path, "must be a finite number", str(node.value),
                     "NaN and infinity cannot be compared; write a real value")
            return None
        if out < 0 or (positive and out == 0):
            expected = "must be greater than 0" if positive else "must not be negative"
            self.add(keynode, path, expected, str(node.value),
                     "costs, scores and their tolerances are never negative")
            return None
        if out > MAX_NUMBER or 0 < out < MIN_NUMBER:
            self.add(keynode, path, f"must be 0 or between {MIN_NUMBER:g} and {MAX_NUMBER:g}",
                     short_text(str(node.value)),
                     "a value this far out cannot be compared; re-bless it with "
                     "--ragcost-update or write a real figure")
            return None
        return out

    def integer(self, keynode: Node, node: Node, path: str, minimum: int) -> int | None:
        value = scalar_value(node) if isinstance(node, ScalarNode) else None
        if isinstance(value, bool) or not isinstance(value, int):
            self.add(keynode, path, "must be a whole number", _describe(node),
                     f"write an integer of at least {minimum}")
            return None
        if value < minimum:
            self.add(keynode, path, f"must be at least {minimum}", str(value), "")
            return None
        if value > MAX_COUNT:
            self.add(keynode, path, f"must be from {minimum} to 2**53",
                     short_text(str(node.value)), "")
            return None
        return value

    def choice(self, keynode: Node, node: Node, path: str, options: Iterable[str]) -> str | None:
        opts = list(options)
        value = scalar_value(node) if isinstance(node, ScalarNode) else None
        if isinstance(value, str) and value in opts:
            return value
        hint = f"choose one of {', '.join(opts)}"
        if isinstance(value, str) and _SYNONYMS.get(value.lower()) in opts:
            hint = f"did you mean {_SYNONYMS[value.lower()]!r}? ({hint})"
        elif isinstance(value, str):
            close = difflib.get_close_matches(value, opts, n=1, cutoff=0.5)
            if close:
                hint = f"did you mean {close[0]!r}? ({hint})"
        self.add(keynode, path, f"must be one of {', '.join(opts)}", _describe(node), hint)
        return None

    def text(self, keynode: Node, node: Node, path: str) -> str | None:
        value = scalar_value(node) if isinstance(node, ScalarNode) else None
        if isinstance(value, str) and value and node.tag == _STD_TAG + "str":
            return value
        self.add(keynode, path, "must be a non-empty string", _describe(node),
                 "quote it if it looks like a number or a boolean")
        return None

    def tolerance(self, keynode: Node, node: Node, path: str, unit: str,
                  max_relative: float | None = None) -> Tolerance | None:
        value = scalar_value(node) if isinstance(node, ScalarNode) else None
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
            elif "at most 1e+15" in reason:
                hint = "a tolerance this large cannot be compared; write a real one"
            elif "at most" in reason:
                hint = "a score cannot drop by more than all of it"
            else:
                hint = "write a real percentage or number"
            self.add(keynode, path, reason, _describe(node), hint)
            return None

    # -- the document

    def check(self, root: Node | None, exists: bool) -> Budget | None:
        self.where.root = root
        if root is None or (isinstance(root, ScalarNode) and scalar_value(root) is None):
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
            value = scalar_value(vv) if isinstance(vv, ScalarNode) else None
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
            if not (isinstance(ev, ScalarNode) and scalar_value(ev) is None) and self.mapping(
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
        if isinstance(node, ScalarNode) and scalar_value(node) is None:
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
        if isinstance(node, ScalarNode) and scalar_value(node) is None:
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
        if isinstance(node, ScalarNode) and scalar_value(node) is None:
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
        found = key_problem(key)
        if found is None:
            return True
        expected, hint = found
        if key in ENTRY_KEYS:
            hint = f"{key} belongs inside a metric's entry, e.g. tokens_context: {{{key}: ...}}"
        shown = key if expected.startswith("names an unknown") else key_segment(key)
        self.add(keynode, f"{path}.{shown}", expected, "", hint)
        return False

    def entry(self, key: str, keynode: ScalarNode, node: Node, path: str,
              defaults: Defaults) -> Entry | None:
        metric = split_key(key)[1]
        quality = metric_class(metric) == "quality"
        unit = unit_of(metric)
        line = int(keynode.start_mark.line) + 1
        if isinstance(node, ScalarNode) and scalar_value(node) is None:
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

    def judge(self, keynode: ScalarNode, node: Node) -> JudgeSettings | None:
        if isinstance(node, ScalarNode) and scalar_value(node) is None:
            return None
        if not self.mapping(node, "judge", "{model: gpt-4o-mini, api_key_env: OPENAI_API_KEY}",
                            keynode):
            return None
        got: dict[str, Any] = {}
        before = len(self.problems)
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
            elif name == "structured_mode":
                value = self.text(k, v, path)
                if value is not None and value not in STRUCTURED_MODES:
                    self.add(k, path, f"must be one of {', '.join(STRUCTURED_MODES)}",
                             repr(value), "json for OpenAI; json_schema for llama.cpp or vLLM")
                    value = None
            else:
                self.unknown(k, "judge", name, JUDGE_KEYS, "judge")
                continue
            if value is not None:
                got[name] = float(value) if name == "timeout_s" else value
        if len(self.problems) != before:
            return None
        if "model" not in got:
            self.add(keynode, "judge.model", "is required", "a judge block without a model",
                     "name the judge model, e.g. model: gpt-4o-mini")
            return None
        try:
            return JudgeSettings(**got)
        except ValueError as exc:
            self.add(keynode, "judge", "is not usable", str(exc), "fix the judge block")
            return None

    def prices(self, keynode: ScalarNode, node: Node) -> dict[str, ModelRates]:
        out: dict[str, ModelRates] = {}
        if isinstance(node, ScalarNode) and scalar_value(node) is None:
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
        if depth > MAX_ENV_DEPTH:
            self.add(node, path, f"is nested deeper than {MAX_ENV_DEPTH} levels", "",
                     "keep the environment fingerprint flat")
            return None
        if isinstance(node, MappingNode):
            return {name: self.plain(v, self.join(path, name), depth + 1)
                    for name, _k, v in self.items(node, path)}
        if isinstance(node, SequenceNode):
            return [self.plain(v, f"{path}[{i}]", depth + 1) for i, v in enumerate(node.value)]
        return scalar_value(cast(ScalarNode, node))


def key_problem(key: str) -> tuple[str, str] | None:
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


#: what people write for a choice under another name (p50 is the median, not p95)
_SYNONYMS = {"p50": "median", "median50": "median", "avg": "mean", "average": "mean",
             "sum": "total", "maximum": "max", "p100": "max"}


# --------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class Source:
    text: str
    bom: bool
    crlf: bool
    cr: bool = False  # old-Mac line ends (CR alone), kept by a bless


#: Bounds that stop a pathological file before the YAML scanner sees it (its time grows
#: faster than linearly with a line's length: one 1 MiB comment line takes minutes). A
#: real ragcost.yaml of a hundred scenarios is some 100 KB, 2,000 lines, 200-character
#: lines at most.
MAX_BYTES = 1 << 20
MAX_LINES = 20_000
MAX_LINE_CHARS = 4_096

_FIX = (
    "a budget file holds scenarios' budgets, not data (is this the right file?); a suite "
    "this large can be split into directories, each run with its own --ragcost-config"
)


def _too_large(display: str, size: int) -> BudgetError:
    return BudgetError([Problem(
        display, None, "", f"is too large to be a budget file (limit {MAX_BYTES:,} bytes)",
        f"{size:,} bytes", _FIX)])


def _check_bounds(text: str, display: str) -> None:
    if len(text) > MAX_BYTES:
        raise _too_large(display, len(text.encode("utf-8", "surrogatepass")))
    lines = text.count("\n") + 1
    if lines > MAX_LINES:
        raise BudgetError([Problem(
            display, None, "", f"has too many lines for a budget file (limit {MAX_LINES:,}, "
            "about 2,000 scenarios)", f"{lines:,} lines", _FIX)])
    start = 0
    number = 1
    while start <= len(text):
        end = text.find("\n", start)
        if end == -1:
            end = len(text)
        if end - start > MAX_LINE_CHARS:
            raise BudgetError([Problem(
                display, number, "", f"has a line longer than {MAX_LINE_CHARS:,} characters",
                f"{end - start:,} characters",
                "break it up; a budget file's lines are short (a long comment or value is "
                "usually a paste gone wrong)")])
        start = end + 1
        number += 1


def read_source(path: Path, display: str, *, creating: bool = False) -> Source | None:
    """The file's text with newlines normalised, or ``None`` when it does not exist.

    Only a regular file is read (through symlinks): a directory, a device such as
    ``/dev/null``, a pipe or a dangling symlink is a problem, since baselines read from it
    would all be NEW and a bless would write its files beside it. With ``creating`` (a
    bless that may create the file) a dangling symlink is a new file at its target."""
    try:
        data = read_bytes(path, display=display, max_bytes=MAX_BYTES, what="budget file",
                          fix=_FIX)
    except InputError as exc:
        if creating and exc.what.startswith("is a symlink to") and not os.path.exists(path):
            return None
        if exc.what.startswith("is too large"):
            size = exc.found or "more"
            raise BudgetError([Problem(
                display, None, "",
                f"is too large to be a budget file (limit {MAX_BYTES:,} bytes)", size, _FIX,
            )]) from None
        raise BudgetError([Problem(display, None, "", "cannot be read", f"it {exc.what}",
                                   exc.fix or "check the path and its permissions")]) from None
    if data is None:
        return None
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
    if not crlf and "\r" in text and "\n" not in text:
        return Source(text.replace("\r", "\n"), bom, False, cr=True)
    return Source(text.replace("\r\n", "\n"), bom, crlf)


def check_text(text: str, display: str, path: Path, exists: bool = True,
                ) -> tuple[Budget, Located]:
    _check_bounds(text, display)
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
    return check_text(text.replace("\r\n", "\n").removeprefix("\ufeff"), str(p), p)[0]


def load(path: str | os.PathLike[str], *, creating: bool = False) -> Budget:
    """Read and check ``ragcost.yaml``.

    A missing file gives an empty budget (``exists=False``) so ``--ragcost-update`` can
    create it; a dangling symlink too when ``creating``. Any other trouble (a directory, a
    device, a dangling symlink when not creating) raises :class:`BudgetError` listing
    every problem.
    """
    p = Path(path)
    display = str(path)
    src = read_source(p, display, creating=creating)
    if src is None:
        return Budget(path=p, exists=False)
    return check_text(src.text, display, p)[0]

