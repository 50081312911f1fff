"""The run history on SQLite: schema, migrations, writes and the summaries the noise rule
reads (the same cases run on a real PostgreSQL in test_history_postgres.py)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from history_cases import check_migration_from_v1, check_round_trip, meta, outcome

from pytest_ragcost.history import HistoryError, Store, open_store
from pytest_ragcost.history.backends import SQLiteBackend
from pytest_ragcost.history.store import price_rates_hash


def test_a_run_reads_back_row_by_row_and_as_summaries(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "h.sqlite3"), tmp_path / "unused", project="proj")
    check_round_trip(store)
    store.close()


def test_a_version_1_store_migrates_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "v1.sqlite3"
    check_migration_from_v1(
        Store(SQLiteBackend(path)),
        lambda: open_store(str(path), tmp_path / "unused", project="proj"),
    )


def test_a_store_newer_than_this_version_is_refused_with_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    open_store(str(path), path, project="proj").close()
    with sqlite3.connect(path) as conn:
        conn.execute("INSERT INTO schema_version VALUES (7, 'later')")
    with pytest.raises(HistoryError, match=r"schema is version 7, newer than this "
                       r"pytest-ragcost knows \(3\); upgrade pytest-ragcost"):
        open_store(str(path), path, project="proj")


def test_the_default_location_and_bad_urls(tmp_path: Path) -> None:
    default = tmp_path / ".ragcost" / "history.sqlite3"
    open_store("sqlite", default, project="proj").close()
    assert default.is_file()
    with pytest.raises(HistoryError, match="unknown scheme 'mysql'"):
        open_store("mysql://u:secret@host/db", default, project="proj")
    (tmp_path / "dir.sqlite3").mkdir()
    with pytest.raises(HistoryError, match="cannot open the history"):
        open_store(str(tmp_path / "dir.sqlite3"), default, project="proj")


def test_a_postgres_url_without_psycopg_names_the_extra(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import builtins

    real_import = builtins.__import__

    def no_psycopg(name: str, *args: object, **kwargs: object) -> object:
        if name == "psycopg":
            raise ImportError(name)
        return real_import(name, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(builtins, "__import__", no_psycopg)
    with pytest.raises(HistoryError) as info:
        open_store("postgresql://me:hunter2@127.0.0.1:1/db", Path("unused"), project="proj")
    assert "pip install 'pytest-ragcost[postgres]'" in str(info.value)
    assert "hunter2" not in str(info.value)


def test_two_runs_written_concurrently_both_land(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"
    first = open_store(str(path), path, project="proj")
    second = open_store(str(path), path, project="proj")
    first.record(meta(), [outcome([1.0, 2.0])])
    second.record(meta(), [outcome([3.0, 4.0])])
    assert len(first.runs()) == 2
    first.close()
    second.close()


def test_the_rates_hash_follows_the_rates_not_the_package_version() -> None:
    new = price_rates_hash([outcome([1.0]).run])
    old = price_rates_hash([outcome([1.0], price_source="genai-prices 0.2.2 #1a2b3c4d").run])
    other = price_rates_hash([outcome([1.0], price_source="genai-prices 0.2.3 #99999999").run])
    assert new == old
    assert other != new
    assert price_rates_hash([outcome([1.0], priced=False).run]) is None
