"""Exports never hold the run hostage: OpenTelemetry span export and the Pushgateway push
against real loopback endpoints that refuse, that accept and never answer, and that
work. A down endpoint costs a run a few seconds and one warning line in the summary; the
exporter's retry messages stay out of the terminal; credentials never show.

The run times asserted here are loose guards against a hang (the old behaviour cost
tens of seconds); the measured figures are benchmarks/bench_export_down.py's."""

from __future__ import annotations

import os
import time

import pytest

pytest.importorskip("opentelemetry.exporter.otlp.proto.http")
pytest.importorskip("prometheus_client")

from loopback import accepting, refusing, silent

#: 600 requests of two stages: about 1,800 spans, four export batches
MANY = """
import pytest

@pytest.mark.ragcost(scenario="many", requests=600)
def test_many(ragcost):
    for q in ragcost.requests(list(range(600))):
        with ragcost.stage("retrieve") as st:
            st.count(hits=q % 5)
        with ragcost.stage("generate") as st:
            st.tokens(prompt=7, completion=3)
"""

#: what the OTLP exporter and the SDK print when an endpoint misbehaves
NOISE = ("retrying in", "Transient error", "Failed to export", "Exception while exporting",
         "Shutdown in progress")


@pytest.fixture
def many(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for name in list(os.environ):
        if name.startswith("OTEL_") or name in ("GITHUB_STEP_SUMMARY", "PYTEST_ADDOPTS"):
            monkeypatch.delenv(name)
    pytester.makepyfile(test_many=MANY)
    return pytester


def _run(pytester: pytest.Pytester, *args: str) -> tuple[pytest.RunResult, float]:
    started = time.monotonic()
    result = pytester.runpytest_subprocess(
        "--ragcost", "--ragcost-history=none", "--ragcost-meter=none", "-p", "no:randomly",
        *args)
    return result, time.monotonic() - started


def _without_export(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> float:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    result, seconds = _run(pytester)
    result.assert_outcomes(passed=1)
    monkeypatch.delenv("OTEL_TRACES_EXPORTER")
    return seconds


def _text(result: pytest.RunResult) -> str:
    return result.stdout.str() + result.stderr.str()


@pytest.mark.parametrize("endpoint", [refusing, silent], ids=["refused", "silent"])
def test_a_down_collector_costs_seconds_and_one_line(
    many: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, endpoint: object
) -> None:
    plain = _without_export(many, monkeypatch)
    with endpoint() as url:  # type: ignore[operator]
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url)
        result, seconds = _run(many)
    result.assert_outcomes(passed=1)
    assert result.ret == 0
    text = _text(result)
    warnings = [line for line in text.splitlines()
                if "OpenTelemetry: the otlp exporter failed to send" in line]
    assert len(warnings) == 1, text
    assert "the run's results are unaffected" in warnings[0]
    noisy = [line for line in text.splitlines() if any(word in line for word in NOISE)
             and line not in warnings]
    assert noisy == [], noisy
    # before: +30 s refused, +40 s silent for this run on 2 cores (four batches, each
    # retried for its 10 s timeout, flushed one after the other at the end)
    assert seconds - plain < 15, (plain, seconds)


def test_a_working_collector_receives_every_span(
    many: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    with accepting() as (url, received):
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", url)
        result, _ = _run(many)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*OpenTelemetry: 1800 span(s) sent via otlp*"])
    assert received
    assert {path for path, _ in received} == {"/v1/traces"}


def test_collector_credentials_never_show(
    many: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    with refusing() as url:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT",
                           url.replace("http://", "http://bob:S3ntinelPw@") + "?token=S3ntinelTk")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_HEADERS", "Authorization=Bearer S3ntinelHd")
        result, _ = _run(many)
    result.assert_outcomes(passed=1)
    assert "S3ntinel" not in _text(result)


# --------------------------------------------------------------------------- Pushgateway


@pytest.mark.parametrize("endpoint", [refusing, silent], ids=["refused", "silent"])
def test_a_down_pushgateway_costs_seconds_and_one_line_without_credentials(
    many: pytest.Pytester, monkeypatch: pytest.MonkeyPatch, endpoint: object
) -> None:
    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    with endpoint() as url:  # type: ignore[operator]
        secret_url = url.replace("http://", "http://ci:S3ntinelPw@") + "/?branch=main"
        started = time.monotonic()
        result, _ = _run(many, f"--ragcost-prometheus=pushgateway:{secret_url}")
    result.assert_outcomes(passed=1)
    assert result.ret == 0
    text = _text(result)
    warnings = [line for line in text.splitlines()
                if "could not export Prometheus metrics" in line]
    assert len(warnings) == 1, text
    assert "to pushgateway:http://127.0.0.1:" in warnings[0]  # credentials left out
    assert "S3ntinel" not in text
    assert time.monotonic() - started < 120  # a hang guard only; the budget is 5 s


def test_a_working_pushgateway_gets_basic_auth_from_the_url(
    many: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    import base64

    monkeypatch.setenv("OTEL_TRACES_EXPORTER", "none")
    seen: list[str] = []
    with accepting() as (url, received):
        import http.server

        original = http.server.BaseHTTPRequestHandler.end_headers

        def spy(self: http.server.BaseHTTPRequestHandler) -> None:
            seen.append(self.headers.get("Authorization") or "")
            original(self)

        monkeypatch.setattr(http.server.BaseHTTPRequestHandler, "end_headers", spy)
        result, _ = _run(many, "--ragcost-prometheus=pushgateway:"
                         + url.replace("http://", "http://ci:p%40ss@"))
    result.assert_outcomes(passed=1)
    assert [path for path, _ in received] == ["/metrics/job/ragcost"]
    assert seen == ["Basic " + base64.b64encode(b"ci:p@ss").decode()]
    result.stdout.fnmatch_lines(["*Prometheus metrics pushed to http://127.0.0.1:*"])
    assert "p%40ss" not in _text(result)


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("pushgateway:http://[::1", "the URL cannot be parsed"),
        ("pushgateway:http://ci:S3ntinelPw@[::1", "the URL cannot be parsed"),
        ("pushgateway:http://gw:99999", "the URL cannot be parsed"),
        ("pushgateway:http://gw:9091?token=S3ntinelTk", "'token' cannot be in the Pushgateway"),
    ],
)
def test_a_bad_pushgateway_url_is_a_usage_error(
    pytester: pytest.Pytester, value: str, words: str
) -> None:
    pytester.makepyfile(test_x="def test_x(): pass")
    result = pytester.runpytest("--ragcost", f"--ragcost-prometheus={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    text = _text(result)
    assert words in text
    assert "INTERNALERROR" not in text
    assert "S3ntinel" not in text
