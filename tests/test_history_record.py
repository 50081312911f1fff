"""``ragcost history record``: a saved run (a merge of shard runs above all) written into
the history as the plugin writes a run at its end, so ``history list/show`` and
``ragcost compare --history`` see it as they see a whole run; a run already recorded, an
unreadable run and a store that cannot be opened are refused and write nothing."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import read_json
from pg_server import Unavailable, postgres_server

from pytest_ragcost.cli import main

SUITE = textwrap.dedent(
    """
    import time

    import pytest


    def run(ragcost, context):
        for q in ragcost.requests(["a", "b", "c"]):
            with ragcost.stage("generate") as st:
                time.sleep(0.001)
                st.tokens(prompt=100, context=context, completion=50, model="gpt-4o-mini")


    @pytest.mark.ragcost(scenario="alpha")
    def test_alpha(ragcost):
        run(ragcost, 400)


    @pytest.mark.ragcost(scenario="beta")
    def test_beta(ragcost):
        run(ragcost, 480)


    def test_plain():
        assert True
    """
)

BUDGET = """\
version: 1
scenarios:
  alpha:
    tokens_context: {baseline: 400}
    generate.wall_ms: {baseline: 1.0, stat: p95, tolerance: 900%}
  beta:
    tokens_context: {baseline: 400}
"""

SLICES = ("alpha or plain", "beta")

#: the password the tests put in URLs, to find it wherever it leaks
PASSWORD = "Pw-rec0rd-c4nary"


def _git(root: Path, *args: str) -> None:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org"}
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True, env=env)


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for name in ("GITHUB_STEP_SUMMARY", "PYTEST_XDIST_WORKER", "RAGCOST_AB_SIDE"):
        monkeypatch.delenv(name, raising=False)
    pytester.makepyfile(test_suite=SUITE)
    pytester.makeini("[pytest]\nragcost_project = shop\n")
    (pytester.path / "ragcost.yaml").write_text(BUDGET, encoding="utf-8")
    (pytester.path / ".gitignore").write_text(
        "*.json\n*.sqlite3\n.ragcost/\n__pycache__/\n.pytest_cache/\n", encoding="utf-8")
    # a commit and a branch, so the rows carry both
    _git(pytester.path, "init", "-q", "-b", "feature")
    _git(pytester.path, "add", "-A")
    _git(pytester.path, "commit", "-q", "-m", "suite")
    # the runs' own `git status` gets 3 s, which a loaded machine can miss: a shard
    # without its commit is not merged
    monkeypatch.setattr("pytest_ragcost.environment.GIT_TIMEOUT_S", 60.0)
    monkeypatch.chdir(pytester.path)
    return pytester


def _run(project: pytest.Pytester, out: str, history: str, *args: str) -> Path:
    for _ in range(3):
        result = project.runpytest("--ragcost", f"--ragcost-json={out}",
                                   f"--ragcost-history={history}", *args)
        assert result.ret in (0, 1), result.stdout.str()  # beta rose: FAIL
        if read_json(project.path / out)["environment"].get("git"):
            break
        # the run's `git status` went unanswered (seen under -n 2 on a loaded machine):
        # a run without its commit merges with no other, so measure it again (a run
        # that recorded itself in a store is not repeated: that store would hold two)
        if history != "none":
            break
    return project.path / out


def _merged(project: pytest.Pytester, capsys: pytest.CaptureFixture[str]) -> Path:
    shards = [_run(project, f"shard{i}.json", "none", "-k", k)
              for i, k in enumerate(SLICES, 1)]
    code, _, err = _cli(capsys, "merge", *map(str, shards), "-o", "merged.json")
    assert code == 0, err
    return project.path / "merged.json"


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, Any]:
    import json

    code, out, err = _cli(capsys, *argv)
    assert code == 0, err
    doc: dict[str, Any] = json.loads(out)
    return doc


def _listed(capsys: pytest.CaptureFixture[str], store: str) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = _json(capsys, "history", "list", "--store", store,
                                       "--json")["runs"]
    return runs


def _shown(capsys: pytest.CaptureFixture[str], store: str, run_id: str) -> dict[str, Any]:
    return _json(capsys, "history", "show", run_id, "--store", store, "--json")


#: what a run row says besides its id and time
ROW = ("project", "branch", "commit", "dirty", "profile", "env_id", "ragcost_version",
       "scenarios", "requests", "errors")


def _exact(shown: dict[str, Any]) -> set[tuple[Any, ...]]:
    """The summaries of exact metrics (the same in any two runs), with their verdicts."""
    return {(m["scenario"], m["metric"], m["stat"], m["value"], m["n"], m["verdict"])
            for m in shown["metrics"] if "tokens" in m["metric"] or m["metric"] == "errors"}


def _keys(shown: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(m["scenario"], m["metric"], m["stat"]) for m in shown["metrics"]}


def test_a_merged_run_is_recorded_as_the_plugin_records_a_whole_run(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    whole = _run(project, "whole.json", "whole.sqlite3")
    merged = _merged(project, capsys)
    merged_doc = read_json(merged)
    assert merged_doc["complete"] is True
    assert len(merged_doc["id"]) == 32

    code, out, err = _cli(capsys, "history", "record", str(merged), "--store",
                          "merged.sqlite3", "--config", "ragcost.yaml")
    assert code == 0, err
    assert f"recorded {merged} as run {merged_doc['id']}" in out
    assert "project shop, feature at" in out
    assert "2 scenario(s), 6 request(s), complete" in out

    (by_plugin,) = _listed(capsys, "whole.sqlite3")
    (by_record,) = _listed(capsys, "merged.sqlite3")
    # the plugin's row has its run file's id: one run, one id
    assert by_plugin["id"] == read_json(whole)["id"]
    assert by_record["id"] == merged_doc["id"]
    assert {k: by_record[k] for k in ROW} == {k: by_plugin[k] for k in ROW}
    assert by_record["branch"] == "feature"
    assert by_record["commit"] == merged_doc["environment"]["git"]["commit"]
    assert by_record["dirty"] is False
    assert by_record["profile"] == "run"
    assert by_record["ts"].replace("+00:00", "") == merged_doc["created"].replace("+00:00", "")

    plugin_shown = _shown(capsys, "whole.sqlite3", by_plugin["id"])
    record_shown = _shown(capsys, "merged.sqlite3", by_record["id"][:8])
    assert record_shown["environment"] == plugin_shown["environment"]
    assert record_shown["config"] == plugin_shown["config"]
    assert record_shown["config"]["complete"] is True
    assert record_shown["config"]["selection"]["selected"] == 3
    assert record_shown["config"]["selection"]["suite_size"] == 3
    # the same summaries (p95 of the gated latency too), the exact ones equal
    assert _keys(record_shown) == _keys(plugin_shown)
    assert ("alpha", "generate.wall_ms", "p95") in _keys(record_shown)
    assert _exact(record_shown) == _exact(plugin_shown)
    assert ("beta", "tokens_context", "mean", 480.0, 3, "FAIL") in _exact(record_shown)

    # ragcost compare reads the recorded run as the earlier run of a later one, as it
    # reads the plugin's
    later = _run(project, "later.json", "none")
    seen = {}
    for store in ("whole.sqlite3", "merged.sqlite3"):
        code, _, err = _cli(capsys, "compare", str(later), "--history", store,
                            "--json", f"judged-{store}.json")
        assert code == 1, err
        doc = read_json(project.path / f"judged-{store}.json")
        seen[store] = {(sc["scenario"], v["key"], v["status"],
                        (v.get("noise") or {}).get("runs"))
                       for sc in doc["scenarios"] for v in sc["verdicts"]}
    assert seen["merged.sqlite3"] == seen["whole.sqlite3"]
    assert ("alpha", "generate.wall_ms") in {(s, k) for s, k, _, n in seen["merged.sqlite3"]
                                             if n == 1}


def test_a_run_already_recorded_is_refused_and_nothing_is_written(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    merged = _merged(project, capsys)
    code, _, err = _cli(capsys, "history", "record", str(merged), "--store", "h.sqlite3")
    assert code == 0, err
    before = _rows(project.path / "h.sqlite3")
    code, out, err = _cli(capsys, "history", "record", str(merged), "--store", "h.sqlite3")
    assert code == 2
    assert out == ""
    run_id = read_json(merged)["id"]
    assert f"{merged}: run {run_id} is already in the history" in err
    assert "nothing was written" in err
    assert _rows(project.path / "h.sqlite3") == before

    # merging the same shards again makes the same run: refused too
    code, _, err = _cli(capsys, "merge", "shard2.json", "shard1.json", "-o", "again.json")
    assert code == 0, err
    assert read_json(project.path / "again.json")["id"] == run_id
    code, _, err = _cli(capsys, "history", "record", "again.json", "--store", "h.sqlite3")
    assert code == 2
    assert "is already in the history" in err
    assert _rows(project.path / "h.sqlite3") == before


def test_the_plugins_own_run_is_already_recorded(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    run = _run(project, "run.json", "own.sqlite3")
    before = _rows(project.path / "own.sqlite3")
    code, _, err = _cli(capsys, "history", "record", str(run), "--store", "own.sqlite3")
    assert code == 2
    assert "is already in the history" in err
    assert _rows(project.path / "own.sqlite3") == before


def _rows(path: Path) -> dict[str, int]:
    with sqlite3.connect(path) as db:
        return {table: db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                for table in ("run", "run_scenario", "request", "run_metric", "tokens")}


@pytest.mark.parametrize(("content", "says"), [
    ("{not json", "not JSON"),
    ('{"schema_version": 1, "id": "xyz", "scenarios": []}', "id must be 32 lowercase hex"),
    ('{"schema_version": 9}', "not a pytest-ragcost run"),
])
def test_an_unreadable_run_is_refused_naming_the_file(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str], content: str, says: str
) -> None:
    (project.path / "bad.json").write_text(content, encoding="utf-8")
    code, out, err = _cli(capsys, "history", "record", "bad.json", "--store", "h.sqlite3")
    assert code == 2
    assert out == ""
    assert err.startswith("ragcost: bad.json")
    assert says in err
    assert "nothing was recorded" in err
    assert not (project.path / "h.sqlite3").exists()


def test_a_missing_run_file_is_refused(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = _cli(capsys, "history", "record", "gone.json", "--store", "h.sqlite3")
    assert code == 2
    assert "gone.json" in err
    assert not (project.path / "h.sqlite3").exists()


def test_a_store_that_cannot_be_opened_is_refused_without_its_password(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("psycopg")
    run = _run(project, "run.json", "none")
    import socket

    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"postgresql://ragcost:{PASSWORD}@127.0.0.1:{port}/history"
    code, out, err = _cli(capsys, "history", "record", str(run), "--store", url)
    assert code == 2
    assert out == ""
    assert PASSWORD not in err
    assert "127.0.0.1" in err
    # a SQLite store in a directory that is a file
    (project.path / "file").write_text("", encoding="utf-8")
    code, _, err = _cli(capsys, "history", "record", str(run), "--store", "file/h.sqlite3")
    assert code == 2
    assert "file/h.sqlite3" in err


@pytest.fixture(scope="module")
def pg_server() -> Iterator[str]:
    try:
        with postgres_server() as url:
            yield url
    except Unavailable as exc:
        if os.environ.get("RAGCOST_REQUIRE_POSTGRES") == "1":
            raise
        pytest.skip(f"no PostgreSQL server here: {exc}")


def test_a_merged_run_is_recorded_into_postgresql_once(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str], pg_server: str
) -> None:
    psycopg = pytest.importorskip("psycopg")
    name = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_server, autocommit=True) as conn:
        conn.execute(f"CREATE DATABASE {name}")
    url = pg_server.rsplit("/", 1)[0] + "/" + name
    merged = _merged(project, capsys)
    code, _, err = _cli(capsys, "history", "record", str(merged), "--store", url)
    assert code == 0, err
    code, _, err = _cli(capsys, "history", "record", str(merged), "--store", url)
    assert code == 2
    assert "is already in the history" in err
    (row,) = _listed(capsys, url)
    assert row["id"] == read_json(merged)["id"]
    assert row["project"] == "shop"
    assert row["requests"] == 6
