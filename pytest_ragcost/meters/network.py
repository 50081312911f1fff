"""Network figures per endpoint (``host:port``), from a light hook of the socket layer.

With ``--ragcost-system`` the run wraps the standard library's client socket calls
(``socket.socket.connect``, ``send``, ``sendall``, ``recv``, ``recv_into``, and
``ssl.SSLSocket``'s ``send``, ``recv``, ``recv_into``) for as long as it meters, and
restores them when it ends. Every HTTP client built on the standard library's sockets
(``http.client``, ``urllib``, ``requests``/``urllib3``, ``httpx``, asyncio transports, most
database drivers written in Python) passes through them. A driver that opens its sockets
in C (``psycopg``'s libpq, ``grpcio``) does not, and is not seen.

Only sockets this process connected are counted (a server socket it accepted is not a
call it made). Per endpoint the hook counts:

- ``calls``: exchanges: data sent, then the first data received back;
- ``sent_bytes``, ``received_bytes``: application bytes (through TLS, the plain text, not
  the encrypted bytes on the wire nor the handshake); a socket wrapped in TLS after it
  connected (``http.client``'s HTTPS) keeps its endpoint;
- ``rtt_ms``: per call, the time from its first byte sent to its first byte received
  (the server's time included: what the stage waited for);
- ``connects`` and ``connect_ms``: connections completed in the connect call and their
  mean time (the TCP handshake, plus TLS when the socket is wrapped before connecting);
  a non-blocking connect (asyncio) names the endpoint but is not timed;
- ``errors`` (a socket call that raised, other than a timeout or a non-blocking socket's
  "would block") and ``timeouts``.

Counters are process-wide, like the CPU time: a window sees the calls of every thread
made while it was open.
"""

from __future__ import annotations

import socket
import threading
import time
import weakref
from collections.abc import Callable
from typing import Any

from ..run.model import EndpointRecord
from .window import Figures, Probe

#: the stage and request metrics the network probe gives a window
NET_METRICS = (
    "net_calls",
    "net_sent_bytes",
    "net_received_bytes",
    "net_rtt_ms",
    "net_errors",
    "net_timeouts",
)

_perf_ns = time.perf_counter_ns

# one endpoint's counters, in this order in a list (cheaper than an object per update)
_CALLS, _SENT, _RECEIVED, _ERRORS, _TIMEOUTS, _RTT_NS, _CONNECTS, _CONNECT_NS = range(8)
_SOCKET = dict.fromkeys(NET_METRICS, "socket")


def endpoint_name(address: Any) -> str:
    """``host:port`` of a connect() address (``[v6]:port`` for IPv6; a Unix socket's path
    as ``unix:PATH``)."""
    if isinstance(address, tuple) and len(address) >= 2:
        host = str(address[0])
        return f"[{host}]:{address[1]}" if ":" in host else f"{host}:{address[1]}"
    if isinstance(address, bytes):
        address = address.decode("utf-8", "replace")
    return f"unix:{address}"


class Traffic:
    """The process's counters per endpoint, and the hook that keeps them."""

    def __init__(self) -> None:
        self.table: dict[str, list[int]] = {}
        #: bumped on every update: a window reading an unchanged table copies nothing
        self.version = 0
        self._snapshot: tuple[int, dict[str, tuple[int, ...]]] = (0, {})
        self._lock = threading.Lock()
        # socket -> [its endpoint's counters, when its pending call's first byte went out]
        self._open: weakref.WeakKeyDictionary[Any, list[Any]] = weakref.WeakKeyDictionary()
        self._saved: list[tuple[type, str, Any]] = []

    # -- readings --------------------------------------------------------------------------
    def snapshot(self) -> dict[str, tuple[int, ...]]:
        version, copy = self._snapshot
        if version != self.version:
            with self._lock:
                version = self.version
                copy = {name: tuple(c) for name, c in self.table.items()}
            self._snapshot = (version, copy)
        return copy

    # -- the hook --------------------------------------------------------------------------
    def _counters(self, endpoint: str) -> list[int]:
        found = self.table.get(endpoint)
        if found is None:
            found = self.table.setdefault(endpoint, [0] * 8)
        return found

    def _failed(self, state: list[Any] | None, exc: OSError) -> None:
        if state is None or isinstance(exc, BlockingIOError | InterruptedError):
            return
        with self._lock:
            state[0][_TIMEOUTS if isinstance(exc, TimeoutError) else _ERRORS] += 1
            self.version += 1

    def _connected(self, sock: Any, address: Any, started_ns: int, done: bool) -> list[Any]:
        """Register the socket's endpoint; ``done``: the connect completed in the call
        (not a non-blocking connect under way, nor a failed one), so it is timed."""
        counters = self._counters(endpoint_name(address))
        state = [counters, 0]
        self._open[sock] = state
        if done:
            with self._lock:
                counters[_CONNECTS] += 1
                counters[_CONNECT_NS] += _perf_ns() - started_ns
                self.version += 1
        return state

    def _sent(self, sock: Any, sent: int) -> None:
        state = self._open.get(sock)
        if state is None:
            return
        if not state[1]:
            state[1] = _perf_ns()  # a call starts with its first byte out
        with self._lock:
            state[0][_SENT] += sent
            self.version += 1

    def _received(self, sock: Any, received: int) -> None:
        if received <= 0:
            return
        state = self._open.get(sock)
        if state is None:
            return
        started = state[1]
        with self._lock:
            counters = state[0]
            counters[_RECEIVED] += received
            if started:
                counters[_CALLS] += 1
                counters[_RTT_NS] += _perf_ns() - started
            self.version += 1
        state[1] = 0

    def install(self) -> None:
        """Wrap the socket calls (once; :meth:`uninstall` puts the originals back)."""
        if self._saved:
            return
        plain = socket.socket
        self._wrap(plain, "connect", self._wrap_connect)
        self._wrap(plain, "connect_ex", self._wrap_connect_ex)
        for name in ("send", "sendall"):
            self._wrap(plain, name, self._wrap_send)
        for name in ("recv", "recv_into"):
            self._wrap(plain, name, self._wrap_recv)
        try:
            import ssl
        except ImportError:  # a Python built without OpenSSL
            return
        wrapped = ssl.SSLSocket
        # sendall loops over send, and an unwrapped SSLSocket falls back to the plain
        # socket's calls (counted there): only send, recv, recv_into, and only with TLS on
        self._wrap(wrapped, "send", self._wrap_send, tls=True)
        for name in ("recv", "recv_into"):
            self._wrap(wrapped, name, self._wrap_recv, tls=True)
        self._wrap_tls_upgrade(wrapped)

    def _wrap_tls_upgrade(self, wrapped: type) -> None:
        """Wrapping a connected socket in TLS (``SSLContext.wrap_socket``, as
        ``http.client``'s HTTPS does after connecting) makes a new SSLSocket object from
        the old one's descriptor: the new object inherits the old one's endpoint, or none
        of its calls would be counted."""
        own = wrapped.__dict__.get("_create")
        if not isinstance(own, classmethod):  # another Python's ssl module: not upgraded
            return
        create = own.__func__
        traffic = self

        def _create(cls: type, sock: Any, *args: Any, **kwargs: Any) -> Any:
            state = traffic._open.get(sock)
            made = create(cls, sock, *args, **kwargs)
            if state is not None:
                traffic._open[made] = state
            return made

        self._saved.append((wrapped, "_create", own))
        setattr(wrapped, "_create", classmethod(_create))  # noqa: B010 - a private name

    def uninstall(self) -> None:
        """Put the original socket calls back."""
        for cls, name, original in reversed(self._saved):
            if original is None:
                delattr(cls, name)
            else:
                setattr(cls, name, original)
        self._saved.clear()

    @property
    def installed(self) -> bool:
        return bool(self._saved)

    def _wrap(self, cls: type, name: str, make: Callable[..., Any], tls: bool = False) -> None:
        own = cls.__dict__.get(name)  # None: inherited from the C base (delete to restore)
        self._saved.append((cls, name, own))
        setattr(cls, name, make(getattr(cls, name), tls))

    # the wrappers stay small: they run on every socket call of the process
    def _wrap_connect(self, original: Any, tls: bool) -> Any:
        traffic = self

        def connect(sock: Any, address: Any) -> None:
            started = _perf_ns()
            try:
                original(sock, address)
            except BlockingIOError:  # a non-blocking connect in progress (asyncio)
                traffic._connected(sock, address, started, False)
                raise
            except OSError as exc:
                traffic._failed(traffic._connected(sock, address, started, False), exc)
                raise
            traffic._connected(sock, address, started, True)

        return connect

    def _wrap_connect_ex(self, original: Any, tls: bool) -> Any:
        traffic = self

        def connect_ex(sock: Any, address: Any) -> int:
            started = _perf_ns()
            code: int = original(sock, address)
            traffic._connected(sock, address, started, code == 0)
            return code

        return connect_ex

    def _wrap_send(self, original: Any, tls: bool) -> Any:
        traffic = self

        def send(sock: Any, data: Any, *args: Any) -> Any:
            if tls and sock._sslobj is None:
                return original(sock, data, *args)
            try:
                result = original(sock, data, *args)
            except OSError as exc:
                traffic._failed(traffic._open.get(sock), exc)
                raise
            # send returns the bytes sent; sendall returns None once all went out
            traffic._sent(sock, memoryview(data).nbytes if result is None else result)
            return result

        return send

    def _wrap_recv(self, original: Any, tls: bool) -> Any:
        traffic = self

        def recv(sock: Any, *args: Any, **kwargs: Any) -> Any:
            if tls and sock._sslobj is None:
                return original(sock, *args, **kwargs)
            try:
                result = original(sock, *args, **kwargs)
            except OSError as exc:
                traffic._failed(traffic._open.get(sock), exc)
                raise
            # recv returns the bytes, recv_into how many it wrote
            traffic._received(sock, result if isinstance(result, int) else len(result))
            return result

        return recv


class NetworkProbe(Probe):
    """The per-endpoint counters at both ends of a window: the stage's or request's
    ``net_*`` totals, and its endpoints (:class:`~pytest_ragcost.run.model.EndpointRecord`)."""

    name = "network"
    label = "network calls per endpoint (socket hook)"
    metrics = NET_METRICS

    def __init__(self) -> None:
        global _users
        with _users_lock:
            # one hook per process, however many runs meter at once (a pytester inner
            # session inside a metered run): the last to close takes it out
            _users += 1
            _TRAFFIC.install()
        self.traffic = _TRAFFIC
        self._open = True

    def read(self) -> object:
        return self.traffic.snapshot()

    def figures(self, before: Any, after: Any, out: Figures) -> None:
        if before is after:
            return  # no socket call of a connected socket in the window
        endpoints = []
        totals = [0] * 8
        for name, last in after.items():
            first = before.get(name)
            delta = last if first is None else tuple(a - b for a, b in zip(last, first,
                                                                           strict=True))
            if not any(delta):
                continue
            for i, value in enumerate(delta):
                totals[i] += value
            endpoints.append(_record(name, delta))
        if not endpoints:
            return
        metrics = out.metrics
        metrics["net_calls"] = float(totals[_CALLS])
        metrics["net_sent_bytes"] = float(totals[_SENT])
        metrics["net_received_bytes"] = float(totals[_RECEIVED])
        metrics["net_errors"] = float(totals[_ERRORS])
        metrics["net_timeouts"] = float(totals[_TIMEOUTS])
        sources = dict(_SOCKET)
        if totals[_CALLS]:
            metrics["net_rtt_ms"] = totals[_RTT_NS] / totals[_CALLS] / 1e6
        else:
            del sources["net_rtt_ms"]
        out.sources.update(sources)
        out.endpoints = tuple(endpoints)

    def close(self) -> None:
        global _users
        with _users_lock:
            if not self._open:
                return
            self._open = False
            _users -= 1
            if _users == 0:
                _TRAFFIC.uninstall()


#: the process's one hook and its counters, and how many probes use it
_TRAFFIC = Traffic()
_users = 0
_users_lock = threading.Lock()


def _record(name: str, delta: tuple[int, ...]) -> EndpointRecord:
    calls, connects = delta[_CALLS], delta[_CONNECTS]
    return EndpointRecord(
        endpoint=name,
        calls=calls,
        sent_bytes=delta[_SENT],
        received_bytes=delta[_RECEIVED],
        errors=delta[_ERRORS],
        timeouts=delta[_TIMEOUTS],
        connects=connects,
        rtt_ms=delta[_RTT_NS] / calls / 1e6 if calls else None,
        connect_ms=delta[_CONNECT_NS] / connects / 1e6 if connects else None,
    )
