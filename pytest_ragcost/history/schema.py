"""The history's tables, as a chain of migrations both backends run.

Version 1 is the blueprint's minimal schema (run, request, costs, tokens, quality,
errors). Version 2 adds what a comparison between runs needs: the environment
fingerprint, the commit (sha, branch, dirty), the item id and the stage start offset,
the source of every token count, the hash of the price rates used, and one summary
row per (run, scenario, metric, statistic) that the between-run noise rule reads.
Version 3 makes one database serve many projects: every run names its project, and
``run_scenario`` keeps one row per (run, scenario) with the columns the noise and trend
reads filter on (project, scenario, environment, branch, commit, time), so they read an
index instead of every run; the mean of each quality metric joins ``run_metric``; and a
run whose per-request rows were pruned says when (``pruned_at``). On PostgreSQL the run
time becomes a ``timestamptz`` (dashboards filter on it).

The SQL is written once with four placeholders that each dialect fills in:
``{real}`` (a double), ``{text}``, ``{bigint}`` and ``{timestamp}`` (ISO 8601 text in
SQLite, ``timestamptz`` in PostgreSQL). Everything else is the common subset of SQLite
and PostgreSQL, except the statements marked :class:`Only`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

Dialect = Literal["sqlite", "postgresql"]

_TYPES: Mapping[Dialect, Mapping[str, str]] = {
    "sqlite": {"real": "REAL", "text": "TEXT", "bigint": "INTEGER", "timestamp": "TEXT"},
    "postgresql": {"real": "DOUBLE PRECISION", "text": "TEXT", "bigint": "BIGINT",
                   "timestamp": "TIMESTAMPTZ"},
}


@dataclass(frozen=True)
class Only:
    """A statement one dialect runs and the other skips."""

    dialect: Dialect
    sql: str


@dataclass(frozen=True)
class Fill:
    """A data step: ``?`` placeholders bound, in order, to the named migration parameters
    (see :data:`PARAMETERS`)."""

    sql: str
    params: tuple[str, ...] = ()


Statement = str | Only | Fill

#: what a data step may ask for: ``project`` is the project of the process that migrates,
#: which the runs recorded before version 3 (one project per store then) are given
PARAMETERS = ("project",)

_V1: tuple[Statement, ...] = (
    """CREATE TABLE run (
        id {text} PRIMARY KEY,
        ts {text} NOT NULL,
        profile {text},
        git_sha {text},
        config_json {text}
    )""",
    """CREATE TABLE request (
        id {text} PRIMARY KEY,
        run_id {text} NOT NULL REFERENCES run(id) ON DELETE CASCADE,
        scenario {text} NOT NULL,
        idx {bigint} NOT NULL,
        trace_id {text},
        wall_ms {real},
        cpu_ms {real},
        energy_j {real},
        status {text} NOT NULL
    )""",
    """CREATE TABLE costs (
        request_id {text} NOT NULL REFERENCES request(id) ON DELETE CASCADE,
        stage {text} NOT NULL,
        wall_ms {real},
        cpu_ms {real},
        gpu_ms {real},
        energy_j {real}
    )""",
    """CREATE TABLE tokens (
        request_id {text} NOT NULL REFERENCES request(id) ON DELETE CASCADE,
        stage {text} NOT NULL,
        kind {text} NOT NULL,
        tokens {real} NOT NULL,
        model {text}
    )""",
    """CREATE TABLE quality (
        run_id {text} NOT NULL REFERENCES run(id) ON DELETE CASCADE,
        scenario {text} NOT NULL,
        metric {text} NOT NULL,
        sample {bigint} NOT NULL,
        score {real}
    )""",
    """CREATE TABLE errors (
        request_id {text} NOT NULL REFERENCES request(id) ON DELETE CASCADE,
        stage {text},
        message {text} NOT NULL
    )""",
    "CREATE INDEX request_run ON request(run_id)",
    "CREATE INDEX costs_request ON costs(request_id)",
    "CREATE INDEX tokens_request ON tokens(request_id)",
)

_V2: tuple[Statement, ...] = (
    """CREATE TABLE environment (
        id {text} PRIMARY KEY,
        fingerprint_json {text} NOT NULL
    )""",
    "ALTER TABLE run ADD COLUMN env_id {text}",
    "ALTER TABLE run ADD COLUMN branch {text}",
    "ALTER TABLE run ADD COLUMN dirty {bigint}",
    "ALTER TABLE run ADD COLUMN ragcost_version {text}",
    "ALTER TABLE run ADD COLUMN price_rates_hash {text}",
    "ALTER TABLE request ADD COLUMN item_id {text}",
    "ALTER TABLE request ADD COLUMN nodeid {text}",
    "ALTER TABLE costs ADD COLUMN start_ms {real}",
    "ALTER TABLE costs ADD COLUMN ttft_ms {real}",
    "ALTER TABLE costs ADD COLUMN energy_source {text}",
    "ALTER TABLE costs ADD COLUMN metrics_json {text}",
    "ALTER TABLE tokens ADD COLUMN source {text}",
    """CREATE TABLE counts (
        request_id {text} NOT NULL REFERENCES request(id) ON DELETE CASCADE,
        stage {text} NOT NULL,
        name {text} NOT NULL,
        n {real} NOT NULL
    )""",
    """CREATE TABLE run_metric (
        run_id {text} NOT NULL REFERENCES run(id) ON DELETE CASCADE,
        scenario {text} NOT NULL,
        metric_key {text} NOT NULL,
        stat {text} NOT NULL,
        value {real} NOT NULL,
        se {real},
        n {bigint} NOT NULL,
        source {text},
        verdict {text},
        PRIMARY KEY (run_id, scenario, metric_key, stat)
    )""",
    "CREATE INDEX run_env_ts ON run(env_id, ts)",
    "CREATE INDEX run_git_sha ON run(git_sha)",
    "CREATE INDEX request_item ON request(scenario, item_id)",
    "CREATE INDEX run_metric_key ON run_metric(scenario, metric_key, stat)",
)

_V3: tuple[Statement, ...] = (
    "ALTER TABLE run ADD COLUMN project {text}",
    "ALTER TABLE run ADD COLUMN pruned_at {timestamp}",
    Fill("UPDATE run SET project = ? WHERE project IS NULL", ("project",)),
    Only("postgresql",
         "ALTER TABLE run ALTER COLUMN ts TYPE TIMESTAMPTZ USING ts::timestamptz"),
    """CREATE TABLE run_scenario (
        run_id {text} NOT NULL REFERENCES run(id) ON DELETE CASCADE,
        scenario {text} NOT NULL,
        project {text} NOT NULL,
        env_id {text},
        branch {text},
        git_sha {text},
        ts {timestamp} NOT NULL,
        requests {bigint} NOT NULL,
        errors {bigint} NOT NULL,
        PRIMARY KEY (run_id, scenario)
    )""",
    # every (run, scenario) of the older runs: from their requests, and from their
    # summaries for a scenario whose requests are gone
    Fill("""INSERT INTO run_scenario
        (run_id, scenario, project, env_id, branch, git_sha, ts, requests, errors)
        SELECT r.id, s.scenario, r.project, r.env_id, r.branch, r.git_sha, r.ts,
            (SELECT COUNT(*) FROM request q WHERE q.run_id = r.id AND q.scenario = s.scenario),
            (SELECT COUNT(*) FROM request q WHERE q.run_id = r.id AND q.scenario = s.scenario
             AND q.status = 'error')
        FROM run r JOIN (
            SELECT run_id, scenario FROM request
            UNION SELECT run_id, scenario FROM run_metric
        ) s ON s.run_id = r.id"""),
    Fill("""INSERT INTO run_metric (run_id, scenario, metric_key, stat, value, se, n, source,
        verdict)
        SELECT qs.run_id, qs.scenario, qs.metric, 'mean', AVG(qs.score), NULL, COUNT(qs.score),
            'quality', NULL
        FROM quality qs
        WHERE qs.score IS NOT NULL AND NOT EXISTS (
            SELECT 1 FROM run_metric rm WHERE rm.run_id = qs.run_id
            AND rm.scenario = qs.scenario AND rm.metric_key = qs.metric AND rm.stat = 'mean')
        GROUP BY qs.run_id, qs.scenario, qs.metric"""),
    # the start of a run reads its project's latest runs per scenario and environment;
    # `ragcost history list` reads runs by time, with or without a project (chosen by
    # benchmarks/bench_history_scale.py, whose plans are in docs/team.md)
    "CREATE INDEX run_scenario_latest ON run_scenario(project, scenario, env_id, ts)",
    "CREATE INDEX run_project_ts ON run(project, ts)",
    "CREATE INDEX run_ts ON run(ts)",
    # a prune deletes per-request rows by request id and quality samples by run id, and
    # each deleted request's ON DELETE CASCADE looks up its counts and errors: without
    # these indexes every one of those was a scan of the whole table
    "CREATE INDEX counts_request ON counts(request_id)",
    "CREATE INDEX errors_request ON errors(request_id)",
    "CREATE INDEX quality_run ON quality(run_id)",
)

#: version -> the statements that bring the schema from version - 1 to it
MIGRATIONS: Mapping[int, Sequence[Statement]] = {1: _V1, 2: _V2, 3: _V3}
LATEST = max(MIGRATIONS)

VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_version (
    version {bigint} PRIMARY KEY,
    applied_at {text} NOT NULL
)"""


def render(statement: str, dialect: Dialect) -> str:
    """One statement with the dialect's type names."""
    return statement.format(**_TYPES[dialect])


def for_dialect(
    statement: Statement, dialect: Dialect, values: Mapping[str, object]
) -> tuple[str, tuple[object, ...]] | None:
    """The SQL and parameters ``dialect`` runs for ``statement`` (``None``: it skips it)."""
    if isinstance(statement, Only):
        return (render(statement.sql, dialect), ()) if statement.dialect == dialect else None
    if isinstance(statement, Fill):
        return statement.sql, tuple(values[name] for name in statement.params)
    return render(statement, dialect), ()


def steps(current: int, target: int = LATEST) -> list[tuple[int, Sequence[Statement]]]:
    """The migrations that take a store at ``current`` to ``target``, in order."""
    if current > LATEST:
        msg = (
            f"the history's schema is version {current}, newer than this pytest-ragcost "
            f"knows ({LATEST}); upgrade pytest-ragcost or point --ragcost-history elsewhere"
        )
        raise ValueError(msg)
    return [(v, MIGRATIONS[v]) for v in range(current + 1, target + 1)]
