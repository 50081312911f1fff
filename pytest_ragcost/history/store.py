"""The run store: every ``--ragcost`` run written as rows, and read back as per-run summaries.

:func:`open_store` opens (and migrates) the store a ``--ragcost-history`` value names.
:meth:`Store.record` writes one run of one project: the run row with its commit,
environment and price rates hash, each request with its stages' costs, tokens, counts and
errors, the quality scores, one ``run_scenario`` row per scenario, and per (scenario,
metric, statistic) a summary row with the verdict it got.

Reading: :meth:`Store.summaries` gives the comparison rules the between-run noise of the
same project, scenario and environment (one
:class:`~pytest_ragcost.compare.noise.RunSummary` per earlier run); :meth:`Store.trend`
the same project's runs along a branch and the commits it was built on (a
:class:`~pytest_ragcost.history.lineage.Lineage`); :meth:`Store.runs`,
:meth:`Store.run`, :meth:`Store.summary_rows` and :meth:`Store.request_rows` what
``ragcost history`` lists, shows and exports; :meth:`Store.prune` drops per-request rows
and keeps the summaries the noise and the trends read.
"""

from __future__ import annotations

import hashlib
import json
import math
import uuid
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from ..compare import describe as stats
from ..compare.noise import RunSummary
from ..run import Outcome, ScenarioRun, Stat, metric_class, split_key
from . import schema
from .backends import Backend, HistoryError, connect, utc
from .lineage import Lineage

#: statistics summarised for every noisy metric (more when a budget entry asks for one)
SUMMARY_STATS: tuple[Stat, ...] = ("mean", "median")
#: how many of the environment's latest runs the noise rule reads
DEFAULT_WINDOW = 30
#: how many runs per scenario a trend reads at most
TREND_WINDOW = 200
#: runs pruned per transaction, so writers never wait long on a prune
PRUNE_BATCH_RUNS = 50
#: run ids per query when reading summaries (SQLite allows 999 parameters before 3.32)
READ_BATCH_RUNS = 500
#: runs read per query while exporting, so an export of a year never sits in memory whole
EXPORT_BATCH_RUNS = 200

#: per-stage columns of ``costs``; the other noisy figures go to ``metrics_json``
_COST_COLUMNS = ("wall_ms", "cpu_ms", "gpu_ms", "energy_j", "ttft_ms")


@dataclass(frozen=True)
class RunMeta:
    """What a run row says about the run besides its measurements."""

    environment: Mapping[str, Any]
    ragcost_version: str
    #: the project the run belongs to (``--ragcost-project``)
    project: str
    config: Mapping[str, Any] = field(default_factory=dict)
    profile: str = "run"
    ts: datetime | None = None
    #: the run's id (its run file's ``id``); a new one when None
    run_id: str | None = None

    @property
    def env_id(self) -> str | None:
        value = self.environment.get("id")
        return None if value is None else str(value)

    @property
    def git(self) -> Mapping[str, Any]:
        return self.environment.get("git") or {}


@dataclass(frozen=True)
class RunFilter:
    """Which runs ``ragcost history`` reads: every given field must match."""

    project: str | None = None
    branch: str | None = None
    scenario: str | None = None
    #: runs at or after this time
    since: datetime | None = None
    #: runs before this time
    until: datetime | None = None


@dataclass(frozen=True)
class RunRow:
    """One run as ``ragcost history list`` shows it."""

    id: str
    ts: datetime
    project: str | None
    branch: str | None
    commit: str | None
    dirty: bool | None
    profile: str | None
    env_id: str | None
    ragcost_version: str | None
    #: when its per-request rows were pruned (its summaries are kept)
    pruned_at: datetime | None
    scenarios: tuple[str, ...]
    requests: int
    errors: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id, "ts": self.ts.isoformat(), "project": self.project,
            "branch": self.branch, "commit": self.commit, "dirty": self.dirty,
            "profile": self.profile, "env_id": self.env_id,
            "ragcost_version": self.ragcost_version,
            "pruned_at": None if self.pruned_at is None else self.pruned_at.isoformat(),
            "scenarios": list(self.scenarios), "requests": self.requests,
            "errors": self.errors,
        }


@dataclass(frozen=True)
class MetricRow:
    """One (scenario, metric, statistic) summary of a run."""

    scenario: str
    key: str
    stat: str
    value: float
    se: float | None
    n: int
    source: str | None
    verdict: str | None


@dataclass(frozen=True)
class RunDetail:
    """One run as ``ragcost history show`` shows it."""

    run: RunRow
    environment: Mapping[str, Any]
    config: Mapping[str, Any]
    price_rates_hash: str | None
    metrics: tuple[MetricRow, ...]


@dataclass(frozen=True)
class TrendRun:
    """One run on a trend: per scenario, metric key -> the run's value (its mean)."""

    run_id: str
    ts: datetime
    commit: str | None
    branch: str | None
    values: Mapping[str, Mapping[str, float]]

    @property
    def label(self) -> str:
        """How a chart names the run: its short commit, else its date."""
        return self.commit[:10] if self.commit else self.ts.strftime("%Y-%m-%d %H:%M")


@dataclass(frozen=True)
class LatestRun:
    """A scenario's latest run in the history, as a pre-flight estimate reads it: its
    requests, each metric key's mean per request, and the models its tokens were
    counted for (``""`` for tokens counted without a model)."""

    run_id: str
    ts: datetime
    requests: int
    means: Mapping[str, float]
    models: tuple[str, ...] = ()


@dataclass(frozen=True)
class PruneResult:
    """What a prune dropped: the per-request rows of ``runs`` runs older than ``cutoff``."""

    cutoff: datetime
    runs: int
    requests: int


def price_rates_hash(runs: Iterable[ScenarioRun]) -> str | None:
    """A short hash of the price rates this run's ``cost_usd`` used (``None`` if unpriced).

    Every ``cost_usd`` figure's source names its price table and the hash of the rates it
    applied, so equal hashes mean equal rates whatever the package version.
    """
    sources: set[str] = set()
    for run in runs:
        for req in run.requests:
            for st in req.stages:
                src = st.sources.get("cost_usd")
                if src:
                    sources.add(f"{st.model}={src.split('#', 1)[-1]}")
    if not sources:
        return None
    return hashlib.sha256("\n".join(sorted(sources)).encode()).hexdigest()[:12]


def _num(value: Any) -> float | None:
    return None if value is None else float(value)


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" for _ in values)


def _chunks(values: Sequence[str], size: int) -> Iterator[Sequence[str]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class Store:
    """An open history. Not thread-safe; one per process."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.version = 0

    @property
    def label(self) -> str:
        return self.backend.label

    # -- schema ----------------------------------------------------------------------------
    def schema_version(self) -> int:
        if not self.backend.has_table("schema_version"):
            return 0
        rows = self.backend.query("SELECT MAX(version) FROM schema_version")
        return int(rows[0][0]) if rows and rows[0][0] is not None else 0

    def migrate(self, target: int = schema.LATEST, *, project: str = "") -> list[int]:
        """Bring the schema to ``target``; returns the versions applied (none when current).

        ``project`` is given to the runs recorded before projects existed (version 3): a
        store then served one project, the one that opens it first.
        """
        b = self.backend
        current = self.schema_version()
        if current == target:
            self.version = current
            return []
        applied: list[int] = []
        # one migrator at a time; the others wait here and then find nothing to do
        with b.transaction(lock=True):
            b.execute(schema.render(schema.VERSION_TABLE, b.dialect))
            current = self.schema_version()
            try:
                todo = schema.steps(current, target)
            except ValueError as exc:
                raise HistoryError(f"{self.label}: {exc}") from None
            values = {"project": project}
            for version, statements in todo:
                for statement in statements:
                    sql = schema.for_dialect(statement, b.dialect, values)
                    if sql is not None:
                        b.execute(*sql)
                b.execute(
                    "INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                    (version, datetime.now(UTC).isoformat()),
                )
                applied.append(version)
        self.version = max(current, target) if not applied else applied[-1]
        return applied

    # -- writing ---------------------------------------------------------------------------
    def record(
        self,
        meta: RunMeta,
        outcomes: Sequence[Outcome],
        *,
        stats_wanted: Mapping[str, Mapping[str, str]] | None = None,
    ) -> str:
        """Write one run and return its id. ``stats_wanted`` maps scenario -> metric key ->
        the statistic its budget entry gates on, summarised besides :data:`SUMMARY_STATS`."""
        run_id = meta.run_id or uuid.uuid4().hex
        when = meta.ts or datetime.now(UTC)
        git = meta.git
        runs = [o.run for o in outcomes if o.run.requests]
        rows = _Rows(run_id)
        for outcome in outcomes:
            if outcome.run.requests:
                rows.add(outcome, (stats_wanted or {}).get(outcome.run.scenario, {}))
        b = self.backend
        ts = b.stamp(when)
        sha, branch = git.get("commit"), git.get("branch")
        with b.transaction():
            if meta.env_id is not None:
                # concurrent first runs on one machine insert the same row: one wins
                b.execute(
                    "INSERT INTO environment (id, fingerprint_json) VALUES (?, ?)"
                    " ON CONFLICT (id) DO NOTHING",
                    (meta.env_id, json.dumps(dict(meta.environment), sort_keys=True,
                                             default=str)),
                )
            b.execute(
                "INSERT INTO run (id, ts, profile, git_sha, config_json, env_id, branch, dirty,"
                " ragcost_version, price_rates_hash, project)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id, ts, meta.profile, sha,
                    json.dumps(dict(meta.config), sort_keys=True, default=str),
                    meta.env_id, branch,
                    None if git.get("dirty") is None else int(bool(git.get("dirty"))),
                    meta.ragcost_version, price_rates_hash(runs), meta.project,
                ),
            )
            b.executemany(
                "INSERT INTO run_scenario (run_id, scenario, project, env_id, branch, git_sha,"
                " ts, requests, errors) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [(run_id, scenario, meta.project, meta.env_id, branch, sha, ts, n, errors)
                 for scenario, (n, errors) in rows.scenarios.items()],
            )
            b.executemany(
                "INSERT INTO request (id, run_id, scenario, idx, trace_id, wall_ms, cpu_ms,"
                " energy_j, status, item_id, nodeid) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows.requests,
            )
            b.executemany(
                "INSERT INTO costs (request_id, stage, wall_ms, cpu_ms, gpu_ms, energy_j,"
                " ttft_ms, start_ms, energy_source, metrics_json)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows.costs,
            )
            b.executemany(
                "INSERT INTO tokens (request_id, stage, kind, tokens, model, source)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                rows.tokens,
            )
            b.executemany(
                "INSERT INTO counts (request_id, stage, name, n) VALUES (?, ?, ?, ?)",
                rows.counts,
            )
            b.executemany(
                "INSERT INTO errors (request_id, stage, message) VALUES (?, ?, ?)", rows.errors
            )
            b.executemany(
                "INSERT INTO quality (run_id, scenario, metric, sample, score)"
                " VALUES (?, ?, ?, ?, ?)",
                rows.quality,
            )
            b.executemany(
                "INSERT INTO run_metric (run_id, scenario, metric_key, stat, value, se, n,"
                " source, verdict) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                rows.summaries,
            )
        return run_id

    def has_run(self, run_id: str) -> bool:
        """Whether the run with exactly this id is recorded."""
        return bool(self.backend.query("SELECT 1 FROM run WHERE id = ?", (run_id,)))

    # -- reading: what the gate and the trends need ----------------------------------------
    def summaries(
        self,
        env_id: str,
        scenarios: Iterable[str] | None = None,
        *,
        project: str,
        window: int = DEFAULT_WINDOW,
        before: str | None = None,
        keys: Mapping[str, Collection[tuple[str, str]]] | None = None,
    ) -> dict[str, dict[str, dict[str, list[RunSummary]]]]:
        """scenario -> metric key -> stat -> summaries of the latest ``window`` runs of that
        scenario by ``project`` on environment ``env_id``, newest first (any branch: the
        noise of a machine does not depend on the branch); ``before`` (an ISO 8601 time)
        leaves out runs recorded at or after it (a saved run compared again).

        ``keys`` (scenario -> (metric key, statistic) pairs) limits the read to what the
        noise rule will ask for: a scenario it names reads those pairs only, every other
        scenario its means only (a scenario without budget entries is judged on its
        means). A scenario's run keeps forty-odd summaries; a budget asks for a few."""
        where = ["project = ?", "env_id = ?"]
        params: list[Any] = [project, env_id]
        if before is not None:
            where.append("ts < ?")
            params.append(self.backend.stamp(utc(before)))
        if scenarios is not None:
            wanted = sorted(set(scenarios))
            if not wanted:
                return {}
            where.append(f"scenario IN ({_marks(wanted)})")
            params.extend(wanted)
        latest = self.backend.query(
            "SELECT run_id, scenario, git_sha FROM (SELECT run_id, scenario, git_sha, ts,"
            " ROW_NUMBER() OVER (PARTITION BY scenario ORDER BY ts DESC, run_id) AS k"
            f" FROM run_scenario WHERE {' AND '.join(where)}) l WHERE l.k <= ?"
            " ORDER BY l.scenario, l.ts DESC, l.run_id",
            (*params, window),
        )
        # the summaries in a second query, by run id: joined in one query, a filter on the
        # metrics made PostgreSQL misjudge the rows and scan all of run_metric (seconds
        # at a year of runs), where the run ids find their rows by the primary key
        metric_where, metric_params = "", []
        if keys is not None:
            pairs = {pair for wanted_pairs in keys.values() for pair in wanted_pairs}
            metric_where = " AND (stat = 'mean'"
            if pairs:
                names, stats = sorted({k for k, _ in pairs}), sorted({s for _, s in pairs})
                metric_where += (f" OR metric_key IN ({_marks(names)})"
                                 f" AND stat IN ({_marks(stats)})")
                metric_params = [*names, *stats]
            metric_where += ")"
        found: dict[tuple[str, str], dict[tuple[str, str], tuple[Any, Any, Any]]] = {}
        run_ids = sorted({run_id for run_id, _, _ in latest})
        for chunk in _chunks(run_ids, READ_BATCH_RUNS):
            for run_id, scenario, key, stat, value, se, n in self.backend.query(
                "SELECT run_id, scenario, metric_key, stat, value, se, n FROM run_metric"
                f" WHERE run_id IN ({_marks(chunk)}){metric_where}",
                (*chunk, *metric_params),
            ):
                found.setdefault((run_id, scenario), {})[(key, stat)] = (value, se, n)
        out: dict[str, dict[str, dict[str, list[RunSummary]]]] = {}
        for run_id, scenario, sha in latest:  # newest first within each scenario
            asked = None if keys is None else keys.get(scenario)
            for (key, stat), (value, se, n) in found.get((run_id, scenario), {}).items():
                if keys is not None and ((key, stat) not in asked if asked is not None
                                         else stat != "mean"):
                    continue
                out.setdefault(scenario, {}).setdefault(key, {}).setdefault(stat, []).append(
                    RunSummary(float(value), _num(se), int(n), sha)
                )
        return out

    def earlier_runs(self, env_id: str, *, project: str, window: int = DEFAULT_WINDOW) -> int:
        """How many earlier runs of its busiest scenario ``project`` has on ``env_id``, at
        most ``window`` (what the noise rule can read)."""
        rows = self.backend.query(
            "SELECT MAX(c) FROM (SELECT COUNT(*) AS c FROM run_scenario"
            " WHERE project = ? AND env_id = ? GROUP BY scenario) counted",
            (project, env_id),
        )
        return min(window, int(rows[0][0] or 0)) if rows else 0

    def trend(
        self,
        project: str,
        env_id: str | None,
        lineage: Lineage | None = None,
        scenarios: Iterable[str] | None = None,
        *,
        stat: str = "mean",
        window: int = TREND_WINDOW,
    ) -> list[TrendRun]:
        """The project's runs on environment ``env_id`` (any, if ``None``) that a trend
        of ``lineage`` shows, oldest first, at most ``window`` per scenario: runs of its
        branch and of the commits it was built on (so a branch's trend starts with its
        base's history up to where it forked). Each run carries ``stat`` of every metric.
        """
        where = ["project = ?"]
        params: list[Any] = [project]
        if env_id is not None:
            where.append("env_id = ?")
            params.append(env_id)
        if scenarios is not None:
            wanted = sorted(set(scenarios))
            if not wanted:
                return []
            where.append(f"scenario IN ({_marks(wanted)})")
            params.extend(wanted)
        if lineage is not None:
            clause, more = self._lineage_clause(project, lineage)
            where.append(clause)
            params.extend(more)
        rows = self.backend.query(
            "SELECT l.run_id, l.ts, l.git_sha, l.branch, l.scenario, rm.metric_key, rm.value"
            " FROM (SELECT run_id, scenario, git_sha, branch, ts, ROW_NUMBER() OVER"
            " (PARTITION BY scenario ORDER BY ts DESC, run_id) AS k"
            f" FROM run_scenario WHERE {' AND '.join(where)}) l"
            " JOIN run_metric rm ON rm.run_id = l.run_id AND rm.scenario = l.scenario"
            " AND rm.stat = ? WHERE l.k <= ? ORDER BY l.ts, l.run_id",
            (*params, stat, window),
        )
        runs: dict[str, tuple[datetime, str | None, str | None, dict[str, dict[str, float]]]] = {}
        for run_id, ts, sha, branch, scenario, key, value in rows:
            entry = runs.setdefault(run_id, (utc(ts), sha, branch, {}))
            entry[3].setdefault(scenario, {})[key] = float(value)
        return [TrendRun(run_id, ts, sha, branch, values)
                for run_id, (ts, sha, branch, values) in runs.items()]

    def latest(self, project: str, scenarios: Iterable[str]) -> dict[str, LatestRun]:
        """Per scenario, its latest run by ``project`` on any machine (blesses and A/B
        sides included: each measured what the scenario spends)."""
        wanted = sorted(set(scenarios))
        if not wanted:
            return {}
        rows = self.backend.query(
            "SELECT l.scenario, l.run_id, l.ts, l.requests, rm.metric_key, rm.value"
            " FROM (SELECT run_id, scenario, ts, requests, ROW_NUMBER() OVER"
            " (PARTITION BY scenario ORDER BY ts DESC, run_id) AS k"
            f" FROM run_scenario WHERE project = ? AND scenario IN ({_marks(wanted)})) l"
            " LEFT JOIN run_metric rm ON rm.run_id = l.run_id AND rm.scenario = l.scenario"
            " AND rm.stat = 'mean' WHERE l.k = 1",
            (project, *wanted),
        )
        found: dict[str, tuple[str, datetime, int, dict[str, float]]] = {}
        for scenario, run_id, ts, n, key, value in rows:
            entry = found.setdefault(scenario, (run_id, utc(ts), int(n), {}))
            if key is not None and value is not None:
                entry[3][key] = float(value)
        out: dict[str, LatestRun] = {}
        for scenario, (run_id, ts, n, means) in found.items():
            # a stage that counted tokens without naming its model shows as "": the
            # estimate then leaves the measured dollars as they are
            models = sorted({
                "" if m is None else str(m) for (m,) in self.backend.query(
                    "SELECT DISTINCT t.model FROM tokens t JOIN request q"
                    " ON q.id = t.request_id WHERE q.run_id = ? AND q.scenario = ?",
                    (run_id, scenario),
                )
            })
            out[scenario] = LatestRun(run_id, ts, n, means, tuple(models))
        return out

    def _lineage_clause(self, project: str, lineage: Lineage) -> tuple[str, list[Any]]:
        parts: list[str] = []
        params: list[Any] = []
        if lineage.branch:
            parts.append("branch = ?")
            params.append(lineage.branch)
        if lineage.commits:
            parts.append(f"git_sha IN ({_marks(lineage.commits)})")
            params.extend(lineage.commits)
        if lineage.base and lineage.base != lineage.branch:
            # without the git history (a shallow clone) the fork point is unknown: the
            # base's runs up to this branch's first run stand in for its ancestors
            parts.append(
                "(branch = ? AND ts <= COALESCE((SELECT MIN(f.ts) FROM run_scenario f"
                " WHERE f.project = ? AND f.branch = ?), ?))"
            )
            params.extend([lineage.base, project, lineage.branch or "",
                           self.backend.stamp(datetime.now(UTC))])
        if not parts:
            return "1 = 0", []
        return f"({' OR '.join(parts)})", params

    # -- reading: what `ragcost history` lists, shows and exports --------------------------
    def _run_where(self, where: RunFilter) -> tuple[str, list[Any]]:
        parts: list[str] = []
        params: list[Any] = []
        if where.project is not None:
            parts.append("r.project = ?")
            params.append(where.project)
        if where.branch is not None:
            parts.append("r.branch = ?")
            params.append(where.branch)
        if where.since is not None:
            parts.append("r.ts >= ?")
            params.append(self.backend.stamp(where.since))
        if where.until is not None:
            parts.append("r.ts < ?")
            params.append(self.backend.stamp(where.until))
        if where.scenario is not None:
            parts.append(
                "EXISTS (SELECT 1 FROM run_scenario s WHERE s.run_id = r.id AND s.scenario = ?)"
            )
            params.append(where.scenario)
        return (" WHERE " + " AND ".join(parts)) if parts else "", params

    _RUN_COLUMNS = ("r.id, r.ts, r.project, r.branch, r.git_sha, r.dirty, r.profile, r.env_id,"
                    " r.ragcost_version, r.pruned_at")

    def runs(self, where: RunFilter | None = None, *, limit: int | None = None,
             oldest_first: bool = False) -> list[RunRow]:
        """The runs ``where`` selects, newest first (``oldest_first`` turns that round),
        at most ``limit``."""
        clause, params = self._run_where(where or RunFilter())
        order = "ASC" if oldest_first else "DESC"
        sql = f"SELECT {self._RUN_COLUMNS} FROM run r{clause} ORDER BY r.ts {order}, r.id"
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        rows = self.backend.query(sql, params)
        return self._with_scenarios(rows)

    def _with_scenarios(self, rows: Sequence[Sequence[Any]]) -> list[RunRow]:
        by_run: dict[str, list[tuple[str, int, int]]] = {}
        ids = [str(r[0]) for r in rows]
        for chunk in _chunks(ids, 500):
            for run_id, scenario, n, errors in self.backend.query(
                "SELECT run_id, scenario, requests, errors FROM run_scenario"
                f" WHERE run_id IN ({_marks(chunk)}) ORDER BY scenario",
                list(chunk),
            ):
                by_run.setdefault(run_id, []).append((scenario, int(n), int(errors)))
        out = []
        for run_id, ts, project, branch, sha, dirty, profile, env_id, version, pruned in rows:
            scenarios = by_run.get(run_id, [])
            out.append(RunRow(
                id=run_id, ts=utc(ts), project=project, branch=branch, commit=sha,
                dirty=None if dirty is None else bool(dirty), profile=profile,
                env_id=env_id, ragcost_version=version,
                pruned_at=None if pruned is None else utc(pruned),
                scenarios=tuple(s for s, _, _ in scenarios),
                requests=sum(n for _, n, _ in scenarios),
                errors=sum(e for _, _, e in scenarios),
            ))
        return out

    def run(self, run_id: str) -> RunDetail:
        """One run by its id or an unambiguous prefix of it (at least 4 characters)."""
        text = run_id.strip().lower()
        if len(text) < 4 or not all(c in "0123456789abcdef" for c in text):
            msg = (f"{run_id!r} is not a run id: give the id `ragcost history list` shows "
                   "(at least its first 4 hex digits)")
            raise HistoryError(msg)
        rows = self.backend.query(
            f"SELECT {self._RUN_COLUMNS}, r.config_json, r.price_rates_hash, e.fingerprint_json"
            " FROM run r LEFT JOIN environment e ON e.id = r.env_id"
            " WHERE r.id >= ? AND r.id < ? ORDER BY r.id LIMIT 6",
            (text, text + "g"),
        )
        if not rows:
            raise HistoryError(f"no run {run_id!r} in the history {self.label}")
        if len(rows) > 1:
            ids = ", ".join(str(r[0]) for r in rows[:5])
            msg = f"{run_id!r} names {len(rows)} runs ({ids}...): give more of the id"
            raise HistoryError(msg)
        row = rows[0]
        (run,) = self._with_scenarios([row[:10]])
        metrics = tuple(
            MetricRow(s, k, st, float(v), _num(se), int(n), src, verdict)
            for s, k, st, v, se, n, src, verdict in self.backend.query(
                "SELECT scenario, metric_key, stat, value, se, n, source, verdict"
                " FROM run_metric WHERE run_id = ? ORDER BY scenario, metric_key, stat",
                (run.id,),
            )
        )
        return RunDetail(
            run=run,
            environment=json.loads(row[12]) if row[12] else {},
            config=json.loads(row[10]) if row[10] else {},
            price_rates_hash=row[11],
            metrics=metrics,
        )

    def _batches(self, where: RunFilter) -> Iterator[dict[str, RunRow]]:
        clause, params = self._run_where(where)
        ids = [str(r[0]) for r in self.backend.query(
            f"SELECT r.id FROM run r{clause} ORDER BY r.ts, r.id", params
        )]
        for chunk in _chunks(ids, EXPORT_BATCH_RUNS):
            rows = self.backend.query(
                f"SELECT {self._RUN_COLUMNS} FROM run r WHERE r.id IN ({_marks(chunk)})"
                " ORDER BY r.ts, r.id",
                list(chunk),
            )
            yield {r.id: r for r in self._with_scenarios(rows)}

    def summary_rows(self, where: RunFilter | None = None) -> Iterator[dict[str, Any]]:
        """One row per (run, scenario, metric, statistic) of the runs ``where`` selects,
        oldest run first: what the noise and the trends read, kept by a prune."""
        where = where or RunFilter()
        for runs in self._batches(where):
            scenario_clause = "" if where.scenario is None else " AND scenario = ?"
            rows = self.backend.query(
                "SELECT run_id, scenario, metric_key, stat, value, se, n, source, verdict"
                f" FROM run_metric WHERE run_id IN ({_marks(list(runs))}){scenario_clause}"
                " ORDER BY scenario, metric_key, stat",
                [*runs, *([] if where.scenario is None else [where.scenario])],
            )
            by_run: dict[str, list[Sequence[Any]]] = {}
            for row in rows:
                by_run.setdefault(row[0], []).append(row)
            for run_id, run in runs.items():
                for _, scenario, key, stat, value, se, n, source, verdict in by_run.get(
                    run_id, []
                ):
                    yield {
                        "run_id": run_id, "ts": run.ts.isoformat(), "project": run.project,
                        "branch": run.branch, "commit": run.commit, "env_id": run.env_id,
                        "profile": run.profile, "scenario": scenario, "metric": key,
                        "stat": stat, "value": float(value), "se": _num(se), "n": int(n),
                        "source": source, "verdict": verdict,
                    }

    def request_rows(self, where: RunFilter | None = None) -> Iterator[dict[str, Any]]:
        """One row per request of the runs ``where`` selects (none for a pruned run)."""
        where = where or RunFilter()
        for runs in self._batches(where):
            scenario_clause = "" if where.scenario is None else " AND scenario = ?"
            rows = self.backend.query(
                "SELECT run_id, scenario, idx, item_id, trace_id, status, wall_ms, cpu_ms,"
                f" energy_j FROM request WHERE run_id IN ({_marks(list(runs))})"
                f"{scenario_clause} ORDER BY scenario, idx",
                [*runs, *([] if where.scenario is None else [where.scenario])],
            )
            by_run: dict[str, list[Sequence[Any]]] = {}
            for row in rows:
                by_run.setdefault(row[0], []).append(row)
            for run_id, run in runs.items():
                for _, scenario, idx, item, trace, status, wall, cpu, energy in by_run.get(
                    run_id, []
                ):
                    yield {
                        "run_id": run_id, "ts": run.ts.isoformat(), "project": run.project,
                        "branch": run.branch, "commit": run.commit, "scenario": scenario,
                        "index": int(idx), "item_id": item, "trace_id": trace,
                        "status": status, "wall_ms": _num(wall), "cpu_ms": _num(cpu),
                        "energy_j": _num(energy),
                    }

    # -- retention -------------------------------------------------------------------------
    def prune(
        self,
        keep_days: float,
        *,
        project: str | None = None,
        now: datetime | None = None,
        dry_run: bool = False,
    ) -> PruneResult:
        """Drop the per-request rows (requests, their stage costs, tokens, counts, errors,
        and quality samples) of runs older than ``keep_days`` days, in small transactions;
        keep every run's row, scenarios and summaries, so the between-run noise and the
        trends read the same as before."""
        if not (keep_days >= 0 and math.isfinite(keep_days)):
            raise HistoryError(f"keep_days must be a number of days >= 0 (got {keep_days!r})")
        cutoff = (now or datetime.now(UTC)) - timedelta(days=keep_days)
        b = self.backend
        params: list[Any] = [b.stamp(cutoff)]
        sql = "SELECT id FROM run WHERE ts < ? AND pruned_at IS NULL"
        if project is not None:
            sql += " AND project = ?"
            params.append(project)
        ids = [str(r[0]) for r in b.query(sql + " ORDER BY ts", params)]
        requests = 0
        for chunk in _chunks(ids, PRUNE_BATCH_RUNS):
            marks, args = _marks(chunk), list(chunk)
            (count,) = b.query(f"SELECT COUNT(*) FROM request WHERE run_id IN ({marks})", args)
            requests += int(count[0])
            if dry_run:
                continue
            with b.transaction():
                inner = f"SELECT id FROM request WHERE run_id IN ({marks})"
                for table in ("costs", "tokens", "counts", "errors"):
                    b.execute(f"DELETE FROM {table} WHERE request_id IN ({inner})", args)
                b.execute(f"DELETE FROM request WHERE run_id IN ({marks})", args)
                b.execute(f"DELETE FROM quality WHERE run_id IN ({marks})", args)
                b.execute(f"UPDATE run SET pruned_at = ? WHERE id IN ({marks})",
                          [b.stamp(datetime.now(UTC)), *args])
        return PruneResult(cutoff, len(ids), requests)

    def close(self) -> None:
        self.backend.close()


class _Rows:
    """The rows of one run, built before the transaction opens."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        #: scenario -> (requests, requests with an error)
        self.scenarios: dict[str, tuple[int, int]] = {}
        self.requests: list[tuple[Any, ...]] = []
        self.costs: list[tuple[Any, ...]] = []
        self.tokens: list[tuple[Any, ...]] = []
        self.counts: list[tuple[Any, ...]] = []
        self.errors: list[tuple[Any, ...]] = []
        self.quality: list[tuple[Any, ...]] = []
        self.summaries: list[tuple[Any, ...]] = []

    def add(self, outcome: Outcome, entry_stats: Mapping[str, str]) -> None:
        run = outcome.run
        failed = 0
        for req in run.requests:
            rid = uuid.uuid4().hex
            item_id = getattr(req, "item_id", None)
            status = "error" if req.error or any(st.error for st in req.stages) else "ok"
            failed += status == "error"
            m = req.metrics
            self.requests.append((
                rid, self.run_id, run.scenario, req.index, req.trace_id, _num(m.get("wall_ms")),
                _num(m.get("cpu_ms")), _num(m.get("energy_j")), status,
                None if item_id is None else str(item_id), run.nodeid,
            ))
            if req.error:
                self.errors.append((rid, None, req.error))
            for st in req.stages:
                sm = st.metrics
                other = {
                    k: v for k, v in sm.items()
                    if metric_class(k) == "noisy" and k not in _COST_COLUMNS
                }
                self.costs.append((
                    rid, st.name, *(_num(sm.get(c)) for c in _COST_COLUMNS[:4]),
                    _num(sm.get("ttft_ms")), st.start_ms, st.sources.get("energy_j"),
                    json.dumps(other, sort_keys=True) if other else None,
                ))
                for k, v in sm.items():
                    if k.startswith("tokens_") and k != "tokens_total":
                        self.tokens.append(
                            (rid, st.name, k[len("tokens_"):], float(v), st.model,
                             st.sources.get(k))
                        )
                    elif k.startswith("count_"):
                        self.counts.append((rid, st.name, k[len("count_"):], float(v)))
                if st.error:
                    self.errors.append((rid, st.name, st.error))
        before = self.scenarios.get(run.scenario, (0, 0))
        self.scenarios[run.scenario] = (before[0] + len(run.requests), before[1] + failed)
        verdicts = {v.key: v.status for v in outcome.verdicts}
        summarised: set[tuple[str, str]] = set()
        sources = run.sources()
        for key, values in run.series().items():
            try:
                _, metric = split_key(key)
            except ValueError:
                continue
            kind = metric_class(metric)
            wanted: list[str] = ["mean"]
            if kind in ("noisy", "unknown"):
                wanted = [*SUMMARY_STATS]
            extra = entry_stats.get(key)
            if extra and extra not in wanted:
                wanted.append(extra)
            for stat in wanted:
                try:
                    s = stats.summarize(values, stat)  # type: ignore[arg-type]
                except ValueError:
                    continue  # NaN from a failed meter: nothing to summarise
                summarised.add((key, stat))
                self.summaries.append((
                    self.run_id, run.scenario, key, stat, s.value, s.se, s.n,
                    sources.get(key), verdicts.get(key),
                ))
        for metric, data in outcome.quality.items():
            scores: list[float] = []
            for i, sample in enumerate(data.samples):
                score = _num(sample.value)
                self.quality.append((self.run_id, run.scenario, metric, i, score))
                if score is not None and math.isfinite(score):
                    scores.append(score)
            # the quality's mean joins the summaries, so its trend survives a prune
            if scores and (metric, "mean") not in summarised:
                q = stats.summarize(scores, "mean")
                self.summaries.append((
                    self.run_id, run.scenario, metric, "mean", q.value, q.se, q.n,
                    "quality", verdicts.get(metric),
                ))


def open_store(url: str, default_path: Path, *, project: str,
               on_wait: Callable[[str], None] | None = None) -> Store:
    """Open (creating and migrating as needed) the history ``url`` names, for ``project``
    (which the runs of a store older than projects are given; see :meth:`Store.migrate`).
    ``on_wait`` is told when the store is locked by another run and this one waits.

    Raises :class:`HistoryError` with a message for the user.
    """
    backend = connect(url, default_path, on_wait=on_wait)
    store = Store(backend)
    try:
        store.migrate(project=project)
    except HistoryError:
        backend.close()
        raise
    except Exception as exc:
        backend.close()
        msg = (f"cannot prepare the history {backend.label}: "
               f"{backend.scrub(f'{type(exc).__name__}: {exc}')}")
        raise HistoryError(msg) from None
    return store
