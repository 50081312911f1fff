"""Shared cases for the history store, run against SQLite and against a real PostgreSQL."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pytest_ragcost.history import RunMeta, Store
from pytest_ragcost.models import Outcome, RequestRecord, ScenarioRun, StageRecord, Verdict

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
                         "tokens_context": 120.0 + i, "errors": 1.0 if i == 1 else 0.0},
                sources={"wall_ms": "timer", "cpu_ms": "timer", "energy_j": "estimated",
                         "tokens_context": "counted", "errors": "given"},
                stages=(retrieve, generate),
            )
        )
    run = ScenarioRun(scenario, f"test_x.py::test_{scenario}", tuple(requests))
    verdict = Verdict(scenario, "wall_ms", "PASS", "wall_ms: fine")
    quality = {"hit_at_k": {"samples": [{"value": 1.0}, {"value": 0.0}, {"value": None}]}}
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
