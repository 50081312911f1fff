"""Property-based fuzzing of every input file the plugin and the CLI read: ragcost.yaml,
ragcost.items.json, ragcost.scores.json and the judge record. Whatever the bytes, the
reader returns what the file holds (every number within bounds) or raises its own error,
whose message starts with the file's path; nothing else ever escapes.

The same for the values of ``--ragcost-shard`` and ``--ragcost-max-usd`` (read into
their bounds or refused with a message that starts with the flag's name, through the
settings resolution the plugin uses; a few drawn values also go through a real inner
pytest session, which exits 4 with that message and no traceback), and for the run files
``ragcost merge`` reads: two real shard runs, one of them mutated, are merged (exit 0 and a
merged run that reads back) or refused (exit 2, the message naming one of the files),
never a traceback.

The default run tries ``RAGCOST_INPUT_FUZZ_QUICK`` (200) documents or values per kind;
the long run, ``pytest -m slow tests/test_input_files_fuzz.py``,
``RAGCOST_INPUT_FUZZ_EXAMPLES`` (10,000 unless set) per kind."""

from __future__ import annotations

import contextlib
import io
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
from pytest_ragcost.cli import main as cli_main
from pytest_ragcost.config import BY_FIELD, Option, SettingsError, resolve
from pytest_ragcost.inputs import MAX_NUMBER
from pytest_ragcost.quality.judge import JudgeRecord, JudgeRecordError
from pytest_ragcost.quality.store import ScoreStoreError, load_scores
from pytest_ragcost.run.codec import read_run

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


# -- option values: --ragcost-shard and --ragcost-max-usd ------------------------------

_NUMBERISH = st.one_of(
    st.integers(min_value=-3, max_value=12).map(str),
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats().map(repr),
    st.sampled_from(["0", "-0", "1e999", "-1e999", "nan", "inf", "1_000", "0x10", "١٢",
                     "9" * 5000, " 2 ", "", "$", "$$1", "1/0", "\x1b[31m", "\u202e1"]),
    st.text(max_size=8),
)


@st.composite
def shard_values(draw: st.DrawFn) -> str:
    if draw(st.integers(0, 3)) == 0:
        return draw(st.text(max_size=12))
    sep = draw(st.sampled_from(["/", "/", "/", "/", "//", " / ", "\\", ":", "/-"]))
    small = st.integers(min_value=-3, max_value=12).map(str)
    return f"{draw(small | _NUMBERISH)}{sep}{draw(small | _NUMBERISH)}"


@st.composite
def usd_values(draw: st.DrawFn) -> str:
    return draw(st.sampled_from(["", "$", " ", "USD "])) + draw(_NUMBERISH)


def _check_shard(value: Any) -> None:
    index, count = value
    assert isinstance(index, int)
    assert isinstance(count, int)
    assert 1 <= index <= count


def _check_usd(value: Any) -> None:
    assert isinstance(value, float)
    assert math.isfinite(value)
    assert value >= 0


def second_look_values() -> st.SearchStrategy[str]:
    """Seconds as people write them (``60``, ``60s``, ``off``), and the number shapes of
    the dollar cap."""
    return st.one_of(usd_values(), st.sampled_from(["off", "OFF", "no", "60s", "0s", "s"]),
                     usd_values().map(lambda v: v + "s"))


OPTION_KINDS: dict[str, tuple[str, Callable[[Any], None],
                              Callable[[], st.SearchStrategy[str]]]] = {
    "shard": ("shard", _check_shard, shard_values),
    "max_usd": ("max_usd", _check_usd, usd_values),
    # a bound in seconds: finite and >= 0, like a dollar cap
    "second_look": ("second_look_s", _check_usd, second_look_values),
}


def _resolve_with(field_name: str, value: str, root: Path) -> Any:
    """The option's value as the plugin resolves it from the command line."""
    option = BY_FIELD[field_name]

    def given(opt: Option) -> str | None:
        return value if opt is option else None

    return getattr(resolve(given, lambda _key: None, root, root), field_name)


def _fuzz_option(kind: str, examples: int) -> None:
    field_name, check, strategy = OPTION_KINDS[kind]
    flag = BY_FIELD[field_name].flag
    root = Path(tempfile.gettempdir())

    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow])
    @given(strategy())
    def one(value: str) -> None:
        try:
            resolved = _resolve_with(field_name, value, root)
        except SettingsError as exc:
            message = str(exc)
        else:
            check(resolved)
            return
        assert message.startswith(flag), message

    one()


@pytest.mark.parametrize("kind", sorted(OPTION_KINDS))
def test_every_option_value_is_read_or_refused_naming_the_flag(kind: str) -> None:
    _fuzz_option(kind, QUICK)


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(OPTION_KINDS))
def test_every_option_value_long_fuzz(kind: str, request: pytest.FixtureRequest) -> None:
    if "slow" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("the long version: run it with -m slow")
    _fuzz_option(kind, LONG)


@pytest.mark.parametrize("kind", sorted(OPTION_KINDS))
def test_a_refused_option_value_is_a_usage_error_of_a_real_session(
    pytester: pytest.Pytester, kind: str
) -> None:
    """Drawn values through a real inner session: exit 4 naming the flag when refused."""
    field_name, _check, strategy = OPTION_KINDS[kind]
    flag = BY_FIELD[field_name].flag
    pytester.makepyfile(test_x="def test_x(): pass")
    root = pytester.path

    @settings(max_examples=8, deadline=None, database=None,
              suppress_health_check=[HealthCheck.function_scoped_fixture,
                                     HealthCheck.too_slow])
    @given(strategy().filter(lambda v: "\x00" not in v))
    def one(value: str) -> None:
        try:
            _resolve_with(field_name, value, root)
        except SettingsError:
            refused = True
        else:
            refused = False
        result = pytester.runpytest("--ragcost", f"{flag}={value}", "--ragcost-history=none")
        text = result.stdout.str() + result.stderr.str()
        assert "Traceback" not in text
        assert "INTERNALERROR" not in text
        if refused:
            assert result.ret == pytest.ExitCode.USAGE_ERROR, text
            assert f"pytest-ragcost: {flag}" in text, text
        else:
            assert result.ret == pytest.ExitCode.OK, text

    one()


# -- run files: ragcost merge ------------------------------------------------------------

SHARDED = """
import pytest

@pytest.mark.ragcost(scenario="one", requests=2)
def test_one(ragcost):
    for q in ragcost.requests(["a", "b"]):
        with ragcost.stage("generate") as st:
            st.tokens(prompt=7, completion=3)

@pytest.mark.ragcost(scenario="two", requests=2)
def test_two(ragcost):
    for q in ragcost.requests(["a", "b"]):
        with ragcost.stage("retrieve") as st:
            st.count(hits=2)
"""


def _shard_runs(pytester: pytest.Pytester) -> list[Any]:
    """Two real --ragcost-json shard runs that ``ragcost merge`` puts together."""
    pytester.makepyfile(test_sharded=SHARDED)
    docs = []
    for i in (1, 2):
        pytester.runpytest("--ragcost", "--ragcost-history=none", f"--ragcost-shard={i}/2",
                           f"--ragcost-json=shard{i}.json", "-p", "no:randomly")
        docs.append(json.loads((pytester.path / f"shard{i}.json").read_text("utf-8")))
    return docs


def _merge(paths: list[Path], out: Path) -> tuple[int, str]:
    said = io.StringIO()
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(said):
        code = cli_main(["merge", *map(str, paths), "-o", str(out)])
    return code, said.getvalue()


def _fuzz_merge(pytester: pytest.Pytester, examples: int) -> None:
    docs = _shard_runs(pytester)
    with tempfile.TemporaryDirectory() as tmp:
        paths = [Path(tmp) / "shard1.json", Path(tmp) / "shard2.json"]
        for path, doc in zip(paths, docs, strict=True):
            path.write_text(json.dumps(doc), "utf-8")
        assert _merge(paths, Path(tmp) / "merged.json")[0] == 0  # the base merges

    @settings(max_examples=examples, deadline=None, database=None,
              suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                     HealthCheck.function_scoped_fixture])
    @given(st.integers(0, 1), st.data())
    def one(which: int, data: st.DataObject) -> None:
        mutated = data.draw(documents(docs[which]))
        with tempfile.TemporaryDirectory() as tmp:
            paths = [Path(tmp) / "shard1.json", Path(tmp) / "shard2.json"]
            for i, (path, doc) in enumerate(zip(paths, docs, strict=True)):
                path.write_bytes(mutated if i == which else json.dumps(doc).encode())
            out = Path(tmp) / "merged.json"
            code, said = _merge(paths, out)
            assert "Traceback" not in said
            if code == 0:
                read_run(out)  # what merge wrote reads back as a run
                return
            assert code == 2, said
            assert said.startswith("ragcost: "), said
            assert any(p.name in said for p in paths), said

    one()


def test_every_run_file_merge_reads_is_merged_or_refused_naming_it(
    pytester: pytest.Pytester,
) -> None:
    _fuzz_merge(pytester, QUICK)


@pytest.mark.slow
def test_every_run_file_merge_reads_long_fuzz(
    pytester: pytest.Pytester, request: pytest.FixtureRequest
) -> None:
    if "slow" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("the long version: run it with -m slow")
    _fuzz_merge(pytester, LONG)
