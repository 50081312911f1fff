"""The one codec of the run model: one writer and one validated reader.

Every path that moves a run goes through here: the ``--ragcost-json`` file, the
pytest-xdist transport from workers to the controller, ``ragcost compare``/``report``/
``export`` of a saved run, both sides of an A/B, and ``ragcost merge``. A field the
writer writes is read back by the reader (a test proves it for every field), so nothing
a run recorded is lost on the way: ``decode(encode(x)) == x``.

The reader takes input from anywhere (an artifact of another job, a hand edit, a
truncated download), so every field is checked before it reaches the library: a problem
is a :class:`RunFileError` naming the file, the field's JSON path
(``scenarios[0].requests[2].metrics.wall_ms``), what was expected and what was found.
Nothing here raises anything else for any input.

A few fields are written for people and other tools and recomputed on reading, never
trusted: :data:`DERIVED` lists them.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Literal, TypeVar

from .metrics import NAME_RE, STATS, STATUSES, Stat, Status
from .model import (
    BASES,
    SECOND_LOOK_RESULTS,
    SEVERITIES,
    TIERS,
    BetweenRun,
    EndpointRecord,
    Finding,
    ItemsUsed,
    LoadFigures,
    LoadLevel,
    LookFigures,
    MetricScores,
    Moved,
    Outcome,
    PerSuccess,
    Recheck,
    RequestRecord,
    Run,
    RunSettings,
    Sample,
    SampleScore,
    ScenarioRun,
    SecondLook,
    Selection,
    StageRecord,
    Verdict,
)

__all__ = [
    "DERIVED",
    "MAX_DEPTH",
    "MAX_FILE_BYTES",
    "SCHEMA_VERSION",
    "RunFileError",
    "decode_outcome",
    "decode_run",
    "decode_scores",
    "dumps",
    "encode_outcome",
    "encode_request",
    "encode_run",
    "encode_scores",
    "encode_verdict",
    "loads",
    "read_run",
]

#: bump on any change that removes or renames a field (docs/json-schema.md)
SCHEMA_VERSION = 1
#: a run file is written by the plugin; anything deeper than this is not one of them
MAX_DEPTH = 64
#: the largest run file read (a 10,000-request suite with samples is a few tens of MB)
MAX_FILE_BYTES = 1 << 30
#: no recorded figure is this large: a larger one is a mistake, not a cost
MAX_MAGNITUDE = 1e15
#: the largest count (tokens, requests) a float holds exactly
MAX_COUNT = 2**53

#: fields written for readers of the file and recomputed (or ignored) when it is read
DERIVED = frozenset({
    "tool",             # the document: which pytest-ragcost wrote it (read as `version`)
    "n_requests",       # a scenario: len(requests)
    "stages",           # a scenario: its stage names in order
    "summary",          # a scenario: per-metric p50/p95/mean... of its requests
    "message",          # a verdict: its sentence (report/verdicts.py)
    "change_pct",       # a verdict: (current - baseline) / baseline
})

_SHA256_RE = re.compile(r"^[0-9a-f]{64}$")

#: exact metrics: whole numbers from 0 (a negative token count is a mistake)
_COUNT_PREFIXES = ("tokens_", "count_")
_COUNT_NAMES = frozenset({"errors", "timeouts", "requests", "net_calls", "net_errors",
                          "net_timeouts"})


class RunFileError(ValueError):
    """A saved run cannot be used; ``str()`` is the message for the user."""


T = TypeVar("T")

# --------------------------------------------------------------------------- writing


def _drop_none(data: dict[str, Any], *keys: str) -> dict[str, Any]:
    for key in keys:
        if data.get(key) is None:
            data.pop(key, None)
    return data


def encode_stage(st: StageRecord) -> dict[str, Any]:
    return _drop_none({
        "name": st.name,
        "metrics": dict(st.metrics),
        "sources": dict(st.sources),
        "error": st.error,
        "model": st.model,
        "start_ms": st.start_ms,
        "endpoint": st.endpoint,
        "endpoints": [encode_endpoint(e) for e in st.endpoints] or None,
    }, "error", "model", "start_ms", "endpoint", "endpoints")


def encode_endpoint(e: EndpointRecord) -> dict[str, Any]:
    return _drop_none({
        "endpoint": e.endpoint,
        "calls": e.calls,
        "sent_bytes": e.sent_bytes,
        "received_bytes": e.received_bytes,
        "errors": e.errors,
        "timeouts": e.timeouts,
        "connects": e.connects,
        "rtt_ms": e.rtt_ms,
        "connect_ms": e.connect_ms,
    }, "rtt_ms", "connect_ms")


def encode_request(req: RequestRecord) -> dict[str, Any]:
    return _drop_none({
        "trace_id": req.trace_id,
        "index": req.index,
        "metrics": dict(req.metrics),
        "sources": dict(req.sources),
        "stages": [encode_stage(s) for s in req.stages],
        "error": req.error,
        "item_id": req.item_id,
        "item_label": req.item_label,
    }, "error", "item_id", "item_label")


def encode_sample(s: Sample) -> dict[str, Any]:
    return {
        "question": s.question,
        "answer": s.answer,
        "contexts": list(s.contexts),
        "reference": s.reference,
        "reference_contexts": list(s.reference_contexts),
        "context_ids": list(s.context_ids),
        "reference_ids": list(s.reference_ids),
        "trace_id": s.trace_id,
        "extra": dict(s.extra),
    }


def encode_load(load: LoadFigures | None) -> dict[str, Any]:
    if load is None:
        return {}
    spec = _drop_none({
        "users": load.spec.users, "rate": load.spec.rate, "requests": load.spec.requests,
        "duration_s": load.spec.duration_s, "timeout_s": load.spec.timeout_s,
        "arrival": load.spec.arrival, "workers": load.spec.workers, "seed": load.spec.seed,
    }, "users", "rate", "requests", "duration_s", "timeout_s", "workers")
    return _drop_none({
        "level": load.level,
        "mode": load.mode,
        "spec": spec,
        "requests": load.requests,
        "errors": load.errors,
        "timeouts": load.timeouts,
        "elapsed_s": load.elapsed_s,
        "throughput_rps": load.throughput_rps,
        "wait_ms_mean": load.wait_ms_mean,
        "queue_depth_mean": load.queue_depth_mean,
        "queue_depth_max": load.queue_depth_max,
        "in_flight_mean": load.in_flight_mean,
        "offered_rps": load.offered_rps,
        "queues": [dict(q) for q in load.queues],
        "first_errors": list(load.first_errors),
        "backlog": dict(load.backlog) if load.backlog is not None else None,
    }, "offered_rps", "backlog")


def encode_scores(m: MetricScores) -> dict[str, Any]:
    return {
        "metric": m.metric,
        "tier": m.tier,
        "samples": [
            {"key": s.key, "output": s.output, "label": s.label, "value": s.value,
             "reused": s.reused, "miss": s.miss, "reason": s.reason}
            for s in m.samples
        ],
        "seconds": m.seconds,
        "judge_model": m.judge_model,
        "judge_live_calls": m.judge_live_calls,
        "judge_replayed_calls": m.judge_replayed_calls,
        "judge_input_tokens": m.judge_input_tokens,
        "judge_output_tokens": m.judge_output_tokens,
    }


def encode_per_success(p: PerSuccess | None) -> dict[str, Any]:
    if p is None:
        return {}
    return {"metric": p.metric, "min": p.min, "successes": p.successes, "answers": p.answers,
            **p.costs()}


def encode_verdict(
    v: Verdict, describe: Callable[[Verdict], str] | None = None
) -> dict[str, Any]:
    out: dict[str, Any] = {
        "scenario": v.scenario,
        "key": v.key,
        "status": v.status,
        "reason": v.reason,
        "findings": [
            _drop_none({"status": f.status, "reason": f.reason,
                        "interval": list(f.interval) if f.interval else None,
                        "improved": f.improved, "bound": f.bound}, "interval", "bound")
            for f in v.findings
        ],
        "baseline": v.baseline,
        "current": v.current,
        "budget": v.budget,
        "tolerance": v.tolerance,
        "stat": v.stat,
        "n": v.n,
        "baseline_n": v.baseline_n,
        "interval": list(v.interval) if v.interval else None,
        "confidence": v.confidence,
        "source": v.source,
        "baseline_source": v.baseline_source,
        "severity": v.severity,
        "improved": v.improved,
        "basis": v.basis,
        "noise": None if v.noise is None else {
            "sd": v.noise.sd, "df": None if math.isinf(v.noise.df) else v.noise.df,
            "runs": v.noise.runs, "source": v.noise.source, "prior_cv": v.noise.prior_cv,
        },
        "items": None if v.items is None else {
            "shared": v.items.shared, "of": v.items.of, "side": v.items.side,
            "moved": [{"label": m.label, "baseline": m.baseline, "current": m.current}
                      for m in v.items.moved],
            "moved_count": v.items.moved_count,
        },
        "rounds": v.rounds,
        "figures": dict(v.figures),
        "note": v.note,
        "change_pct": _finite(v.change_pct),
    }
    if v.second_look is not None:
        out["second_look"] = encode_second_look(v.second_look)
    if describe is not None:
        out["message"] = describe(v)
    return out


def _encode_look(look: LookFigures) -> dict[str, Any]:
    return {"status": look.status, "current": look.current,
            "interval": list(look.interval) if look.interval else None, "n": look.n}


def encode_second_look(look: SecondLook) -> dict[str, Any]:
    return _drop_none({
        "result": look.result,
        "first": _encode_look(look.first),
        "second": None if look.second is None else _encode_look(look.second),
        "seconds": look.seconds,
        "why": look.why,
    }, "second", "why")


def encode_recheck(recheck: Recheck) -> dict[str, Any]:
    return _drop_none({
        "requests": [encode_request(r) for r in recheck.requests],
        "seconds": recheck.seconds,
        "skipped": recheck.skipped,
    }, "skipped")


def encode_outcome(
    o: Outcome,
    describe: Callable[[Verdict], str] | None = None,
    summary: Callable[[ScenarioRun], Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """One scenario as the run file holds it (also what an xdist worker sends)."""
    run = o.run
    out: dict[str, Any] = {
        "scenario": run.scenario,
        "nodeid": run.nodeid,
        "warmup": run.warmup,
        "knobs": dict(run.knobs),
        "sweep": run.sweep,
        "n_requests": len(run.requests),
        "error": o.error,
        "stages": run.stage_names(),
    }
    if summary is not None:
        out["summary"] = dict(summary(run)) if run.requests else {}
    out.update({
        "verdicts": [encode_verdict(v, describe) for v in o.verdicts],
        "requests": [encode_request(r) for r in run.requests],
        "samples": [encode_sample(s) for s in run.samples],
        "meters": dict(run.meters),
        "token_notes": dict(run.token_notes),
        "price_notes": dict(o.price_notes),
        "test_passed": o.test_passed,
        "quality": {m: encode_scores(s) for m, s in o.quality.items()},
        "quality_errors": dict(o.quality_errors),
        "per_success": encode_per_success(o.per_success),
        "load": encode_load(run.load),
    })
    if run.recheck is not None:
        out["second_look"] = encode_recheck(run.recheck)
    return out


def encode_run(
    run: Run,
    describe: Callable[[Verdict], str] | None = None,
    summary: Callable[[ScenarioRun], Mapping[str, Any]] | None = None,
) -> dict[str, Any]:
    """The ``--ragcost-json`` document. ``describe`` writes each verdict's sentence and
    ``summary`` each scenario's per-metric summary (both derived: see :data:`DERIVED`)."""
    s = run.settings
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "pytest-ragcost", "version": run.version},
        "id": run.id,
        "created": run.created,
        "environment": dict(run.environment),
        "complete": run.complete,
        "settings": {
            "meters": list(s.meters),
            "requests_cap": s.requests_cap,
            "update": s.update,
            "strict": s.strict,
            "watts_per_thread": s.watts_per_thread,
            "config": s.config,
            "config_found": s.config_found,
            "project": s.project,
            "config_sha256": s.config_sha256,
        },
        "selection": encode_selection(run.selection),
        "scenarios": [
            encode_outcome(o, describe, summary)
            for o in sorted(run.outcomes, key=lambda o: o.run.scenario)
        ],
    }


def encode_selection(sel: Selection | None) -> dict[str, Any] | None:
    """Which tests a run selected out of which suite (null when not known)."""
    if sel is None:
        return None
    return {
        "suite_sha256": sel.suite_sha256,
        "suite_size": sel.suite_size,
        "tests": list(sel.tests),
        "ran_all": sel.ran_all,
    }


def _finite(x: float | None) -> float | None:
    return x if x is not None and math.isfinite(x) else None


def dumps(doc: Mapping[str, Any]) -> str:
    """The document as JSON text; a value JSON cannot hold is written as its repr (a
    sample's extra field the test passed), never an error."""
    return json.dumps(doc, indent=2, default=repr) + "\n"


# --------------------------------------------------------------------------- reading


def read_run(path: Path) -> Run:
    """Read and check a saved run; raises :class:`RunFileError` with the reason."""
    return decode_run(_load_json(path), str(path))


def loads(text: str, where: str = "<run>") -> Run:
    """Check and read a run from JSON text."""
    return decode_run(_parse(text, where), where)


def decode_run(doc: object, where: str = "<run>") -> Run:
    """The run a document holds, every field checked."""
    c = _Checker(where)
    if not isinstance(doc, dict) or doc.get("schema_version") != SCHEMA_VERSION:
        raise RunFileError(
            f"{where}: not a pytest-ragcost run (expected a JSON object with "
            f'"schema_version": {SCHEMA_VERSION}, written by pytest --ragcost '
            "--ragcost-json=PATH)"
        )
    d: dict[str, Any] = doc
    environment = d.get("environment")
    tool = d.get("tool")
    version = ""
    if isinstance(tool, dict):
        version = c.text(tool.get("version", ""), "tool.version") or ""
    return Run(
        environment=c.obj(environment if environment is not None else {}, "environment"),
        outcomes=[
            c.outcome(sc, f"scenarios[{i}]")
            for i, sc in enumerate(c.items(d.get("scenarios"), "scenarios"))
        ],
        complete=c.flag(d.get("complete", False), "complete"),
        created=c.text(d.get("created"), "created", optional=True) or "",
        settings=c.settings(d.get("settings") or {}, "settings"),
        version=version,
        selection=c.selection(d.get("selection"), "selection"),
        id=c.run_id(d.get("id"), "id"),
    )


def decode_outcome(data: object, where: str = "<outcome>") -> Outcome:
    """One scenario as :func:`encode_outcome` wrote it, checked."""
    return _Checker("").outcome(data, where)


def decode_scores(data: object, where: str = "<scores>") -> MetricScores:
    """One quality metric's scores as :func:`encode_scores` wrote them, checked."""
    return _Checker("").scores(data, where)


def _load_json(path: Path) -> object:
    from ..inputs import InputError, decode, read_bytes

    fix = "a run file is the JSON that pytest --ragcost --ragcost-json=PATH writes"
    try:
        data = read_bytes(path, max_bytes=MAX_FILE_BYTES, what="run file", fix=fix)
        if data is None:
            raise RunFileError(f"{path}: cannot read: No such file or directory")
        text = decode(data, str(path), what="run file", fix=fix)
    except InputError as exc:
        raise RunFileError(str(exc)) from None
    return _parse(text, str(path))


def _depth_ok(text: str) -> bool:
    """False when brackets nest deeper than :data:`MAX_DEPTH` (checked before parsing, so a
    hostile file never reaches the parser's recursion)."""
    depth = 0
    in_string = False
    escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_DEPTH:
                return False
        elif ch in "]}":
            depth -= 1
    return True


def _parse(text: str, where: str) -> object:
    if not _depth_ok(text):
        raise RunFileError(
            f"{where}: nests deeper than {MAX_DEPTH} levels; not a run file written by "
            "pytest --ragcost --ragcost-json=PATH"
        )
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise RunFileError(f"{where}:{exc.lineno}: not JSON: {exc.msg}") from None
    except (RecursionError, ValueError) as exc:  # e.g. a huge integer literal
        raise RunFileError(f"{where}: not usable JSON: {exc}") from None


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
        if math.isfinite(value) and abs(value) >= 1e30:
            return "a number beyond 1e30"  # not a 5,000-digit repr in a message
        return f"the number {value!r}"
    if isinstance(value, str):
        shown = value if len(value) <= 40 else value[:37] + "..."
        return f"the string {shown!r}"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


class _Checker:
    """Field checks that name the JSON path of what is wrong."""

    def __init__(self, where: str) -> None:
        self.where = where

    def fail(self, at: str, expected: str, value: object) -> RunFileError:
        prefix = f"{self.where}: " if self.where else ""
        return RunFileError(f"{prefix}{at} must be {expected} (found {_kind(value)})")

    # -- JSON shapes ----------------------------------------------------------------------
    def obj(self, value: object, at: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(at, "an object", value)
        return value

    def items(self, value: object, at: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(at, "a list", value)
        return value

    def text(self, value: object, at: str, *, optional: bool = False) -> str | None:
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise self.fail(at, "a string" + (" or null" if optional else ""), value)
        return value

    def req_text(self, value: object, at: str) -> str:
        text = self.text(value, at)
        assert text is not None
        return text

    def flag(self, value: object, at: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(at, "true or false", value)
        return value

    def integer(self, value: object, at: str, minimum: int = 0,
                *, optional: bool = False) -> int:
        if value is None and optional:
            return minimum - 1  # callers map this back to None
        if isinstance(value, bool) or not isinstance(value, int) or not (
            minimum <= value <= MAX_COUNT
        ):
            raise self.fail(at, f"a whole number from {minimum} to 2**53", value)
        return value

    def opt_int(self, value: object, at: str, minimum: int = 0) -> int | None:
        return None if value is None else self.integer(value, at, minimum)

    def number(self, value: object, at: str, *, minimum: float = -MAX_MAGNITUDE,
               maximum: float = MAX_MAGNITUDE) -> float:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (isinstance(value, float) and not math.isfinite(value))
        ):
            raise self.fail(at, "a finite number", value)
        if not minimum <= value <= maximum:
            lo = "0" if minimum == 0 else f"{minimum:g}"
            raise self.fail(at, f"a finite number from {lo} to {maximum:g}", value)
        return float(value)

    def offset(self, value: object, at: str) -> float | None:
        """Milliseconds after a request opened: 0 or more, or null."""
        if value is None:
            return None
        number = self.number(value, at)
        if number < 0:
            raise self.fail(at, "a number of milliseconds, 0 or more, or null", value)
        return number

    def amount(self, value: object, at: str, *, above_zero: bool = False) -> float:
        """A figure that cannot be negative (a count per second, a mean depth)."""
        number = self.number(value, at)
        if number < 0 or (above_zero and number == 0):
            raise self.fail(at, "a number above 0" if above_zero else "a number of 0 or more",
                            value)
        return number

    def opt_amount(self, value: object, at: str) -> float | None:
        return None if value is None else self.amount(value, at)

    def opt_number(self, value: object, at: str, **bounds: float) -> float | None:
        return None if value is None else self.number(value, at, **bounds)

    def texts(self, value: object, at: str) -> dict[str, str]:
        return {str(k): self.req_text(v, f"{at}.{k}") for k, v in self.obj(value, at).items()}

    def strings(self, value: object, at: str) -> tuple[str, ...]:
        return tuple(self.req_text(v, f"{at}[{i}]") for i, v in enumerate(self.items(value, at)))

    def choice(self, value: object, at: str, options: Sequence[T]) -> T:
        for option in options:
            if value == option:
                return option
        raise self.fail(at, "one of " + ", ".join(str(o) for o in options), value)

    def pair(self, value: object, at: str) -> tuple[float, float] | None:
        if value is None:
            return None
        pair = self.items(value, at)
        if len(pair) != 2:
            raise self.fail(at, "a list of two numbers (low, high) or null", value)
        return (self.number(pair[0], f"{at}[0]", minimum=-1e300, maximum=1e300),
                self.number(pair[1], f"{at}[1]", minimum=-1e300, maximum=1e300))

    def metrics(self, value: object, at: str) -> dict[str, float]:
        """A request's or a stage's figures: named as the recorder names them (no dots: a
        dot separates stage and metric in a key), none negative, counts at most 2**53."""
        out: dict[str, float] = {}
        for k, v in self.obj(value, at).items():
            name = str(k)
            if not NAME_RE.match(name):
                raise self.fail(f"{at}.{name}" if name else f'{at}[""]',
                                "named by a metric name (letters, digits, '_' or '-', no dots)",
                                k)
            count = name.startswith(_COUNT_PREFIXES) or name in _COUNT_NAMES
            out[name] = self.number(v, f"{at}.{name}", minimum=0,
                                    maximum=MAX_COUNT if count else MAX_MAGNITUDE)
        return out

    def stage_name(self, value: object, at: str) -> str:
        name = self.req_text(value, at)
        if not NAME_RE.match(name):
            raise self.fail(at, "a stage name (letters, digits, '_' or '-', starting with a "
                            "letter or '_', no dots: as ragcost.stage() takes it)", value)
        return name

    def jsonish(self, value: object, at: str) -> dict[str, Any]:
        """An object of arbitrary JSON (checked for shape only)."""
        return dict(self.obj(value, at))

    # -- records ----------------------------------------------------------------------------
    def selection(self, value: object, at: str) -> Selection | None:
        if value is None:
            return None
        d = self.obj(value, at)
        digest = self.req_text(d.get("suite_sha256"), f"{at}.suite_sha256")
        if not _SHA256_RE.match(digest):
            raise self.fail(f"{at}.suite_sha256", "a SHA-256 digest (64 hex digits)", digest)
        size = self.integer(d.get("suite_size"), f"{at}.suite_size")
        tests = self.strings(d.get("tests", []), f"{at}.tests")
        if len(tests) > size:
            raise self.fail(f"{at}.tests", f"at most suite_size ({size}) node ids",
                            d.get("tests"))
        return Selection(suite_sha256=digest, suite_size=size, tests=tests,
                         ran_all=self.flag(d.get("ran_all", False), f"{at}.ran_all"))

    def settings(self, value: object, at: str) -> RunSettings:
        s = self.obj(value, at)
        return RunSettings(
            meters=self.strings(s.get("meters", ["auto"]), f"{at}.meters"),
            requests_cap=self.opt_int(s.get("requests_cap"), f"{at}.requests_cap", 1),
            update=self.text(s.get("update"), f"{at}.update", optional=True),
            strict=self.flag(s.get("strict", False), f"{at}.strict"),
            watts_per_thread=self.number(s.get("watts_per_thread", 4.0),
                                         f"{at}.watts_per_thread", minimum=0),
            config=self.text(s.get("config"), f"{at}.config", optional=True),
            config_found=self.flag(s.get("config_found", False), f"{at}.config_found"),
            project=self.text(s.get("project"), f"{at}.project", optional=True),
            config_sha256=self.hex_digest(s.get("config_sha256"), f"{at}.config_sha256", 64),
        )

    def run_id(self, value: object, at: str) -> str:
        return self.hex_digest(value, at, 32) or ""

    def hex_digest(self, value: object, at: str, size: int) -> str | None:
        """``size`` lowercase hex digits, or None (absent or null)."""
        text = self.text(value, at, optional=True)
        if text is None or text == "":
            return None
        if len(text) != size or any(ch not in "0123456789abcdef" for ch in text):
            raise self.fail(at, f"{size} lowercase hex digits", text)
        return text

    def outcome(self, value: object, at: str) -> Outcome:
        sc = self.obj(value, at)
        quality = self.obj(sc.get("quality") or {}, f"{at}.quality")
        per_success = self.obj(sc.get("per_success") or {}, f"{at}.per_success")
        return Outcome(
            run=self.scenario(sc, at),
            verdicts=[
                self.verdict(v, f"{at}.verdicts[{j}]")
                for j, v in enumerate(self.items(sc.get("verdicts") or [], f"{at}.verdicts"))
            ],
            error=self.text(sc.get("error"), f"{at}.error", optional=True),
            quality={str(m): self.scores(d, f"{at}.quality.{m}") for m, d in quality.items()},
            per_success=self.per_success(per_success, f"{at}.per_success")
            if per_success else None,
            test_passed=self.flag(sc.get("test_passed", True), f"{at}.test_passed"),
            price_notes=self.texts(sc.get("price_notes") or {}, f"{at}.price_notes"),
            quality_errors=self.texts(sc.get("quality_errors") or {}, f"{at}.quality_errors"),
        )

    def scenario(self, sc: dict[str, Any], at: str) -> ScenarioRun:
        load = self.obj(sc.get("load") or {}, f"{at}.load")
        return ScenarioRun(
            scenario=self.req_text(sc.get("scenario"), f"{at}.scenario"),
            nodeid=self.req_text(sc.get("nodeid"), f"{at}.nodeid"),
            requests=tuple(
                self.request(r, f"{at}.requests[{j}]")
                for j, r in enumerate(self.items(sc.get("requests", []), f"{at}.requests"))
            ),
            warmup=self.integer(sc.get("warmup", 0), f"{at}.warmup"),
            samples=tuple(
                self.sample(s, f"{at}.samples[{j}]")
                for j, s in enumerate(self.items(sc.get("samples", []), f"{at}.samples"))
            ),
            meters=self.jsonish(sc.get("meters") or {}, f"{at}.meters"),
            token_notes=self.texts(sc.get("token_notes") or {}, f"{at}.token_notes"),
            load=self.load(load, f"{at}.load") if load else None,
            knobs=self.knobs(sc.get("knobs") or {}, f"{at}.knobs"),
            sweep=self.text(sc.get("sweep"), f"{at}.sweep", optional=True),
            recheck=self.recheck(sc.get("second_look"), f"{at}.second_look"),
        )

    def recheck(self, value: object, at: str) -> Recheck | None:
        if value is None:
            return None
        d = self.obj(value, at)
        return Recheck(
            requests=tuple(
                self.request(r, f"{at}.requests[{j}]")
                for j, r in enumerate(self.items(d.get("requests", []), f"{at}.requests"))
            ),
            seconds=self.number(d.get("seconds", 0.0), f"{at}.seconds", minimum=0),
            skipped=self.text(d.get("skipped"), f"{at}.skipped", optional=True),
        )

    def look(self, value: object, at: str) -> LookFigures:
        d = self.obj(value, at)
        return LookFigures(
            status=self.choice(d.get("status"), f"{at}.status", STATUSES),
            current=self.opt_number(d.get("current"), f"{at}.current", minimum=-1e300,
                                    maximum=1e300),
            interval=self.pair(d.get("interval"), f"{at}.interval"),
            n=self.opt_int(d.get("n"), f"{at}.n"),
        )

    def second_look(self, value: object, at: str) -> SecondLook | None:
        if value is None:
            return None
        d = self.obj(value, at)
        second = d.get("second")
        return SecondLook(
            result=self.choice(d.get("result"), f"{at}.result", SECOND_LOOK_RESULTS),
            first=self.look(d.get("first"), f"{at}.first"),
            second=None if second is None else self.look(second, f"{at}.second"),
            seconds=self.number(d.get("seconds", 0.0), f"{at}.seconds", minimum=0),
            why=self.text(d.get("why"), f"{at}.why", optional=True),
        )

    def knobs(self, value: object, at: str) -> dict[str, str | int | float | bool | None]:
        out: dict[str, str | int | float | bool | None] = {}
        for k, v in self.obj(value, at).items():
            exact_int = isinstance(v, int) and abs(v) <= MAX_COUNT
            if v is None or isinstance(v, str | bool) or exact_int:
                out[str(k)] = v
            elif isinstance(v, int | float):
                out[str(k)] = self.number(v, f"{at}.{k}", minimum=-1e300, maximum=1e300)
            else:
                raise self.fail(f"{at}.{k}", "a string, number, boolean or null (a knob is a "
                                "parameter of the test)", v)
        return out

    def request(self, value: object, at: str) -> RequestRecord:
        r = self.obj(value, at)
        return RequestRecord(
            trace_id=self.req_text(r.get("trace_id"), f"{at}.trace_id"),
            index=self.integer(r.get("index"), f"{at}.index"),
            metrics=self.metrics(r.get("metrics"), f"{at}.metrics"),
            sources=self.texts(r.get("sources", {}), f"{at}.sources"),
            stages=tuple(
                self.stage(s, f"{at}.stages[{k}]")
                for k, s in enumerate(self.items(r.get("stages", []), f"{at}.stages"))
            ),
            error=self.text(r.get("error"), f"{at}.error", optional=True),
            item_id=self.text(r.get("item_id"), f"{at}.item_id", optional=True),
            item_label=self.text(r.get("item_label"), f"{at}.item_label", optional=True),
        )

    def stage(self, value: object, at: str) -> StageRecord:
        s = self.obj(value, at)
        return StageRecord(
            name=self.stage_name(s.get("name"), f"{at}.name"),
            metrics=self.metrics(s.get("metrics"), f"{at}.metrics"),
            sources=self.texts(s.get("sources", {}), f"{at}.sources"),
            error=self.text(s.get("error"), f"{at}.error", optional=True),
            model=self.text(s.get("model"), f"{at}.model", optional=True),
            start_ms=self.offset(s.get("start_ms"), f"{at}.start_ms"),
            endpoint=self.text(s.get("endpoint"), f"{at}.endpoint", optional=True),
            endpoints=tuple(
                self.endpoint(e, f"{at}.endpoints[{k}]")
                for k, e in enumerate(self.items(s.get("endpoints", []), f"{at}.endpoints"))
            ),
        )

    def endpoint(self, value: object, at: str) -> EndpointRecord:
        e = self.obj(value, at)
        return EndpointRecord(
            endpoint=self.req_text(e.get("endpoint"), f"{at}.endpoint"),
            calls=self.integer(e.get("calls", 0), f"{at}.calls"),
            sent_bytes=self.integer(e.get("sent_bytes", 0), f"{at}.sent_bytes"),
            received_bytes=self.integer(e.get("received_bytes", 0), f"{at}.received_bytes"),
            errors=self.integer(e.get("errors", 0), f"{at}.errors"),
            timeouts=self.integer(e.get("timeouts", 0), f"{at}.timeouts"),
            connects=self.integer(e.get("connects", 0), f"{at}.connects"),
            rtt_ms=self.opt_amount(e.get("rtt_ms"), f"{at}.rtt_ms"),
            connect_ms=self.opt_amount(e.get("connect_ms"), f"{at}.connect_ms"),
        )

    def sample(self, value: object, at: str) -> Sample:
        s = self.obj(value, at)
        return Sample(
            question=self.text(s.get("question"), f"{at}.question", optional=True),
            answer=self.text(s.get("answer"), f"{at}.answer", optional=True),
            contexts=self.strings(s.get("contexts", []), f"{at}.contexts"),
            reference=self.text(s.get("reference"), f"{at}.reference", optional=True),
            reference_contexts=self.strings(s.get("reference_contexts", []),
                                            f"{at}.reference_contexts"),
            context_ids=self.strings(s.get("context_ids", []), f"{at}.context_ids"),
            reference_ids=self.strings(s.get("reference_ids", []), f"{at}.reference_ids"),
            trace_id=self.text(s.get("trace_id"), f"{at}.trace_id", optional=True),
            extra=self.jsonish(s.get("extra", {}), f"{at}.extra"),
        )

    def load(self, data: dict[str, Any], at: str) -> LoadFigures:
        """A load level's figures; the reports draw them, so each is checked."""
        raw_mode = data.get("mode")
        if raw_mode not in ("closed", "open"):
            raise self.fail(f"{at}.mode", '"closed" or "open"', raw_mode)
        mode: Literal["closed", "open"] = "open" if raw_mode == "open" else "closed"
        spec = self.obj(data.get("spec"), f"{at}.spec")
        level = LoadLevel(
            users=self.opt_int(spec.get("users"), f"{at}.spec.users", 1),
            rate=None if spec.get("rate") is None else self.amount(
                spec.get("rate"), f"{at}.spec.rate", above_zero=True),
            requests=self.opt_int(spec.get("requests"), f"{at}.spec.requests", 1),
            duration_s=self.opt_amount(spec.get("duration_s"), f"{at}.spec.duration_s"),
            timeout_s=self.opt_amount(spec.get("timeout_s"), f"{at}.spec.timeout_s"),
            arrival=self.req_text(spec.get("arrival", "poisson"), f"{at}.spec.arrival"),
            workers=self.opt_int(spec.get("workers"), f"{at}.spec.workers", 1),
            seed=self.integer(spec.get("seed", 0), f"{at}.spec.seed"),
        )
        if mode == "closed" and level.users is None:
            raise self.fail(f"{at}.spec.users", "a whole number from 1 (a closed loop has "
                            "users)", spec.get("users"))
        if mode == "open" and level.rate is None:
            raise self.fail(f"{at}.spec.rate", "a number above 0 (an open loop has a rate)",
                            spec.get("rate"))
        backlog = data.get("backlog")
        return LoadFigures(
            level=self.req_text(data.get("level"), f"{at}.level"),
            mode=mode,
            spec=level,
            requests=self.integer(data.get("requests"), f"{at}.requests"),
            errors=self.integer(data.get("errors"), f"{at}.errors"),
            timeouts=self.integer(data.get("timeouts"), f"{at}.timeouts"),
            elapsed_s=self.amount(data.get("elapsed_s", 0.0), f"{at}.elapsed_s"),
            throughput_rps=self.amount(data.get("throughput_rps"), f"{at}.throughput_rps"),
            wait_ms_mean=self.amount(data.get("wait_ms_mean", 0.0), f"{at}.wait_ms_mean"),
            queue_depth_mean=self.amount(data.get("queue_depth_mean"), f"{at}.queue_depth_mean"),
            queue_depth_max=self.amount(data.get("queue_depth_max", 0.0),
                                        f"{at}.queue_depth_max"),
            in_flight_mean=self.amount(data.get("in_flight_mean", 0.0), f"{at}.in_flight_mean"),
            offered_rps=self.opt_amount(data.get("offered_rps"), f"{at}.offered_rps"),
            queues=tuple(self.jsonish(q, f"{at}.queues[{i}]")
                         for i, q in enumerate(self.items(data.get("queues", []),
                                                          f"{at}.queues"))),
            first_errors=self.strings(data.get("first_errors", []), f"{at}.first_errors"),
            backlog=None if backlog is None else self.jsonish(backlog, f"{at}.backlog"),
        )

    def scores(self, value: object, at: str) -> MetricScores:
        d = self.obj(value, at)
        return MetricScores(
            metric=self.req_text(d.get("metric"), f"{at}.metric"),
            tier=self.choice(d.get("tier"), f"{at}.tier", TIERS),
            samples=tuple(
                self.sample_score(s, f"{at}.samples[{j}]")
                for j, s in enumerate(self.items(d.get("samples"), f"{at}.samples"))
            ),
            seconds=self.number(d.get("seconds", 0.0), f"{at}.seconds", minimum=0),
            judge_model=self.text(d.get("judge_model"), f"{at}.judge_model", optional=True),
            judge_live_calls=self.integer(d.get("judge_live_calls", 0),
                                          f"{at}.judge_live_calls"),
            judge_replayed_calls=self.integer(d.get("judge_replayed_calls", 0),
                                              f"{at}.judge_replayed_calls"),
            judge_input_tokens=self.integer(d.get("judge_input_tokens", 0),
                                            f"{at}.judge_input_tokens"),
            judge_output_tokens=self.integer(d.get("judge_output_tokens", 0),
                                             f"{at}.judge_output_tokens"),
        )

    def sample_score(self, value: object, at: str) -> SampleScore:
        s = self.obj(value, at)
        return SampleScore(
            key=self.req_text(s.get("key"), f"{at}.key"),
            output=self.req_text(s.get("output"), f"{at}.output"),
            label=self.req_text(s.get("label"), f"{at}.label"),
            value=self.opt_number(s.get("value"), f"{at}.value"),
            reused=self.flag(s.get("reused", False), f"{at}.reused"),
            miss=self.flag(s.get("miss", False), f"{at}.miss"),
            reason=self.text(s.get("reason"), f"{at}.reason", optional=True),
        )

    def per_success(self, d: dict[str, Any], at: str) -> PerSuccess:
        """``{metric, min, successes, answers}`` and each cost per success (null when no
        answer succeeded)."""
        costs = {k: self.opt_number(d.get(k), f"{at}.{k}", minimum=0) for k in PerSuccess.COSTS}
        return PerSuccess(
            metric=self.req_text(d.get("metric"), f"{at}.metric"),
            min=self.number(d.get("min"), f"{at}.min"),
            successes=self.integer(d.get("successes"), f"{at}.successes"),
            answers=self.integer(d.get("answers"), f"{at}.answers"),
            **costs,
        )

    def verdict(self, value: object, at: str) -> Verdict:
        v = self.obj(value, at)
        status: Status = self.choice(v.get("status"), f"{at}.status", STATUSES)
        reason = v.get("reason")
        findings_raw = v.get("findings")
        if reason is None and findings_raw is None:
            # an older run file: the verdict's text is all there is
            message = self.text(v.get("message", ""), f"{at}.message") or ""
            reason = "recorded"
            findings: tuple[Finding, ...] = (Finding(status, "recorded"),)
            note: str | None = message
        else:
            reason = self.req_text(reason, f"{at}.reason")
            findings = tuple(
                self.finding(f, f"{at}.findings[{i}]")
                for i, f in enumerate(self.items(findings_raw or [], f"{at}.findings"))
            )
            note = self.text(v.get("note"), f"{at}.note", optional=True)
        stat: Stat = self.choice(v.get("stat", "mean"), f"{at}.stat", STATS)
        return Verdict(
            scenario=self.req_text(v.get("scenario"), f"{at}.scenario"),
            key=self.req_text(v.get("key"), f"{at}.key"),
            status=status,
            reason=reason,
            findings=findings,
            baseline=self.opt_number(v.get("baseline"), f"{at}.baseline", minimum=-1e300,
                                     maximum=1e300),
            current=self.opt_number(v.get("current"), f"{at}.current", minimum=-1e300,
                                    maximum=1e300),
            budget=self.opt_number(v.get("budget"), f"{at}.budget", minimum=-1e300,
                                   maximum=1e300),
            tolerance=self.text(v.get("tolerance"), f"{at}.tolerance", optional=True),
            stat=stat,
            n=self.opt_int(v.get("n"), f"{at}.n"),
            baseline_n=self.opt_int(v.get("baseline_n"), f"{at}.baseline_n"),
            interval=self.pair(v.get("interval"), f"{at}.interval"),
            confidence=self.opt_number(v.get("confidence"), f"{at}.confidence", minimum=0,
                                       maximum=1),
            source=self.text(v.get("source"), f"{at}.source", optional=True),
            baseline_source=self.text(v.get("baseline_source"), f"{at}.baseline_source",
                                      optional=True),
            severity=self.choice(v.get("severity", "fail"), f"{at}.severity", SEVERITIES),
            improved=self.flag(v.get("improved", False), f"{at}.improved"),
            basis=self.choice(v.get("basis", "run"), f"{at}.basis", BASES),
            noise=self.noise(v.get("noise"), f"{at}.noise"),
            items=self.items_used(v.get("items"), f"{at}.items"),
            rounds=self.opt_int(v.get("rounds"), f"{at}.rounds"),
            figures={str(k): self.number(x, f"{at}.figures.{k}", minimum=-1e300, maximum=1e300)
                     for k, x in self.obj(v.get("figures") or {}, f"{at}.figures").items()},
            note=note,
            second_look=self.second_look(v.get("second_look"), f"{at}.second_look"),
        )

    def finding(self, value: object, at: str) -> Finding:
        f = self.obj(value, at)
        return Finding(
            status=self.choice(f.get("status"), f"{at}.status", STATUSES),
            reason=self.req_text(f.get("reason"), f"{at}.reason"),
            interval=self.pair(f.get("interval"), f"{at}.interval"),
            improved=self.flag(f.get("improved", False), f"{at}.improved"),
            bound=self.opt_number(f.get("bound"), f"{at}.bound", minimum=-1e300, maximum=1e300),
        )

    def noise(self, value: object, at: str) -> BetweenRun | None:
        if value is None:
            return None
        d = self.obj(value, at)
        df = d.get("df")
        return BetweenRun(
            sd=self.number(d.get("sd"), f"{at}.sd", minimum=0, maximum=100),
            df=math.inf if df is None else self.number(df, f"{at}.df", minimum=0),
            runs=self.integer(d.get("runs"), f"{at}.runs"),
            source=self.choice(d.get("source"), f"{at}.source", ("history", "prior")),
            prior_cv=self.number(d.get("prior_cv", 0.25), f"{at}.prior_cv", minimum=0,
                                 maximum=100),
        )

    def items_used(self, value: object, at: str) -> ItemsUsed | None:
        if value is None:
            return None
        d = self.obj(value, at)
        return ItemsUsed(
            shared=self.integer(d.get("shared"), f"{at}.shared"),
            of=self.integer(d.get("of"), f"{at}.of"),
            side=self.req_text(d.get("side", "baseline"), f"{at}.side"),
            moved=tuple(
                Moved(
                    label=self.req_text(m.get("label"), f"{at}.moved[{i}].label"),
                    baseline=self.number(m.get("baseline"), f"{at}.moved[{i}].baseline"),
                    current=self.number(m.get("current"), f"{at}.moved[{i}].current"),
                )
                for i, m in enumerate(
                    self.obj(x, f"{at}.moved[{j}]")
                    for j, x in enumerate(self.items(d.get("moved", []), f"{at}.moved"))
                )
            ),
            moved_count=self.integer(d.get("moved_count", 0), f"{at}.moved_count"),
        )
