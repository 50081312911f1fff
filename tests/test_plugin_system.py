"""``--ragcost-system``: disk I/O bytes per stage and request, as a user meets them."""

from __future__ import annotations

import importlib
import os
from pathlib import Path

import pytest
from conftest import read_json, scenario_of

MIB = 1024 * 1024

DISK_APP = '''
import os

def test_ingest(ragcost):
    for i in ragcost.requests(["a", "b"]):
        with ragcost.stage("write") as st:
            with open(f"blob-{i}.bin", "wb") as f:
                f.write(b"x" * (5 * 1024 * 1024))
                f.flush()
                os.fsync(f.fileno())
        with ragcost.stage("think") as st:
            sum(range(1000))
'''


def _fs_type(path: Path) -> str:
    """The file system type of the mount holding ``path`` (from /proc/self/mountinfo)."""
    best, kind = "", ""
    target = str(path.resolve())
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        fields = line.split()
        mount = fields[4]
        fs = fields[fields.index("-") + 1]
        if (target == mount or target.startswith(mount.rstrip("/") + "/")) and len(mount) > len(
            best
        ):
            best, kind = mount, fs
    return kind


needs_proc_io = pytest.mark.skipif(
    not Path("/proc/self/io").exists(), reason="/proc/self/io is Linux's"
)


@needs_proc_io
def test_a_stage_that_writes_5_mb_records_its_write_bytes(pytester: pytest.Pytester) -> None:
    if _fs_type(pytester.path) in ("tmpfs", "ramfs"):
        pytest.skip(f"{pytester.path} is on tmpfs, which writes nothing to storage")
    pytester.makepyfile(test_ingest=DISK_APP)
    result = pytester.runpytest("--ragcost", "--ragcost-system", "--ragcost-json=out.json",
                                "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "ragcost: system: disk read and write bytes (/proc/self/io), peak RSS growth "
        "(/proc/self/status), network calls per "
        "endpoint (socket hook)"
    ])
    scenario = scenario_of(read_json(pytester.path / "out.json"), "test_ingest.py::test_ingest")
    for request in scenario["requests"]:
        write, think = request["stages"]
        assert 0.9 * 5 * MIB <= write["metrics"]["disk_write_bytes"] <= 1.1 * 5 * MIB
        assert write["sources"]["disk_write_bytes"] == "kernel"
        assert "disk_read_bytes" in write["metrics"]
        assert think["metrics"]["disk_write_bytes"] < 0.1 * MIB
        assert request["metrics"]["disk_write_bytes"] >= write["metrics"]["disk_write_bytes"]
    summary = scenario["summary"]
    assert summary["write.disk_write_bytes"]["unit"] == "bytes"
    assert summary["write.disk_write_bytes"]["kind"] == "noisy"
    # the request-level figure is in the terminal's metrics table, the stage's on its line
    result.stdout.fnmatch_lines([
        "disk_write_bytes *bytes*kernel",
        "system per request (mean): disk bytes, peak RSS growth, calls per endpoint",
        "  write: disk * read, 5.0 MiB written*",
    ])
    result.stdout.no_fnmatch_line("  think: *")


@needs_proc_io
def test_disk_write_bytes_is_gated_like_any_noisy_metric(pytester: pytest.Pytester) -> None:
    if _fs_type(pytester.path) in ("tmpfs", "ramfs"):
        pytest.skip(f"{pytester.path} is on tmpfs, which writes nothing to storage")
    pytester.makepyfile(test_ingest=DISK_APP)
    pytester.makefile(".yaml", ragcost=(
        "version: 1\nscenarios:\n  test_ingest.py::test_ingest:\n"
        "    write.disk_write_bytes: {budget: 1000}\n"
    ))
    result = pytester.runpytest("--ragcost", "--ragcost-system", "-p", "no:randomly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*write.disk_write_bytes*FAIL*"])


def test_without_the_option_there_are_no_disk_figures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_ingest=DISK_APP)
    result = pytester.runpytest("--ragcost", "--ragcost-json=out.json", "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("ragcost: system:*")
    scenario = scenario_of(read_json(pytester.path / "out.json"), "test_ingest.py::test_ingest")
    for request in scenario["requests"]:
        assert not any(k.startswith("disk_") for k in request["metrics"])
        for stage in request["stages"]:
            assert not any(k.startswith("disk_") for k in stage["metrics"])


def test_the_ini_option_turns_it_on(pytester: pytest.Pytester) -> None:
    pytester.makeini("[pytest]\nragcost = true\nragcost_system = true\n")
    pytester.makepyfile(test_ingest=DISK_APP.replace("5 * 1024 * 1024", "1024"))
    result = pytester.runpytest("--ragcost-json=out.json", "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    scenario = scenario_of(read_json(pytester.path / "out.json"), "test_ingest.py::test_ingest")
    if Path("/proc/self/io").exists():
        assert "disk_write_bytes" in scenario["requests"][0]["stages"][0]["metrics"]


def test_where_proc_io_is_missing_the_header_says_so_once_and_no_figure_is_made_up(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # from sys.modules, as the run will import it: a module first imported inside an
    # earlier in-process run was dropped from sys.modules after it, yet stays an
    # attribute of its package, and patching that stale copy would change nothing
    disk = importlib.import_module("pytest_ragcost.meters.disk")
    monkeypatch.setattr(disk, "PROC_IO", pytester.path / "no-such-proc" / "io")
    pytester.makepyfile(test_ingest=DISK_APP.replace("5 * 1024 * 1024", "1024"))
    result = pytester.runpytest("--ragcost", "--ragcost-system", "--ragcost-json=out.json",
                                "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    lines = [line for line in result.stdout.lines if "disk unavailable" in line]
    assert lines[0].startswith("ragcost: disk unavailable: ")
    assert "disk_read_bytes, disk_write_bytes are not measured" in lines[0]
    assert sum(1 for line in lines if line.startswith("ragcost: ")) == 1
    doc = read_json(pytester.path / "out.json")
    scenario = scenario_of(doc, "test_ingest.py::test_ingest")
    for request in scenario["requests"]:
        assert not any(k.startswith("disk_") for k in request["metrics"])
        for stage in request["stages"]:
            assert not any(k.startswith("disk_") for k in stage["metrics"])
    reasons = {u["name"]: u["reason"] for u in scenario["meters"]["unavailable"]}
    assert "not Linux" in reasons["disk"]


def test_help_shows_the_flag_and_its_ini_key(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    result.stdout.fnmatch_lines(["*--ragcost-system*", "*ragcost_system*"])
    assert os.sep  # the help ran in-process without error


NET_APP = '''
import http.server
import socket
import threading
import urllib.request

import pytest


class Answer(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        body = b"a" * 3000
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv.server_port
    srv.shutdown()
    srv.server_close()


def test_llm(ragcost, server):
    print("hooked:", "connect" in vars(socket.socket))
    refused = socket.socket()
    refused.bind(("127.0.0.1", 0))
    closed_port = refused.getsockname()[1]
    refused.close()
    for q in ragcost.requests(["a", "b", "c"]):
        with ragcost.stage("prepare"):
            sum(range(100))
        with ragcost.stage("generate"):
            for _ in range(2):
                request = urllib.request.Request(
                    f"http://127.0.0.1:{server}/v1/chat", data=b"q" * 1000
                )
                assert len(urllib.request.urlopen(request).read()) == 3000
        with ragcost.stage("fallback"):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{closed_port}/")
            except OSError:
                pass
'''


def test_a_stage_that_calls_a_loopback_endpoint_records_it_with_a_round_trip(
    pytester: pytest.Pytester,
) -> None:
    import socket

    pytester.makepyfile(test_llm=NET_APP)
    result = pytester.runpytest("--ragcost", "--ragcost-system", "--ragcost-json=out.json",
                                "-s", "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*hooked: True"])
    # the socket calls are the standard library's again once the run ended
    assert "connect" not in vars(socket.socket)
    assert "recv_into" not in vars(socket.socket)
    doc = read_json(pytester.path / "out.json")
    scenario = scenario_of(doc, "test_llm.py::test_llm")
    server_port = None
    for request in scenario["requests"]:
        prepare, generate, fallback = request["stages"]
        assert "endpoints" not in prepare
        assert "net_calls" not in prepare["metrics"]
        (called,) = generate["endpoints"]
        host, port = called["endpoint"].rsplit(":", 1)
        assert host == "127.0.0.1"
        server_port = server_port or port
        assert port == server_port
        assert called["calls"] == 2
        assert called["connects"] == 2
        assert called["sent_bytes"] > 2000  # two 1000-byte bodies and their headers
        assert called["received_bytes"] > 6000  # two 3000-byte answers and their headers
        assert called["rtt_ms"] > 0
        assert called["errors"] == 0
        metrics = generate["metrics"]
        assert metrics["net_calls"] == 2
        assert metrics["net_sent_bytes"] == called["sent_bytes"]
        assert metrics["net_rtt_ms"] == pytest.approx(called["rtt_ms"])
        assert generate["sources"]["net_rtt_ms"] == "socket"
        (refused,) = fallback["endpoints"]
        assert refused["errors"] >= 1
        assert refused["calls"] == 0
        assert fallback["metrics"]["net_errors"] >= 1
        assert "net_rtt_ms" not in fallback["metrics"]  # no call came back: no round trip
        # the request's own figures hold the calls of all its stages
        assert request["metrics"]["net_calls"] == 2
    summary = scenario["summary"]
    assert summary["generate.net_calls"]["kind"] == "exact"
    assert summary["generate.net_rtt_ms"]["kind"] == "noisy"
    result.stdout.fnmatch_lines([
        "system per request (mean): disk bytes, peak RSS growth, calls per endpoint",
        f"  generate: 127.0.0.1:{server_port} 2 calls, * out, * in, rtt * ms",
        "  fallback: 127.0.0.1:* 0 calls, 0 B out, 0 B in, 1 error",
    ])


def test_net_calls_are_gated_exactly(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_llm=NET_APP)
    pytester.makefile(".yaml", ragcost=(
        "version: 1\nscenarios:\n  test_llm.py::test_llm:\n"
        "    generate.net_calls: {baseline: 1}\n"
    ))
    result = pytester.runpytest("--ragcost", "--ragcost-system", "-p", "no:randomly")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*generate.net_calls*FAIL*"])


def test_without_the_option_no_hook_is_installed_and_no_endpoint_recorded(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_llm=NET_APP)
    result = pytester.runpytest("--ragcost", "--ragcost-json=out.json", "-s",
                                "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*hooked: False"])
    result.stdout.no_fnmatch_line("system per request*")
    scenario = scenario_of(read_json(pytester.path / "out.json"), "test_llm.py::test_llm")
    for request in scenario["requests"]:
        assert not any(k.startswith("net_") for k in request["metrics"])
        for stage in request["stages"]:
            assert "endpoints" not in stage
            assert not any(k.startswith("net_") for k in stage["metrics"])


def test_prometheus_gets_the_endpoints_and_the_disk_bytes(pytester: pytest.Pytester) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    pytester.makepyfile(test_llm=NET_APP)
    result = pytester.runpytest("--ragcost", "--ragcost-system", "-p", "no:randomly",
                                f"--ragcost-prometheus=textfile:{pytester.path / 'm.prom'}")
    result.assert_outcomes(passed=1)
    samples: dict[str, list[tuple[dict[str, str], float]]] = {}
    for family in text_string_to_metric_families((pytester.path / "m.prom").read_text()):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((dict(sample.labels), sample.value))
    calls = {(s["stage"], s["endpoint"].rsplit(":", 1)[0]): v
             for s, v in samples["ragcost_endpoint_calls_total"]}
    assert calls[("generate", "127.0.0.1")] == 6.0  # 2 calls in each of 3 requests
    received = [v for s, v in samples["ragcost_endpoint_bytes_total"]
                if s["stage"] == "generate" and s["direction"] == "in"]
    assert received[0] > 18000
    errors = [v for s, v in samples["ragcost_endpoint_errors_total"]
              if s["stage"] == "fallback" and s["kind"] == "error"]
    assert errors[0] >= 3.0
    (rtt,) = [v for s, v in samples["ragcost_endpoint_rtt_seconds"] if s["stage"] == "generate"]
    assert 0 < rtt < 5
    directions = {s["direction"] for s, _ in samples["ragcost_stage_disk_bytes_total"]}
    assert directions == ({"read", "write"} if Path("/proc/self/io").exists() else set())
    if Path("/proc/self/clear_refs").exists():
        growth = {s["stage"] for s, _ in samples["ragcost_stage_rss_peak_growth_bytes"]}
        assert growth == {"prepare", "generate", "fallback"}


def test_the_html_report_has_a_table_per_endpoint(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_llm=NET_APP)
    result = pytester.runpytest("--ragcost", "--ragcost-system", "--ragcost-html=r.html",
                                "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    html = (pytester.path / "r.html").read_text()
    assert "<h3>Network calls per stage and endpoint</h3>" in html
    table = html.split("<h3>Network calls per stage and endpoint</h3>", 1)[1].split(
        "</table>", 1)[0]
    rows = table.split("<tr")[2:]  # after the head
    assert len(rows) == 2
    assert "generate" in rows[0]
    assert "127.0.0.1:" in rows[0]
    assert ">6<" in rows[0]  # 2 calls in each of 3 requests
    assert 'class="WARN"' not in rows[0]
    assert "fallback" in rows[1]
    assert 'class="WARN"' in rows[1]  # its calls failed
    assert "None seen" not in html
    # and the heatmap of failures: the refused fallback dark, the good endpoint light
    heat = html.split('<h2 id="endpoint-failures">', 1)[1].split("</svg>", 1)[0]
    assert "Errors and timeouts per stage and endpoint" in heat
    assert ">3 err, 0 t/o<" in heat
    assert ">0 of 6 calls<" in heat
    assert 'fill-opacity="0.94"' in heat  # every fallback call failed
    assert 'fill-opacity="0.04"' in heat  # no generate call did


def test_without_a_failed_call_there_is_no_heatmap(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_llm=NET_APP.replace(
        'urllib.request.urlopen(f"http://127.0.0.1:{closed_port}/")', "pass"))
    result = pytester.runpytest("--ragcost", "--ragcost-system", "--ragcost-html=r.html",
                                "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    html = (pytester.path / "r.html").read_text()
    assert "<h3>Network calls per stage and endpoint</h3>" in html
    assert "endpoint-failures" not in html


def test_where_no_call_was_seen_the_report_says_so_and_why(pytester: pytest.Pytester) -> None:
    """An empty endpoint table is read as "none seen", not "not measured"."""
    pytester.makepyfile(test_ingest=DISK_APP.replace("5 * 1024 * 1024", "1024"))
    result = pytester.runpytest("--ragcost", "--ragcost-system", "--ragcost-html=r.html",
                                "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "  network: no network call was seen at the socket layer: *sockets opened in C*",
    ])
    html = (pytester.path / "r.html").read_text()
    note = html.split("<h3>Network calls per stage and endpoint</h3>", 1)[1]
    assert note.lstrip().startswith('<p class="muted">None seen: no network call was seen')
    plain = pytester.runpytest("--ragcost", "--ragcost-html=r.html", "-p", "no:randomly")
    plain.assert_outcomes(passed=1)
    assert "Network calls per stage" not in (pytester.path / "r.html").read_text()
    plain.stdout.no_fnmatch_line("*no network call was seen*")


MEMORY_APP = '''
import gc

def test_build(ragcost):
    for i in ragcost.requests(["a", "b"]):
        with ragcost.stage("build"):
            block = b"x" * (120 * 1024 * 1024)
            del block
            gc.collect()
        with ragcost.stage("think"):
            sum(range(1000))
'''

needs_clear_refs = pytest.mark.skipif(
    not Path("/proc/self/clear_refs").exists(), reason="/proc/self/clear_refs is Linux's"
)


@needs_clear_refs
def test_a_stage_that_builds_and_frees_120_mb_records_its_peak_rss_growth(
    pytester: pytest.Pytester,
) -> None:
    pytester.makepyfile(test_build=MEMORY_APP)
    result = pytester.runpytest("--ragcost", "--ragcost-system", "--ragcost-json=out.json",
                                "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    scenario = scenario_of(read_json(pytester.path / "out.json"), "test_build.py::test_build")
    for request in scenario["requests"]:
        build, think = request["stages"]
        # freed before the stage ended: only the peak remembers the 120 MiB
        assert 110 * MIB <= build["metrics"]["rss_peak_growth_bytes"] <= 160 * MIB
        assert build["sources"]["rss_peak_growth_bytes"] == "kernel"
        assert think["metrics"]["rss_peak_growth_bytes"] < 8 * MIB
        assert request["metrics"]["rss_peak_growth_bytes"] >= 110 * MIB
        # the probe resets the kernel's mark, yet peak_rss_mb stays the process's peak
        assert request["metrics"]["peak_rss_mb"] >= 120
    summary = scenario["summary"]
    assert summary["build.rss_peak_growth_bytes"]["unit"] == "bytes"
    assert summary["build.rss_peak_growth_bytes"]["kind"] == "noisy"
    result.stdout.fnmatch_lines([
        "system per request (mean): disk bytes, peak RSS growth, calls per endpoint",
        "  build: peak RSS +1*.* MiB",
    ])
    result.stdout.no_fnmatch_line("  think: *")


def test_where_the_high_water_mark_cannot_be_reset_the_header_says_so_and_no_figure_is_made_up(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    memory = importlib.import_module("pytest_ragcost.meters.memory")  # see the disk test
    monkeypatch.setattr(memory, "PROC_CLEAR_REFS", pytester.path / "no-such-proc" / "clear_refs")
    pytester.makepyfile(test_build=MEMORY_APP.replace("120 * 1024 * 1024", "1024"))
    result = pytester.runpytest("--ragcost", "--ragcost-system", "--ragcost-json=out.json",
                                "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["ragcost: memory unavailable: *rss_peak_growth_bytes is not "
                                 "measured"])
    scenario = scenario_of(read_json(pytester.path / "out.json"), "test_build.py::test_build")
    for request in scenario["requests"]:
        assert "rss_peak_growth_bytes" not in request["metrics"]
        for stage in request["stages"]:
            assert "rss_peak_growth_bytes" not in stage["metrics"]


TLS_APP = '''
import http.server
import ssl
import threading
import urllib.request

import pytest


class Answer(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        body = b"a" * 3000
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Answer)
    tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    tls.load_cert_chain("cert.pem", "key.pem")
    srv.socket = tls.wrap_socket(srv.socket, server_side=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv.server_port
    srv.shutdown()
    srv.server_close()


def test_llm(ragcost, server):
    trusted = ssl.create_default_context(cafile="cert.pem")
    for q in ragcost.requests(["a", "b"]):
        with ragcost.stage("generate"):
            request = urllib.request.Request(
                f"https://127.0.0.1:{server}/v1/chat", data=b"q" * 1000
            )
            assert len(urllib.request.urlopen(request, context=trusted).read()) == 3000
'''


def _self_signed_certificate(directory: Path) -> None:
    """``cert.pem`` and ``key.pem`` for 127.0.0.1 in ``directory``, made by the ``openssl``
    command (the ``cryptography`` package is not among the test extras)."""
    import shutil
    import subprocess

    openssl = shutil.which("openssl")
    if openssl is None:
        pytest.skip("the openssl command makes the test's certificate; it is not here")
    subprocess.run(
        [openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
         "-nodes", "-keyout", "key.pem", "-out", "cert.pem", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1"],
        cwd=directory, check=True, capture_output=True,
    )


def test_an_https_endpoint_is_recorded_with_its_plain_bytes_and_round_trip(
    pytester: pytest.Pytester,
) -> None:
    """HTTPS (http.client wraps the connected socket in TLS): the calls, the application
    bytes (not the encrypted records, not the handshake) and the round trip of the
    endpoint, like a plain HTTP one."""
    _self_signed_certificate(pytester.path)
    pytester.makepyfile(test_llm=TLS_APP)
    result = pytester.runpytest("--ragcost", "--ragcost-system", "--ragcost-json=out.json",
                                "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    scenario = scenario_of(read_json(pytester.path / "out.json"), "test_llm.py::test_llm")
    for request in scenario["requests"]:
        (generate,) = request["stages"]
        (called,) = generate["endpoints"]
        assert called["endpoint"].startswith("127.0.0.1:")
        assert called["calls"] == 1
        assert called["connects"] == 1
        assert called["connect_ms"] > 0
        # the 1000-byte body and its headers, in plain text: the handshake's certificate
        # and key exchange (over a kilobyte) are not application bytes
        assert 1000 < called["sent_bytes"] < 1400
        assert 3000 < called["received_bytes"] < 3400
        assert called["rtt_ms"] > 0
        assert called["errors"] == 0
        assert generate["metrics"]["net_received_bytes"] == called["received_bytes"]
    result.stdout.fnmatch_lines(
        # (after the stage's disk figures when the cache was cold: "disk 2.0 KiB read, ...; ")
        ["  generate: *127.0.0.1:* 1 call, 1.* KiB out, 3.* KiB in, rtt * ms"]
    )
