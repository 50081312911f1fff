"""Two small database backends behind one interface: stdlib sqlite3 and psycopg 3.

The store speaks SQL with ``?`` placeholders; the PostgreSQL backend rewrites them to
psycopg's ``%s``. psycopg is imported only when a ``postgresql://`` URL is opened, and a
missing install says which extra provides it.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from .schema import Dialect

Row = tuple[Any, ...]


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


class SQLiteBackend:
    """One SQLite file; WAL so readers never wait on the writer, and a busy timeout so two
    concurrent runs (two checkouts, two CI jobs on one box) queue instead of failing."""

    dialect: Dialect = "sqlite"

    def __init__(self, path: Path, *, timeout_s: float = 30.0) -> None:
        self.label = str(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._conn = sqlite3.connect(str(path), timeout=timeout_s, isolation_level=None)
            self._conn.execute("PRAGMA foreign_keys = ON")
            self._conn.execute("PRAGMA journal_mode = WAL")
        except (OSError, sqlite3.Error) as exc:
            msg = f"cannot open the history {path}: {exc}"
            raise HistoryError(msg) from None

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return [tuple(r) for r in self._conn.execute(sql, tuple(params)).fetchall()]

    def execute(self, sql: str, params: Sequence[Any] = ()) -> None:
        self._conn.execute(sql, tuple(params))

    def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._conn.executemany(sql, [tuple(r) for r in rows])

    @contextlib.contextmanager
    def transaction(self, *, lock: bool = False) -> Iterator[None]:
        # IMMEDIATE takes the write lock up front: a migration or a run's rows go in whole
        self._conn.execute("BEGIN IMMEDIATE")
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


def connect(url: str, default_path: Path) -> Backend:
    """The backend for a ``--ragcost-history`` value (not ``none``)."""
    text = url.strip()
    if text.startswith(("postgresql://", "postgres://")):
        return PostgresBackend(text)
    if text.startswith("sqlite:///"):
        return SQLiteBackend(Path(text[len("sqlite:///") :]))
    if text in ("", "sqlite", "default"):
        return SQLiteBackend(default_path)
    if "://" in text:
        scheme = text.split("://", 1)[0]
        msg = (
            f"--ragcost-history: unknown scheme {scheme!r} in {redact(text)!r}; expected a "
            "file path, sqlite:///PATH, postgresql://USER@HOST/DB or none"
        )
        raise HistoryError(msg)
    return SQLiteBackend(Path(text))
