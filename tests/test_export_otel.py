"""OpenTelemetry in and out, against the real SDK and real instrumentations.

The inner projects are apps instrumented only with opentelemetry-instrumentation-openai-v2
(and, for the duplicate case, OpenInference's openai instrumentation on the same calls),
talking to a loopback stand-in of an OpenAI-compatible server. Spans out go to a loopback
OTLP/HTTP receiver that decodes what the real exporter sent.
"""

from __future__ import annotations

import json
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("opentelemetry.sdk")
pytest.importorskip("opentelemetry.instrumentation.openai_v2")
pytest.importorskip("openai")

from openai_standin import StandIn

HERE = Path(__file__).parent

APP = '''
import os

import openai

QUESTIONS = [
    "how much energy does the battery store",
    "how often does the meter send a reading",
    "what turns sunlight into current",
    "who receives the readings",
]


def answer(client, question, stream):
    """The app: embed the question, then ask the model; no ragcost code in here."""
    client.embeddings.create(model="standin-embed", input=[question])
    messages = [{"role": "system", "content": "answer briefly"},
                {"role": "user", "content": question}]
    if not stream:
        reply = client.chat.completions.create(model="standin-chat", messages=messages)
        return reply.choices[0].message.content
    chunks = client.chat.completions.create(
        model="standin-chat", messages=messages, stream=True,
        stream_options={"include_usage": True},
    )
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
'''

CONFTEST = '''
import os

import openai
import pytest
from opentelemetry import trace
from opentelemetry.instrumentation.openai_v2 import OpenAIInstrumentor
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

# the app's own tracing setup, as a team would have it
APP_SPANS = InMemorySpanExporter()
if os.environ.get("APP_PROVIDER", "1") == "1":
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(APP_SPANS))
    trace.set_tracer_provider(provider)
OpenAIInstrumentor().instrument()
if os.environ.get("SECOND_INSTRUMENTOR") == "1":
    from openinference.instrumentation.openai import OpenAIInstrumentor as OpenInference

    OpenInference().instrument()


@pytest.fixture(scope="session")
def client():
    return openai.OpenAI(base_url=os.environ["STANDIN_URL"], api_key="none", max_retries=0)


def pytest_sessionfinish(session):
    # the app's exporter still gets every span: ragcost added a processor, replaced nothing
    path = os.environ.get("APP_SPANS_OUT")
    if path:
        with open(path, "w") as fh:
            fh.write(str(len(APP_SPANS.get_finished_spans())))
'''

TEST_PLAIN = '''
import pytest
from app import QUESTIONS, answer


@pytest.mark.ragcost(requests=4)
@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
def test_app(ragcost, client, stream):
    for question in ragcost.requests(QUESTIONS):
        assert answer(client, question, stream)
'''

TEST_STAGED = '''
import pytest
from app import QUESTIONS, answer


@pytest.mark.ragcost(scenario="staged", requests=3)
def test_staged(ragcost, client):
    for question in ragcost.requests(QUESTIONS):
        with ragcost.stage("answer") as st:
            assert answer(client, question, stream=True)
'''


@pytest.fixture
def standin():
    with StandIn(delay_s=0.02) as server:
        yield server


def _project(pytester: pytest.Pytester, test: str) -> None:
    pytester.makepyfile(app=APP, conftest=CONFTEST, test_app=test)
    pytester.makeini("[pytest]\naddopts = -p no:cacheprovider\n")


def _run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, standin: StandIn,
         *args: str, **env: str) -> tuple[pytest.RunResult, dict[str, Any]]:
    monkeypatch.setenv("STANDIN_URL", standin.base_url)
    monkeypatch.setenv("APP_SPANS_OUT", str(pytester.path / "app-spans.txt"))
    monkeypatch.setenv("PYTHONPATH", str(HERE.parent))
    for key in ("OTEL_TRACES_EXPORTER", "OTEL_EXPORTER_OTLP_ENDPOINT",
                "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_SEMCONV_STABILITY_OPT_IN"):
        monkeypatch.delenv(key, raising=False)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    out = pytester.path / "out.json"
    result = pytester.runpytest_subprocess(
        "--ragcost", f"--ragcost-json={out}", "--ragcost-meter=process", *args
    )
    return result, json.loads(out.read_text()) if out.exists() else {}


def _requests(doc: dict[str, Any], scenario_prefix: str) -> list[dict[str, Any]]:
    return [
        req
        for sc in doc["scenarios"]
        if sc["scenario"].startswith(scenario_prefix)
        for req in sc["requests"]
    ]


def test_uninstrumented_by_ragcost_app_gets_stages_and_provider_tokens(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, standin: StandIn
) -> None:
    _project(pytester, TEST_PLAIN)
    result, doc = _run(pytester, monkeypatch, standin)
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([
        "ragcost: OpenTelemetry: capturing app spans (opentelemetry-sdk *); no span exporter*",
        "*ragcost: OpenTelemetry: 16 app span(s) folded into stages",
    ])
    requests = _requests(doc, "test_app.py::test_app")
    assert len(requests) == 8
    for req in requests:
        names = [st["name"] for st in req["stages"]]
        assert names == ["embed", "generate"], names
        gen = req["stages"][1]
        assert gen["sources"]["tokens_prompt"] == "provider:otel-genai"
        assert gen["model"] == "standin-chat"
        assert gen["endpoint"].startswith("127.0.0.1:")
        assert gen["metrics"]["count_calls"] == 1
        # the stand-in sleeps 20 ms before answering: the span's time is the call's
        assert gen["metrics"]["wall_ms"] >= 20
        assert sum(st["metrics"]["wall_ms"] for st in req["stages"]) <= req["metrics"]["wall_ms"]
    served = standin.totals()
    assert sum(r["metrics"]["tokens_prompt"] for r in requests) == served["prompt"]
    assert sum(r["metrics"]["tokens_completion"] for r in requests) == served["completion"]
    # the app's own exporter saw all of its spans: nothing replaced, nothing taken away
    assert (pytester.path / "app-spans.txt").read_text() == "16"


def test_second_instrumentor_on_the_same_calls_is_not_counted_twice(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, standin: StandIn
) -> None:
    pytest.importorskip("openinference.instrumentation.openai")
    _project(pytester, TEST_PLAIN)
    result, doc = _run(pytester, monkeypatch, standin, SECOND_INSTRUMENTOR="1")
    result.assert_outcomes(passed=2)
    # both instrumentors made a span per call (32); one of each pair was dropped
    result.stdout.fnmatch_lines(
        ["*ragcost: OpenTelemetry: 32 app span(s) folded into stages, 16 duplicate(s) dropped"]
    )
    requests = _requests(doc, "test_app.py::test_app")
    served = standin.totals()
    assert sum(r["metrics"]["tokens_prompt"] for r in requests) == served["prompt"]
    assert sum(r["metrics"]["tokens_completion"] for r in requests) == served["completion"]
    for req in requests:
        assert [st["metrics"]["count_calls"] for st in req["stages"]] == [1, 1]
    # OpenInference's first-token event gives the streamed requests a time to first token
    streamed = [r for sc in doc["scenarios"] if sc["scenario"].endswith("stream]")
                for r in sc["requests"]]
    assert streamed
    assert all(r["sources"]["ttft_ms"] == "span" for r in streamed)
    assert all(
        20 <= r["metrics"]["ttft_ms"] <= r["metrics"]["wall_ms"] for r in streamed
    )


def test_an_explicit_stage_owns_the_time_and_spans_only_add_tokens(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, standin: StandIn
) -> None:
    _project(pytester, TEST_STAGED)
    result, doc = _run(pytester, monkeypatch, standin)
    result.assert_outcomes(passed=1)
    requests = _requests(doc, "staged")
    assert len(requests) == 3
    for req in requests:
        # no derived embed/generate stages: the calls ran inside ragcost.stage("answer")
        assert [st["name"] for st in req["stages"]] == ["answer"]
        stage = req["stages"][0]
        assert stage["sources"]["wall_ms"] == "timer"
        assert stage["sources"]["tokens_prompt"] == "provider:otel-genai"
    served = standin.totals()
    total = sum(r["metrics"]["tokens_prompt"] + r["metrics"]["tokens_completion"]
                for r in requests)
    assert total == served["prompt"] + served["completion"]


def test_no_provider_set_ragcost_sets_one_and_still_captures(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, standin: StandIn
) -> None:
    _project(pytester, TEST_PLAIN)
    result, doc = _run(pytester, monkeypatch, standin, APP_PROVIDER="0")
    result.assert_outcomes(passed=2)
    requests = _requests(doc, "test_app.py::test_app")
    served = standin.totals()
    assert sum(r["metrics"]["tokens_prompt"] for r in requests) == served["prompt"]
    # the app's exporter was never attached to a provider, so it saw nothing
    assert (pytester.path / "app-spans.txt").read_text() == "0"


def test_otel_off_leaves_the_app_alone(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, standin: StandIn
) -> None:
    _project(pytester, TEST_PLAIN)
    result, doc = _run(pytester, monkeypatch, standin, "--ragcost-otel=off")
    result.assert_outcomes(passed=2)
    assert "OpenTelemetry" not in result.stdout.str()
    for req in _requests(doc, "test_app.py::test_app"):
        assert req["stages"] == []
        assert "tokens_prompt" not in req["metrics"]


def test_bad_otel_value_is_a_usage_error(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_x="def test_x(): pass")
    result = pytester.runpytest("--ragcost", "--ragcost-otel=maybe")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--ragcost-otel takes auto, on or off (got 'maybe')*"]
    )


# -- spans out -----------------------------------------------------------------------------
class OtlpReceiver:
    """A loopback OTLP/HTTP trace receiver: keeps every span it is sent, decoded."""

    def __init__(self) -> None:
        from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
            ExportTraceServiceRequest,
        )

        self.spans: list[dict[str, Any]] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *_: Any) -> None:
                pass

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = ExportTraceServiceRequest.FromString(body)
                for rs in request.resource_spans:
                    service = {a.key: a.value.string_value for a in rs.resource.attributes}
                    for ss in rs.scope_spans:
                        for span in ss.spans:
                            receiver.spans.append(_decode(span, service))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def endpoint(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}/v1/traces"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _decode(span: Any, service: dict[str, str]) -> dict[str, Any]:
    attrs: dict[str, Any] = {}
    for kv in span.attributes:
        value = kv.value
        kind = value.WhichOneof("value")
        attrs[kv.key] = getattr(value, kind) if kind else None
    return {
        "name": span.name,
        "trace_id": span.trace_id.hex(),
        "span_id": span.span_id.hex(),
        "parent": span.parent_span_id.hex(),
        "attributes": attrs,
        "links": [link.span_id.hex() for link in span.links],
        "service": service.get("service.name"),
        "start": span.start_time_unix_nano,
        "end": span.end_time_unix_nano,
    }


@pytest.fixture
def receiver():
    server = OtlpReceiver()
    yield server
    server.close()


def test_each_request_is_a_trace_with_its_own_trace_id(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, standin: StandIn,
    receiver: OtlpReceiver,
) -> None:
    pytest.importorskip("opentelemetry.exporter.otlp.proto.http")
    _project(pytester, TEST_PLAIN)
    pytester.makepyfile(test_counted='''
import pytest


@pytest.mark.ragcost(scenario="counted", requests=2)
def test_counted(ragcost):
    for q in ragcost.requests(["a b c", "d e"]):
        with ragcost.stage("generate") as st:
            st.tokens(prompt=q, completion=5)
''')
    result, doc = _run(
        pytester, monkeypatch, standin,
        OTEL_TRACES_EXPORTER="otlp", OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=receiver.endpoint,
        OTEL_SERVICE_NAME="rag-ci",
    )
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines([
        "ragcost: OpenTelemetry: capturing app spans*; ragcost spans exported via otlp",
        "*ragcost: OpenTelemetry: 28 span(s) sent via otlp",
    ])
    spans = receiver.spans
    assert {s["service"] for s in spans} == {"rag-ci"}
    by_trace: dict[str, list[dict[str, Any]]] = {}
    for span in spans:
        by_trace.setdefault(span["trace_id"], []).append(span)
    requests = _requests(doc, "")
    assert set(by_trace) == {r["trace_id"] for r in requests}
    for req in requests:
        trace = by_trace[req["trace_id"]]
        roots = [s for s in trace if s["parent"] == ""]
        assert len(roots) == 1
        root = roots[0]
        assert root["attributes"]["ragcost.request.index"] == req["index"]
        children = sorted((s for s in trace if s is not root), key=lambda s: s["start"])
        assert [c["name"] for c in children] == [st["name"] for st in req["stages"]]
        for child, stage in zip(children, req["stages"], strict=True):
            assert child["parent"] == root["span_id"]
            assert child["attributes"]["ragcost.stage"] == stage["name"]
            assert root["start"] <= child["start"] <= child["end"] <= root["end"]
            tokens = stage["metrics"].get("tokens_prompt")
            if tokens is not None:
                assert child["attributes"]["ragcost.tokens.prompt"] == tokens
            if child["links"]:
                # an inference span below reported the usage: no gen_ai.usage.* again
                assert not any(k.startswith("gen_ai.usage.") for k in child["attributes"])
            else:
                assert child["attributes"]["gen_ai.usage.input_tokens"] == tokens
    linked = [s for s in spans if s["links"]]
    assert len(linked) == 16  # every captured inference call, linked from its stage


def test_a_dead_collector_warns_and_loses_no_results(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, standin: StandIn
) -> None:
    pytest.importorskip("opentelemetry.exporter.otlp.proto.http")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    _project(pytester, TEST_PLAIN)
    result, doc = _run(
        pytester, monkeypatch, standin, "-k", "plain",
        OTEL_TRACES_EXPORTER="otlp",
        OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=f"http://127.0.0.1:{port}/v1/traces",
        OTEL_EXPORTER_OTLP_TRACES_TIMEOUT="2",
    )
    result.assert_outcomes(passed=1, deselected=1)
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        ["*ragcost: warning: OpenTelemetry: the otlp exporter failed to send 12 span(s)*"
         "the run's results are unaffected"]
    )
    assert len(_requests(doc, "test_app.py::test_app")) == 4


HIDE_OTEL = """
import sys
for name in [m for m in sys.modules if m == "opentelemetry" or m.startswith("opentelemetry.")]:
    del sys.modules[name]
sys.modules["opentelemetry"] = None  # as if the [otel] extra were not installed
"""


def test_without_the_otel_extra_the_run_goes_on_and_on_asks_for_it(
    pytester: pytest.Pytester,
) -> None:
    """A plain install has no OpenTelemetry at all: auto mode must not even look for the
    SDK's submodule in a way that raises (it crashed the README's main command)."""
    pytester.makeconftest(HIDE_OTEL)
    pytester.makepyfile(
        """
        import pytest

        @pytest.mark.ragcost(scenario="plain", requests=2)
        def test_plain(ragcost):
            for q in ragcost.requests(["a", "b"]):
                with ragcost.stage("s") as st:
                    st.tokens(context=q)
        """
    )
    result = pytester.runpytest_subprocess("--ragcost", "--ragcost-json=run.json")
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*INTERNALERROR*")
    assert (pytester.path / "run.json").is_file()
    asked = pytester.runpytest_subprocess("--ragcost", "--ragcost-otel=on")
    assert asked.ret == pytest.ExitCode.USAGE_ERROR
    err = asked.stderr.str()
    assert "--ragcost-otel=on needs the 'opentelemetry.sdk' package" in err
    assert "pip install 'pytest-ragcost[otel]'" in err
    assert "Traceback" not in err
