"""OpenTelemetry in and out: capture an instrumented app's spans, emit ragcost's own.

**In.** :class:`SpanBridge` adds a span processor to the tracer provider the application
already set (``trace.set_tracer_provider``); it never replaces it. The provider is looked
up when a request opens, so a provider set in a conftest, a fixture or the test body
before its requests loop is found. When no provider was set at all, the bridge sets an
SDK ``TracerProvider`` itself (the only global change it makes), so instrumentations that
took their tracer from the global proxy start recording; that provider also exports the
app's spans when the standard ``OTEL_*`` variables name an exporter. A provider the bridge
cannot add a processor to (not the SDK's) is reported and left alone.

A captured span is assigned to the request and the ``ragcost.stage()`` open when it
*started* (whatever thread it ran on), and folded into the request's stages by
:func:`pytest_ragcost.export.spans_in.merge`.

**Out.** Each recorded request becomes a trace whose trace id is the request's own
(``trace_id`` in the JSON); its stages are child spans with ``ragcost.*`` attributes, and
links to the inference spans captured under them. ``gen_ai.usage.*`` is set on a stage
span only when no captured inference span reported that usage already, so tools
downstream do not count it twice. Spans go to the exporter the standard variables name
(``OTEL_TRACES_EXPORTER``, ``OTEL_EXPORTER_OTLP_ENDPOINT`` / ``..._TRACES_ENDPOINT``,
``OTEL_EXPORTER_OTLP_PROTOCOL``, ``OTEL_SERVICE_NAME``, ``OTEL_RESOURCE_ATTRIBUTES``);
with none named, nothing leaves the process. A failing exporter is counted and reported,
never raised.

**Bounded.** Export never holds the run hostage: spans are sent in the background, an
exporter that fails once (a refused connection, a timeout) is not tried again, the flush
at the end of the run waits at most :data:`SHUTDOWN_BUDGET_S`, and the exporters' own
retry and error logging is collected for the summary (one line per exporter, secrets in
the endpoint or headers masked) instead of being printed into pytest's progress line.

Needs ``opentelemetry-sdk`` (``pip install 'pytest-ragcost[otel]'``); imported only then.
"""

from __future__ import annotations

import logging
import os
import random
import re
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, Span, SpanProcessor, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SpanExporter,
    SpanExportResult,
)
from opentelemetry.sdk.trace.id_generator import IdGenerator
from opentelemetry.trace import Link, SpanContext, SpanKind, Status, StatusCode, TraceFlags

from . import ExtraMissingError, require
from .otel_env import exporter_names, header_line
from .spans_in import CapturedSpan, Merged, merge, stage_of

if TYPE_CHECKING:
    from ..run import RequestRecord, ScenarioRun, StageRecord

#: marks ragcost's own spans, which the capture never takes in
OWN_ATTRIBUTE = "ragcost.stage"


def build_exporter(name: str, env: Mapping[str, str] | None = None) -> SpanExporter:
    """A span exporter by its ``OTEL_TRACES_EXPORTER`` name, configured from the env."""
    env = os.environ if env is None else env
    if name == "console":
        return ConsoleSpanExporter()
    protocol = (
        env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()
    if protocol == "grpc":
        require("opentelemetry.exporter.otlp.proto.grpc", "otel",
                "OTLP/gRPC span export (OTEL_EXPORTER_OTLP_PROTOCOL=grpc)")
        import importlib

        grpc = importlib.import_module("opentelemetry.exporter.otlp.proto.grpc.trace_exporter")
        exporter: SpanExporter = grpc.OTLPSpanExporter()
        return exporter
    if protocol != "http/protobuf":
        msg = (
            f"OTEL_EXPORTER_OTLP_PROTOCOL={protocol!r}: pytest-ragcost exports spans over "
            "'http/protobuf' or 'grpc'"
        )
        raise ValueError(msg)
    require("opentelemetry.exporter.otlp.proto.http", "otel", "OTLP span export")
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


#: the most the end of a run waits for spans still to be sent, whatever the endpoint does
SHUTDOWN_BUDGET_S = 3.0
#: the loggers whose retry and error messages are collected instead of printed
QUIET_LOGGERS = (
    "opentelemetry.exporter",
    "opentelemetry.sdk._shared_internal",
    "opentelemetry.sdk.trace.export",
)


def export_secrets(env: Mapping[str, str]) -> tuple[str, ...]:
    """The literal secrets an exporter's messages may quote: those of the endpoint URLs
    and every header value (headers carry API keys and bearer tokens)."""
    from ..redact import secrets_in

    found: list[str] = []
    for name, value in env.items():
        if not name.startswith("OTEL_EXPORTER_OTLP"):
            continue
        if name.endswith("ENDPOINT"):
            found += secrets_in(value)
        elif name.endswith("HEADERS"):
            for pair in value.split(","):
                _key, sep, val = pair.partition("=")
                if sep and val.strip():
                    found.append(val.strip())
                    found += [part for part in val.strip().split() if len(part) >= 8]
    return tuple(found)


class _CountingExporter(SpanExporter):
    """Passes spans on; counts what failed so the run can say so (never raises).

    After the first failed export it stops calling the exporter (a down endpoint would
    otherwise cost every later batch its full timeout and retries); later batches are
    counted as not sent."""

    def __init__(self, inner: SpanExporter, name: str) -> None:
        self.inner = inner
        self.name = name
        self.exported = 0
        self.failed = 0
        self.last_error: str | None = None
        self.broken = False

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self.broken:
            self.failed += len(spans)
            return SpanExportResult.FAILURE
        try:
            result = self.inner.export(spans)
        except Exception as exc:  # an exporter must not take the run down
            self.last_error = f"{type(exc).__name__}: {exc}"
            result = SpanExportResult.FAILURE
        if result == SpanExportResult.SUCCESS:
            self.exported += len(spans)
        else:
            self.failed += len(spans)
            self.broken = True
        return result

    def give_up(self) -> None:
        """Send nothing more, and cut short the exporter's retry wait."""
        self.broken = True
        try:
            self.inner.shutdown()
        except Exception as exc:
            self.last_error = self.last_error or f"{type(exc).__name__}: {exc}"

    def shutdown(self) -> None:
        try:
            self.inner.shutdown()
        except Exception as exc:
            self.last_error = f"{type(exc).__name__}: {exc}"

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        flush = getattr(self.inner, "force_flush", None)
        return bool(flush(timeout_millis)) if flush is not None else True


def _core(message: str | None) -> str | None:
    """The cause in an exporter's log message, without its retry chatter, shortened."""
    if not message:
        return None
    m = re.match(r"^Transient error (.*) encountered while exporting", message, re.DOTALL)
    text = (m.group(1) if m else message).strip()
    return text if len(text) <= 240 else text[:237] + "..."


class _Collected(logging.Handler):
    """Keeps the exporters' log records for the summary instead of the terminal."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.count = 0
        self.first: str | None = None

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno < logging.WARNING:
            return
        self.count += 1
        if self.first is None:
            try:
                self.first = record.getMessage()
            except Exception:
                self.first = str(record.msg)


class _QuietLogs:
    """While installed, the loggers in :data:`QUIET_LOGGERS` write to a collector only."""

    def __init__(self) -> None:
        self.handler = _Collected()
        self._saved: list[tuple[logging.Logger, bool]] = []

    def install(self) -> None:
        if self._saved:
            return
        for name in QUIET_LOGGERS:
            logger = logging.getLogger(name)
            self._saved.append((logger, logger.propagate))
            logger.addHandler(self.handler)
            logger.propagate = False

    def remove(self) -> None:
        for logger, propagate in self._saved:
            logger.removeHandler(self.handler)
            logger.propagate = propagate
        self._saved = []


@dataclass
class _Timing:
    """Epoch times of one request and its explicit stages, kept for spans out."""

    start_ns: int
    end_ns: int = 0
    stages: list[list[int]] = field(default_factory=list)
    merged: Merged | None = None


def _copy(span: ReadableSpan, owner: int | None) -> CapturedSpan:
    ctx = span.context
    parent = span.parent
    error: str | None = None
    if span.status.status_code == StatusCode.ERROR:
        attrs = span.attributes or {}
        error = str(attrs.get("error.type") or span.status.description or "error")
    first: int | None = None
    for event in span.events:
        if "first token" in event.name.lower() or "first_token" in event.name.lower():
            first = event.timestamp
            break
    return CapturedSpan(
        span_id=ctx.span_id if ctx is not None else 0,
        trace_id=ctx.trace_id if ctx is not None else 0,
        parent_id=parent.span_id if parent is not None else None,
        name=span.name,
        start_ns=span.start_time or 0,
        end_ns=span.end_time or span.start_time or 0,
        attributes=dict(span.attributes or {}),
        owner=owner,
        error=error,
        first_token_ns=first,
    )


class _Processor(SpanProcessor):
    """The span processor added to the app's provider."""

    def __init__(self, bridge: SpanBridge) -> None:
        self._bridge = bridge

    def on_start(self, span: Span, parent_context: Context | None = None) -> None:
        slot = self._bridge._slot
        if slot is None:
            return
        ctx = span.get_span_context()
        with self._bridge._lock:
            self._bridge._started[ctx.span_id] = slot

    def on_end(self, span: ReadableSpan) -> None:
        ctx = span.context
        if ctx is None:
            return
        with self._bridge._lock:
            slot = self._bridge._started.pop(ctx.span_id, None)
        if slot is None or (span.attributes or {}).get(OWN_ATTRIBUTE) is not None:
            return
        trace_id, owner = slot
        captured = _copy(span, owner)
        with self._bridge._lock:
            if self._bridge._current == trace_id:
                self._bridge._captured.append(captured)

    def shutdown(self) -> None:
        pass

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


class _RequestIds(IdGenerator):
    """Trace ids of ragcost's spans are the requests' own."""

    def __init__(self) -> None:
        self.next_trace_id = 0

    def generate_span_id(self) -> int:
        return random.getrandbits(64) or 1

    def generate_trace_id(self) -> int:
        return self.next_trace_id or (random.getrandbits(128) or 1)


class SpanBridge:
    """One per process of a ``--ragcost`` run: captures app spans, emits ragcost spans.

    The recorder calls :meth:`open_request`, :meth:`enter_stage`, :meth:`exit_stage` and
    :meth:`close_request`; the session calls :meth:`emit` with a finished, priced run and
    :meth:`shutdown` at the end.
    """

    def __init__(self, env: Mapping[str, str] | None = None) -> None:
        self._env = dict(os.environ if env is None else env)
        self.notes: list[str] = []
        self._lock = threading.Lock()
        self._slot: tuple[str, int | None] | None = None
        self._current: str | None = None
        self._started: dict[int, tuple[str, int | None]] = {}
        self._captured: list[CapturedSpan] = []
        self._timing: _Timing | None = None
        self._timings: dict[str, _Timing] = {}
        self._processor = _Processor(self)
        self._hooked: set[int] = set()
        self._installed_provider: TracerProvider | None = None
        self.duplicates = 0
        self.captured = 0
        self._quiet = _QuietLogs()
        self._exporters = self._build_exporters()
        self._own = list(self._exporters)  # ragcost's spans go here; the app's may follow
        self._out_provider: TracerProvider | None = None
        self._ids = _RequestIds()
        self.emitted = 0
        if self._exporters:
            self._quiet.install()
            self._out_provider = self._provider(self._exporters, self._ids)

    # -- providers ----------------------------------------------------------------------
    def _build_exporters(self) -> list[_CountingExporter]:
        """The exporters the env names; a bad name or a missing package is reported and
        exports nothing (metering goes on)."""
        try:
            return [
                _CountingExporter(build_exporter(n, self._env), n)
                for n in exporter_names(self._env)
            ]
        except (ValueError, ExtraMissingError) as exc:
            note = f"OpenTelemetry: no span export: {exc}"
            if note not in self.notes:
                self.notes.append(note)
            return []

    def _provider(
        self, exporters: Sequence[_CountingExporter], ids: IdGenerator | None = None
    ) -> TracerProvider:
        resource = Resource.create(
            {} if "OTEL_SERVICE_NAME" in self._env else {"service.name": "pytest-ragcost"}
        )
        # shutdown_on_exit=False: the SDK's exit hook would wait up to 30 s per processor
        # for a down endpoint after the run; :meth:`shutdown` does it, bounded
        provider = TracerProvider(resource=resource, id_generator=ids, shutdown_on_exit=False)
        for exporter in exporters:
            provider.add_span_processor(BatchSpanProcessor(exporter))
        return provider

    def hook(self) -> None:
        """Add the capture processor to the global tracer provider (set one if none is)."""
        provider = trace.get_tracer_provider()
        if id(provider) in self._hooked:
            return
        if isinstance(provider, TracerProvider):
            provider.add_span_processor(self._processor)
            self._hooked.add(id(provider))
            return
        if type(provider).__name__ == "ProxyTracerProvider":
            app_exporters = self._build_exporters()
            ours = self._provider(app_exporters)
            ours.add_span_processor(self._processor)
            trace.set_tracer_provider(ours)
            if trace.get_tracer_provider() is ours:
                self._installed_provider = ours
                self._exporters.extend(app_exporters)
                if app_exporters:
                    self._quiet.install()
                self._hooked.add(id(ours))
                return
            provider = trace.get_tracer_provider()
            if isinstance(provider, TracerProvider):
                provider.add_span_processor(self._processor)
                self._hooked.add(id(provider))
                return
        self._hooked.add(id(provider))
        self.notes.append(
            f"OpenTelemetry: the global tracer provider is a {type(provider).__name__}, not "
            "the SDK's TracerProvider; its spans are not captured"
        )

    # -- the recorder's calls -------------------------------------------------------------
    def open_request(self, trace_id: str) -> None:
        import time

        try:
            self.hook()
        except Exception as exc:  # capture is a bonus; metering goes on without it
            self.notes.append(f"OpenTelemetry: could not hook the tracer provider: {exc}")
        with self._lock:
            self._captured = []
            self._started.clear()
            self._current = trace_id
        self._timing = _Timing(start_ns=time.time_ns())
        self._slot = (trace_id, None)

    def enter_stage(self) -> None:
        import time

        if self._timing is None or self._current is None:
            return
        self._timing.stages.append([time.time_ns(), 0])
        self._slot = (self._current, len(self._timing.stages) - 1)

    def exit_stage(self) -> None:
        import time

        if self._timing is None or self._current is None or not self._timing.stages:
            return
        self._timing.stages[-1][1] = time.time_ns()
        self._slot = (self._current, None)

    def close_request(
        self, stages: Sequence[StageRecord]
    ) -> tuple[tuple[StageRecord, ...], float | None]:
        """The request's stages with its captured spans folded in, and the time to first
        token (ms since the request opened) a captured span reported, if any."""
        import time

        self._slot = None
        with self._lock:
            captured, self._captured = self._captured, []
            trace_id, self._current = self._current, None
        timing = self._timing
        self._timing = None
        if timing is None or trace_id is None:
            return tuple(stages), None
        timing.end_ns = time.time_ns()
        if captured:
            merged = merge(stages, captured, [s[0] for s in timing.stages])
        else:  # the app made no span in this request: nothing to fold in
            merged = Merged(tuple(stages))
        timing.merged = merged
        if self._out_provider is not None:  # kept only for emit(), which sends them out
            self._timings[trace_id] = timing
        self.duplicates += merged.duplicates
        self.captured += sum(1 for s in captured if stage_of(s.attributes) is not None)
        ttft_ms = (
            max(0, merged.first_token_ns - timing.start_ns) / 1e6
            if merged.first_token_ns is not None
            else None
        )
        return merged.stages, ttft_ms

    def discard(self, trace_ids: Sequence[str]) -> None:
        for trace_id in trace_ids:
            self._timings.pop(trace_id, None)

    # -- spans out ------------------------------------------------------------------------
    @property
    def exporting(self) -> bool:
        return self._out_provider is not None

    def emit(self, run: ScenarioRun) -> int:
        """Emit one trace per recorded request of ``run``; returns how many spans."""
        timings = [(req, self._timings.pop(req.trace_id, None)) for req in run.requests]
        if self._out_provider is None:
            return 0
        from .. import __version__

        tracer = self._out_provider.get_tracer("pytest-ragcost", __version__)
        count = 0
        for req, timing in timings:
            if timing is None:
                continue
            count += self._emit_request(tracer, run, req, timing)
        self.emitted += count
        return count

    def _emit_request(self, tracer: Any, run: ScenarioRun, req: RequestRecord,
                      timing: _Timing) -> int:
        self._ids.next_trace_id = int(req.trace_id, 16)
        try:
            root = tracer.start_span(
                f"ragcost {run.scenario}",
                context=Context(),
                kind=SpanKind.INTERNAL,
                start_time=timing.start_ns,
                attributes={
                    "ragcost.scenario": run.scenario,
                    "ragcost.test": run.nodeid,
                    "ragcost.request.index": req.index,
                    **attributes_of(req.metrics, req.sources),
                },
            )
        finally:
            self._ids.next_trace_id = 0
        parent = trace.set_span_in_context(root, Context())
        merged = timing.merged
        count = 1
        for index, stage in enumerate(req.stages):
            if index < len(timing.stages):
                start, end = timing.stages[index]
            elif merged is not None and index in merged.derived_times:
                start, end = merged.derived_times[index]
            else:
                continue
            captured = merged.links.get(index, []) if merged is not None else []
            links = [
                Link(SpanContext(trace_id=t, span_id=s, is_remote=True,
                                 trace_flags=TraceFlags(TraceFlags.SAMPLED)))
                for t, s in captured
            ]
            attrs = {
                "ragcost.stage": stage.name,
                "ragcost.scenario": run.scenario,
                "ragcost.stage.origin": "ragcost.stage" if index < len(timing.stages)
                else "captured spans",
                **attributes_of(stage.metrics, stage.sources),
            }
            if stage.model:
                attrs["ragcost.model"] = stage.model
            if not captured:
                attrs.update(genai_usage(stage))
            span = tracer.start_span(stage.name, context=parent, kind=SpanKind.INTERNAL,
                                     start_time=start, attributes=attrs, links=links)
            if stage.error:
                span.set_status(Status(StatusCode.ERROR, stage.error))
            span.end(end_time=max(end, start))
            count += 1
        if req.error:
            root.set_status(Status(StatusCode.ERROR, req.error))
        root.end(end_time=max(timing.end_ns, timing.start_ns))
        return count

    def shutdown(self, timeout_s: float = SHUTDOWN_BUDGET_S) -> list[str]:
        """Flush and stop ragcost's exporters, waiting at most ``timeout_s`` whatever the
        endpoint does; the lines to report (never raises)."""
        from ..redact import redact_text

        problems: list[str] = list(self.notes)
        providers = [p for p in (self._out_provider, self._installed_provider) if p is not None]
        errors: list[str] = []

        def finish() -> None:
            for provider in providers:
                try:
                    provider.force_flush(int(timeout_s * 1000))
                except Exception as exc:
                    errors.append(f"OpenTelemetry: flushing spans failed: {exc}")
            for provider in providers:
                try:
                    provider.shutdown()
                except Exception as exc:
                    errors.append(f"OpenTelemetry: stopping the exporter failed: {exc}")

        gave_up = False
        if providers:
            started = time.monotonic()
            worker = threading.Thread(target=finish, name="ragcost-otel-flush", daemon=True)
            worker.start()
            worker.join(timeout_s)
            if worker.is_alive():
                # the endpoint never answered: stop retrying, leave the rest unsent (the
                # thread is a daemon and the export a copy; the run's results are whole)
                gave_up = True
                for exporter in self._exporters:
                    exporter.give_up()
                worker.join(max(0.0, min(0.5, timeout_s + 1.0 - (time.monotonic() - started))))
        self._out_provider = None
        self._installed_provider = None
        self._quiet.remove()
        problems += errors
        if self.captured:
            dropped = f", {self.duplicates} duplicate(s) dropped" if self.duplicates else ""
            problems.append(
                f"OpenTelemetry: {self.captured} app span(s) folded into stages{dropped}"
            )
        secrets = export_secrets(self._env)
        logged = self._quiet.handler.first
        for exporter in self._exporters:
            own = exporter in self._own
            unsent = self._unsent(exporter)
            label = exporter.name if own else f"{exporter.name} (the app's spans)"
            if not unsent:
                if exporter.exported:
                    problems.append(
                        f"OpenTelemetry: {exporter.exported} span(s) sent via {label}")
                continue
            detail = exporter.last_error or _core(logged)
            if gave_up and not exporter.failed:
                detail = f"no answer within {timeout_s:g} s"
            detail_text = f" ({redact_text(detail, secrets)})" if detail else ""
            sent = f", {exporter.exported} sent" if exporter.exported else ""
            problems.append(
                f"warning: OpenTelemetry: the {label} exporter failed to send {unsent} "
                f"span(s){sent}{detail_text}; it is not tried again after a failure, and "
                "the run's results are unaffected"
            )
        return problems

    def _unsent(self, exporter: _CountingExporter) -> int:
        """Spans given to ``exporter`` that it did not send: for ragcost's own exporters
        every span emitted and not confirmed, for the app's those that failed."""
        if exporter in self._own:
            return max(exporter.failed, self.emitted - exporter.exported)
        return exporter.failed

    def describe(self) -> str:
        """The header line: what is captured and where ragcost's spans go."""
        from opentelemetry.sdk.version import __version__ as sdk_version

        return header_line(sdk_version, [e.name for e in self._exporters])


def attributes_of(metrics: Mapping[str, float], sources: Mapping[str, str]) -> dict[str, Any]:
    """``ragcost.*`` attributes for a stage's or request's metrics."""
    out: dict[str, Any] = {}
    for name, value in metrics.items():
        if name.startswith("tokens_"):
            key = f"ragcost.tokens.{name[len('tokens_'):]}"
        elif name.startswith("count_"):
            key = f"ragcost.count.{name[len('count_'):]}"
        else:
            key = f"ragcost.{name}"
        out[key] = int(value) if float(value).is_integer() and name != "cost_usd" else value
    for name in ("tokens_prompt", "tokens_completion", "energy_j", "wall_ms", "cost_usd"):
        if name in sources:
            out[f"ragcost.source.{name}"] = sources[name]
    return out


def genai_usage(stage: StageRecord) -> dict[str, Any]:
    """``gen_ai.usage.*`` for a stage no captured inference span reported on."""
    out: dict[str, Any] = {}
    if "tokens_prompt" in stage.metrics:
        out["gen_ai.usage.input_tokens"] = int(stage.metrics["tokens_prompt"])
    if "tokens_completion" in stage.metrics:
        out["gen_ai.usage.output_tokens"] = int(stage.metrics["tokens_completion"])
    if out and stage.model:
        out["gen_ai.request.model"] = stage.model
    return out
