"""One history for a team, as its users meet it: projects named by the flag, the ini file
or the rootdir, kept apart in one store; concurrent runs into one file; and `ragcost
history` listing, showing, exporting and pruning it (the same on PostgreSQL in
test_history_postgres.py, which reuses the checks defined here)."""

from __future__ import annotations

import csv
import json
import sqlite3
from pathlib import Path

import pytest
from history_cases import SCENARIO, make_project, meta, outcome, run_pytest_at_once

from pytest_ragcost.cli import main
from pytest_ragcost.history import open_store


def check_two_projects_count_their_own(pytester: pytest.Pytester, url: str) -> None:
    """Project A runs once, project B four times, both into one history with the same
    scenario names: A's second run counts one earlier run, B's fifth four."""
    a = make_project(pytester.path, "proj_a")
    b = make_project(pytester.path, "proj_b")

    def run(project: Path) -> pytest.RunResult:
        result = pytester.runpytest("--ragcost", f"--ragcost-history={url}", str(project))
        result.assert_outcomes(passed=1)
        return result

    run(a).stdout.fnmatch_lines(["ragcost: history: *, project proj_a (0 earlier run(s) *"])
    for _ in range(4):
        run(b)
    run(a).stdout.fnmatch_lines(["ragcost: history: *, project proj_a (1 earlier run(s) of "
                                 "these scenarios on this machine)"])
    run(b).stdout.fnmatch_lines(["ragcost: history: *, project proj_b (4 earlier run(s) *"])


def check_outputs_without_history(
    pytester: pytest.Pytester, url: str, what: str, secret: str
) -> None:
    """A run whose history fails (``what``: not read / not written) passes with a warning,
    writes every output, and never prints ``secret``."""
    pytester.makepyfile(test_qa=SCENARIO)
    result = pytester.runpytest(
        "--ragcost", f"--ragcost-history={url}", "--ragcost-json=out/run.json",
        "--ragcost-markdown=out/run.md", "--ragcost-html=out/run.html",
        "--ragcost-csv=out/csv",
    )
    result.assert_outcomes(passed=1)
    assert result.ret == pytest.ExitCode.OK
    result.stdout.fnmatch_lines([f"ragcost warning: history {what}: *; noisy metrics are gated "
                                 "on the prior (--ragcost-history=none turns the history off)"])
    out = pytester.path / "out"
    doc = json.loads((out / "run.json").read_text())
    assert [len(s["requests"]) for s in doc["scenarios"]] == [3]
    assert "qa" in (out / "run.md").read_text()
    assert (out / "run.html").read_text().startswith("<!DOCTYPE html>")
    assert len((out / "csv" / "requests.csv").read_text().splitlines()) > 3
    assert (out / "csv" / "configs.csv").is_file()
    texts = [result.stdout.str(), result.stderr.str(),
             *(p.read_text(errors="replace") for p in out.rglob("*") if p.is_file())]
    assert not [t[:200] for t in texts if secret in t]


def test_two_projects_on_one_history_file_each_count_only_their_own_runs(
    pytester: pytest.Pytester,
) -> None:
    check_two_projects_count_their_own(pytester, str(pytester.path / "shared.sqlite3"))


def test_the_project_comes_from_the_flag_the_ini_file_or_the_rootdir(
    pytester: pytest.Pytester,
) -> None:
    history = pytester.path / "h.sqlite3"
    named = make_project(pytester.path, "checkout-17", "ragcost_project = search-api\n")
    plain = make_project(pytester.path, "plain")
    args = ("--ragcost", f"--ragcost-history={history}")
    pytester.runpytest(*args, str(named)).assert_outcomes(passed=1)
    pytester.runpytest(*args, str(plain)).assert_outcomes(passed=1)
    pytester.runpytest(*args, "--ragcost-project=search api v2", str(named)).assert_outcomes(
        passed=1
    )
    with sqlite3.connect(history) as conn:
        got = conn.execute("SELECT project FROM run ORDER BY ts").fetchall()
        scenarios = conn.execute("SELECT project, scenario, requests FROM run_scenario"
                                 " ORDER BY ts").fetchall()
    assert got == [("search-api",), ("plain",), ("search api v2",)]
    assert scenarios == [("search-api", "qa", 3), ("plain", "qa", 3), ("search api v2", "qa", 3)]


@pytest.mark.parametrize("value", [" padded", "", "x" * 201, "tab\there"])
def test_a_bad_project_name_is_a_usage_error(pytester: pytest.Pytester, value: str) -> None:
    pytester.makepyfile(test_qa=SCENARIO)
    result = pytester.runpytest("--ragcost", f"--ragcost-project={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--ragcost-project: * is not a project name; expected "
                                 "1-200 printable characters*"])


def test_four_pytest_runs_at_once_into_a_new_history_file_record_four_runs(
    tmp_path: Path,
) -> None:
    history = tmp_path / "shared" / "history.sqlite3"
    projects = [make_project(tmp_path, f"p{i}") for i in range(4)]
    results = run_pytest_at_once(projects, f"--ragcost-history={history}")
    for result in results:
        assert result.returncode == 0, result.stdout
        assert "history not" not in result.stdout
    with sqlite3.connect(history) as conn:
        runs = conn.execute("SELECT project FROM run ORDER BY project").fetchall()
        requests = conn.execute("SELECT COUNT(*) FROM request").fetchone()
    assert runs == [("p0",), ("p1",), ("p2",), ("p3",)]
    assert requests == (12,)


# -- ragcost history --------------------------------------------------------------------------

@pytest.fixture
def recorded(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project with three runs in its default history: two of its own, one of another
    project named on the command line; the current directory is the project."""
    project = make_project(pytester.path, "search")
    for extra in ((), (), ("--ragcost-project=other",)):
        pytester.runpytest("--ragcost", *extra, str(project)).assert_outcomes(passed=1)
    monkeypatch.chdir(project)
    return project


def test_history_list_show_and_export_read_the_projects_default_store(
    recorded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["history", "list"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["started", "(UTC)", "project", "branch", "commit", "profile",
                              "scenarios", "requests", "errors", "run"]
    assert [line.split()[2] for line in out[2:5]] == ["other", "search", "search"]
    assert out[-1] == (f"3 run(s) in {recorded / '.ragcost' / 'history.sqlite3'}, newest "
                       "first; * = uncommitted changes")
    assert main(["history", "list", "--project", "search", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert [r["project"] for r in doc["runs"]] == ["search", "search"]
    assert [r["requests"] for r in doc["runs"]] == [3, 3]
    run_id = doc["runs"][0]["id"]
    assert main(["history", "show", run_id[:6]]) == 0
    shown = capsys.readouterr().out
    assert shown.startswith(f"run {run_id} (run), ")
    assert "project      search\n" in shown
    assert "\nscenario qa\n" in shown
    assert [line.split()[:2] for line in shown.splitlines()
            if line.startswith("tokens_total ")] == [["tokens_total", "mean"]]
    assert main(["history", "export", "--project", "search"]) == 0
    rows = list(csv.DictReader(capsys.readouterr().out.splitlines()))
    assert {r["run_id"] for r in rows} == {r["id"] for r in doc["runs"]}
    assert {(r["metric"], r["stat"]) for r in rows} >= {("wall_ms", "median"),
                                                      ("tokens_total", "mean")}
    target = recorded / "exports" / "requests.json"
    assert main(["history", "export", "--requests", "--format", "json", "--since", "1d",
                 "-o", str(target)]) == 0
    assert capsys.readouterr().out.startswith(f"ragcost: wrote {target} (9 request row(s)")
    exported = json.loads(target.read_text())
    assert exported["level"] == "requests"
    assert [r["index"] for r in exported["rows"]] == [0, 1, 2] * 3
    assert main(["history", "list", "--since", "2000-01-01", "--until", "2000-02-01"]) == 0
    assert capsys.readouterr().out.startswith("no runs in ")


def test_history_prune_keeps_what_list_show_and_export_of_summaries_need(
    recorded: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["history", "export"]) == 0
    summaries_before = capsys.readouterr().out
    assert main(["history", "prune", "--keep-days", "0", "--project", "search",
                 "--dry-run"]) == 0
    assert "would drop the per-request rows of 2 run(s) of project search" in (
        capsys.readouterr().out)
    assert main(["history", "prune", "--keep-days", "0", "--project", "search"]) == 0
    out = capsys.readouterr().out
    assert "dropped the per-request rows of 2 run(s) of project search older than" in out
    assert "(6 request(s))" in out
    assert main(["history", "export"]) == 0
    assert capsys.readouterr().out == summaries_before
    assert main(["history", "export", "--requests"]) == 0
    assert {r["project"] for r in csv.DictReader(capsys.readouterr().out.splitlines())} == {
        "other"
    }
    assert main(["history", "list"]) == 0
    assert capsys.readouterr().out.count("3 (pruned)") == 2
    with sqlite3.connect(recorded / ".ragcost" / "history.sqlite3") as conn:
        assert conn.execute("SELECT COUNT(*) FROM request").fetchone() == (3,)


def test_after_a_prune_the_next_run_still_counts_the_pruned_runs(
    recorded: Path, pytester: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["history", "prune", "--keep-days", "0"]) == 0
    assert "dropped the per-request rows of 3 run(s)" in capsys.readouterr().out
    result = pytester.runpytest("--ragcost", str(recorded))
    result.assert_outcomes(passed=1)
    # its between-run noise reads the pruned runs' summaries
    result.stdout.fnmatch_lines(["ragcost: history: *, project search (2 earlier run(s) *"])


@pytest.fixture
def quick_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project whose default history holds two runs written through the store (no
    pytest run needed); the current directory is the project."""
    project = make_project(tmp_path, "search")
    path = project / ".ragcost" / "history.sqlite3"
    store = open_store(str(path), path, project="search")
    for wall in ([1.0, 2.0], [3.0]):
        store.record(meta(project="search"), [outcome(wall)])
    store.close()
    monkeypatch.chdir(project)
    return project


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["list", "--since", "yesterday"], "--since: 'yesterday' is not a time; expected an "
         "ISO date (2026-01-31), a date and time (2026-01-31T12:00Z) or an age"),
        (["list", "--since", "1d", "--until", "2d"], "must be before --until"),
        (["show", "zz"], "'zz' is not a run id"),
        (["show", "abcd1234"], "no run 'abcd1234' in the history"),
        (["export", "-o", "."], ": cannot write:"),
        (["list", "--store", "missing.sqlite3"], "no history at missing.sqlite3"),
        (["list", "--store", "mysql://u:pw@h/db"], "unknown scheme 'mysql' in "
         "'mysql://u:***@h/db'"),
    ],
)
def test_history_mistakes_are_said_with_exit_2_and_no_traceback(
    quick_store: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    assert main(["history", *args]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.startswith("ragcost: ")
    assert "Traceback" not in err


@pytest.mark.parametrize(
    "args", [["prune"], ["prune", "--keep-days", "-1"], ["prune", "--keep-days", "nan"],
             ["list", "--limit", "x"], ["export", "--format", "xml"], ["frobnicate"]],
)
def test_history_argument_errors_exit_2(
    quick_store: Path, capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(["history", *args])
    assert info.value.code == 2
    assert "usage: ragcost history" in capsys.readouterr().err


def test_history_off_in_the_ini_file_is_said(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    project = make_project(pytester.path, "quiet", "ragcost_history = none\n")
    monkeypatch.chdir(project)
    assert main(["history", "list"]) == 2
    assert "pytest.ini turns the history off (ragcost_history = none); name one with " \
        "--store" in capsys.readouterr().err
