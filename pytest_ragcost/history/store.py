"""The run store: every ``--ragcost`` run written as rows, and read back as per-run summaries.

:func:`open_store` opens (and migrates) the store a ``--ragcost-history`` value names.
:meth:`Store.record` writes one run: the run row with its commit, environment and price
rates hash, each request with its stages' costs, tokens, counts and errors, the quality
scores, and per (scenario, metric, statistic) a summary row with the verdict it got.
:meth:`Store.summaries` gives the comparison rules what they need from earlier runs on
the same environment: one :class:`~pytest_ragcost.compare.stats.RunSummary` per run.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..compare import stats
from ..models import Outcome, ScenarioRun, Stat, metric_class, split_key
from . import schema
from .backends import Backend, HistoryError, connect

#: statistics summarised for every noisy metric (more when a budget entry asks for one)
SUMMARY_STATS: tuple[Stat, ...] = ("mean", "median")
#: how many of the environment's latest runs the noise rule reads
DEFAULT_WINDOW = 30

#: per-stage columns of ``costs``; the other noisy figures go to ``metrics_json``
_COST_COLUMNS = ("wall_ms", "cpu_ms", "gpu_ms", "energy_j", "ttft_ms")


@dataclass(frozen=True)
class RunMeta:
    """What a run row says about the run besides its measurements."""

    environment: Mapping[str, Any]
    ragcost_version: str
    config: Mapping[str, Any] = field(default_factory=dict)
    profile: str = "run"
    ts: datetime | None = None

    @property
    def env_id(self) -> str | None:
        value = self.environment.get("id")
        return None if value is None else str(value)

    @property
    def git(self) -> Mapping[str, Any]:
        return self.environment.get("git") or {}


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
        rows = self.backend.query("SELECT MAX(version) FROM schema_version")
        return int(rows[0][0]) if rows and rows[0][0] is not None else 0

    def migrate(self, target: int = schema.LATEST) -> list[int]:
        """Bring the schema to ``target``; returns the versions applied (none when current)."""
        b = self.backend
        b.execute(schema.render(schema.VERSION_TABLE, b.dialect))
        applied: list[int] = []
        with b.transaction(lock=True):
            current = self.schema_version()
            try:
                todo = schema.steps(current, target)
            except ValueError as exc:
                raise HistoryError(f"{self.label}: {exc}") from None
            for version, statements in todo:
                for statement in statements:
                    b.execute(schema.render(statement, b.dialect))
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
        run_id = uuid.uuid4().hex
        ts = (meta.ts or datetime.now(UTC)).isoformat()
        git = meta.git
        runs = [o.run for o in outcomes if o.run.requests]
        rows = _Rows(run_id)
        for outcome in outcomes:
            if outcome.run.requests:
                rows.add(outcome, (stats_wanted or {}).get(outcome.run.scenario, {}))
        b = self.backend
        with b.transaction():
            if meta.env_id is not None:
                exists = b.query("SELECT 1 FROM environment WHERE id = ?", (meta.env_id,))
                if not exists:
                    b.execute(
                        "INSERT INTO environment (id, fingerprint_json) VALUES (?, ?)",
                        (meta.env_id, json.dumps(dict(meta.environment), sort_keys=True,
                                                 default=str)),
                    )
            b.execute(
                "INSERT INTO run (id, ts, profile, git_sha, config_json, env_id, branch, dirty,"
                " ragcost_version, price_rates_hash) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id, ts, meta.profile, git.get("commit"),
                    json.dumps(dict(meta.config), sort_keys=True, default=str),
                    meta.env_id, git.get("branch"),
                    None if git.get("dirty") is None else int(bool(git.get("dirty"))),
                    meta.ragcost_version, price_rates_hash(runs),
                ),
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

    # -- reading ---------------------------------------------------------------------------
    def summaries(
        self,
        env_id: str,
        scenarios: Iterable[str] | None = None,
        *,
        window: int = DEFAULT_WINDOW,
    ) -> dict[str, dict[str, dict[str, list[stats.RunSummary]]]]:
        """scenario -> metric key -> stat -> summaries of the latest ``window`` runs of that
        scenario on environment ``env_id``, newest first."""
        wanted = None if scenarios is None else set(scenarios)
        rows = self.backend.query(
            "SELECT rm.scenario, rm.metric_key, rm.stat, rm.value, rm.se, rm.n, r.git_sha,"
            " r.id FROM run_metric rm JOIN run r ON r.id = rm.run_id"
            " WHERE r.env_id = ? ORDER BY r.ts DESC, r.id",
            (env_id,),
        )
        out: dict[str, dict[str, dict[str, list[stats.RunSummary]]]] = {}
        runs_seen: dict[str, list[str]] = {}
        for scenario, key, stat, value, se, n, sha, run_id in rows:
            if wanted is not None and scenario not in wanted:
                continue
            seen = runs_seen.setdefault(scenario, [])
            if run_id not in seen:
                if len(seen) >= window:
                    continue
                seen.append(run_id)
            out.setdefault(scenario, {}).setdefault(key, {}).setdefault(stat, []).append(
                stats.RunSummary(float(value), _num(se), int(n), sha)
            )
        return out

    def runs(self) -> list[dict[str, Any]]:
        """Every run row, oldest first (for reports and tests)."""
        cols = ("id", "ts", "profile", "git_sha", "branch", "dirty", "env_id",
                "ragcost_version", "price_rates_hash")
        rows = self.backend.query(f"SELECT {', '.join(cols)} FROM run ORDER BY ts, id")
        return [dict(zip(cols, r, strict=True)) for r in rows]

    def close(self) -> None:
        self.backend.close()


class _Rows:
    """The rows of one run, built before the transaction opens."""

    def __init__(self, run_id: str) -> None:
        self.run_id = run_id
        self.requests: list[tuple[Any, ...]] = []
        self.costs: list[tuple[Any, ...]] = []
        self.tokens: list[tuple[Any, ...]] = []
        self.counts: list[tuple[Any, ...]] = []
        self.errors: list[tuple[Any, ...]] = []
        self.quality: list[tuple[Any, ...]] = []
        self.summaries: list[tuple[Any, ...]] = []

    def add(self, outcome: Outcome, entry_stats: Mapping[str, str]) -> None:
        run = outcome.run
        for req in run.requests:
            rid = uuid.uuid4().hex
            item_id = getattr(req, "item_id", None)
            status = "error" if req.error or any(st.error for st in req.stages) else "ok"
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
        for metric, data in outcome.quality.items():
            for i, sample in enumerate(data.get("samples", []) or []):
                score = sample.get("value") if isinstance(sample, Mapping) else sample
                self.quality.append(
                    (self.run_id, run.scenario, metric, i, _num(score))
                )
        verdicts = {v.key: v.status for v in outcome.verdicts}
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
                self.summaries.append((
                    self.run_id, run.scenario, key, stat, s.value, s.se, s.n,
                    sources.get(key), verdicts.get(key),
                ))


def open_store(url: str, default_path: Path) -> Store:
    """Open (creating and migrating as needed) the history ``url`` names.

    Raises :class:`HistoryError` with a message for the user.
    """
    backend = connect(url, default_path)
    store = Store(backend)
    try:
        store.migrate()
    except HistoryError:
        backend.close()
        raise
    except Exception as exc:
        backend.close()
        msg = f"cannot prepare the history {backend.label}: {type(exc).__name__}: {exc}"
        raise HistoryError(msg) from None
    return store
