"""Reading a saved ``--ragcost-json`` run back, for the ``ragcost`` command line.

The file may come from anywhere (an artifact of another job, a hand edit, a truncated
download), so every field is checked before it reaches the library: a problem is a
:class:`RunFileError` naming the file, the field's path (``scenarios[0].requests[2].
metrics.wall_ms``), what was expected and what was found. Nothing here raises anything
else for any input.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .inputs import InputError, number
from .models import (
    NAME_RE,
    STATUSES,
    Outcome,
    RequestRecord,
    Sample,
    ScenarioRun,
    StageRecord,
    Verdict,
)

#: a run file is written by the plugin; anything deeper than this is not one of them
MAX_DEPTH = 64


class RunFileError(ValueError):
    """A saved run cannot be used; ``str()`` is the message for the user."""


@dataclass(frozen=True)
class SavedRun:
    """A ``--ragcost-json`` document read back: its environment, whether the whole suite
    ran (so a scenario missing from it is STALE), each scenario's outcome (with the
    verdicts, per-success costs and price notes the run reported) and when it was written
    (``created``, ISO 8601; empty when the file has none)."""

    environment: dict[str, Any]
    complete: bool
    outcomes: list[Outcome]
    created: str = ""


def _decode(path: Path, data: bytes) -> str:
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise RunFileError(
            f"{path}: is UTF-16 text; a run file is the UTF-8 JSON that "
            "pytest --ragcost --ragcost-json=PATH writes (re-save it as UTF-8)"
        )
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise RunFileError(
            f"{path}:{line}: is not UTF-8 text (byte 0x{data[exc.start]:02x} at offset "
            f"{exc.start}); a run file is the JSON that pytest --ragcost "
            "--ragcost-json=PATH writes"
        ) from None


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


def read(path: Path) -> SavedRun:
    """Read and check a saved run; raises :class:`RunFileError` with the reason."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise RunFileError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except ValueError as exc:  # a NUL byte in the path
        raise RunFileError(f"{path!r}: cannot read: {exc}") from None
    text = _decode(path, data)
    if not _depth_ok(text):
        raise RunFileError(
            f"{path}: nests deeper than {MAX_DEPTH} levels; not a run file written by "
            "pytest --ragcost --ragcost-json=PATH"
        )
    try:
        doc = json.loads(text)
    except json.JSONDecodeError as exc:
        raise RunFileError(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from None
    except (RecursionError, ValueError) as exc:  # e.g. a huge integer literal
        raise RunFileError(f"{path}: not usable JSON: {exc}") from None
    if not isinstance(doc, dict) or doc.get("schema_version") != 1:
        raise RunFileError(
            f"{path}: not a pytest-ragcost run (expected a JSON object with "
            '"schema_version": 1, written by pytest --ragcost --ragcost-json=PATH)'
        )
    return _Checker(path).run(doc)


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, int | float):
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
    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, expected: str, value: object) -> RunFileError:
        return RunFileError(f"{self.path}: {where} must be {expected} (found {_kind(value)})")

    def obj(self, value: object, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise self.fail(where, "an object", value)
        return value

    def items(self, value: object, where: str) -> list[Any]:
        if not isinstance(value, list):
            raise self.fail(where, "a list", value)
        return value

    def text(self, value: object, where: str, *, optional: bool = False) -> str | None:
        if value is None and optional:
            return None
        if not isinstance(value, str):
            raise self.fail(where, "a string" + (" or null" if optional else ""), value)
        return value

    def integer(self, value: object, where: str, minimum: int = 0) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or not (
            minimum <= value <= 2**53
        ):
            raise self.fail(where, f"a whole number from {minimum} to 2**53", value)
        return value

    def number(self, value: object, where: str) -> float:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or (isinstance(value, float) and not math.isfinite(value))
            or (isinstance(value, int) and abs(value) > 1e300)
        ):
            raise self.fail(where, "a finite number", value)
        return float(value)

    def numbers(self, value: object, where: str) -> dict[str, float]:
        return {
            str(k): self.number(v, f"{where}.{k}") for k, v in self.obj(value, where).items()
        }

    def metrics(self, value: object, where: str) -> dict[str, float]:
        """A request's or a stage's figures: names as the recorder gives them (no dots:
        a dot separates stage and metric in a key), values from 0 to
        :data:`~pytest_ragcost.inputs.MAX_NUMBER`."""
        out: dict[str, float] = {}
        for k, v in self.obj(value, where).items():
            if not NAME_RE.match(str(k)):
                raise self.fail(f"{where}.{k}" if k else f"{where}[\"\"]",
                                "named by a metric name (letters, digits, '_' or '-', no dots)",
                                k)
            value = self.number(v, f"{where}.{k}")
            try:
                out[str(k)] = number(value, str(self.path), f"{where}.{k}", minimum=0)
            except InputError as exc:
                raise RunFileError(str(exc)) from None
        return out

    def stage_name(self, value: object, where: str) -> str:
        name = self.text(value, where) or ""
        if not NAME_RE.match(name):
            raise self.fail(where, "a stage name (letters, digits, '_' or '-', starting with a "
                            "letter or '_', no dots: as ragcost.stage() takes it)", value)
        return name

    def texts(self, value: object, where: str) -> dict[str, str]:
        out: dict[str, str] = {}
        for k, v in self.obj(value, where).items():
            out[str(k)] = self.text(v, f"{where}.{k}") or ""
        return out

    def strings(self, value: object, where: str) -> tuple[str, ...]:
        return tuple(
            self.text(v, f"{where}[{i}]") or "" for i, v in enumerate(self.items(value, where))
        )

    def optional_number(self, value: object, where: str) -> float | None:
        return None if value is None else self.number(value, where)

    def offset(self, value: object, where: str) -> float | None:
        if value is None:
            return None
        number = self.number(value, where)
        if number < 0:
            raise self.fail(where, "a number of milliseconds, 0 or more, or null", value)
        return number

    def knobs(self, value: object, where: str) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in self.obj(value, where).items():
            if v is None or isinstance(v, str | bool):
                out[str(k)] = v
            elif isinstance(v, int | float):
                out[str(k)] = v if isinstance(v, int) and abs(v) <= 2**53 else self.number(
                    v, f"{where}.{k}")
            else:
                raise self.fail(f"{where}.{k}", "a string, number, boolean or null (a knob "
                                "is a parameter of the test)", v)
        return out

    def run(self, doc: dict[str, Any]) -> SavedRun:
        environment = doc.get("environment", {})
        if environment is None:
            environment = {}
        environment = self.obj(environment, "environment")
        complete = self.flag(doc.get("complete", False), "complete")
        created = self.text(doc.get("created"), "created", optional=True) or ""
        outcomes = []
        for i, sc in enumerate(self.items(doc.get("scenarios"), "scenarios")):
            where = f"scenarios[{i}]"
            sc = self.obj(sc, where)
            if sc.get("nodeid") == "":
                continue  # a STALE placeholder: no test produced the scenario
            outcomes.append(
                Outcome(
                    run=self.scenario(sc, where),
                    verdicts=[
                        self.verdict(v, f"{where}.verdicts[{j}]")
                        for j, v in enumerate(self.items(sc.get("verdicts") or [],
                                                         f"{where}.verdicts"))
                    ],
                    error=self.text(sc.get("error"), f"{where}.error", optional=True),
                    test_passed=self.flag(sc.get("test_passed", True), f"{where}.test_passed"),
                    quality=self.quality(sc.get("quality") or {}, f"{where}.quality"),
                    per_success=self.per_success(
                        sc.get("per_success") or {}, f"{where}.per_success"
                    ),
                    price_notes=self.texts(sc.get("price_notes") or {}, f"{where}.price_notes"),
                    quality_errors=self.texts(
                        sc.get("quality_errors") or {}, f"{where}.quality_errors"
                    ),
                )
            )
        return SavedRun(environment, complete, outcomes, created)

    def verdict(self, value: object, where: str) -> Verdict:
        v = self.obj(value, where)
        status = v.get("status")
        if status not in STATUSES:
            raise self.fail(f"{where}.status", "one of " + ", ".join(STATUSES), status)
        severity = v.get("severity", "fail")
        if severity not in ("fail", "warn"):
            raise self.fail(f"{where}.severity", '"fail" or "warn"', severity)
        interval: tuple[float, float] | None = None
        raw = v.get("interval")
        if raw is not None:
            pair = self.items(raw, f"{where}.interval")
            if len(pair) != 2:
                raise self.fail(f"{where}.interval", "a list of two numbers (low, high) or null",
                                raw)
            interval = (self.number(pair[0], f"{where}.interval[0]"),
                        self.number(pair[1], f"{where}.interval[1]"))
        n = v.get("n")
        return Verdict(
            scenario=self.text(v.get("scenario"), f"{where}.scenario") or "",
            key=self.text(v.get("key"), f"{where}.key") or "",
            status=status,
            message=self.text(v.get("message", ""), f"{where}.message") or "",
            baseline=self.optional_number(v.get("baseline"), f"{where}.baseline"),
            current=self.optional_number(v.get("current"), f"{where}.current"),
            budget=self.optional_number(v.get("budget"), f"{where}.budget"),
            tolerance=self.text(v.get("tolerance"), f"{where}.tolerance", optional=True),
            stat=self.text(v.get("stat", "mean"), f"{where}.stat") or "mean",
            n=None if n is None else self.integer(n, f"{where}.n"),
            interval=interval,
            source=self.text(v.get("source"), f"{where}.source", optional=True),
            severity="warn" if severity == "warn" else "fail",
            improved=self.flag(v.get("improved", False), f"{where}.improved"),
        )

    def per_success(self, value: object, where: str) -> dict[str, Any]:
        """``{metric, min, successes, answers}`` and each cost per success (null when no
        answer succeeded); an empty object when the scenario defines no success."""
        data = self.obj(value, where)
        if not data:
            return {}
        out: dict[str, Any] = {
            "metric": self.text(data.get("metric"), f"{where}.metric"),
            "min": self.number(data.get("min"), f"{where}.min"),
            "successes": self.integer(data.get("successes"), f"{where}.successes"),
            "answers": self.integer(data.get("answers"), f"{where}.answers"),
        }
        for key, v in data.items():
            if key not in out:
                out[str(key)] = self.optional_number(v, f"{where}.{key}")
        return out

    def flag(self, value: object, where: str) -> bool:
        if not isinstance(value, bool):
            raise self.fail(where, "true or false", value)
        return value

    def quality(self, value: object, where: str) -> dict[str, Any]:
        from .quality.results import MetricScores

        out: dict[str, Any] = {}
        for metric, scores in self.obj(value, where).items():
            at = f"{where}.{metric}"
            data = self.obj(scores, at)
            for j, sample in enumerate(self.items(data.get("samples"), f"{at}.samples")):
                sample = self.obj(sample, f"{at}.samples[{j}]")
                if sample.get("value") is not None:
                    self.number(sample.get("value"), f"{at}.samples[{j}].value")
            try:
                MetricScores.from_dict(data)
            except (KeyError, TypeError, ValueError, OverflowError) as exc:
                detail = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
                raise RunFileError(
                    f"{self.path}: {at} is not a metric's scores ({detail})"
                ) from None
            out[str(metric)] = data
        return out

    def scenario(self, value: object, where: str) -> ScenarioRun:
        sc = self.obj(value, where)
        notes = sc.get("token_notes") or {}
        return ScenarioRun(
            scenario=self.text(sc.get("scenario"), f"{where}.scenario") or "",
            nodeid=self.text(sc.get("nodeid"), f"{where}.nodeid") or "",
            warmup=self.integer(sc.get("warmup", 0), f"{where}.warmup"),
            requests=tuple(
                self.request(r, f"{where}.requests[{j}]")
                for j, r in enumerate(self.items(sc.get("requests"), f"{where}.requests"))
            ),
            samples=tuple(
                self.sample(s, f"{where}.samples[{j}]")
                for j, s in enumerate(self.items(sc.get("samples", []), f"{where}.samples"))
            ),
            token_notes=self.texts(notes, f"{where}.token_notes"),
            knobs=self.knobs(sc.get("knobs") or {}, f"{where}.knobs"),
            sweep=self.text(sc.get("sweep"), f"{where}.sweep", optional=True),
            load=self.load(sc.get("load") or {}, f"{where}.load"),
        )

    def load(self, value: object, where: str) -> dict[str, Any]:
        """A load level's own figures (``ragcost.load()``): the ones the reports show, each
        checked; an empty object when the scenario did not run under load."""
        data = self.obj(value, where)
        if not data:
            return {}
        mode = data.get("mode")
        if mode not in ("closed", "open"):
            raise self.fail(f"{where}.mode", '"closed" or "open"', mode)
        spec = self.obj(data.get("spec"), f"{where}.spec")
        level: dict[str, float]
        if mode == "closed":
            level = {"users": self.integer(spec.get("users"), f"{where}.spec.users", minimum=1)}
        else:
            level = {"rate": self.positive(spec.get("rate"), f"{where}.spec.rate")}
        out: dict[str, Any] = {
            "level": self.text(data.get("level"), f"{where}.level"),
            "mode": mode,
            "spec": level,
            "requests": self.integer(data.get("requests"), f"{where}.requests"),
            "errors": self.integer(data.get("errors"), f"{where}.errors"),
            "timeouts": self.integer(data.get("timeouts"), f"{where}.timeouts"),
        }
        for name in ("elapsed_s", "throughput_rps", "wait_ms_mean", "queue_depth_mean",
                     "queue_depth_max", "in_flight_mean", "offered_rps"):
            if name in data or name in ("throughput_rps", "queue_depth_mean"):
                out[name] = self.positive(data.get(name), f"{where}.{name}", zero=True)
        return out

    def positive(self, value: object, where: str, *, zero: bool = False) -> float:
        number = self.number(value, where)
        if number < 0 or (number == 0 and not zero):
            raise self.fail(where, "a number of 0 or more" if zero else "a number above 0",
                            value)
        return number

    def request(self, value: object, where: str) -> RequestRecord:
        r = self.obj(value, where)
        return RequestRecord(
            trace_id=self.text(r.get("trace_id"), f"{where}.trace_id") or "",
            index=self.integer(r.get("index"), f"{where}.index"),
            metrics=self.metrics(r.get("metrics"), f"{where}.metrics"),
            sources=self.texts(r.get("sources", {}), f"{where}.sources"),
            stages=tuple(
                self.stage(s, f"{where}.stages[{k}]")
                for k, s in enumerate(self.items(r.get("stages", []), f"{where}.stages"))
            ),
            error=self.text(r.get("error"), f"{where}.error", optional=True),
        )

    def stage(self, value: object, where: str) -> StageRecord:
        s = self.obj(value, where)
        return StageRecord(
            name=self.stage_name(s.get("name"), f"{where}.name"),
            metrics=self.metrics(s.get("metrics"), f"{where}.metrics"),
            sources=self.texts(s.get("sources", {}), f"{where}.sources"),
            error=self.text(s.get("error"), f"{where}.error", optional=True),
            model=self.text(s.get("model"), f"{where}.model", optional=True),
            start_ms=self.offset(s.get("start_ms"), f"{where}.start_ms"),
        )

    def sample(self, value: object, where: str) -> Sample:
        s = self.obj(value, where)
        for key in ("question", "answer", "reference", "trace_id"):
            self.text(s.get(key), f"{where}.{key}", optional=True)
        for key in ("contexts", "reference_contexts", "context_ids", "reference_ids"):
            self.strings(s.get(key, []), f"{where}.{key}")
        self.obj(s.get("extra", {}), f"{where}.extra")
        return Sample.from_dict(s)
