"""Bless new baselines into ``ragcost.yaml`` in place.

**Blessing touches only the numbers it must.** :func:`update` splices new ``baseline``
values (and their evidence ``n``, ``se``, ``source``) into the original text, so
comments, key order, alignment, quoting and flow/block style stay byte for byte as they
were. The result is re-read and checked before it atomically replaces the old file.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from pytest_ragcost.run import (
    SOURCE_LABELS,
    STATS,
    UPDATE_MODES,
    Stat,
    UpdateMode,
    metric_class,
    split_key,
)

from ..files import locked, write_text_atomic
from .load import Located, check_text, key_problem, key_segment, read_source, scalar_value
from .schema import (
    MAX_COUNT,
    MAX_ENV_DEPTH,
    MAX_NUMBER,
    MIN_NUMBER,
    Budget,
    BudgetError,
    Problem,
    double_quoted,
)

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
    if 0 < abs(value) < MIN_NUMBER:
        return "0", 0.0  # below what ragcost.yaml holds: a cost this small is nothing
    cls = metric_class(split_key(key)[1])
    if cls == "exact":
        if float(value).is_integer() and abs(value) < 2**53:
            return str(int(value)), float(int(value))
        return _float_text(value), float(value)
    rounded = float(f"{value:.{_SIG_DIGITS.get(cls, 6)}g}")
    return _float_text(rounded), rounded


def _se_text(se: float) -> str:
    if se < MIN_NUMBER:
        return "0.0"
    return _float_text(float(f"{se:.3g}"))


_PLAIN_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_./-]*$")
_RESERVED = frozenset({"null", "true", "false", "yes", "no", "on", "off", "y", "n", "~"})


def _yaml_str(text: str) -> str:
    """``text`` as a YAML scalar that reads back as exactly this string."""
    if _PLAIN_RE.match(text) and text.lower() not in _RESERVED:
        return text
    return double_quoted(text)




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
    if depth > MAX_ENV_DEPTH:
        return [Problem(display, None, path, "is nested too deeply", "", "keep it flat")]
    if isinstance(env, Mapping):
        problems: list[Problem] = []
        for k, v in env.items():
            if not isinstance(k, str) or not _encodable(k):
                problems.append(Problem(display, None, path, "must have string keys", repr(k), ""))
                continue
            problems += _check_environment(v, f"{path}.{key_segment(k)}", display, depth + 1)
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
        shown = key_segment(scenario) if isinstance(scenario, str) else repr(scenario)
        spath = f"scenarios.{shown}"
        if not isinstance(scenario, str) or not scenario.strip() or not _encodable(scenario):
            problems.append(Problem(display, None, spath, "must be a non-empty scenario name",
                                    repr(scenario), "pass the scenario's name as a string"))
            continue
        for key, m in keys.items():
            kpath = f"{spath}.{key}"
            why = key_problem(key) if isinstance(key, str) else ("must be a string", "")
            if why is not None:
                problems.append(Problem(display, None, kpath, why[0], "", why[1]))
                continue
            if not isinstance(m, Measured):
                problems.append(Problem(display, None, kpath, "must be a Measured value",
                                        type(m).__name__, ""))
                continue
            bad = []
            if not _non_negative(m.value) or m.value > MAX_NUMBER:
                bad.append(("value", repr(m.value)))
            if m.n is not None and (
                isinstance(m.n, bool) or not isinstance(m.n, int) or not 0 <= m.n <= MAX_COUNT
            ):
                bad.append(("n", repr(m.n)))
            if m.se is not None and (not _non_negative(m.se) or m.se > MAX_NUMBER):
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
                        found, f"measured values are finite, from 0 to {MAX_NUMBER:g}, with "
                        "known labels")
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
        return scalar_value(node) is None
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

    def __init__(self, text: str, where: Located) -> None:
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


def _render(text: str, where: Located, writes: list[_Write],
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
        write_text_atomic(path, text)
    except OSError as exc:
        raise BudgetError([Problem(display, None, "", "could not be written",
                                   exc.strerror or str(exc),
                                   "the old file is unchanged; check permissions and space")]
                          ) from None


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
    if mode not in UPDATE_MODES:
        raise ValueError(f"mode must be 'all' or 'improvements', not {mode!r}")
    p = Path(path)
    display = str(path)
    try:
        lock = locked(p)
        lock.__enter__()
    except OSError as exc:
        raise BudgetError([Problem(display, None, "", "could not be updated",
                                   exc.strerror or str(exc), "check the path")]) from None
    try:
        # under the lock: a bless running beside this one has finished, and its baselines
        # are in the text read here, so both land
        return _update(p, display, measured, mode, environment)
    finally:
        lock.__exit__(None, None, None)


def _update(
    p: Path,
    display: str,
    measured: Mapping[str, Mapping[str, Measured]],
    mode: UpdateMode,
    environment: Mapping[str, Any] | None,
) -> UpdateResult:
    src = read_source(p, display, creating=True)
    problems = _check_measured(measured, display)
    if environment is not None:
        problems += _check_environment(environment, "environment", display)
    if problems:
        raise BudgetError(problems)
    text = _HEADER if src is None else src.text
    budget, where = check_text(text, display, p)
    writes, changes, skipped = _plan(budget, measured, mode)
    if where.root is None and (writes or environment is not None):
        # an existing file holding only comments: keep them, then start the document
        if not text.strip():
            text = _HEADER
        else:
            text += ("" if text.endswith("\n") else "\n") + _HEADER.split("\n", 3)[3]
        budget, where = check_text(text, display, p)
    new_text = _render(text, where, writes, environment)
    _verify(new_text, display, p, writes, environment)
    old_text = None if src is None else src.text
    written = new_text != old_text
    if written:
        out = new_text
        if src is not None and src.crlf:
            out = new_text.replace("\n", "\r\n")
        elif src is not None and src.cr:
            out = new_text.replace("\n", "\r")  # an old Mac file stays one
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
        budget = check_text(text, display, path)[0]
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
