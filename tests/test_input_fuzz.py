"""Property-based fuzzing of what users hand the plugin: the ``ragcost`` CLI's JSON input
and the fixture's arguments. Whatever comes in, the CLI answers 0, 1 or 2 with a message
and the fixture either records or raises its own RagcostUsageError naming the call.

``RAGCOST_FUZZ_EXAMPLES=10000`` digs deeper (the default keeps the suite quick)."""

from __future__ import annotations

import contextlib
import io
import json
import math
import os
import tempfile
import warnings
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_ragcost.cli import main
from pytest_ragcost.meters.registry import build
from pytest_ragcost.record.recorder import RagcostUsageError, Recorder
from pytest_ragcost.record.tokens import default_counter
from pytest_ragcost.run import Outcome
from pytest_ragcost.run.codec import decode_outcome, encode_outcome

FUZZ = settings(
    max_examples=int(os.environ.get("RAGCOST_FUZZ_EXAMPLES", "40")),
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)

_scalars = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=20),
)
_json = st.recursive(
    _scalars,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=4),
    max_leaves=20,
)
_metric_values = st.one_of(
    st.floats(), st.integers(min_value=-(10**30), max_value=10**30), st.none(),
    st.text(max_size=5), st.booleans(), st.lists(st.integers(), max_size=2),
)


@st.composite
def run_documents(draw: st.DrawFn) -> Any:
    """A saved run with any of its fields replaced by something else."""
    metrics = draw(st.dictionaries(
        st.sampled_from(["wall_ms", "tokens_total", "energy_j", "count_x"]), _metric_values,
        max_size=4))
    stage = {"name": "s", "metrics": dict(metrics), "sources": {}, "start_ms": 0.0}
    request = {"trace_id": "0" * 32, "index": 0, "metrics": metrics, "sources": {},
               "stages": [stage]}
    verdict = {"scenario": "qa", "key": "wall_ms", "status": "FAIL", "message": "over",
               "baseline": 10.0, "current": 12.0, "n": 3, "interval": [1.0, 3.0]}
    scenario: dict[str, Any] = {"scenario": "qa", "nodeid": "t.py::t[2]", "warmup": 0,
                                "knobs": {"top_k": 2}, "sweep": "t.py::t",
                                "verdicts": [verdict], "price_notes": {},
                                "per_success": {}, "error": None,
                                "requests": [request] * draw(st.integers(0, 3))}
    doc: dict[str, Any] = {"schema_version": 1, "environment": {"id": "x"},
                           "created": "2026-12-02T00:00:00+00:00", "scenarios": [scenario]}
    parts = {"doc": doc, "scenario": scenario, "request": request, "stage": stage,
             "verdict": verdict}
    for target in draw(st.lists(st.sampled_from(sorted(parts)), max_size=3)):
        where = parts[target]
        key = draw(st.sampled_from(sorted(where)))
        where[key] = draw(_json)
    return doc


BUDGET = "version: 1\nscenarios:\n  qa:\n    wall_ms: {baseline: 10, n: 3, se: 1}\n" \
         "    tokens_total: {baseline: 5}\n    s.count_x: {budget: 3}\n"


def _cli(args: list[str]) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(args)
    return code, err.getvalue()


def _check_file(data: bytes) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run.json"
        run.write_bytes(data)
        config = Path(tmp) / "ragcost.yaml"
        config.write_text(BUDGET)
        for args in (["report", str(run)], ["report", str(run), "--markdown", "-"],
                     ["report", str(run), "--html", "-"],
                     ["export", str(run), "--csv", str(Path(tmp) / "csv")],
                     ["compare", str(run), "--config", str(config)]):
            code, err = _cli(args)
            assert code in (0, 1, 2), (args, code, err)
            if code == 2:
                assert err.startswith("ragcost: "), err
            assert "Traceback" not in err


@FUZZ
@given(run_documents())
def test_cli_answers_any_run_document_with_a_documented_code(doc: Any) -> None:
    _check_file(json.dumps(doc).encode())


@FUZZ
@given(_json)
def test_cli_answers_any_json_value(doc: Any) -> None:
    _check_file(json.dumps(doc).encode())


@FUZZ
@given(st.binary(max_size=200))
def test_cli_answers_any_bytes(data: bytes) -> None:
    _check_file(data)


def _message_of(call: Any) -> str | None:
    """None when ``call()`` records, else the RagcostUsageError's message."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            call()
    except RagcostUsageError as exc:
        return str(exc)
    return None


_METERS = build(("none",), watts_per_thread=4.0, watts_source="default")
_any = st.one_of(
    _json, st.binary(max_size=5), st.sets(st.integers(), max_size=2),
    st.integers(min_value=-(10**400), max_value=10**400), st.just(object()),
    st.lists(st.one_of(st.text(max_size=5), st.integers()), max_size=3),
)


@FUZZ
@given(
    kind=st.sampled_from(["prompt", "context", "completion", "rerank_in", "custom"]),
    value=_any, model=st.one_of(st.none(), st.just("gpt-4o-mini"), _scalars),
    count=_any, sample=st.dictionaries(
        st.sampled_from(["question", "answer", "contexts", "reference", "reference_contexts",
                         "context_ids", "reference_ids", "extra_thing"]), _any, max_size=4),
)
def test_the_fixture_records_or_names_the_bad_argument(
    kind: str, value: Any, model: Any, count: Any, sample: dict[str, Any]
) -> None:
    rec = Recorder(scenario="fuzz", nodeid="t.py::t", metering=True, meters=_METERS,
                   counter=default_counter())
    messages: list[str | None] = []
    with contextlib.suppress(RagcostUsageError):
        for _ in rec.requests(["a"]):
            with rec.stage("s") as stage:
                for call in (lambda: stage.tokens(model=model, **{kind: value}),
                             lambda: stage.count(n=count)):
                    messages.append(_message_of(call))
            messages.append(_message_of(lambda: rec.sample(**sample)))
    for message in messages:
        assert message is None or message.startswith(("stage 's': st.", "ragcost.sample(")), \
            message
    run = rec.finish()
    # whatever was recorded is finite and survives the trip through JSON (xdist, --ragcost-json)
    outcome = Outcome(run=run)
    text = json.dumps(encode_outcome(outcome), default=repr)
    for request in run.requests:
        for number in request.flat().values():
            assert math.isfinite(number)
    assert decode_outcome(json.loads(text)) == outcome
