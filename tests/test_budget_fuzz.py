"""Property tests: no bytes make ``load`` raise anything but BudgetError, and a bless reads back.

Inputs are random text, random bytes, and a valid ``ragcost.yaml`` mutated the way people
and merges break files: lines dropped, duplicated, re-indented, swapped, values retyped,
junk inserted. The settings keep the whole module to a few seconds.
"""

from __future__ import annotations

import math
import os
import re
import tempfile
from dataclasses import replace
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_ragcost.budget import (
    Budget,
    BudgetError,
    Measured,
    format_baseline,
    load,
    loads,
    update,
)
from pytest_ragcost.run import STATS

# RAGCOST_FUZZ_EXAMPLES=5000 digs deeper when the budget code changes
FUZZ = settings(
    max_examples=int(os.environ.get("RAGCOST_FUZZ_EXAMPLES", "150")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
    derandomize=False,
)

VALID = """\
# budgets
version: 1
defaults:
  tolerance: 5%        # costs
  quality_drop: 1%     # scores
  stat: mean
judge:
  model: gpt-4o-mini
  api_key_env: OPENAI_API_KEY
prices:
  gpt-4o-mini: {input_per_mtok: 0.15, output_per_mtok: 0.6}
scenarios:
  qa-typical:
    tokens_context:       {baseline: 3104}   # counted
    generate.wall_ms:     {baseline: 412.0, stat: p95, tolerance: 15%}
    energy_j:             {baseline: 3.41, n: 20, se: 0.2, source: estimated}
    cost_usd:             {budget: 0.002}
    ragas_context_recall:
      baseline: 0.91
      quality_drop: 2%
    success: {metric: ragas_answer_correctness, min: 0.7}
  ingest:
    wall_ms:
      baseline: 9000.0
      n: 5
  sketch:
  flowed: {cpu_ms: {baseline: 1.5}}
environment:
  id: abc
  cpu: {cores: 2}
"""
LINES = VALID.splitlines()

TOKENS = [
    "ten", "-1", "5%", "-5%", "150%", "10 %", "abc%", "[1, 2]", "{}", "{a: 1}", "~", "",
    ".nan", ".inf", "1e400", "true", "'quoted'", '"3"', "!foo x", "*a", "&a 1", "!!binary x",
    "p95", "warn", "0x1F", "1_000", "2026-01-01", "|\n  block", "{baseline: 1", "a: b: c",
    "\t", "#", "? x", "- item", "0", "3.5", "measured",
]

KEYS = [
    "wall_ms", "cpu_ms", "energy_j", "tokens_context", "tokens_total", "count_chunks",
    "errors", "cost_usd", "ragas_faithfulness", "mrr", "generate.wall_ms", "retrieve.cpu_ms",
    "generate.tokens_prompt", "rerank.energy_j", "peak_rss_mb",
]
SCENARIOS = ["qa-typical", "ingest", "sketch", "flowed", "new-one", "tests/t.py::x[1]", "true",
             "a: b", "ünï ✓"]


def _retype(line: str, token: str) -> str:
    # swap the first value after a colon for the token
    return re.sub(r"(:\s*)([^,{}\s#][^,{}#]*)", lambda m: m.group(1) + token, line, count=1)


@st.composite
def mutated(draw: st.DrawFn) -> str:
    lines = list(LINES)
    for _ in range(draw(st.integers(1, 4))):
        if not lines:
            break
        i = draw(st.integers(0, len(lines) - 1))
        op = draw(st.sampled_from(["drop", "dup", "indent", "retype", "insert", "swap", "chars"]))
        if op == "drop":
            del lines[i]
        elif op == "dup":
            lines.insert(i, lines[i])
        elif op == "indent":
            delta = draw(st.integers(-4, 4))
            lines[i] = " " * max(0, delta) + lines[i][max(0, -delta):]
        elif op == "retype":
            lines[i] = _retype(lines[i], draw(st.sampled_from(TOKENS)))
        elif op == "insert":
            lines.insert(i, draw(st.text(max_size=20)))
        elif op == "swap":
            j = draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        else:
            pos = draw(st.integers(0, len(lines[i])))
            lines[i] = lines[i][:pos] + draw(st.text(max_size=5)) + lines[i][pos:]
    return "\n".join(lines) + draw(st.sampled_from(["\n", "", "\n\n", "\r\n"]))


@st.composite
def valid_documents(draw: st.DrawFn) -> str:
    """Valid files in many layouts: indent widths, flow and block, comments, alignment."""
    step = draw(st.sampled_from([2, 3, 4]))
    comment = st.sampled_from(["", "", "  # note", "   # why: see #12"])

    def value_for(field: str, quality: bool) -> str:
        choices = {
            "baseline": ["0", "3104", "412.0", "0.91", "1.5e-3"],
            "budget": ["0.002", "5000", "1"],
            "stat": ["mean", "p95", "median"],
            "severity": ["warn", "fail"],
            "n": ["0", "20"],
            "se": ["0.2", "0"],
            "source": ["measured", "estimated", "timer"],
            "tolerance": ["5%", '"10%"', "0.5"],
            "quality_drop": ["1%", "0.02"],
        }
        return draw(st.sampled_from(choices[field]))

    def entry_lines(key: str, indent: int) -> list[str]:
        quality = key in ("ragas_faithfulness", "mrr")
        pool = ["baseline", "budget", "stat", "severity", "n", "se", "source",
                "quality_drop" if quality else "tolerance"]
        fields = draw(st.lists(st.sampled_from(pool), unique=True, max_size=5))
        pad = " " * indent
        gap = " " * draw(st.integers(1, 6))
        style = draw(st.sampled_from(["flow", "flow", "block", "null"]))
        if style == "null" or (style == "block" and not fields):
            return [f"{pad}{key}:{draw(comment)}"]
        if style == "flow":
            body = ", ".join(f"{f}: {value_for(f, quality)}" for f in fields)
            return [f"{pad}{key}:{gap}{{{body}}}{draw(comment)}"]
        lines = [f"{pad}{key}:{draw(comment)}"]
        for f in fields:
            if draw(st.booleans()):
                lines.append(f"{pad}{' ' * step}# about {f}")
            lines.append(f"{pad}{' ' * step}{f}: {value_for(f, quality)}{draw(comment)}")
        return lines

    def scenario_lines(name: str, indent: int) -> list[str]:
        pad = " " * indent
        quoted = name if re.match(r"^[a-z-]+$", name) else '"' + name.replace('"', '\\"') + '"'
        style = draw(st.sampled_from(["block", "block", "block", "flow", "null", "empty"]))
        keys = draw(st.lists(st.sampled_from(KEYS), unique=True, max_size=4))
        if style == "null" or (style == "block" and not keys):
            return [f"{pad}{quoted}:{draw(comment)}"]
        if style == "empty":
            return [f"{pad}{quoted}: {{}}{draw(comment)}"]
        if style == "flow":
            body = ", ".join(f"{k}: {{baseline: 1}}" for k in keys)
            return [f"{pad}{quoted}: {{{body}}}{draw(comment)}"]
        lines = [f"{pad}{quoted}:"]
        for k in keys:
            lines += entry_lines(k, indent + step)
        return lines

    sections: dict[str, list[str]] = {"version": ["version: 1"]}
    if draw(st.booleans()):
        sections["defaults"] = ["defaults:", f"{' ' * step}tolerance: 5%{draw(comment)}"]
    names = draw(st.lists(st.sampled_from(SCENARIOS[:6]), unique=True, max_size=4))
    scen_style = draw(st.sampled_from(["block", "block", "absent", "null", "empty"]))
    if scen_style == "block" and names:
        sections["scenarios"] = ["scenarios:"] + [
            line for name in names for line in scenario_lines(name, step)]
    elif scen_style in ("null", "empty") or (scen_style == "block" and not names):
        sections["scenarios"] = ["scenarios:" + (" {}" if scen_style == "empty" else "")]
    if draw(st.booleans()):
        sections["environment"] = ["environment:", f"{' ' * step}id: abc{draw(comment)}"]
    order = draw(st.permutations(list(sections)))
    out: list[str] = []
    if draw(st.booleans()):
        out.append("# ragcost budgets")
    for key in order:
        out += sections[key]
        if draw(st.booleans()):
            out.append("")
    return "\n".join(out) + draw(st.sampled_from(["\n", ""]))


measured_values = st.dictionaries(
    st.sampled_from(SCENARIOS),
    st.dictionaries(
        st.sampled_from(KEYS),
        st.builds(
            Measured,
            value=st.one_of(
                st.integers(0, 10**7).map(float),
                st.floats(0, 1e9, allow_nan=False, allow_infinity=False),
                st.floats(0, 1e15, allow_nan=False, allow_infinity=False),
                st.floats(0, 1e-11, allow_nan=False, allow_infinity=False),
            ),
            n=st.none() | st.integers(0, 1000),
            se=st.none() | st.floats(0, 1e3, allow_nan=False),
            source=st.none() | st.sampled_from(["measured", "attributed", "estimated", "timer"]),
            stat=st.sampled_from(STATS),
        ),
        max_size=4,
    ),
    max_size=3,
)
_chars = st.characters(codec="utf-8")
environments = st.none() | st.dictionaries(
    st.text(_chars, min_size=1, max_size=8),
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(_chars, max_size=10)
    | st.floats(allow_nan=False) | st.lists(st.text(_chars, max_size=4), max_size=2),
    max_size=3,
)


def _load_or_error(text: str) -> Budget | None:
    try:
        return loads(text)
    except BudgetError as exc:
        problems = exc.problems
    assert problems, "a BudgetError always says what is wrong"
    for p in problems:
        assert p.line is None or p.line >= 1
        assert str(p).startswith("ragcost.yaml")
    return None


@FUZZ
@given(st.text(max_size=300))
def test_random_text_only_raises_budget_error(text: str) -> None:
    _load_or_error(text)


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_on_disk_only_raise_budget_error(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ragcost.yaml"
        path.write_bytes(data)
        problems: tuple[object, ...] = ("loaded",)
        try:
            load(path)
        except BudgetError as exc:
            problems = exc.problems
        assert problems


@FUZZ
@given(mutated())
def test_mutated_documents_only_raise_budget_error(text: str) -> None:
    _load_or_error(text)


@FUZZ
@given(valid_documents())
def test_generated_layouts_are_valid(text: str) -> None:
    assert isinstance(loads(text), Budget)


@FUZZ
@given(valid_documents() | mutated(), measured_values, environments,
       st.sampled_from(["all", "improvements"]))
def test_update_then_load_round_trips_the_new_baselines(
    text: str, measured: dict[str, dict[str, Measured]], environment: dict[str, object] | None,
    mode: str,
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "ragcost.yaml"
        path.write_bytes(text.encode("utf-8", "surrogatepass"))
        try:
            before = load(path)
        except BudgetError:
            before = None
        try:
            result = update(path, measured, mode=mode, environment=environment)  # type: ignore[arg-type]
        except BudgetError:
            # refusing is right for a broken file, and the file must be left as it was
            assert before is None
            assert path.read_bytes() == text.encode("utf-8", "surrogatepass")
            return
        assert before is not None, "update must refuse a file that load refuses"
        after = load(path)
        skipped = {(s.scenario, s.key) for s in result.skipped}
        for scenario, keys in measured.items():
            for key, m in keys.items():
                entry = after.entry(scenario, key)
                assert entry is not None
                if (scenario, key) in skipped:
                    assert entry.baseline == before.entry(scenario, key).baseline  # type: ignore[union-attr]
                    continue
                assert entry.baseline == format_baseline(key, m.value)[1]
                assert entry.n == m.n
                assert entry.source == m.source
                assert (entry.se is None) == (m.se is None)
                if m.se is not None and entry.se is not None:
                    expected = float(f"{m.se:.3g}") if m.se >= 1e-12 else 0.0
                    assert math.isclose(entry.se, expected)
        for change in result.changes:
            entry = after.entry(change.scenario, change.key)
            assert entry is not None
            assert entry.baseline == change.new
        # everything not measured is exactly as it was
        for name, old in before.entries():
            if old.key not in measured.get(name, {}):
                new = after.entry(name, old.key)
                assert new is not None
                assert replace(new, line=old.line) == old
        assert after.defaults == before.defaults
        assert after.prices == before.prices
        assert after.judge == before.judge
        if environment is None:
            assert after.environment == before.environment
