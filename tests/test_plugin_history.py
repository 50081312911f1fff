"""The run history as a user meets it: where it is written, how it is turned off, what a
failing store does, and that only the xdist controller writes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from conftest import read_json, scenario_source


def _runs(path: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT profile, env_id, ragcost_version FROM run").fetchall()


def _requests(path: Path) -> list[tuple[object, ...]]:
    with sqlite3.connect(path) as conn:
        return conn.execute("SELECT scenario, idx FROM request ORDER BY idx").fetchall()


def test_every_run_goes_to_the_default_sqlite_history(rag_project: pytest.Pytester) -> None:
    rag_project.makepyfile(test_qa=scenario_source("qa-tiny", requests=3))
    result = rag_project.runpytest("--ragcost", "--ragcost-update")
    result.assert_outcomes(passed=1)
    history = rag_project.path / ".ragcost" / "history.sqlite3"
    result.stdout.fnmatch_lines(
        [f"ragcost: history: {history}, project {rag_project.path.name} (0 earlier run(s) of "
         "these scenarios on this machine)"]
    )
    result = rag_project.runpytest("--ragcost")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["ragcost: history: * (1 earlier run(s) of these scenarios*"])
    runs = _runs(history)
    assert [r[0] for r in runs] == ["bless", "run"]
    assert runs[0][1] == runs[1][1]
    assert runs[0][1]
    assert _requests(history) == [("qa-tiny", 0), ("qa-tiny", 0), ("qa-tiny", 1),
                                  ("qa-tiny", 1), ("qa-tiny", 2), ("qa-tiny", 2)]


def test_the_history_is_turned_off_or_moved_from_the_ini_file(
    rag_project: pytest.Pytester,
) -> None:
    rag_project.makepyfile(test_qa=scenario_source("qa-tiny", requests=2))
    rag_project.makeini("[pytest]\nragcost_history = none\n")
    result = rag_project.runpytest("--ragcost")
    result.assert_outcomes(passed=1)
    assert not (rag_project.path / ".ragcost").exists()
    assert "ragcost: history:" not in result.stdout.str()
    rag_project.makeini("[pytest]\nragcost_history = runs/h.db\n")
    rag_project.runpytest("--ragcost").assert_outcomes(passed=1)
    assert len(_runs(rag_project.path / "runs" / "h.db")) == 1
    # the command line wins over the ini file
    rag_project.runpytest("--ragcost", "--ragcost-history=other.db").assert_outcomes(passed=1)
    assert len(_runs(rag_project.path / "other.db")) == 1
    assert len(_runs(rag_project.path / "runs" / "h.db")) == 1


def test_an_unknown_history_scheme_is_a_usage_error(rag_project: pytest.Pytester) -> None:
    rag_project.makepyfile(test_qa=scenario_source("qa-tiny", requests=2))
    result = rag_project.runpytest("--ragcost", "--ragcost-history=mysql://db/x")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*--ragcost-history: unknown history 'mysql://'; expected a SQLite file path, "
         "postgresql://USER@HOST/DB, or none to turn the history off*"]
    )


def test_a_failing_store_warns_and_the_run_is_still_gated(rag_project: pytest.Pytester) -> None:
    rag_project.makepyfile(test_qa=scenario_source("qa-tiny", requests=2))
    rag_project.runpytest("--ragcost", "--ragcost-update", "--ragcost-history=none")
    # a token budget the run breaks, and a history that cannot be a file (a directory)
    config = rag_project.path / "ragcost.yaml"
    text = config.read_text()
    config.write_text(text.replace("tokens_context: {baseline:", "tokens_context: {budget: 1, "
                                   "baseline:", 1))
    (rag_project.path / "blocked.db").mkdir()
    result = rag_project.runpytest("--ragcost", "--ragcost-history=blocked.db")
    result.assert_outcomes(failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines([
        "*RagcostWarning: ragcost: history not read: cannot open the history *blocked.db*; "
        "noisy metrics are gated on the prior*",
        "ragcost warning: history not read: cannot open the history *blocked.db*",
    ])


def test_a_store_that_breaks_while_writing_does_not_change_the_exit_code(
    rag_project: pytest.Pytester,
) -> None:
    rag_project.makepyfile(test_qa=scenario_source("qa-tiny", requests=2))
    rag_project.makeconftest(
        """
        import pytest

        @pytest.hookimpl(trylast=True)
        def pytest_sessionstart(session):
            from pytest_ragcost.keys import get_session
            store = get_session(session.config).history.store
            store.backend.execute("DROP TABLE costs")
        """
    )
    result = rag_project.runpytest("--ragcost")
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines(["ragcost warning: history not written: *costs*"])


def test_under_xdist_only_the_controller_writes_one_run(rag_project: pytest.Pytester) -> None:
    for i in range(2):
        rag_project.makepyfile(
            **{f"test_s{i}": scenario_source(f"qa-{i}", requests=2, func=f"qa{i}")}
        )
    result = rag_project.runpytest("--ragcost", "-n", "2")
    result.assert_outcomes(passed=2)
    history = rag_project.path / ".ragcost" / "history.sqlite3"
    assert len(_runs(history)) == 1
    with sqlite3.connect(history) as conn:
        scenarios = conn.execute("SELECT DISTINCT scenario FROM request ORDER BY 1").fetchall()
    assert scenarios == [("qa-0",), ("qa-1",)]


def test_verdicts_take_their_noise_from_the_runs_the_budget_asks_for(
    rag_project: pytest.Pytester,
) -> None:
    # qa-tiny is blessed; qa-new is not in the budget and is judged on its means
    rag_project.makepyfile(test_qa=scenario_source("qa-tiny", requests=3))
    rag_project.runpytest("--ragcost", "--ragcost-update").assert_outcomes(passed=1)
    rag_project.runpytest("--ragcost").assert_outcomes(passed=1)
    rag_project.makepyfile(test_new=scenario_source("qa-new", requests=3, func="new"))
    rag_project.runpytest("--ragcost").assert_outcomes(passed=2)
    result = rag_project.runpytest("--ragcost", "--ragcost-json=run.json")
    result.assert_outcomes(passed=2)
    doc = read_json(rag_project.path / "run.json")
    noise = {(s["scenario"], v["key"]): v["noise"] for s in doc["scenarios"]
             for v in s["verdicts"]}
    # three earlier runs of the blessed scenario, one of the new one, each for every noisy
    # key it is judged on; an exact metric has none
    assert noise[("qa-tiny", "wall_ms")]["runs"] == 3
    assert noise[("qa-new", "wall_ms")]["runs"] == 1
    assert noise[("qa-new", "cpu_ms")]["runs"] == 1
    assert {k: v for k, v in noise.items() if k[0] == "qa-tiny" and "tokens" in k[1]}
    assert all(v is None for k, v in noise.items() if "tokens" in k[1])
