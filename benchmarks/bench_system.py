"""What ``--ragcost-system`` costs: per socket call with the hook and without, per HTTP
request to a loopback server, and per stage window with the system probes and without.

    python benchmarks/bench_system.py [--rounds 7] [--calls 20000] [--requests 300]

1. Socket calls: a TCP connection over loopback (connected through the hook, so every
   call is counted: the worst case), 64 bytes sent and 64 received per exchange. The
   exchange time per call (send or recv) with the hook installed and without, in
   alternating rounds; the figure is the median over rounds of the difference.
2. HTTP: ``urllib`` POSTs of 1 kB to an ``http.server`` on 127.0.0.1 in a thread, with
   the hook and without: what a user's pipeline call pays, as a ratio.
3. Windows: a stage window (the run's ``stage`` plan, process meter on) opened and closed,
   with ``--ragcost-system``'s probes and without: what every stage pays.

Prints medians and the with/without ratios from the same run.
"""

from __future__ import annotations

import argparse
import http.server
import socket
import statistics
import threading
import time
import urllib.request
from collections.abc import Callable

from pytest_ragcost.meters.network import NetworkProbe
from pytest_ragcost.meters.registry import build


def _pair() -> tuple[socket.socket, socket.socket, socket.socket]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    client = socket.socket()
    client.connect(listener.getsockname())
    server, _ = listener.accept()
    return listener, client, server


def socket_call_ns(calls: int) -> float:
    """ns per hooked call (half an exchange: one send or one recv on the client)."""
    listener, client, server = _pair()
    payload = b"x" * 64
    exchanges = calls // 2
    try:
        t0 = time.perf_counter_ns()
        for _ in range(exchanges):
            client.sendall(payload)
            server.recv(64)
            server.sendall(payload)
            client.recv(64)
        elapsed = time.perf_counter_ns() - t0
    finally:
        for s in (client, server, listener):
            s.close()
    # each exchange makes 4 socket calls through the (possibly) wrapped class; 2 are the
    # client's (counted), 2 the accepted server socket's (looked up, not counted)
    return elapsed / (exchanges * 4)


class _Answer(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.0"

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers["Content-Length"]))
        body = b"a" * 1000
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


def http_request_us(port: int, requests: int) -> float:
    url = f"http://127.0.0.1:{port}/v1"
    t0 = time.perf_counter_ns()
    for _ in range(requests):
        urllib.request.urlopen(urllib.request.Request(url, data=b"q" * 1000)).read()
    return (time.perf_counter_ns() - t0) / requests / 1e3


def window_us(system: bool, windows: int) -> float:
    meters = build(["process"], watts_per_thread=4.0, watts_source="default", system=system)
    plan = meters.plan("stage")
    try:
        t0 = time.perf_counter_ns()
        for _ in range(windows):
            plan.open().close()
        return (time.perf_counter_ns() - t0) / windows / 1e3
    finally:
        meters.close()


def _rounds(rounds: int, measure: Callable[[bool], float]) -> tuple[list[float], list[float]]:
    off: list[float] = []
    on: list[float] = []
    for i in range(rounds):
        for hooked in (False, True) if i % 2 == 0 else (True, False):
            (on if hooked else off).append(measure(hooked))
    return off, on


def _hooked(measure: Callable[[], float]) -> Callable[[bool], float]:
    def run(hooked: bool) -> float:
        if not hooked:
            return measure()
        probe = NetworkProbe()
        try:
            return measure()
        finally:
            probe.close()

    return run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--windows", type=int, default=20000)
    args = parser.parse_args()

    off, on = _rounds(args.rounds, _hooked(lambda: socket_call_ns(args.calls)))
    added = statistics.median(b - a for a, b in zip(off, on, strict=True))
    print(f"socket call over loopback: {statistics.median(off) / 1e3:.2f} us without the "
          f"hook, {statistics.median(on) / 1e3:.2f} us with it: +{added / 1e3:.2f} us per "
          f"call (median of {args.rounds} rounds; ratio "
          f"{statistics.median(on) / statistics.median(off):.2f})")

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        port = server.server_port
        off, on = _rounds(args.rounds, _hooked(lambda: http_request_us(port, args.requests)))
    finally:
        server.shutdown()
        server.server_close()
    added = statistics.median(b - a for a, b in zip(off, on, strict=True))
    print(f"HTTP POST to loopback (urllib, 1 kB each way): {statistics.median(off):.0f} us "
          f"without, {statistics.median(on):.0f} us with: {added:+.1f} us per request "
          f"(ratio {statistics.median(on) / statistics.median(off):.3f})")

    off, on = _rounds(args.rounds, lambda system: window_us(system, args.windows))
    added = statistics.median(b - a for a, b in zip(off, on, strict=True))
    print(f"stage window (process meter): {statistics.median(off):.2f} us without "
          f"--ragcost-system, {statistics.median(on):.2f} us with: +{added:.2f} us per stage "
          "(no network traffic inside)")


if __name__ == "__main__":
    main()
