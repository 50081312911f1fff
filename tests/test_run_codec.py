"""The one run codec: run -> JSON -> run is the identity for every field, every field the
writer writes is read back, and the reader names the JSON path of what is wrong."""

from __future__ import annotations

import json
import math
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pytest_ragcost.report.outputs import run_json
from pytest_ragcost.run import STATS, STATUSES
from pytest_ragcost.run.codec import (
    DERIVED,
    RunFileError,
    decode_outcome,
    decode_run,
    encode_outcome,
    loads,
    read_run,
)
from pytest_ragcost.run.model import (
    BASES,
    TIERS,
    BetweenRun,
    EndpointRecord,
    Finding,
    ItemsUsed,
    LoadFigures,
    LoadLevel,
    MetricScores,
    Moved,
    Outcome,
    PerSuccess,
    RequestRecord,
    Run,
    RunSettings,
    Sample,
    SampleScore,
    ScenarioRun,
    Selection,
    StageRecord,
    Verdict,
)
from pytest_ragcost.run.reasons import REASONS

EXAMPLES = int(os.environ.get("RAGCOST_CODEC_EXAMPLES", "60"))

names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,8}", fullmatch=True)
texts = st.text(max_size=12)
finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False)
positive = st.floats(min_value=0, max_value=1e6, allow_nan=False)
counts = st.integers(min_value=0, max_value=10**6)
maybe = st.none


def metric_maps(draw: st.DrawFn) -> dict[str, float]:
    keys = draw(st.lists(st.sampled_from(
        ["wall_ms", "cpu_ms", "energy_j", "tokens_prompt", "tokens_total", "count_hits",
         "errors", "peak_rss_mb", "cost_usd", "disk_write_bytes", "net_calls",
         "net_rtt_ms"]), unique=True, max_size=5))
    out: dict[str, float] = {}
    for k in keys:
        exact = k.startswith(("tokens_", "count_")) or k in ("errors", "net_calls")
        out[k] = float(draw(counts)) if exact else draw(positive)
    return out


@st.composite
def endpoint_records(draw: st.DrawFn) -> EndpointRecord:
    return EndpointRecord(
        endpoint=draw(st.sampled_from(["127.0.0.1:8080", "[::1]:443", "unix:/run/db.sock"])),
        calls=draw(counts), sent_bytes=draw(counts), received_bytes=draw(counts),
        errors=draw(counts), timeouts=draw(counts), connects=draw(counts),
        rtt_ms=draw(maybe() | positive), connect_ms=draw(maybe() | positive),
    )


@st.composite
def stages(draw: st.DrawFn) -> StageRecord:
    metrics = metric_maps(draw)
    return StageRecord(
        name=draw(names), metrics=metrics,
        sources={k: draw(st.sampled_from(["timer", "counted", "estimated", "kernel",
                                          "socket"])) for k in metrics},
        error=draw(maybe() | texts), model=draw(maybe() | names),
        start_ms=draw(maybe() | positive), endpoint=draw(maybe() | st.just("127.0.0.1:8080")),
        endpoints=tuple(draw(st.lists(endpoint_records(), max_size=2))),
    )


@st.composite
def requests(draw: st.DrawFn) -> RequestRecord:
    metrics = metric_maps(draw)
    return RequestRecord(
        trace_id=draw(st.text("0123456789abcdef", min_size=1, max_size=32)),
        index=draw(counts), metrics=metrics,
        sources={k: "timer" for k in metrics},
        stages=tuple(draw(st.lists(stages(), max_size=2))),
        error=draw(maybe() | texts), item_id=draw(maybe() | texts),
        item_label=draw(maybe() | texts),
    )


json_leaf = st.none() | st.booleans() | st.integers(-10**6, 10**6) | texts | finite
json_values = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(names, inner, max_size=3),
    max_leaves=6,
)


@st.composite
def samples(draw: st.DrawFn) -> Sample:
    strs = st.lists(texts, max_size=2).map(tuple)
    return Sample(
        question=draw(maybe() | texts), answer=draw(maybe() | texts), contexts=draw(strs),
        reference=draw(maybe() | texts), reference_contexts=draw(strs),
        context_ids=draw(strs), reference_ids=draw(strs), trace_id=draw(maybe() | texts),
        extra=draw(st.dictionaries(names, json_values, max_size=2)),
    )


@st.composite
def loads_figures(draw: st.DrawFn) -> LoadFigures:
    mode = draw(st.sampled_from(["closed", "open"]))
    spec = LoadLevel(
        users=draw(st.integers(1, 64)) if mode == "closed" else None,
        rate=draw(st.floats(0.1, 100)) if mode == "open" else None,
        requests=draw(maybe() | st.integers(1, 100)), duration_s=draw(maybe() | positive),
        timeout_s=draw(maybe() | positive), arrival=draw(st.sampled_from(["poisson", "uniform"])),
        workers=draw(maybe() | st.integers(1, 8)), seed=draw(counts),
    )
    return LoadFigures(
        level=draw(names), mode=mode, spec=spec, requests=draw(counts), errors=draw(counts),
        timeouts=draw(counts), elapsed_s=draw(positive), throughput_rps=draw(positive),
        wait_ms_mean=draw(positive), queue_depth_mean=draw(positive),
        queue_depth_max=draw(positive), in_flight_mean=draw(positive),
        offered_rps=draw(maybe() | positive),
        queues=tuple(draw(st.lists(st.dictionaries(names, json_values, max_size=2), max_size=2))),
        first_errors=tuple(draw(st.lists(texts, max_size=2))),
        backlog=draw(maybe() | st.dictionaries(names, json_values, max_size=2)),
    )


@st.composite
def scores(draw: st.DrawFn) -> MetricScores:
    return MetricScores(
        metric=draw(names), tier=draw(st.sampled_from(TIERS)),
        samples=tuple(draw(st.lists(st.builds(
            SampleScore, key=texts, output=texts, label=texts,
            value=maybe() | st.floats(0, 1), reused=st.booleans(), miss=st.booleans(),
            reason=maybe() | texts), max_size=3))),
        seconds=draw(positive), judge_model=draw(maybe() | names),
        judge_live_calls=draw(counts), judge_replayed_calls=draw(counts),
        judge_input_tokens=draw(counts), judge_output_tokens=draw(counts),
    )


intervals = maybe() | st.tuples(finite, finite)


@st.composite
def verdicts(draw: st.DrawFn) -> Verdict:
    reason = draw(st.sampled_from(sorted(REASONS)))
    return Verdict(
        scenario=draw(names), key=draw(names), status=draw(st.sampled_from(STATUSES)),
        reason=reason,
        findings=tuple(draw(st.lists(st.builds(
            Finding, status=st.sampled_from(STATUSES), reason=st.sampled_from(sorted(REASONS)),
            interval=intervals, improved=st.booleans(), bound=maybe() | finite), max_size=2))),
        baseline=draw(maybe() | finite), current=draw(maybe() | finite),
        budget=draw(maybe() | finite), tolerance=draw(maybe() | st.just("5%")),
        stat=draw(st.sampled_from(STATS)), n=draw(maybe() | counts),
        baseline_n=draw(maybe() | counts), interval=draw(intervals),
        confidence=draw(maybe() | st.floats(0.5, 0.99)), source=draw(maybe() | names),
        baseline_source=draw(maybe() | names), severity=draw(st.sampled_from(["fail", "warn"])),
        improved=draw(st.booleans()), basis=draw(st.sampled_from(BASES)),
        noise=draw(maybe() | st.builds(
            BetweenRun, sd=st.floats(0, 2), df=st.floats(1, 100) | st.just(math.inf),
            runs=counts, source=st.sampled_from(["history", "prior"]),
            prior_cv=st.floats(0, 1))),
        items=draw(maybe() | st.builds(
            ItemsUsed, shared=counts, of=counts, side=st.sampled_from(["baseline", "base"]),
            moved=st.lists(st.builds(Moved, label=texts, baseline=finite, current=finite),
                           max_size=3).map(tuple),
            moved_count=counts)),
        rounds=draw(maybe() | counts),
        figures=draw(st.dictionaries(names, finite, max_size=2)),
        note=draw(maybe() | texts),
    )


knob_values = st.none() | st.booleans() | st.integers(-100, 100) | texts | finite


@st.composite
def outcomes(draw: st.DrawFn) -> Outcome:
    run = ScenarioRun(
        scenario=draw(names), nodeid=draw(texts),
        requests=tuple(draw(st.lists(requests(), max_size=3))), warmup=draw(counts),
        samples=tuple(draw(st.lists(samples(), max_size=2))),
        meters=draw(st.dictionaries(names, json_values, max_size=2)),
        token_notes=draw(st.dictionaries(names, texts, max_size=2)),
        load=draw(maybe() | loads_figures()),
        knobs=draw(st.dictionaries(names, knob_values, max_size=3)),
        sweep=draw(maybe() | texts),
    )
    per = draw(maybe() | st.builds(
        PerSuccess, metric=names, min=st.floats(0, 1), successes=counts, answers=counts,
        tokens_total=maybe() | positive, energy_j=maybe() | positive,
        cpu_ms=maybe() | positive, gpu_ms=maybe() | positive, cost_usd=maybe() | positive))
    return Outcome(
        run=run, verdicts=draw(st.lists(verdicts(), max_size=3)),
        error=draw(maybe() | texts),
        quality={m.metric: m for m in draw(st.lists(scores(), max_size=2))},
        per_success=per, test_passed=draw(st.booleans()),
        price_notes=draw(st.dictionaries(names, texts, max_size=2)),
        quality_errors=draw(st.dictionaries(names, texts, max_size=2)),
    )


@st.composite
def runs(draw: st.DrawFn) -> Run:
    found = draw(st.lists(outcomes(), max_size=3, unique_by=lambda o: o.run.scenario))
    return Run(
        environment=draw(st.dictionaries(names, json_values, max_size=3)),
        outcomes=sorted(found, key=lambda o: o.run.scenario),
        complete=draw(st.booleans()),
        created=draw(st.just("") | st.just("2026-12-03T10:00:00+00:00")),
        settings=RunSettings(
            meters=tuple(draw(st.lists(names, min_size=1, max_size=2))),
            requests_cap=draw(maybe() | st.integers(1, 100)),
            update=draw(maybe() | st.sampled_from(["all", "improvements"])),
            strict=draw(st.booleans()), watts_per_thread=draw(st.floats(0.1, 100)),
            config=draw(maybe() | texts), config_found=draw(st.booleans()),
            project=draw(maybe() | names),
        ),
        version=draw(st.just("0.3.0") | st.just("")),
        selection=draw(maybe() | selections()),
    )


@st.composite
def selections(draw: st.DrawFn) -> Selection:
    tests = tuple(sorted(set(draw(st.lists(texts, max_size=3)))))
    return Selection(
        suite_sha256=draw(st.text("0123456789abcdef", min_size=64, max_size=64)),
        suite_size=len(tests) + draw(st.integers(0, 5)), tests=tests,
        ran_all=draw(st.booleans()),
    )


def _same(a: Any, b: Any) -> bool:
    """Equality that lets two NaN-free documents compare (tuples vs lists aside)."""
    return bool(a == b)


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs())
def test_run_to_json_to_run_is_the_identity(run: Run) -> None:
    text = run_json(run)
    back = loads(text)
    assert back == run
    # and through the xdist transport's per-outcome path
    for outcome in run.outcomes:
        assert decode_outcome(json.loads(json.dumps(encode_outcome(outcome)))) == outcome


class _Tracking(dict[str, Any]):
    """A JSON object that remembers which of its keys the reader looked at."""

    seen: set[str]

    def __init__(self, data: dict[str, Any], path: str, log: dict[str, set[str]]) -> None:
        super().__init__(data)
        self.path = path
        self.log = log
        log.setdefault(path, set())

    def get(self, key: str, default: Any = None) -> Any:  # type: ignore[override]
        self.log[self.path].add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> Any:
        self.log[self.path].add(key)
        return super().__getitem__(key)

    def items(self) -> Any:  # reading every entry reads every key
        self.log[self.path].update(self.keys())
        return super().items()


#: objects whose keys are data (metric names, knob names ...), not fields of the format
_DATA_MAPS = frozenset({"metrics", "sources", "token_notes", "knobs", "figures", "quality",
                        "price_notes", "quality_errors"})
#: arbitrary JSON a user or a probe wrote: nothing under it is a field of the format
_FREE = frozenset({"environment", "meters", "extra", "backlog", "queues"})


def _child(path: str, parent_key: str, key: str) -> str:
    return f"{path}.*" if parent_key in _DATA_MAPS else f"{path}.{key}"


def _track(value: Any, path: str, key: str, log: dict[str, set[str]]) -> Any:
    if key in _FREE:
        return value
    if isinstance(value, dict):
        return _Tracking({k: _track(v, _child(path, key, k), k, log) for k, v in value.items()},
                         path, log)
    if isinstance(value, list):
        return [_track(v, f"{path}[]", key, log) for v in value]
    return value


def _written(value: Any, path: str, key: str, out: dict[str, set[str]]) -> None:
    if key in _FREE or (key in DERIVED and path.count(".") <= 2):
        return
    if isinstance(value, dict):
        if key not in _DATA_MAPS:
            out.setdefault(path, set()).update(value)
        for k, v in value.items():
            _written(v, _child(path, key, k), k, out)
    elif isinstance(value, list):
        for v in value:
            _written(v, f"{path}[]", key, out)


@settings(max_examples=max(EXAMPLES // 2, 20), deadline=None,
          suppress_health_check=[HealthCheck.too_slow])
@given(runs())
def test_every_field_written_is_read(run: Run) -> None:
    doc = json.loads(run_json(run))
    written: dict[str, set[str]] = {}
    _written(doc, "$", "$", written)
    log: dict[str, set[str]] = {}
    decode_run(_track(doc, "$", "$", log))
    for path, keys in written.items():
        unread = keys - log.get(path, set()) - DERIVED
        assert not unread, f"{path}: written but never read: {sorted(unread)}"


def test_the_derived_fields_are_the_only_ones_not_read() -> None:
    # a run with one of everything: the reader must not need the derived fields
    run = Run(environment={"id": "e"}, outcomes=[Outcome(
        run=ScenarioRun("qa", "t.py::q", (RequestRecord("ab", 0, {"wall_ms": 1.0}, {}),)),
        verdicts=[Verdict("qa", "wall_ms", "PASS", "within_tolerance", baseline=1.0,
                          current=1.0)],
    )])
    doc = json.loads(run_json(run))
    for field in ("n_requests", "stages", "summary"):
        assert field in doc["scenarios"][0]
        del doc["scenarios"][0][field]
    assert "message" in doc["scenarios"][0]["verdicts"][0]
    del doc["scenarios"][0]["verdicts"][0]["message"]
    del doc["tool"]
    back = decode_run(doc)
    assert back.outcomes == run.outcomes


def _bad(doc: dict[str, Any], where: str, expected: str) -> None:
    with pytest.raises(RunFileError) as info:
        decode_run(doc, "run.json")
    text = str(info.value)
    assert text.startswith("run.json: ")
    assert where in text
    assert expected in text


def _good_doc() -> dict[str, Any]:
    run = Run(environment={}, outcomes=[Outcome(run=ScenarioRun(
        "qa", "t.py::q",
        (RequestRecord("ab", 0, {"wall_ms": 1.0, "tokens_prompt": 3.0}, {},
                       stages=(StageRecord("generate", {"wall_ms": 1.0}, {}),),
                       item_id="i1", item_label="Q1"),)))])
    doc: dict[str, Any] = json.loads(run_json(run))
    return doc


def test_errors_name_the_json_path_what_was_expected_and_what_was_found() -> None:
    doc = _good_doc()
    doc["scenarios"][0]["requests"][0]["metrics"]["tokens_prompt"] = -1e300
    _bad(doc, "scenarios[0].requests[0].metrics.tokens_prompt",
         "must be a finite number from 0 to")
    doc = _good_doc()
    doc["scenarios"][0]["requests"][0]["stages"][0]["metrics"]["wall_ms"] = "fast"
    _bad(doc, "scenarios[0].requests[0].stages[0].metrics.wall_ms", "found the string 'fast'")
    doc = _good_doc()
    doc["scenarios"][0]["requests"][0]["item_id"] = 7
    _bad(doc, "scenarios[0].requests[0].item_id", "a string or null (found the number 7)")
    doc = _good_doc()
    doc["scenarios"][0]["verdicts"] = [{"scenario": "qa", "key": "k", "status": "MEH"}]
    _bad(doc, "scenarios[0].verdicts[0].status", "one of FAIL, WARN")
    doc = _good_doc()
    doc["scenarios"][0]["requests"][0]["stages"][0]["endpoints"] = [
        {"endpoint": "127.0.0.1:9", "calls": -2}]
    _bad(doc, "scenarios[0].requests[0].stages[0].endpoints[0].calls",
         "a whole number from 0 to 2**53 (found the number -2)")
    doc = _good_doc()
    doc["scenarios"][0]["requests"][0]["stages"][0]["endpoints"] = [
        {"endpoint": "127.0.0.1:9", "rtt_ms": -1.0}]
    _bad(doc, "scenarios[0].requests[0].stages[0].endpoints[0].rtt_ms", "0 or more")
    doc = _good_doc()
    doc["scenarios"][0]["requests"][0]["stages"][0]["metrics"]["net_calls"] = 2.0**60
    _bad(doc, "scenarios[0].requests[0].stages[0].metrics.net_calls",
         "must be a finite number from 0 to")


def test_item_ids_and_endpoints_survive_a_saved_run(tmp_path: Path) -> None:
    path = tmp_path / "run.json"
    doc = _good_doc()
    doc["scenarios"][0]["requests"][0]["stages"][0]["endpoint"] = "127.0.0.1:9"
    path.write_text(json.dumps(doc))
    back = read_run(path)
    req = back.outcomes[0].run.requests[0]
    assert (req.item_id, req.item_label) == ("i1", "Q1")
    assert req.stages[0].endpoint == "127.0.0.1:9"


def test_an_older_run_files_verdicts_keep_their_text() -> None:
    doc = _good_doc()
    doc["scenarios"][0]["verdicts"] = [{
        "scenario": "qa", "key": "wall_ms", "status": "FAIL", "message": "wall_ms: 9 vs 1",
        "baseline": 1.0, "current": 9.0,
    }]
    verdict = decode_run(doc).outcomes[0].verdicts[0]
    assert (verdict.reason, verdict.note) == ("recorded", "wall_ms: 9 vs 1")
    from pytest_ragcost.report.verdicts import sentence

    assert sentence(verdict) == "wall_ms: 9 vs 1"


@pytest.mark.parametrize("text", ["", "[]", "{}", '{"schema_version": 2}', "[" * 100 + "]" * 100,
                                  '{"schema_version": 1, "scenarios": NaN}'])
def test_not_a_run_is_a_located_error(text: str) -> None:
    with pytest.raises(RunFileError):
        loads(text, "x.json")


def _all_reasons() -> Iterator[str]:
    yield from REASONS


def test_every_reason_has_words() -> None:
    from pytest_ragcost.report.verdicts import sentence

    for reason in _all_reasons():
        v = Verdict("qa", "generate.wall_ms", "FAIL", reason, (Finding("FAIL", reason),),
                    baseline=100.0, current=120.0, budget=110.0, tolerance="5%", n=30,
                    baseline_n=30, interval=(5.0, 35.0), confidence=0.9,
                    items=ItemsUsed(3, 4), note="a note", figures={"current_items": 2.0})
        text = sentence(v)
        assert text, reason
        assert reason not in text.split(":")[0], (reason, text)
