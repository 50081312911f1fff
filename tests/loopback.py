"""Loopback endpoints that misbehave as a collector or a gateway can: one that refuses
connections, one that accepts and never answers, and one that answers 200 to everything
(recording what it received). For the export tests and benchmarks/bench_export_down.py."""

from __future__ import annotations

import contextlib
import http.server
import socket
import threading
from collections.abc import Iterator


@contextlib.contextmanager
def refusing() -> Iterator[str]:
    """``http://127.0.0.1:PORT`` where nothing listens (a port just released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    yield f"http://127.0.0.1:{port}"


@contextlib.contextmanager
def silent() -> Iterator[str]:
    """``http://127.0.0.1:PORT`` that accepts connections and never answers a byte."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(64)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            held.append(conn)  # kept open, never read, never answered

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(2)
        for conn in held:
            conn.close()
        server.close()


class _Ok(http.server.BaseHTTPRequestHandler):
    received: list[tuple[str, int]]

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.rfile.read(length)
        self.received.append((self.path, length))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_PUT = _answer

    def log_message(self, format: str, *args: object) -> None:
        return


@contextlib.contextmanager
def accepting() -> Iterator[tuple[str, list[tuple[str, int]]]]:
    """``(http://127.0.0.1:PORT, received)``: answers 200 to every POST and PUT."""
    received: list[tuple[str, int]] = []
    handler = type("Handler", (_Ok,), {"received": received})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()
