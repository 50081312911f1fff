"""The run history on SQLite: schema, migrations, writes and the summaries the noise rule
reads (the same cases run on a real PostgreSQL in test_history_postgres.py)."""

from __future__ import annotations

import contextlib
import shutil
import sqlite3
import subprocess
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from history_cases import (
    check_concurrent_writers,
    check_listing,
    check_migration_from_v1,
    check_migration_from_v2,
    check_projects_kept_apart,
    check_prune_keeps_summaries,
    check_round_trip,
    check_trend_follows_the_branch,
    meta,
    outcome,
)

from pytest_ragcost.history import HistoryError, Lineage, Store, lineage_of, open_store
from pytest_ragcost.history.backends import SQLiteBackend
from pytest_ragcost.history.locate import Located, locate
from pytest_ragcost.history.store import price_rates_hash

#: stores written by pytest-ragcost 0.2 itself (tests/data/history_v2/make.py)
V2_STORES = Path(__file__).parent / "data" / "history_v2"


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


def test_projects_on_one_store_are_kept_apart(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "h.sqlite3"), tmp_path, project="A")
    check_projects_kept_apart(store)
    store.close()


def test_a_trend_follows_its_branch_and_the_commits_it_was_built_on(tmp_path: Path) -> None:
    store = open_store(str(tmp_path / "h.sqlite3"), tmp_path, project="proj")
    check_trend_follows_the_branch(store)
    store.close()


def test_a_prune_drops_request_rows_and_keeps_what_noise_and_trends_read(
    tmp_path: Path,
) -> None:
    store = open_store(str(tmp_path / "h.sqlite3"), tmp_path, project="proj")
    check_prune_keeps_summaries(store)
    store.close()


def test_runs_are_listed_shown_and_exported_by_project_branch_scenario_and_time(
    tmp_path: Path,
) -> None:
    store = open_store(str(tmp_path / "h.sqlite3"), tmp_path, project="proj")
    check_listing(store)
    store.close()


def test_a_store_written_by_0_2_migrates_in_place_and_its_runs_stay_readable(
    tmp_path: Path,
) -> None:
    path = tmp_path / "history.sqlite3"
    shutil.copy(V2_STORES / "history.sqlite3", path)

    def raw(sql: str) -> list[tuple[Any, ...]]:
        with contextlib.closing(sqlite3.connect(path)) as conn:
            return conn.execute(sql).fetchall()

    check_migration_from_v2(lambda: open_store(str(path), path, project="quickstart"), raw)
    # the times keep one text form, old and new, so text order is time order
    stamps = [ts for (ts,) in raw("SELECT ts FROM run ORDER BY ts")]
    assert all(datetime.fromisoformat(ts).tzinfo is not None for ts in stamps)


def test_eight_writers_from_two_projects_lose_nothing(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite3"

    def count(sql: str) -> int:
        with contextlib.closing(sqlite3.connect(path)) as conn:
            return int(conn.execute(sql).fetchone()[0])

    check_concurrent_writers(str(path), count, writers=8, runs=3, requests=10)


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main",
         *args], cwd=cwd, capture_output=True, text=True, check=True,
    )
    return done.stdout.strip()


def test_the_lineage_of_a_checkout_is_its_commit_and_ancestors(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    _git(repo, "init", "-q")
    shas = []
    for name in ("one", "two"):
        (repo / name).write_text(name)
        _git(repo, "add", name)
        _git(repo, "commit", "-q", "-m", name)
        shas.append(_git(repo, "rev-parse", "HEAD"))
    _git(repo, "checkout", "-q", "-b", "feature")
    (repo / "f").write_text("f")
    _git(repo, "add", "f")
    _git(repo, "commit", "-q", "-m", "f")
    feature = _git(repo, "rev-parse", "HEAD")
    _git(repo, "checkout", "-q", "main")
    (repo / "three").write_text("3")
    _git(repo, "add", "three")
    _git(repo, "commit", "-q", "-m", "three")
    main_after = _git(repo, "rev-parse", "HEAD")
    _git(repo, "checkout", "-q", "feature")
    got = lineage_of(repo, "feature", environ={"GITHUB_BASE_REF": "main"})
    assert got == Lineage("feature", (feature, shas[1], shas[0]), None)
    assert main_after not in got.commits
    # a shallow clone knows one commit: the CI system's base branch stands in
    clone = tmp_path / "clone"
    _git(tmp_path, "clone", "-q", "--depth=1", "--branch=feature", f"file://{repo}",
         str(clone))
    shallow = lineage_of(clone, "feature", environ={"GITHUB_BASE_REF": "main"})
    assert shallow == Lineage("feature", (feature,), "main")
    assert lineage_of(clone, "feature", environ={}).base is None
    assert lineage_of(tmp_path, None, environ={}) == Lineage(None, (), None)


def test_the_cli_finds_the_projects_history_and_name_as_pytest_does(tmp_path: Path) -> None:
    project = tmp_path / "search-api"
    (project / "tests" / "deep").mkdir(parents=True)
    (project / "pyproject.toml").write_text(
        '[tool.pytest.ini_options]\nragcost_history = "runs/h.db"\n'
    )
    found = locate(project / "tests" / "deep")
    assert (found.store, found.project, found.ini) == (
        str(project / "runs" / "h.db"), "search-api", project / "pyproject.toml"
    )
    (project / "tests" / "pytest.ini").write_text(
        "[pytest]\nragcost_project = search\nragcost_history = postgresql://ci@db/ragcost\n"
    )
    found = locate(project / "tests" / "deep")
    assert (found.store, found.project) == ("postgresql://ci@db/ragcost", "search")
    (project / "tests" / "pytest.ini").write_text("[pytest]\nragcost_history = none\n")
    assert locate(project / "tests").store is None
    bare = tmp_path / "bare"
    bare.mkdir()
    assert locate(bare) == Located(str(bare / ".ragcost" / "history.sqlite3"), "bare", bare,
                                   None)
