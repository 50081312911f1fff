"""The history's tables, as a chain of migrations both backends run.

Version 1 is the blueprint's minimal schema (run, request, costs, tokens, quality,
errors). Version 2 adds what a comparison between runs needs: the environment
fingerprint, the commit (sha, branch, dirty), the item id and the stage start offset,
the source of every token count, the hash of the price rates used, and one summary
row per (run, scenario, metric, statistic) that the between-run noise rule reads.

The SQL is written once with three placeholders that each dialect fills in:
``{real}`` (a double), ``{text}`` and ``{bigint}``. Everything else is the common
subset of SQLite and PostgreSQL.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

Dialect = Literal["sqlite", "postgresql"]

_TYPES: Mapping[Dialect, Mapping[str, str]] = {
    "sqlite": {"real": "REAL", "text": "TEXT", "bigint": "INTEGER"},
    "postgresql": {"real": "DOUBLE PRECISION", "text": "TEXT", "bigint": "BIGINT"},
}

_V1 = (
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

_V2 = (
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

#: version -> the statements that bring the schema from version - 1 to it
MIGRATIONS: Mapping[int, Sequence[str]] = {1: _V1, 2: _V2}
LATEST = max(MIGRATIONS)

VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_version (
    version {bigint} PRIMARY KEY,
    applied_at {text} NOT NULL
)"""


def render(statement: str, dialect: Dialect) -> str:
    """One statement with the dialect's type names."""
    return statement.format(**_TYPES[dialect])


def steps(current: int, target: int = LATEST) -> list[tuple[int, Sequence[str]]]:
    """The migrations that take a store at ``current`` to ``target``, in order."""
    if current > LATEST:
        msg = (
            f"the history's schema is version {current}, newer than this pytest-ragcost "
            f"knows ({LATEST}); upgrade pytest-ragcost or point --ragcost-history elsewhere"
        )
        raise ValueError(msg)
    return [(v, MIGRATIONS[v]) for v in range(current + 1, target + 1)]
