"""Property-based fuzzing of every input file the plugin and the CLI read: ragcost.yaml,
ragcost.items.json, ragcost.scores.json and the judge record. Whatever the bytes, the
reader returns what the file holds (every number within bounds) or raises its own error,
whose message starts with the file's path; nothing else ever escapes.

The default run tries ``RAGCOST_INPUT_FUZZ_QUICK`` (200) documents per kind; the long run,
``pytest -m slow tests/test_input_files_fuzz.py``, ``RAGCOST_INPUT_FUZZ_EXAMPLES``
(10,000 unless set) per kind."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_ragcost.budget import BudgetError, load
from pytest_ragcost.budget.items import ItemStoreError, load_items
from pytest_ragcost.inputs import MAX_NUMBER
from pytest_ragcost.quality.judge import JudgeRecord, JudgeRecordError
from pytest_ragcost.quality.store import ScoreStoreError, load_scores

QUICK = int(os.environ.get("RAGCOST_INPUT_FUZZ_QUICK", "200"))
LONG = int(os.environ.get("RAGCOST_INPUT_FUZZ_EXAMPLES", "10000"))

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False, allow_infinity=False), st.text(max_size=12),
)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=3),
    max_leaves=12,
)
#: what hostile files hold: tokens JSON forbids or Python chokes on
_HOSTILE = [b"NaN", b"-Infinity", b"1e999", b"-1e300", b"9" * 5000, b"[" * 3000, b"\xff\xfe",
            b"\xed\xa0\x80", b"\x00", b'"\\ud800"', b"{", b"}", b"<<<<<<< HEAD\n", b"\r"]

ITEMS = {"version": 1, "scenarios": {"qa": {"items": {"3f1c": {
    "label": "Which indexes?", "metrics": {"tokens_context": 261, "generate.wall_ms": 412.3}}}}}}
SCORES = {"version": 1, "scenarios": {"qa": {"ragas_faithfulness": {
    "tier": "judged-replayed", "judge": "j", "samples": {"k": {"output": "9ab2", "score": 0.8}}}}}}
JUDGE = {"version": 1, "answers": [{
    "judge_model": "j", "metric": "m", "sample": "s", "prompt_sha256": "p", "response": "r",
    "sample_label": "l", "params": {"t": 0}, "usage": {"input_tokens": 5}}]}
YAML = (
    "version: 1\ndefaults:\n  tolerance: 5%\nscenarios:\n  qa:\n"
    "    tokens_context: {baseline: 3104, n: 12}\n"
    "    generate.wall_ms: {baseline: 412.0, stat: p95, tolerance: 15%}\n"
    "    ragas_context_recall: {baseline: 0.91}\n"
)


def _paths(doc: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix]
    if isinstance(doc, dict):
        for k, v in doc.items():
            out += _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            out += _paths(v, (*prefix, i))
    return out


def _replace(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    copy = dict(doc) if isinstance(doc, dict) else list(doc)
    copy[path[0]] = _replace(doc[path[0]], path[1:], value)
    return copy


@st.composite
def _mutated(draw: st.DrawFn, base: Any) -> bytes:
    """``base`` with some of its values replaced, then some hostile bytes spliced in."""
    doc = base
    for _ in range(draw(st.integers(0, 3))):
        path = draw(st.sampled_from(_paths(doc)))
        doc = _replace(doc, path, draw(_json))
    data = json.dumps(doc, indent=draw(st.sampled_from([None, 1]))).encode()
    for _ in range(draw(st.integers(0, 2))):
        at = draw(st.integers(0, len(data)))
        cut = draw(st.integers(0, 3))
        data = data[:at] + draw(st.sampled_from(_HOSTILE)) + data[at + cut:]
    return data


def documents(base: Any) -> st.SearchStrategy[bytes]:
    return st.one_of(
        _mutated(base),
        _json.map(lambda d: json.dumps(d).encode()),
        st.binary(max_size=120),
    )


def yaml_documents() -> st.SearchStrategy[bytes]:
    @st.composite
    def spliced(draw: st.DrawFn) -> bytes:
        data = YAML.encode()
        for _ in range(draw(st.integers(0, 3))):
            at = draw(st.integers(0, len(data)))
            piece = draw(st.one_of(st.sampled_from([*_HOSTILE, b": ", b"- ", b"&a ", b"*a",
                                                    b"!!python/object "]),
                                   st.text(max_size=6).map(str.encode)))
            data = data[:at] + piece + data[at + draw(st.integers(0, 4)):]
        return data

    return st.one_of(spliced(), st.binary(max_size=120))


def _finite(value: float) -> bool:
    return math.isfinite(value) and abs(value) <= MAX_NUMBER


def _check_items(path: Path) -> None:
    store = load_items(path)
    for items in store.scenarios.values():
        for metrics in items.metrics.values():
            assert all(_finite(v) and v >= 0 for v in metrics.values())


def _check_scores(path: Path) -> None:
    store = load_scores(path)
    for metrics in store.scenarios.values():
        for stored in metrics.values():
            assert all(_finite(s) for s in stored.scores().values())


def _check_judge(path: Path) -> None:
    record = JudgeRecord.load(path)
    for answer in record.answers():
        assert all(isinstance(v, int) and 0 <= v <= 2**53 for v in answer.usage.values())


def _check_yaml(path: Path) -> None:
    budget = load(path)
    for scenario in budget.scenarios.values():
        for entry in scenario.entries.values():
            assert entry.baseline is None or _finite(entry.baseline)


KINDS: dict[str, tuple[str, Callable[[Path], None], type[Exception],
                       Callable[[], st.SearchStrategy[bytes]]]] = {
    "items": ("ragcost.items.json", _check_items, ItemStoreError, lambda: documents(ITEMS)),
    "scores": ("ragcost.scores.json", _check_scores, ScoreStoreError,
               lambda: documents(SCORES)),
    "judge": ("ragcost.judge.json", _check_judge, JudgeRecordError, lambda: documents(JUDGE)),
    "yaml": ("ragcost.yaml", _check_yaml, BudgetError, yaml_documents),
}


def _fuzz(kind: str, examples: int) -> None:
    name, check, error, strategy = KINDS[kind]

    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
    @given(strategy())
    def one(data: bytes) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / name
            path.write_bytes(data)
            try:
                check(path)
            except error as exc:
                message = str(exc)
            else:
                return
            assert message.startswith(str(path)), message

    one()


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_input_file_is_read_or_refused_with_its_own_error(kind: str) -> None:
    _fuzz(kind, QUICK)


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_input_file_long_fuzz(kind: str, request: pytest.FixtureRequest) -> None:
    if "slow" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("the long version: run it with -m slow")
    _fuzz(kind, LONG)
