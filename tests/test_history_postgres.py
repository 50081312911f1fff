"""The run history on a real PostgreSQL server (Debian's postgresql 15, started here)."""

from __future__ import annotations

import os
import re
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from history_cases import (
    ENV,
    SCENARIO,
    check_concurrent_writers,
    check_listing,
    check_migration_from_v1,
    check_migration_from_v2,
    check_projects_kept_apart,
    check_prune_keeps_summaries,
    check_round_trip,
    check_trend_follows_the_branch,
    make_project,
    meta,
    outcome,
    run_pytest_at_once,
)
from pg_server import Unavailable, postgres_server
from test_history_team import check_outputs_without_history

from pytest_ragcost.cli import main as cli_main
from pytest_ragcost.history import HistoryError, Store, open_store
from pytest_ragcost.history.backends import PostgresBackend

V2_STORES = Path(__file__).parent / "data" / "history_v2"
#: the password the tests put in URLs, to find it wherever it leaks
PASSWORD = "Pw-4leak-c4nary"


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])

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
    # small queries with large row estimates: JIT compiling cost more than running them
    assert store.backend.query("SHOW jit") == [("off",)]
    # what a prune deletes by is indexed
    indexed = {name for (name,) in store.backend.query(
        "SELECT indexname FROM pg_indexes WHERE tablename IN ('counts', 'errors', 'quality')")}
    assert {"counts_request", "errors_request", "quality_run"} <= indexed
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


def _count(database: str) -> Any:
    def count(sql: str) -> int:
        with psycopg.connect(database) as conn:
            row = conn.execute(sql).fetchone()
        assert row is not None
        return int(row[0])

    return count


def _with_password(url: str, password: str = PASSWORD) -> str:
    """The URL with a password (the throwaway server trusts every local connection, so
    any password gets in, as a real one would)."""
    return url.replace("postgresql://postgres@", f"postgresql://postgres:{password}@")


def test_projects_on_one_database_are_kept_apart(database: str) -> None:
    store = open_store(database, Path("unused"), project="A")
    check_projects_kept_apart(store)
    store.close()


def test_a_trend_follows_its_branch_and_the_commits_it_was_built_on(database: str) -> None:
    store = open_store(database, Path("unused"), project="proj")
    check_trend_follows_the_branch(store)
    store.close()


def test_a_prune_drops_request_rows_and_keeps_what_noise_and_trends_read(
    database: str,
) -> None:
    store = open_store(database, Path("unused"), project="proj")
    check_prune_keeps_summaries(store)
    store.close()


def test_runs_are_listed_shown_and_exported_by_project_branch_scenario_and_time(
    database: str,
) -> None:
    store = open_store(database, Path("unused"), project="proj")
    check_listing(store)
    store.close()


def test_a_database_written_by_0_2_migrates_in_place_and_its_runs_stay_readable(
    database: str,
) -> None:
    with psycopg.connect(database, autocommit=True) as conn:
        conn.execute((V2_STORES / "postgres.sql").read_text())

    def raw(sql: str) -> list[tuple[Any, ...]]:
        with psycopg.connect(database) as conn:
            return [tuple(r) for r in conn.execute(sql).fetchall()]

    assert raw("SELECT data_type FROM information_schema.columns"
               " WHERE table_name = 'run' AND column_name = 'ts'") == [("text",)]
    check_migration_from_v2(lambda: open_store(database, Path("unused"),
                                               project="quickstart"), raw)
    # dashboards filter on a real time: the run's text time became a timestamptz
    assert raw("SELECT data_type FROM information_schema.columns"
               " WHERE table_name = 'run' AND column_name = 'ts'") == [
        ("timestamp with time zone",)
    ]


def test_eight_writers_from_two_projects_lose_nothing_and_never_deadlock(
    database: str,
) -> None:
    check_concurrent_writers(database, _count(database), writers=8, runs=5, requests=20)


def test_four_pytest_runs_at_once_into_a_new_database_record_four_runs(
    database: str, tmp_path: Path
) -> None:
    projects = [make_project(tmp_path, f"p{i}") for i in range(4)]
    results = run_pytest_at_once(projects, f"--ragcost-history={database}")
    for result in results:
        assert result.returncode == 0, result.stdout
        assert "history not" not in result.stdout
    count = _count(database)
    assert count("SELECT COUNT(*) FROM run") == 4
    assert count("SELECT COUNT(DISTINCT project) FROM run") == 4
    assert count("SELECT COUNT(*) FROM request") == 12
    assert count("SELECT COUNT(*) FROM schema_version") == 3


def test_two_projects_on_one_database_each_count_only_their_own_runs(
    database: str, pytester: pytest.Pytester
) -> None:
    # project A runs once through pytest; project B's four runs of the same scenario on
    # this machine go in through the store (the plugin's path is the SQLite test's)
    a = make_project(pytester.path, "proj_a")
    args = ("--ragcost", f"--ragcost-history={database}", str(a))
    first = pytester.runpytest(*args)
    first.assert_outcomes(passed=1)
    first.stdout.fnmatch_lines(["ragcost: history: *, project proj_a (0 earlier run(s) *"])
    with psycopg.connect(database) as conn:
        (env_id,) = conn.execute("SELECT env_id FROM run").fetchall()[0]
    store = open_store(database, Path("unused"), project="proj_b")
    for i in range(4):
        store.record(meta({**ENV, "id": env_id}, project="proj_b", commit=f"{i}" * 40),
                     [outcome([5.0, 6.0])])
    store.close()
    again = pytester.runpytest(*args)
    again.assert_outcomes(passed=1)
    again.stdout.fnmatch_lines(["ragcost: history: *, project proj_a (1 earlier run(s) of "
                                "these scenarios on this machine)"])


def test_a_password_is_never_printed_nor_written(
    database: str, pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    url = _with_password(database)
    summary = pytester.path / "step-summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    pytester.makepyfile(test_qa=SCENARIO)
    result = pytester.runpytest(
        "--ragcost", f"--ragcost-history={url}", "--ragcost-json=out/run.json",
        "--ragcost-markdown=out/run.md", "--ragcost-html=out/run.html",
        "--ragcost-csv=out/csv", "--junitxml=out/junit.xml", "-rA",
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["ragcost: history: postgresql://postgres:***@127.0.0.1:*"
                                 "project * (0 earlier run(s)*"])
    # the CLI over the same database: its listing, details, export and errors
    with psycopg.connect(database) as conn:
        (run_id,) = conn.execute("SELECT id FROM run").fetchall()[0]
    for args in (["list"], ["list", "--json"], ["show", run_id[:8]], ["show", run_id, "--json"],
                 ["export", "--format", "json"], ["export", "-o", str(pytester.path / "x.csv")],
                 ["show", "ffffffff"], ["prune", "--keep-days", "1", "--dry-run"]):
        assert cli_main(["history", *args, "--store", url]) in (0, 2)
    bad_db = url.rsplit("/", 1)[0] + "/no_such_db"
    assert cli_main(["history", "list", "--store", bad_db]) == 2
    with pytest.raises(SystemExit) as info:
        cli_main(["history", "list", "--store", url, "--bogus", url])
    assert info.value.code == 2
    out, err = capsys.readouterr()
    assert "postgresql://postgres:***@" in out
    assert 'database "no_such_db" does not exist' in err
    texts = [result.stdout.str(), result.stderr.str(), out, err]
    texts += [p.read_text(errors="replace") for p in pytester.path.rglob("*") if p.is_file()]
    with psycopg.connect(database) as conn:
        texts += [str(r) for r in conn.execute("SELECT * FROM run").fetchall()]
        texts += [str(r) for r in conn.execute("SELECT * FROM environment").fetchall()]
    assert len(texts) > 12
    assert not [t[:200] for t in texts if PASSWORD in t]


def test_a_store_that_is_down_warns_and_the_run_completes_with_all_its_outputs(
    server: str, pytester: pytest.Pytester
) -> None:
    port = int(server.rsplit(":", 1)[1].split("/", 1)[0])
    down = _with_password(server).replace(f":{port}/", f":{_closed_port()}/")
    check_outputs_without_history(pytester, down, "not read", PASSWORD)


def test_a_store_that_goes_away_during_the_run_warns_and_loses_no_output(
    database: str, pytester: pytest.Pytester
) -> None:
    # the server ends the run's connection before the run writes (a restart, a failover)
    pytester.makeconftest(
        f"""
        import psycopg
        import pytest

        @pytest.hookimpl(trylast=True)
        def pytest_sessionstart(session):
            from pytest_ragcost.keys import get_session
            store = get_session(session.config).history.store
            (pid,) = store.backend.query("SELECT pg_backend_pid()")[0]
            with psycopg.connect({database!r}, autocommit=True) as admin:
                admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
        """
    )
    check_outputs_without_history(pytester, _with_password(database), "not written", PASSWORD)
    assert _count(database)("SELECT COUNT(*) FROM run") == 0


TEAM_DOC = Path(__file__).resolve().parent.parent / "docs" / "team.md"


def _doc_sql(kind: str) -> dict[str, str]:
    """The ```sql blocks of docs/team.md whose first line is ``-- KIND: NAME``."""
    blocks = re.findall(r"```sql\n(.*?)```", TEAM_DOC.read_text(), re.S)
    return {b.splitlines()[0].split(":", 1)[1].strip(): b for b in blocks
            if b.startswith(f"-- {kind}:")}


def _statements(block: str) -> list[str]:
    text = "\n".join(line for line in block.splitlines() if not line.lstrip().startswith("--"))
    return [s.strip() for s in text.split(";") if s.strip()]


def _grafana(query: str) -> str:
    """A panel's query as Grafana sends it: macros expanded, variables filled in."""
    query = re.sub(r"\$__timeFilter\(([^)]*)\)",
                   r"\1 BETWEEN '2000-01-01T00:00:00Z' AND '2100-01-01T00:00:00Z'", query)
    return query.replace("$project", "'proj_a','proj_b'").replace("$metric", "wall_ms")


def test_the_docs_roles_grants_and_grafana_queries_work_on_a_real_server(
    server: str, pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str],
) -> None:
    setup = _doc_sql("setup")
    assert set(setup) == {"roles (as a superuser)",
                          "grants (as ragcost_owner, in the ragcost database)"}
    with psycopg.connect(server, autocommit=True) as su:
        for statement in _statements(setup["roles (as a superuser)"]):
            su.execute(statement)
    base = server.rsplit("@", 1)[1].rsplit("/", 1)[0]

    def url(role: str) -> str:
        return f"postgresql://{role}:{PASSWORD}@{base}/ragcost"

    with psycopg.connect(url("ragcost_owner"), autocommit=True) as owner:
        owner.execute(setup["grants (as ragcost_owner, in the ragcost database)"])
    # the owner creates the tables; the CI role may not
    with pytest.raises(HistoryError, match="permission denied"):
        open_store(url("ragcost_ci"), Path("unused"), project="x")
    assert cli_main(["history", "list", "--limit", "1", "--store", url("ragcost_owner")]) == 0
    # CI writes runs: through pytest, and through the store (another project, on main)
    project = make_project(pytester.path, "proj_a")
    result = pytester.runpytest("--ragcost", f"--ragcost-history={url('ragcost_ci')}",
                                str(project))
    result.assert_outcomes(passed=1)
    assert "history not" not in result.stdout.str()
    store = open_store(url("ragcost_ci"), Path("unused"), project="proj_b")
    for i in range(3):
        store.record(meta(project="proj_b", branch="main", commit=f"{i}" * 40),
                     [outcome([10.0 + i, 12.0])])
    store.close()
    with psycopg.connect(url("ragcost_ci")) as ci, pytest.raises(
        psycopg.errors.InsufficientPrivilege
    ):
        ci.execute("DELETE FROM request")
    # the dashboard reads every panel, and writes nothing
    queries = {**_doc_sql("variable"), **_doc_sql("panel")}
    assert len(queries) == 8
    with psycopg.connect(url("ragcost_dashboard")) as dash:
        for name, query in queries.items():
            cur = dash.execute(_grafana(query))
            rows = cur.fetchall()
            columns = [c.name for c in cur.description or ()]
            assert rows, name
            if "time series" in name or "bars" in name:
                assert columns[:2] == ["time", "metric"], name
        dollars = dash.execute(_grafana(queries["dollars per answer on main, per project "
                                                "(time series)"])).fetchall()
        assert [(r[1], r[2]) for r in dollars] == [("proj_b", pytest.approx(0.0001))] * 3
        latest = dash.execute(_grafana(queries["the latest run of every project (table)"]))
        assert [(r[0], r[5]) for r in latest.fetchall()] == [("proj_a", 3), ("proj_b", 2)]
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            dash.execute("INSERT INTO environment VALUES ('x', '{}')")
        dash.rollback()
        (timeout,) = dash.execute("SHOW statement_timeout").fetchone()  # type: ignore[misc]
        assert timeout == "15s"
    # the maintainer prunes; the dashboard's summaries stay
    assert cli_main(["history", "prune", "--keep-days", "0", "--store",
                     url("ragcost_maintainer")]) == 0
    assert "dropped the per-request rows of 4 run(s)" in capsys.readouterr().out
    with psycopg.connect(url("ragcost_dashboard")) as dash:
        assert dash.execute(_grafana(queries["verdicts per day (stacked bars)"])).fetchall()
