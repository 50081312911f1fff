"""The run history on a real PostgreSQL server (Debian's postgresql 15, started here)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from history_cases import check_migration_from_v1, check_round_trip
from pg_server import Unavailable, postgres_server

from pytest_ragcost.history import HistoryError, Store, open_store
from pytest_ragcost.history.backends import PostgresBackend

psycopg = pytest.importorskip(
    "psycopg", reason="psycopg 3 is not installed (pip install 'pytest-ragcost[postgres]')"
)


@pytest.fixture(scope="module")
def server() -> Iterator[str]:
    try:
        with postgres_server() as url:
            yield url
    except Unavailable as exc:
        if os.environ.get("RAGCOST_REQUIRE_POSTGRES") == "1":
            pytest.fail(f"PostgreSQL is required here but {exc}")
        pytest.skip(f"no PostgreSQL server can be started: {exc}")


@pytest.fixture
def database(server: str) -> str:
    """A fresh database per test."""
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    return server.rsplit("/", 1)[0] + "/" + name


def test_a_run_reads_back_row_by_row_and_as_summaries(database: str) -> None:
    store = open_store(database, Path("unused"), project="proj")
    assert store.backend.dialect == "postgresql"
    check_round_trip(store)
    store.close()


def test_a_version_1_store_migrates_and_keeps_its_rows(database: str) -> None:
    check_migration_from_v1(
        Store(PostgresBackend(database)),
        lambda: open_store(database, Path("unused"), project="proj"),
    )


def test_a_server_that_is_not_there_is_a_clear_error_without_the_password(server: str) -> None:
    port = int(server.rsplit(":", 1)[1].split("/", 1)[0])
    url = f"postgresql://postgres:s3cret@127.0.0.1:{port + 1 if port < 65535 else 1}/postgres"
    with pytest.raises(HistoryError) as info:
        open_store(url, Path("unused"), project="proj")
    assert str(info.value).startswith(
        "cannot connect to the history postgresql://postgres:***@127.0.0.1:"
    )
    assert "s3cret" not in str(info.value)


def test_a_pytest_run_writes_its_run_into_postgres(
    database: str, pytester: pytest.Pytester
) -> None:
    pytester.makepyfile(
        test_x="""
        import pytest

        @pytest.mark.ragcost(scenario="qa")
        def test_qa(ragcost):
            for q in ragcost.requests(["a", "b", "c"]):
                with ragcost.stage("generate") as st:
                    st.tokens(prompt=q * 10, completion="ok")
        """
    )
    result = pytester.runpytest_subprocess("--ragcost", f"--ragcost-history={database}")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["ragcost: history: postgresql://postgres@127.0.0.1:*"])
    with psycopg.connect(database) as conn:
        runs = conn.execute("SELECT count(*) FROM run").fetchone()
        requests = conn.execute("SELECT count(*), min(scenario) FROM request").fetchone()
    assert runs == (1,)
    assert requests == (3, "qa")
