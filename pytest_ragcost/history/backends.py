"""Two small database backends behind one interface: stdlib sqlite3 and psycopg 3.

The store speaks SQL with ``?`` placeholders; the PostgreSQL backend rewrites them to
psycopg's ``%s``. psycopg is imported only when a ``postgresql://`` URL is opened, and a
missing install says which extra provides it.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import stat
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, TypeVar

from .schema import Dialect

Row = tuple[Any, ...]
_T = TypeVar("_T")


class HistoryError(Exception):
    """The history cannot be opened, read or written; ``str()`` is the message for a user."""


class Backend(Protocol):
    dialect: Dialect
    label: str

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]: ...

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None: ...

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None: ...

    def transaction(self, *, lock: bool = False) -> contextlib.AbstractContextManager[None]:
        """A transaction; ``lock`` also serialises it against other writers (migrations)."""
        ...

    def has_table(self, name: str) -> bool: ...

    def stamp(self, when: datetime) -> Any:
        """``when`` as this database stores a ``{timestamp}`` column."""
        ...

    def scrub(self, text: str) -> str:
        """``text`` without the connection's password (for messages)."""
        ...

    def close(self) -> None: ...


def utc(value: Any) -> datetime:
    """A ``{timestamp}`` column's value (ISO text from SQLite, a datetime from PostgreSQL)
    as an aware UTC datetime."""
    when = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC)


def iso(when: datetime) -> str:
    """The one text form of a time in SQLite: UTC, always with microseconds, so that text
    order is time order."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).isoformat(timespec="microseconds")


#: how long a run waits in all for a SQLite history another run holds locked
SQLITE_WAIT_S = 10.0
#: one wait inside sqlite's busy handler; past the first, the run says it is waiting
_SQLITE_SLICE_S = 1.0


class SQLiteBackend:
    """One SQLite file; WAL so readers never wait on the writer, and a bounded wait so two
    concurrent runs (two checkouts, two CI jobs on one box) queue instead of failing: a
    run that has waited a second for another's lock says so (``on_wait``), and gives up
    after ``wait_s`` with a :class:`HistoryError` (the run goes on without the history).

    Only a regular file (or a new one) is opened: a device such as ``/dev/null``, a
    directory or a pipe is refused, since SQLite would create its journal beside it."""

    dialect: Dialect = "sqlite"

    def __init__(self, path: Path, *, wait_s: float = SQLITE_WAIT_S,
                 on_wait: Callable[[str], None] | None = None) -> None:
        # redacted as a URL is: a libpq connection string given where a URL was meant
        # (``host=db password=...``) is taken for a file name, and shown as one
        self.label = redact(str(path))
        self._wait_s = wait_s
        self._on_wait = on_wait
        self._said = False
        try:
            info = os.stat(path)
        except FileNotFoundError:
            info = None
        except OSError as exc:
            raise HistoryError(
                f"cannot open the history {self.label}: {exc.strerror or exc}") from None
        if info is not None and not stat.S_ISREG(info.st_mode):
            kind = "a directory" if stat.S_ISDIR(info.st_mode) else (
                "a device" if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode)
                else "not a regular file")
            msg = (
                f"cannot open the history {self.label}: it is {kind}, not a SQLite file; give a "
                "file path (created if missing), or none to turn the history off"
            )
            raise HistoryError(msg)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(str(path), timeout=min(wait_s, _SQLITE_SLICE_S),
                                         isolation_level=None)
            self._patient(lambda: self._conn.execute("PRAGMA foreign_keys = ON"))
            self._patient(lambda: self._conn.execute("PRAGMA journal_mode = WAL"))
        except (OSError, sqlite3.Error) as exc:
            msg = f"cannot open the history {self.label}: {scrub(str(exc), str(path))}"
            raise HistoryError(msg) from None

    def _patient(self, call: Callable[[], _T]) -> _T:
        """``call()``, tried again while another process holds the database locked, for
        at most ``wait_s`` in all; the first retry is said through ``on_wait``."""
        started = time.monotonic()
        while True:
            try:
                return call()
            except sqlite3.OperationalError as exc:
                busy = "locked" in str(exc) or "busy" in str(exc)
                waited = time.monotonic() - started
                if not busy or waited >= self._wait_s:
                    if busy:
                        raise HistoryError(
                            f"the history {self.label} stayed locked by another process for "
                            f"{waited:.0f} s; this run is not recorded in it") from None
                    raise
                if not self._said:
                    self._said = True
                    line = (f"ragcost: the history {self.label} is locked by another run; "
                            f"waiting up to {self._wait_s:.0f} s")
                    if self._on_wait is not None:
                        self._on_wait(line)
                    else:
                        print(line, file=sys.stderr, flush=True)

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self._patient(
            lambda: [tuple(r) for r in self._conn.execute(sql, tuple(params)).fetchall()])

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._patient(lambda: self._conn.execute(sql, tuple(params)))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._patient(lambda: self._conn.executemany(sql, [tuple(r) for r in rows]))

    @contextlib.contextmanager
    def transaction(self, *, lock: bool = False) -> Iterator[None]:
        # IMMEDIATE takes the write lock up front: a migration or a run's rows go in whole
        self._patient(lambda: self._conn.execute("BEGIN IMMEDIATE"))
        try:
            yield
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    def has_table(self, name: str) -> bool:
        return bool(self.query(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ))

    def stamp(self, when: datetime) -> Any:
        return iso(when)

    def scrub(self, text: str) -> str:
        return text

    def close(self) -> None:
        self._conn.close()


def redact(url: str) -> str:
    """The URL without its secrets, for every message, header and file."""
    from ..redact import redact_url

    return redact_url(url)


def scrub(text: str, url: str) -> str:
    """``text`` (a driver's message) without the URL's secrets, whatever it quotes."""
    from ..redact import redact_text, secrets_in

    return redact_text(text, secrets_in(url))


class PostgresBackend:
    """A PostgreSQL database through psycopg 3, for a history a team shares."""

    dialect: Dialect = "postgresql"
    #: pg_advisory_xact_lock key serialising migrations of one database
    _LOCK_KEY = 0x7261_6763  # "ragc"

    #: how long a connection may take unless the URL says (``?connect_timeout=N``): long
    #: enough for a busy server, short enough that a store that is down costs little
    CONNECT_TIMEOUT_S = 10

    def __init__(self, url: str, *, connect_timeout_s: int | None = None) -> None:
        self.label = redact(url)
        self._url = url
        try:
            import psycopg
        except ImportError:
            msg = (
                f"the history {self.label} needs psycopg 3: "
                "pip install 'pytest-ragcost[postgres]'"
            )
            raise HistoryError(msg) from None
        self._psycopg = psycopg
        try:
            if "connect_timeout=" in url:
                self._conn = psycopg.connect(url, autocommit=True)
            else:
                self._conn = psycopg.connect(
                    url, autocommit=True,
                    connect_timeout=connect_timeout_s or self.CONNECT_TIMEOUT_S,
                )
        except Exception as exc:  # psycopg.Error, and a ValueError from a URL it cannot parse
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            msg = f"cannot connect to the history {self.label}: {scrub(first, url)}"
            raise HistoryError(msg) from None
        # the history's queries are small but their row estimates are not (a window over a
        # project's runs): at a year of runs the planner compiled the start-of-run read
        # with JIT, 36 ms of compiling for a query that runs in less
        with contextlib.suppress(psycopg.Error):
            self._conn.execute("SET jit = off")

    @staticmethod
    def _sql(sql: str) -> str:
        return sql.replace("?", "%s")

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        with self._conn.cursor() as cur:
            cur.execute(self._sql(sql), tuple(params))
            return [tuple(r) for r in cur.fetchall()]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        with self._conn.cursor() as cur:
            cur.execute(self._sql(sql), tuple(params))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            with self._conn.cursor() as cur:
                cur.executemany(self._sql(sql), [tuple(r) for r in rows])

    @contextlib.contextmanager
    def transaction(self, *, lock: bool = False) -> Iterator[None]:
        with self._conn.transaction():
            if lock:
                self.execute("SELECT pg_advisory_xact_lock(?)", (self._LOCK_KEY,))
            yield

    def has_table(self, name: str) -> bool:
        rows = self.query("SELECT to_regclass(?)", (name,))
        return bool(rows and rows[0][0] is not None)

    def stamp(self, when: datetime) -> Any:
        return when if when.tzinfo is not None else when.replace(tzinfo=UTC)

    def scrub(self, text: str) -> str:
        return scrub(text, self._url)

    def close(self) -> None:
        self._conn.close()


def connect(url: str, default_path: Path, *,
            on_wait: Callable[[str], None] | None = None) -> Backend:
    """The backend for a ``--ragcost-history`` value (not ``none``); ``on_wait`` is told
    when a SQLite history is locked by another run and this one waits for it."""
    text = url.strip()
    if text.startswith(("postgresql://", "postgres://")):
        return PostgresBackend(text)
    if text.startswith("sqlite:///"):
        return SQLiteBackend(Path(text[len("sqlite:///") :]), on_wait=on_wait)
    if text in ("", "sqlite", "default"):
        return SQLiteBackend(default_path, on_wait=on_wait)
    if "://" in text:
        scheme = text.split("://", 1)[0]
        msg = (
            f"--ragcost-history: unknown scheme {scheme!r} in {redact(text)!r}; expected a "
            "file path, sqlite:///PATH, postgresql://USER@HOST/DB or none"
        )
        raise HistoryError(msg)
    return SQLiteBackend(Path(text), on_wait=on_wait)
