"""A secret in any URL a user gives never reaches any output of a real run.

The URLs a user gives: ``--ragcost-history`` (a PostgreSQL URL, one libpq or urllib
cannot parse, a libpq ``key=value`` string given where a URL was meant, which the
history takes for a SQLite file name), ``--ragcost-prometheus=pushgateway:URL``,
``OTEL_EXPORTER_OTLP_ENDPOINT`` and its ``OTEL_EXPORTER_OTLP_HEADERS``, and the same
URLs given to the command line (``ragcost compare --history``, ``ragcost export
--prometheus``, ``ragcost history --store``). Each carries a sentinel secret (a password,
a ``password=`` / ``token=`` query value, a token as the user name, a bearer header).

Every case is a real inner pytest session (a subprocess, as a CI job starts it) of a tiny
scenario project, driven through the failure paths: a store that refuses the connection
or cannot parse its URL, an exporter and a gateway that are down or unparsable. Then every
channel is searched for the sentinel:

* the terminal (stdout and stderr: header, warnings, the summary);
* the files the run wrote: the run JSON, Markdown, HTML, CSV pair, JUnit XML, the
  Prometheus textfile;
* the rows of a SQLite history that works while the failing URL is in another option;
* ragcost's OpenTelemetry spans and their resource, through the real SDK's OTLP exporter:
  the bodies a loopback collector received while the secrets were in its URL and headers
  (a collector that is down receives nothing to search; its warning is searched);
* the metrics a loopback Pushgateway received (its labels);
* the command line on the saved run: ``ragcost report`` (text, Markdown, HTML),
  ``ragcost compare --history URL``, ``ragcost export --csv`` and ``--prometheus URL``,
  ``ragcost history list --store URL``.

Design, for CI time: a handful of parametrised cases each put a secret in every channel
at once (one inner run checks the history, the Pushgateway and OpenTelemetry together).
The property test draws URL shapes (well-formed or not, the secret in the user info, the
query, the fragment, as the user name, in a ``key=value`` string, with and without a
scheme) and puts one drawn URL in each of the three options of one inner run: a run per
example, ``RAGCOST_SECRETS_FUZZ_QUICK`` (4) examples by default and
``RAGCOST_SECRETS_FUZZ_EXAMPLES`` (100 unless set) with ``pytest -m slow``. A drawn
Pushgateway URL that does not parse makes the run a usage error (exit 4): that message is
searched too.
"""

from __future__ import annotations

import contextlib
import http.server
import io
import os
import sqlite3
import threading
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

pytest.importorskip("opentelemetry.exporter.otlp.proto.http")
pytest.importorskip("prometheus_client")
pytest.importorskip("psycopg")

from loopback import refusing

from pytest_ragcost.cli import main as cli_main

SENTINEL = "S3ntinelChan"
QUICK = int(os.environ.get("RAGCOST_SECRETS_FUZZ_QUICK", "4"))
LONG = int(os.environ.get("RAGCOST_SECRETS_FUZZ_EXAMPLES", "100"))

SCENARIO = """
import pytest

@pytest.mark.ragcost(scenario="qa", requests=3)
def test_qa(ragcost):
    for q in ragcost.requests(["how?", "why?", "when?"]):
        with ragcost.stage("retrieve") as st:
            st.count(hits=2)
        with ragcost.stage("generate") as st:
            st.tokens(prompt=7, completion=3)
"""

#: the outputs every run writes, under out/
OUTPUTS = ("--ragcost-json=out/run.json", "--ragcost-markdown=out/report.md",
           "--ragcost-html=out/report.html", "--ragcost-csv=out/csv",
           "--junitxml=out/junit.xml")


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Answers 200 and keeps every body (OTLP protobuf, a Pushgateway exposition)."""

    bodies: list[bytes]

    def _answer(self) -> None:
        self.bodies.append(self.rfile.read(int(self.headers.get("Content-Length") or 0)))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_PUT = _answer

    def log_message(self, format: str, *args: object) -> None:
        return


@contextlib.contextmanager
def recording() -> Iterator[tuple[str, list[bytes]]]:
    """``(http://127.0.0.1:PORT, bodies)``: a collector or gateway that works."""
    bodies: list[bytes] = []
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), type("Handler", (_Recorder,), {"bodies": bodies}))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", bodies
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for name in list(os.environ):
        if name.startswith(("OTEL_", "RAGCOST_")) or name in ("GITHUB_STEP_SUMMARY",
                                                               "PYTEST_ADDOPTS"):
            monkeypatch.delenv(name)
    pytester.makepyfile(test_scenario=SCENARIO)
    return pytester


def _cli(*args: str) -> tuple[int, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = cli_main(list(args))
        except SystemExit as exc:  # argparse's own usage errors
            code = int(exc.code or 0)
    return code, out.getvalue() + err.getvalue()


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".py"}


def _sqlite_rows(path: Path) -> str:
    """Every row of every table, as text (SQLite's own dump)."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return "\n".join(conn.iterdump())


def _channels(
    pytester: pytest.Pytester,
    *,
    history: str,
    prometheus: str | None,
    env: dict[str, str],
    sqlite: Path | None = None,
    received: list[bytes] | None = None,
) -> tuple[int, dict[str, str]]:
    """Run the project with these settings; the exit code and every channel's text."""
    args = [*OUTPUTS, "-p", "no:randomly", "-p", "no:cacheprovider", "--ragcost",
            f"--ragcost-history={history}"]
    if prometheus is not None:
        args.append(f"--ragcost-prometheus={prometheus}")
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    try:
        result = pytester.runpytest_subprocess(*args, timeout=300)
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    code = int(result.ret)
    seen = {
        "stdout": result.stdout.str(),
        "stderr": result.stderr.str(),
    }
    assert "Traceback" not in seen["stdout"] + seen["stderr"], seen
    assert "INTERNALERROR" not in seen["stdout"] + seen["stderr"], seen
    for name, data in _files(pytester.path).items():
        seen[f"file {name}"] = data.decode("utf-8", "replace")
    if sqlite is not None and sqlite.exists():
        seen["sqlite history rows"] = _sqlite_rows(sqlite)
    for i, body in enumerate(received or []):
        seen[f"received body {i}"] = body.decode("latin-1")
    run = pytester.path / "out" / "run.json"
    if code in (0, 1) and run.exists():
        for command in (
            ("report", str(run)),
            ("report", str(run), "--markdown"),
            ("report", str(run), "--html"),
            ("compare", str(run), "--history", history),
            ("export", str(run), "--csv", str(pytester.path / "cli-csv")),
            *((("export", str(run), "--prometheus", prometheus),) if prometheus else ()),
            ("history", "list", "--store", history),
        ):
            rc, text = _cli(*command)
            assert rc in (0, 1, 2), (command, rc, text)
            assert "Traceback" not in text, text
            seen["ragcost " + " ".join(command[:1] + command[2:])] = text
        for name, data in _files(pytester.path / "cli-csv").items():
            seen[f"ragcost export file {name}"] = data.decode("utf-8", "replace")
    return code, seen


def _leaks(seen: dict[str, str], secrets: tuple[str, ...] = (SENTINEL,)) -> dict[str, str]:
    """The channels that show a secret, each with the text around it."""
    out: dict[str, str] = {}
    for channel, text in seen.items():
        for secret in secrets:
            for form in {secret, urllib.parse.quote(secret, safe="")}:
                at = text.find(form)
                if at >= 0:
                    out[channel] = text[max(0, at - 160): at + 60]
    return out


def test_every_channel_of_a_run_whose_store_gateway_and_collector_refuse(
    project: pytest.Pytester,
) -> None:
    """The failing store, gateway and collector are each named in a warning, and no
    channel shows the password, the query secrets or the header."""
    with refusing() as down:
        port = urllib.parse.urlsplit(down).port
        history = (f"postgresql://bob:{SENTINEL}1@127.0.0.1:{port}/runs"
                   f"?sslmode=disable&password={SENTINEL}2")
        gateway = f"pushgateway:http://ci:{SENTINEL}3@127.0.0.1:{port}/?branch=main"
        env = {
            "OTEL_EXPORTER_OTLP_ENDPOINT":
                f"http://{SENTINEL}4@127.0.0.1:{port}/?access_token={SENTINEL}5",
            "OTEL_EXPORTER_OTLP_HEADERS": f"Authorization=Bearer {SENTINEL}6",
        }
        code, seen = _channels(project, history=history, prometheus=gateway, env=env)
    assert code == 0, seen
    out = seen["stdout"]
    assert "history not read: cannot connect to the history postgresql://bob:***@" in out
    assert "could not export Prometheus metrics to pushgateway:http://127.0.0.1" in out
    assert "the otlp exporter failed to send" in out
    assert {"file out/run.json", "file out/report.html", "file out/csv/requests.csv",
            "file out/junit.xml", "ragcost compare --history " + history} <= set(seen)
    assert _leaks(seen) == {}


def test_every_channel_of_a_run_whose_urls_do_not_parse(project: pytest.Pytester) -> None:
    """A history URL libpq cannot parse and an OTLP endpoint without a scheme (the
    exporter quotes it back in its error), with a working Prometheus textfile."""
    history = f"postgresql://bob:{SENTINEL}1@[::1/runs"
    env = {
        "OTEL_EXPORTER_OTLP_ENDPOINT": f"bob:{SENTINEL}2@collector.invalid:4318",
    }
    code, seen = _channels(project, history=history, prometheus="textfile:out/ragcost.prom",
                           env=env)
    assert code == 0, seen
    assert "history not read: cannot connect to the history postgresql://bob:***@[::1" \
        in seen["stdout"]
    assert "the otlp exporter failed to send" in seen["stdout"]
    assert "ragcost_" in seen["file out/ragcost.prom"]
    assert _leaks(seen) == {}


def test_every_channel_with_a_working_sqlite_history_and_collectors(
    project: pytest.Pytester,
) -> None:
    """A SQLite history that works and a collector and a gateway that work, while the
    secrets are in their URLs and headers: the history rows, the spans and resource the
    collector received and the labels the gateway received hold none of them."""
    sqlite = project.path / "hist.sqlite3"
    with recording() as (collector, bodies), recording() as (gateway, pushed):
        env = {
            "OTEL_EXPORTER_OTLP_ENDPOINT": collector.replace("http://", f"http://{SENTINEL}1@"),
            "OTEL_EXPORTER_OTLP_HEADERS": f"x-api-key={SENTINEL}2",
        }
        target = "pushgateway:" + gateway.replace("http://", f"http://ci:{SENTINEL}3@")
        code, seen = _channels(project, history=str(sqlite), prometheus=target, env=env,
                               sqlite=sqlite, received=[*bodies, *pushed])
        assert code == 0, seen
        # the spans (with their resource) and the metrics did arrive
        assert any(b"ragcost.scenario" in b and b"service.name" in b for b in bodies)
        assert any(b"ragcost_" in b for b in pushed)
        assert "qa" in seen["sqlite history rows"]
        assert _leaks(seen) == {}


@pytest.mark.parametrize(
    "history",
    [f"host=127.0.0.1 port=1 password={SENTINEL}", f"bob:{SENTINEL}@[::1",
     f"bob:{SENTINEL}@127.0.0.1:5432/runs"],
)
def test_a_history_given_without_its_scheme_is_a_file_shown_without_the_secret(
    project: pytest.Pytester, history: str
) -> None:
    """A libpq ``key=value`` string or a URL without ``postgresql://`` is taken for a
    SQLite file name: the header, the files and the CLI show it with the secret masked."""
    sqlite = project.path / history
    code, seen = _channels(project, history=history, prometheus=None, env={}, sqlite=sqlite)
    assert code == 0, seen
    assert "ragcost: history: " in seen["stdout"]
    assert "sqlite history rows" in seen
    assert _leaks(seen) == {}


@pytest.mark.parametrize(
    "target",
    [
        f"pushgateway:http://ci:{SENTINEL}@[::1",
        f"pushgateway:ci:{SENTINEL}@gateway:9091",
        f"pushgateway:http://gateway:9091?token={SENTINEL}",
        f"pushgateway:ftp://ci:{SENTINEL}@gateway:9091",
    ],
)
def test_a_pushgateway_url_refused_at_the_start_does_not_show_its_secret(
    pytester: pytest.Pytester, target: str
) -> None:
    pytester.makepyfile(test_x="def test_x(): pass")
    result = pytester.runpytest("--ragcost", f"--ragcost-prometheus={target}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    text = result.stdout.str() + result.stderr.str()
    assert "--ragcost-prometheus" in text
    assert SENTINEL not in text
    code, said = _cli("export", "missing.json", "--prometheus", target)
    assert code == 2
    assert SENTINEL not in said


# -- the property: URL shapes drawn, one inner run per example --------------------------

_secret_key = st.sampled_from(["password", "sslpassword", "token", "access_token", "api_key",
                               "X-Amz-Signature", "client_secret"])


@st.composite
def urls_with_a_secret(draw: st.DrawFn, port: int) -> str:
    """A URL (well-formed or not, with or without a scheme, or a libpq ``key=value``
    string) holding the sentinel where a secret goes; its host refuses connections."""
    secret = SENTINEL + draw(st.text(alphabet="abcXYZ019-._~!$*", max_size=5))
    scheme = draw(st.sampled_from(["postgresql://", "http://", "https://", "//", ""]))
    host = draw(st.sampled_from([f"127.0.0.1:{port}", f"[::1]:{port}", "[::1",
                                 f"127.0.0.1:{port}x"]))
    path = draw(st.sampled_from(["", "/", "/runs", "/v1/traces"]))
    place = draw(st.sampled_from(["password", "user", "query", "fragment", "conninfo"]))
    quoted = urllib.parse.quote(secret, safe="")
    if place == "conninfo":
        return f"host=127.0.0.1 port={port} {draw(_secret_key)}={secret} dbname=runs"
    if place == "password":
        return f"{scheme}{draw(st.sampled_from(['bob', 'u.x']))}:{secret}@{host}{path}"
    if place == "user":
        return f"{scheme}{secret}@{host}{path}"
    extra = draw(st.sampled_from(["", "sslmode=disable&", "branch=main&"]))
    sep = "?" if place == "query" else "#"
    return f"{scheme}{host}{path}{sep}{extra}{draw(_secret_key)}={quoted}"


def _one_drawn_run(pytester: pytest.Pytester, history: str, gateway: str, otel: str) -> None:
    if history.startswith("//"):
        history = "postgresql:" + history
    env = {"OTEL_EXPORTER_OTLP_ENDPOINT": otel}
    for stale in ("out", "cli-csv"):
        with contextlib.suppress(FileNotFoundError):
            for p in sorted((pytester.path / stale).rglob("*"), reverse=True):
                p.unlink() if p.is_file() else p.rmdir()
    code, seen = _channels(pytester, history=history, prometheus=f"pushgateway:{gateway}",
                           env=env)
    assert code in (0, 4), seen
    assert _leaks(seen) == {}, (history, gateway, otel)


def _property(pytester: pytest.Pytester, examples: int) -> None:
    with refusing() as down:
        port = urllib.parse.urlsplit(down).port or 1
        urls = urls_with_a_secret(port)

        @settings(max_examples=examples, deadline=None, database=None,
                  suppress_health_check=[HealthCheck.function_scoped_fixture,
                                         HealthCheck.too_slow])
        @given(urls, urls, urls)
        def one(history: str, gateway: str, otel: str) -> None:
            _one_drawn_run(pytester, history, gateway, otel)

        one()


def test_drawn_urls_never_show_their_secret_in_any_channel(project: pytest.Pytester) -> None:
    _property(project, QUICK)


@pytest.mark.slow
def test_drawn_urls_long(project: pytest.Pytester, request: pytest.FixtureRequest) -> None:
    if "slow" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("the long version: run it with -m slow")
    _property(project, LONG)
