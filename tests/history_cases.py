"""Shared cases for the history store, run against SQLite and against a real PostgreSQL."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from pytest_ragcost.history import HistoryError, Lineage, RunFilter, RunMeta, Store
from pytest_ragcost.run import Outcome, RequestRecord, ScenarioRun, StageRecord, Verdict
from pytest_ragcost.run.model import MetricScores, SampleScore

ENV: dict[str, Any] = {
    "id": "envaaaaaaaaa",
    "comparable": {"cpu": "test cpu", "cpus": 2},
    "git": {"commit": "c0ffee" * 6 + "abcd", "dirty": True, "branch": "topic"},
}


def outcome(
    wall: list[float],
    *,
    scenario: str = "qa",
    priced: bool = True,
    price_source: str = "genai-prices 0.2.3 #1a2b3c4d",
) -> Outcome:
    requests = []
    for i, ms in enumerate(wall):
        retrieve = StageRecord(
            "retrieve",
            {"wall_ms": ms / 4, "cpu_ms": ms / 5, "count_candidates": 8.0,
             "tokens_context": 120.0 + i},
            {"wall_ms": "timer", "cpu_ms": "timer", "count_candidates": "given",
             "tokens_context": "counted"},
            start_ms=0.1,
        )
        generate = StageRecord(
            "generate",
            {"wall_ms": ms / 2, "tokens_prompt": 150.0, "tokens_completion": 12.0,
             "tokens_total": 162.0, "energy_j": ms / 100, "energy_cpu_j": ms / 200,
             **({"cost_usd": 0.0001} if priced else {})},
            {"wall_ms": "timer", "tokens_prompt": "provider", "tokens_completion": "provider",
             "tokens_total": "derived", "energy_j": "estimated", "energy_cpu_j": "estimated",
             **({"cost_usd": price_source} if priced else {})},
            error="TimeoutError: slow" if i == 1 else None,
            model="gpt-4o-mini",
            start_ms=ms / 4 + 0.2,
        )
        requests.append(
            RequestRecord(
                trace_id=f"{i:032x}",
                index=i,
                metrics={"wall_ms": ms, "cpu_ms": ms * 0.8, "energy_j": ms / 100,
                         "tokens_context": 120.0 + i, "errors": 1.0 if i == 1 else 0.0,
                         **({"cost_usd": 0.0001} if priced else {})},
                sources={"wall_ms": "timer", "cpu_ms": "timer", "energy_j": "estimated",
                         "tokens_context": "counted", "errors": "given",
                         **({"cost_usd": price_source} if priced else {})},
                stages=(retrieve, generate),
            )
        )
    run = ScenarioRun(scenario, f"test_x.py::test_{scenario}", tuple(requests))
    verdict = Verdict(scenario, "wall_ms", "PASS", "recorded", note="wall_ms: fine")
    quality = {"hit_at_k": MetricScores("hit_at_k", "deterministic", tuple(
        SampleScore(f"k{i}", "o", f"sample {i}", v) for i, v in enumerate((1.0, 0.0, None))))}
    return Outcome(run=run, verdicts=[verdict], quality=quality)


def meta(
    environment: dict[str, Any] | None = None,
    *,
    project: str = "proj",
    ts: datetime | None = None,
    **git: Any,
) -> RunMeta:
    env = dict(environment or ENV)
    if git:
        env["git"] = {**env["git"], **git}
    return RunMeta(environment=env, ragcost_version="9.9.9", project=project,
                   config={"requests": 4}, ts=ts)


def check_round_trip(store: Store) -> None:
    """A written run reads back row by row, and as per-run summaries."""
    run_id = store.record(meta(), [outcome([10.0, 12.0, 11.0, 9.0])],
                          stats_wanted={"qa": {"wall_ms": "p95"}})
    b = store.backend
    (row,) = b.query(
        "SELECT id, git_sha, branch, dirty, env_id, ragcost_version, price_rates_hash, profile"
        " FROM run"
    )
    assert row[0] == run_id
    assert row[1:7] == (ENV["git"]["commit"], "topic", 1, "envaaaaaaaaa", "9.9.9", row[6])
    assert row[6] is not None
    assert len(row[6]) == 12
    assert row[7] == "run"
    (fp,) = b.query("SELECT fingerprint_json FROM environment WHERE id = ?", ("envaaaaaaaaa",))
    assert '"cpu": "test cpu"' in fp[0]
    requests = b.query("SELECT idx, scenario, status, wall_ms, item_id, nodeid FROM request"
                       " ORDER BY idx")
    assert [r[0] for r in requests] == [0, 1, 2, 3]
    assert [r[2] for r in requests] == ["ok", "error", "ok", "ok"]
    assert requests[0][3] == 10.0
    assert requests[0][5] == "test_x.py::test_qa"
    costs = b.query(
        "SELECT c.stage, c.wall_ms, c.cpu_ms, c.start_ms, c.energy_source, c.metrics_json"
        " FROM costs c JOIN request r ON r.id = c.request_id WHERE r.idx = 0 ORDER BY c.stage"
    )
    assert costs[0][0] == "generate"
    assert costs[0][3] == 2.7
    assert costs[0][4] == "estimated"
    assert costs[0][5] == '{"energy_cpu_j": 0.05}'
    assert costs[1][:4] == ("retrieve", 2.5, 2.0, 0.1)
    tokens = b.query(
        "SELECT t.stage, t.kind, t.tokens, t.source, t.model FROM tokens t"
        " JOIN request r ON r.id = t.request_id WHERE r.idx = 2 ORDER BY t.stage, t.kind"
    )
    assert tokens == [
        ("generate", "completion", 12.0, "provider", "gpt-4o-mini"),
        ("generate", "prompt", 150.0, "provider", "gpt-4o-mini"),
        ("retrieve", "context", 122.0, "counted", None),
    ]
    assert b.query("SELECT name, n FROM counts LIMIT 1") == [("candidates", 8.0)]
    assert b.query("SELECT stage, message FROM errors") == [("generate", "TimeoutError: slow")]
    assert b.query("SELECT sample, score FROM quality ORDER BY sample") == [
        (0, 1.0), (1, 0.0), (2, None)
    ]
    stats_rows = b.query(
        "SELECT stat, value, n, verdict FROM run_metric WHERE metric_key = 'wall_ms'"
        " ORDER BY stat"
    )
    assert [r[0] for r in stats_rows] == ["mean", "median", "p95"]
    assert stats_rows[0][1:] == (10.5, 4, "PASS")
    # an exact metric is summarised by its mean only
    assert b.query(
        "SELECT stat FROM run_metric WHERE metric_key = 'retrieve.tokens_context'"
    ) == [("mean",)]

    store.record(meta(commit="b" * 40), [outcome([20.0, 22.0, 21.0, 19.0])])
    store.record(meta({**ENV, "id": "otherenv0000"}), [outcome([99.0, 99.0])])
    got = store.summaries("envaaaaaaaaa", project="proj")
    runs = got["qa"]["wall_ms"]["mean"]
    assert [r.value for r in runs] == [20.5, 10.5]  # newest first, this environment only
    assert [r.commit for r in runs] == ["b" * 40, ENV["git"]["commit"]]
    assert runs[0].n == 4
    assert runs[0].se is not None
    assert runs[0].se > 0
    # the p95 a budget entry asked for, of the one run that was asked
    assert [round(r.value, 6) for r in got["qa"]["wall_ms"]["p95"]] == [11.85]
    assert store.summaries("envaaaaaaaaa", project="proj", window=1)["qa"]["wall_ms"]["mean"][
        0].value == 20.5
    assert store.summaries("envaaaaaaaaa", ["nope"], project="proj") == {}
    assert store.summaries("envaaaaaaaaa", project="other") == {}
    # what a budget file's noisy entries ask for: the pairs of the scenarios it names,
    # the means of the others (judged on their means), nothing else
    store.record(meta(commit="c" * 40), [outcome([7.0, 9.0], scenario="rag")])
    only = store.summaries("envaaaaaaaaa", project="proj",
                           keys={"qa": {("wall_ms", "median"), ("retrieve.cpu_ms", "mean")}})
    assert {k: sorted(v) for k, v in only["qa"].items()} == {
        "wall_ms": ["median"], "retrieve.cpu_ms": ["mean"]
    }
    assert [r.value for r in only["qa"]["wall_ms"]["median"]] == [20.5, 10.5]
    everything = store.summaries("envaaaaaaaaa", project="proj")
    assert only["rag"] == {key: {"mean": by_stat["mean"]}
                           for key, by_stat in everything["rag"].items()}
    assert only["rag"]["wall_ms"]["mean"][0].value == 8.0
    assert store.summaries("envaaaaaaaaa", project="proj", keys={"qa": set()}) == {
        "rag": only["rag"]}
    means = store.summaries("envaaaaaaaaa", project="proj", keys={})
    assert sorted(means) == ["qa", "rag"]
    assert {stat for by_stat in means["qa"].values() for stat in by_stat} == {"mean"}
    # a saved run's time written in another offset is the same instant (as text, a time
    # ten hours behind UTC sorts before every stored one)
    newest = store.runs(limit=1)[0].ts
    later = (newest + timedelta(seconds=1)).astimezone(timezone(timedelta(hours=-10)))
    assert "rag" in store.summaries("envaaaaaaaaa", project="proj", before=later.isoformat())
    assert "rag" not in store.summaries("envaaaaaaaaa", project="proj",
                                        before=newest.isoformat())
    assert store.earlier_runs("envaaaaaaaaa", project="proj") == 2
    assert store.earlier_runs("envaaaaaaaaa", project="proj", window=1) == 1
    assert store.earlier_runs("envaaaaaaaaa", project="other") == 0


def check_migration_from_v1(store_v1: Store, reopen: Any) -> None:
    """A store left at schema version 1 (the blueprint's tables) migrates to the latest and
    keeps its rows."""
    assert store_v1.migrate(target=1) == [1]
    b = store_v1.backend
    with b.transaction():
        b.execute("INSERT INTO run (id, ts, profile, git_sha, config_json) VALUES (?, ?, ?, ?, ?)",
                  ("old", "2026-01-01T00:00:00+00:00", "run", "abc", "{}"))
        b.execute("INSERT INTO request (id, run_id, scenario, idx, trace_id, wall_ms, cpu_ms,"
                  " energy_j, status) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                  ("r1", "old", "qa", 0, "t", 5.0, 4.0, None, "ok"))
    assert store_v1.schema_version() == 1
    store_v1.close()
    store = reopen()
    assert store.schema_version() == 3
    versions = store.backend.query("SELECT version FROM schema_version ORDER BY version")
    assert versions == [(1,), (2,), (3,)]
    assert store.backend.query("SELECT id, git_sha, env_id, branch FROM run") == [
        ("old", "abc", None, None)
    ]
    assert store.backend.query("SELECT item_id, wall_ms FROM request") == [(None, 5.0)]
    store.record(meta(), [outcome([1.0, 2.0])])
    assert len(store.runs()) == 2
    assert store.migrate() == []  # already current: nothing applied twice
    store.close()


# -- projects, trends, prune, listing: the cases a team store needs -----------------------

DAY = timedelta(days=1)
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def check_projects_kept_apart(store: Store) -> None:
    """Two projects with the same scenario names on one environment: each project's noise
    reads only its own runs (one run of A, four of B, then A sees one earlier run)."""
    store.record(meta(project="A"), [outcome([10.0, 11.0])])
    for i in range(4):
        store.record(meta(project="B", commit=f"{i}" * 40), [outcome([50.0, 51.0])])
    a = store.summaries("envaaaaaaaaa", project="A")["qa"]["wall_ms"]["mean"]
    b = store.summaries("envaaaaaaaaa", project="B")["qa"]["wall_ms"]["mean"]
    assert [r.value for r in a] == [10.5]
    assert [r.value for r in b] == [50.5] * 4
    assert store.summaries("envaaaaaaaaa", project="C") == {}
    assert {r.project for r in store.runs()} == {"A", "B"}
    assert len(store.runs(RunFilter(project="B"))) == 4


def _at(days: float) -> datetime:
    return NOW - days * DAY


def check_trend_follows_the_branch(store: Store) -> None:
    """main m1-m2-m3-m4; feature forked at m2 with f1, f2. A trend of feature shows main's
    runs up to the fork (its ancestors) and its own, never main's later runs, another
    project's or another environment's; the shallow-clone stand-in gives the same runs."""
    m = [f"{c}" * 40 for c in "1234"]
    f1, f2 = "e" * 40, "f" * 40
    timeline = [
        (6.0, "main", m[0]), (5.0, "main", m[1]), (4.0, "feature", f1), (3.0, "main", m[2]),
        (2.0, "feature", f2), (1.0, "main", m[3]),
    ]
    ids = {}
    for days, branch, sha in timeline:
        ids[sha] = store.record(meta(ts=_at(days), branch=branch, commit=sha),
                                [outcome([10.0 * (7 - days)])])
    store.record(meta(ts=_at(3.5), project="other", branch="feature", commit=f1),
                 [outcome([1.0])])
    store.record(meta({**ENV, "id": "otherenv0000"}, ts=_at(3.5), branch="feature",
                      commit=f1), [outcome([1.0])])
    lineage = Lineage("feature", (f2, f1, m[1], m[0]))
    trend = store.trend("proj", "envaaaaaaaaa", lineage)
    assert [t.run_id for t in trend] == [ids[m[0]], ids[m[1]], ids[f1], ids[f2]]
    assert [t.values["qa"]["wall_ms"] for t in trend] == [10.0, 20.0, 30.0, 50.0]
    assert trend[0].label == m[0][:10]
    assert trend[2].ts == _at(4.0)
    shallow = store.trend("proj", "envaaaaaaaaa", Lineage("feature", (f2,), base="main"))
    assert [t.run_id for t in shallow] == [t.run_id for t in trend]
    main = store.trend("proj", "envaaaaaaaaa", Lineage("main", (m[3], m[2], m[1], m[0])))
    assert [t.commit for t in main] == m
    assert len(store.trend("proj", None, lineage)) == 5  # every environment
    assert len(store.trend("proj", "envaaaaaaaaa", lineage, window=2)) == 2
    assert store.trend("proj", "envaaaaaaaaa", lineage, ["nope"]) == []
    assert store.trend("nobody", "envaaaaaaaaa", lineage) == []


def check_prune_keeps_summaries(store: Store) -> None:
    """A prune drops the per-request rows of old runs, in every table that has them, and
    keeps the runs, their scenarios and summaries: the noise and the trend read the same."""
    old = [store.record(meta(ts=_at(40 + i), commit=f"{i}" * 40), [outcome([10.0 + i, 12.0])])
           for i in range(3)]
    new = store.record(meta(ts=_at(1)), [outcome([20.0, 22.0, 21.0])])
    noise_before = store.summaries("envaaaaaaaaa", project="proj")
    trend_before = store.trend("proj", "envaaaaaaaaa")
    b = store.backend

    def per_request(run_id: str) -> list[int]:
        inner = "SELECT id FROM request WHERE run_id = ?"
        return [
            int(b.query("SELECT COUNT(*) FROM request WHERE run_id = ?", (run_id,))[0][0]),
            *(int(b.query(f"SELECT COUNT(*) FROM {t} WHERE request_id IN ({inner})",
                          (run_id,))[0][0]) for t in ("costs", "tokens", "counts", "errors")),
            int(b.query("SELECT COUNT(*) FROM quality WHERE run_id = ?", (run_id,))[0][0]),
        ]

    assert per_request(old[0]) == [2, 4, 6, 2, 1, 3]
    dry = store.prune(30, now=NOW, dry_run=True)
    assert (dry.runs, dry.requests) == (3, 6)
    assert per_request(old[0]) == [2, 4, 6, 2, 1, 3]
    done = store.prune(30, now=NOW)
    assert (done.runs, done.requests, done.cutoff) == (3, 6, NOW - 30 * DAY)
    for run_id in old:
        assert per_request(run_id) == [0, 0, 0, 0, 0, 0]
    assert per_request(new) == [3, 6, 9, 3, 1, 3]
    assert store.summaries("envaaaaaaaaa", project="proj") == noise_before
    assert store.trend("proj", "envaaaaaaaaa") == trend_before
    runs = {r.id: r for r in store.runs()}
    assert all(runs[i].pruned_at is not None for i in old)
    assert runs[new].pruned_at is None
    assert runs[old[0]].requests == 2  # the scenario row keeps the count
    assert store.run(old[0]).metrics  # and `show` its summaries
    assert store.prune(30, now=NOW).runs == 0  # nothing twice
    assert store.prune(0, now=NOW, project="other").runs == 0


def check_listing(store: Store) -> None:
    """`ragcost history list` and `export` filters: project, branch, scenario, time."""
    a = store.record(meta(ts=_at(3), branch="main"), [outcome([1.0, 2.0]),
                                                     outcome([3.0], scenario="chat")])
    b = store.record(meta(ts=_at(2), branch="topic", project="other"), [outcome([5.0])])
    c = store.record(meta(ts=_at(1), branch="topic"), [outcome([6.0, 7.0, 8.0])])
    assert [r.id for r in store.runs()] == [c, b, a]
    assert [r.id for r in store.runs(oldest_first=True)] == [a, b, c]
    assert [r.id for r in store.runs(limit=1)] == [c]
    assert [r.id for r in store.runs(RunFilter(project="proj"))] == [c, a]
    assert [r.id for r in store.runs(RunFilter(branch="topic"))] == [c, b]
    assert [r.id for r in store.runs(RunFilter(scenario="chat"))] == [a]
    assert [r.id for r in store.runs(RunFilter(since=_at(2.5)))] == [c, b]
    assert [r.id for r in store.runs(RunFilter(until=_at(1.5)))] == [b, a]
    row = store.runs(RunFilter(scenario="chat"))[0]
    assert (row.scenarios, row.requests, row.errors) == (("chat", "qa"), 3, 1)
    assert row.ts == _at(3)
    assert (row.project, row.branch, row.dirty) == ("proj", "main", True)
    detail = store.run(a[:6])
    assert detail.run.id == a
    assert detail.environment["comparable"]["cpu"] == "test cpu"
    assert {(m.scenario, m.key, m.stat) for m in detail.metrics} >= {
        ("qa", "wall_ms", "mean"), ("chat", "wall_ms", "median"), ("qa", "hit_at_k", "mean")
    }
    hit = next(m for m in detail.metrics if m.key == "hit_at_k" and m.scenario == "qa")
    assert (hit.value, hit.n, hit.source) == (0.5, 2, "quality")
    summary = list(store.summary_rows(RunFilter(branch="topic", project="proj")))
    assert {r["run_id"] for r in summary} == {c}
    assert {r["stat"] for r in summary} >= {"mean", "median"}
    requests = list(store.request_rows(RunFilter(scenario="qa", project="proj")))
    assert [(r["run_id"], r["index"]) for r in requests] == [(a, 0), (a, 1), (c, 0), (c, 1),
                                                             (c, 2)]
    with pytest.raises(HistoryError, match="no run 'abcdef'"):
        store.run("abcdef")
    with pytest.raises(HistoryError, match="is not a run id"):
        store.run("xyz")


def check_migration_from_v2(reopen: Any, raw: Any) -> None:
    """A store written by pytest-ragcost 0.2 (schema 2, the quick-start blessed and run
    once) migrates in place: its runs belong to the project that opens it, keep every row,
    and read back as noise, trends, listings and details; a new run joins them."""
    runs_before = raw("SELECT id, git_sha, branch, env_id FROM run ORDER BY ts")
    counts_before = [raw(f"SELECT COUNT(*) FROM {t}")[0][0]
                     for t in ("request", "costs", "tokens", "counts", "quality", "run_metric")]
    wall_before = raw("SELECT value FROM run_metric WHERE metric_key = 'wall_ms' AND"
                      " stat = 'mean' ORDER BY run_id")
    hit_before = raw("SELECT run_id, AVG(score) FROM quality WHERE metric = 'hit_at_k'"
                     " GROUP BY run_id ORDER BY run_id")
    assert raw("SELECT MAX(version) FROM schema_version") == [(2,)]
    assert len(runs_before) == 2
    env_id = runs_before[0][3]
    store = reopen()
    assert store.schema_version() == 3
    b = store.backend
    counts_after = [b.query(f"SELECT COUNT(*) FROM {t}")[0][0]
                    for t in ("request", "costs", "tokens", "counts", "quality")]
    assert counts_after == counts_before[:5]
    listed = store.runs(oldest_first=True)
    assert [(r.id, r.commit, r.branch, r.env_id) for r in listed] == [tuple(r) for r in
                                                                      runs_before]
    assert [r.project for r in listed] == ["quickstart", "quickstart"]
    assert [r.profile for r in listed] == ["bless", "run"]
    assert [(r.scenarios, r.requests) for r in listed] == [(("quickstart-qa",), 6)] * 2
    noise = store.summaries(env_id, project="quickstart")["quickstart-qa"]["wall_ms"]["mean"]
    assert sorted(r.value for r in noise) == sorted(v for (v,) in wall_before)
    assert store.summaries(env_id, project="someone-else") == {}
    # the quality samples' means became summaries, as new runs write them
    hit = b.query("SELECT run_id, value, source FROM run_metric WHERE metric_key = 'hit_at_k'"
                  " ORDER BY run_id")
    assert [(r, round(v, 9)) for r, v, _ in hit] == [(r, round(v, 9)) for r, v in hit_before]
    assert {s for _, _, s in hit} == {"quality"}
    trend = store.trend("quickstart", env_id, Lineage("main", ()))
    assert [t.run_id for t in trend] == [r[0] for r in runs_before]
    assert store.run(listed[1].id[:8]).metrics
    new = store.record(meta({**ENV, "id": env_id}, project="quickstart"),
                       [outcome([1.0, 2.0], scenario="quickstart-qa")])
    assert store.runs(limit=1)[0].id == new
    assert len(store.summaries(env_id, project="quickstart")["quickstart-qa"]["wall_ms"][
        "mean"]) == 3
    assert store.migrate() == []
    store.close()


# -- concurrent writers ---------------------------------------------------------------------

def write_runs(url: str, project: str, runs: int, requests: int) -> list[str]:
    """One writer process: open the store (racing the others' migration) and write runs."""
    from pytest_ragcost.history import open_store

    store = open_store(url, Path(url), project=project)
    try:
        return [store.record(meta(project=project, commit=f"{i % 10}" * 40),
                             [outcome([float(k + 1) for k in range(requests)])])
                for i in range(runs)]
    finally:
        store.close()


def check_concurrent_writers(url: str, count: Any, *, writers: int = 8, runs: int = 5,
                             requests: int = 20) -> None:
    """``writers`` processes from two projects write at once into a store none has
    created yet: every run and every row lands, none waits forever, none deadlocks."""
    import concurrent.futures
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    with concurrent.futures.ProcessPoolExecutor(writers, mp_context=ctx) as pool:
        futures = [pool.submit(write_runs, url, "AB"[i % 2], runs, requests)
                   for i in range(writers)]
        _, pending = concurrent.futures.wait(futures, timeout=300)
        assert not pending, "a writer never finished"
        ids = [run_id for f in futures for run_id in f.result()]
    assert len(set(ids)) == writers * runs
    assert count("SELECT COUNT(*) FROM run") == writers * runs
    assert count("SELECT COUNT(*) FROM run WHERE project = 'A'") == writers // 2 * runs
    assert count("SELECT COUNT(*) FROM request") == writers * runs * requests
    assert count("SELECT COUNT(*) FROM costs") == writers * runs * requests * 2
    assert count("SELECT COUNT(*) FROM run_scenario") == writers * runs
    assert count("SELECT COUNT(*) FROM environment") == 1
    assert count("SELECT COUNT(*) FROM schema_version") == 3


# -- pytest runs against a store --------------------------------------------------------------

#: an inner test module: one scenario, three requests, tokens counted
SCENARIO = """
import pytest

@pytest.mark.ragcost(scenario="qa")
def test_qa(ragcost):
    for q in ragcost.requests(["alpha beta", "gamma", "delta epsilon zeta"]):
        with ragcost.stage("generate") as st:
            st.tokens(prompt=q * 3, completion="ok")
"""


def make_project(root: Path, name: str, ini: str = "") -> Path:
    """A pytest project directory ``name`` under ``root`` (its own rootdir)."""
    project = root / name
    project.mkdir()
    (project / "pytest.ini").write_text(f"[pytest]\n{ini}")
    (project / "test_qa.py").write_text(SCENARIO)
    return project


def run_pytest_at_once(projects: list[Path], *args: str) -> list[subprocess.CompletedProcess[str]]:
    """Start one ``pytest --ragcost`` per project at the same moment; wait for them all.

    Only this plugin is loaded (no other installed plugin's import time), as pytest would
    load it from its entry point."""
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    for name in ("GITHUB_STEP_SUMMARY", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_ADDOPTS"):
        env.pop(name, None)
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "pytest", "-p", "pytest_ragcost.plugin",
             "-p", "no:cacheprovider", "--ragcost", *args, str(project)],
            cwd=project, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
        )
        for project in projects
    ]
    results = []
    for proc in procs:
        out, _ = proc.communicate(timeout=300)
        results.append(subprocess.CompletedProcess(proc.args, proc.returncode, out, ""))
    return results
