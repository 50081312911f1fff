"""A year of a 20-project organisation in one PostgreSQL history: how fast the reads and
writes a team meets are, how many bytes a run takes, and which indexes earn their keep.

Run:  python benchmarks/bench_history_scale.py            (about 10,400 runs, 1.0M requests)
      python benchmarks/bench_history_scale.py --quick    (a tenth of it, a smoke run)

It starts its own PostgreSQL 15 (Debian's binaries, as the tests do; fsync on, as a real
server has it), creates the history with the package's own migrations, and fills it:
20 projects with 3 to 10 scenarios each, about 100 requests per run (spread over the
scenarios), runs every weekday of a year on main and on feature branches forked from it,
three CI runner types. The rows are the ones :meth:`Store.record` writes: one real run of
100 requests is recorded first and every generated run is a copy of its rows with new
ids, times, commits and scaled values, loaded with COPY.

Then, after ``VACUUM ANALYZE``, each against its target:

- the history read at the start of a run (connect, schema check, the project's noise
  summaries for its environment), over many projects: <= 100 ms;
- the write of a 100-request run (:meth:`Store.record`, summaries included): <= 1 s;
- ``ragcost history list`` as a user runs it (a new process) and its query alone: <= 1 s;
- the bytes per run (tables and indexes), per request, per table;
- the index study: each read with and without each candidate index (dropped inside a
  transaction that is rolled back), so every index is kept by a measurement;
- ``EXPLAIN (ANALYZE, BUFFERS)`` of each read, for docs/team.md;
- a prune to 90 days, and the reads again after it.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

import psycopg  # noqa: E402
from pg_server import postgres_server  # noqa: E402

from pytest_ragcost.history import Lineage, RunFilter, RunMeta, Store, open_store  # noqa: E402
from pytest_ragcost.history.store import _Rows  # noqa: E402
from pytest_ragcost.run import (  # noqa: E402
    Outcome,
    RequestRecord,
    ScenarioRun,
    StageRecord,
    Verdict,
)
from pytest_ragcost.run.model import MetricScores, SampleScore  # noqa: E402

PROJECTS = 20
YEAR_START = datetime(2025, 1, 6, tzinfo=UTC)  # a Monday
ENVS = ("env-ci-small", "env-ci-large", "env-gpu-a10")
#: per-request tables and their columns, in COPY order
TABLES: dict[str, tuple[str, ...]] = {
    "request": ("id", "run_id", "scenario", "idx", "trace_id", "wall_ms", "cpu_ms", "energy_j",
                "status", "item_id", "nodeid"),
    "costs": ("request_id", "stage", "wall_ms", "cpu_ms", "gpu_ms", "energy_j", "ttft_ms",
              "start_ms", "energy_source", "metrics_json"),
    "tokens": ("request_id", "stage", "kind", "tokens", "model", "source"),
    "counts": ("request_id", "stage", "name", "n"),
    "errors": ("request_id", "stage", "message"),
}
HISTORY_TABLES = ("run", "run_scenario", "run_metric", "request", "costs", "tokens",
                  "counts", "errors", "quality", "environment", "schema_version")


# -- one real run, recorded by the store: the template of every generated run --------------

def real_outcomes(requests: int, scenarios: int = 1, seed: int = 0) -> list[Outcome]:
    """A run of ``requests`` requests over ``scenarios`` scenarios, as the recorder makes
    them: a retrieve and a generate stage with times, CPU, energy, tokens and counts;
    one request in a hundred fails; scenario 0 carries two quality metrics."""
    rnd = random.Random(seed)
    out = []
    per = max(1, requests // scenarios)
    for s in range(scenarios):
        reqs = []
        for i in range(per):
            wall = rnd.lognormvariate(6.0, 0.3)
            retrieve = StageRecord(
                "retrieve",
                {"wall_ms": wall * 0.1, "cpu_ms": wall * 0.08, "energy_j": wall * 3e-4,
                 "energy_cpu_j": wall * 3e-4, "tokens_context": float(900 + i % 50),
                 "count_candidates": 8.0},
                {"wall_ms": "timer", "cpu_ms": "timer", "energy_j": "estimated",
                 "energy_cpu_j": "estimated", "tokens_context": "counted",
                 "count_candidates": "given"},
                start_ms=0.2,
            )
            generate = StageRecord(
                "generate",
                {"wall_ms": wall * 0.9, "cpu_ms": wall * 0.7, "energy_j": wall * 2.8e-3,
                 "energy_cpu_j": wall * 2.8e-3, "ttft_ms": wall * 0.3,
                 "tokens_prompt": float(1000 + i % 50), "tokens_completion": float(40 + i % 9),
                 "tokens_total": float(1040 + i % 59), "cost_usd": 0.0002},
                {"wall_ms": "timer", "cpu_ms": "timer", "energy_j": "estimated",
                 "energy_cpu_j": "estimated", "ttft_ms": "timer", "tokens_prompt": "provider",
                 "tokens_completion": "provider", "tokens_total": "derived",
                 "cost_usd": "genai-prices 0.2.3 #b502582e"},
                model="gpt-4o-mini", start_ms=wall * 0.1 + 0.3,
                error="TimeoutError: upstream" if i % 100 == 99 else None,
            )
            reqs.append(RequestRecord(
                trace_id=uuid.UUID(int=rnd.getrandbits(128)).hex, index=i,
                metrics={"wall_ms": wall, "cpu_ms": wall * 0.78, "energy_j": wall * 3.1e-3,
                         "energy_cpu_j": wall * 3.1e-3, "peak_rss_mb": 410.0,
                         "tokens_context": float(900 + i % 50),
                         "tokens_prompt": float(1000 + i % 50),
                         "tokens_completion": float(40 + i % 9),
                         "tokens_total": float(1040 + i % 59),
                         "cost_usd": 0.0002, "errors": 1.0 if i % 100 == 99 else 0.0},
                sources={"wall_ms": "timer", "cpu_ms": "timer", "energy_j": "estimated",
                         "energy_cpu_j": "estimated", "peak_rss_mb": "timer",
                         "tokens_context": "counted", "tokens_prompt": "provider",
                         "tokens_completion": "provider", "tokens_total": "derived",
                         "cost_usd": "genai-prices 0.2.3 #b502582e", "errors": "given"},
                stages=(retrieve, generate),
                item_id=f"item-{i:04d}",
            ))
        quality = {}
        if s == 0:
            quality = {m: MetricScores(m, "deterministic", tuple(
                SampleScore(f"q{i}", "answer", f"question {i}", rnd.random())
                for i in range(per))) for m in ("hit_at_k", "context_recall")}
        out.append(Outcome(
            run=ScenarioRun(f"scenario-{s}", f"tests/test_rag.py::test_s{s}", tuple(reqs)),
            verdicts=[Verdict(f"scenario-{s}", "wall_ms", "PASS", "recorded",
                              note="wall_ms: fine")],
            quality=quality,
        ))
    return out


def run_meta(project: str, env: str, branch: str, sha: str, ts: datetime | None = None,
             profile: str = "run") -> RunMeta:
    environment = {"id": env, "comparable": {"cpu": f"{env} cpu", "cpus": 4},
                   "git": {"commit": sha, "branch": branch, "dirty": False}}
    return RunMeta(environment=environment, ragcost_version="0.3.0", project=project,
                   config={"requests": 100, "meters": ["auto"], "config": "ragcost.yaml",
                           "update": None}, profile=profile, ts=ts)


@dataclass
class Template:
    """The rows one real run of one scenario wrote, as COPY text lines."""

    requests: list[list[str]]  # per request: its request row's fields
    children: list[dict[str, list[str]]]  # per request: table -> lines after request_id
    metrics: list[tuple[str, str, float, str, str, str, str]]  # key, stat, value, se ...
    quality: list[tuple[str, int, str]]  # metric, sample, score


def _cell(value: Any) -> str:
    if value is None:
        return "\\N"
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def capture_template(url: str, requests: int) -> tuple[Template, dict[str, float]]:
    """Record one real run into a scratch database and keep its rows; also time the write
    of a 100-request run on an empty store."""
    store = open_store(url, Path("unused"), project="template")
    outcomes = real_outcomes(requests, scenarios=1)
    started = time.perf_counter()
    run_id = store.record(run_meta("template", ENVS[0], "main", "0" * 40), outcomes)
    empty_write_s = time.perf_counter() - started
    b = store.backend
    reqs = b.query(f"SELECT {', '.join(TABLES['request'])} FROM request WHERE run_id = ?"
                   " ORDER BY idx", (run_id,))
    children: list[dict[str, list[str]]] = []
    for row in reqs:
        rid = row[0]
        lines: dict[str, list[str]] = {}
        for table, cols in TABLES.items():
            if table == "request":
                continue
            got = b.query(f"SELECT {', '.join(cols[1:])} FROM {table} WHERE request_id = ?",
                          (rid,))
            lines[table] = ["\t".join(_cell(v) for v in r) for r in got]
        children.append(lines)
    metrics = [
        (k, st, float(v), _cell(se), _cell(n), _cell(src), _cell(verdict))
        for k, st, v, se, n, src, verdict in b.query(
            "SELECT metric_key, stat, value, se, n, source, verdict FROM run_metric"
            " WHERE run_id = ?", (run_id,))
    ]
    quality = [(m, int(i), _cell(s)) for m, i, s in b.query(
        "SELECT metric, sample, score FROM quality WHERE run_id = ?", (run_id,))]
    store.close()
    template = Template([[_cell(v) for v in r] for r in reqs], children, metrics, quality)
    return template, {"empty_write_s": empty_write_s}


# -- a year of an organisation ---------------------------------------------------------------

@dataclass(frozen=True)
class PlannedRun:
    project: str
    ts: datetime
    branch: str
    sha: str
    env: str
    scenarios: int
    per_scenario: int


def plan_year(runs_wanted: int, seed: int = 1) -> list[PlannedRun]:
    """Every project's runs over a year of weekdays: nightly-ish main runs and feature
    branches of 2-8 runs, each forked from main's commit of the day it started."""
    rnd = random.Random(seed)
    weekdays = [YEAR_START + timedelta(days=d) for d in range(364)
                if (YEAR_START + timedelta(days=d)).weekday() < 5]
    per_project = runs_wanted // PROJECTS
    plan: list[PlannedRun] = []
    for p in range(PROJECTS):
        project = f"project-{p:02d}"
        scenarios = scenario_count(p)
        per_scenario = round(100 / scenarios)
        home, other = ENVS[p % 2], ENVS[2] if p % 5 == 0 else ENVS[(p + 1) % 2]
        main_sha = f"{p:02d}" + "0" * 38
        feature: tuple[str, int] | None = None
        n_feature = 0
        for k in range(per_project):
            day = weekdays[k * len(weekdays) // per_project]
            ts = day + timedelta(hours=8 + rnd.random() * 10)
            if feature is None and rnd.random() < 0.4:
                n_feature += 1
                feature = (f"feature/{project}-{n_feature}", rnd.randint(2, 8))
            if feature is not None:
                branch, left = feature
                sha = uuid.UUID(int=rnd.getrandbits(128)).hex + "0" * 8
                feature = (branch, left - 1) if left > 1 else None
            else:
                branch = "main"
                main_sha = uuid.UUID(int=rnd.getrandbits(128)).hex + "0" * 8
                sha = main_sha
            env = home if rnd.random() < 0.8 else other
            plan.append(PlannedRun(project, ts, branch, sha, env, scenarios, per_scenario))
    plan.sort(key=lambda r: r.ts)
    return plan


class Copier:
    """COPY text per table, sent in batches."""

    def __init__(self, conn: psycopg.Connection[Any]) -> None:
        self.conn = conn
        self.buffers: dict[str, io.StringIO] = {}
        self.rows: dict[str, int] = {}

    def add(self, table: str, line: str) -> None:
        self.buffers.setdefault(table, io.StringIO()).write(line + "\n")
        self.rows[table] = self.rows.get(table, 0) + 1

    def flush(self, columns: dict[str, tuple[str, ...]]) -> None:
        with self.conn.cursor() as cur:
            for table, buffer in self.buffers.items():
                with cur.copy(f"COPY {table} ({', '.join(columns[table])}) FROM STDIN") as cp:
                    cp.write(buffer.getvalue())
        self.conn.commit()
        self.buffers = {}


def fill(url: str, plan: Sequence[PlannedRun], template: Template) -> dict[str, int]:
    """Load the planned runs, copies of the template's rows."""
    columns = dict(TABLES)
    columns |= {
        "run": ("id", "ts", "profile", "git_sha", "config_json", "env_id", "branch", "dirty",
                "ragcost_version", "price_rates_hash", "project"),
        "run_scenario": ("run_id", "scenario", "project", "env_id", "branch", "git_sha", "ts",
                         "requests", "errors"),
        "run_metric": ("run_id", "scenario", "metric_key", "stat", "value", "se", "n",
                       "source", "verdict"),
        "quality": ("run_id", "scenario", "metric", "sample", "score"),
        "environment": ("id", "fingerprint_json"),
    }
    rnd = random.Random(2)
    config = json.dumps({"config": "ragcost.yaml", "meters": ["auto"], "requests": 100,
                         "update": None}, sort_keys=True)
    errors_in = [i for i, c in enumerate(template.children) if c["errors"]]
    with psycopg.connect(url) as conn:
        copier = Copier(conn)
        for env in ENVS:
            copier.add("environment", f"{env}\t" + _cell(json.dumps({"id": env})))
        for n, run in enumerate(plan, 1):
            run_id = uuid.uuid4().hex
            ts = run.ts.isoformat()
            profile = "bless" if rnd.random() < 0.03 else "run"
            copier.add("run", "\t".join((run_id, ts, profile, run.sha, _cell(config), run.env,
                                         run.branch, "0", "0.3.0", "ea41c940a5bd",
                                         run.project)))
            level = rnd.lognormvariate(0.0, 0.05)
            for s in range(run.scenarios):
                scenario = f"scenario-{s}"
                k = run.per_scenario
                errors = sum(1 for i in errors_in if i < k)
                copier.add("run_scenario", "\t".join((
                    run_id, scenario, run.project, run.env, run.branch, run.sha, ts, str(k),
                    str(errors))))
                for i in range(k):
                    rid = uuid.uuid4().hex
                    fields = template.requests[i]
                    wall = "\\N" if fields[5] == "\\N" else repr(float(fields[5]) * level)
                    copier.add("request", "\t".join((
                        rid, run_id, scenario, fields[3], uuid.uuid4().hex, wall, *fields[6:])))
                    for table, lines in template.children[i].items():
                        for line in lines:
                            copier.add(table, f"{rid}\t{line}")
                for key, stat, value, se, count, src, verdict in template.metrics:
                    copier.add("run_metric", "\t".join((
                        run_id, scenario, key, stat, repr(value * level), se, count, src,
                        verdict)))
                if s == 0:
                    for metric, sample, score in template.quality:
                        if sample < k:
                            copier.add("quality", f"{run_id}\t{scenario}\t{metric}\t{sample}"
                                       f"\t{score}")
            if n % 200 == 0 or n == len(plan):
                copier.flush(columns)
                print(f"\r  {n:,} / {len(plan):,} runs", end="", flush=True)
        print()
        return copier.rows


# -- measuring -------------------------------------------------------------------------------

def timed(fn: Callable[[], Any], repeat: int) -> list[float]:
    out = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        out.append(time.perf_counter() - started)
    return out


def ms(values: Sequence[float]) -> str:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return (f"median {statistics.median(values) * 1000:.1f} ms, p95 {p95 * 1000:.1f} ms, "
            f"max {max(values) * 1000:.1f} ms (n={len(values)})")


FIGURES: list[tuple[str, str, str, str]] = []


def figure(name: str, value: str, target: str = "", met: bool | None = None) -> None:
    verdict = "-" if met is None else ("met" if met else "MISSED")
    FIGURES.append((name, value, target, verdict))
    print(f"  {name}: {value}" + (f"   [target {target}: {verdict}]" if target else ""))


#: the noisy entries a bless writes for a scenario of two stages: latency by its median,
#: CPU time and energy by their mean
BUDGET_ENTRIES = frozenset({("wall_ms", "median"), ("cpu_ms", "mean"), ("energy_j", "mean"),
                            ("retrieve.wall_ms", "median"), ("generate.wall_ms", "median")})


def scenario_count(p: int) -> int:
    """How many scenarios project ``p`` has (3 to 10)."""
    return 3 + (p * 7) % 8


def budget_keys(project: str) -> dict[str, set[tuple[str, str]]]:
    """What the plugin reads at the start of a run of ``project`` whose budget file blessed
    every scenario (runhistory.noise_keys): each entry's statistic and its mean."""
    pairs = set(BUDGET_ENTRIES) | {(key, "mean") for key, _ in BUDGET_ENTRIES}
    return {f"scenario-{s}": set(pairs)
            for s in range(scenario_count(int(project.rsplit("-", 1)[1])))}


def noise_read(url: str, project: str, env: str) -> Callable[[], Any]:
    """What the plugin does at the start of a run: open the store, read the summaries its
    budget's noisy entries ask for, count the earlier runs."""
    keys = budget_keys(project)

    def read() -> Any:
        store = open_store(url, Path("unused"), project=project)
        try:
            store.earlier_runs(env, project=project)
            return store.summaries(env, project=project, keys=keys)
        finally:
            store.close()

    return read


def list_command(url: str, *args: str) -> Callable[[], Any]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}

    def run() -> Any:
        done = subprocess.run([sys.executable, "-m", "pytest_ragcost.cli", "history", "list",
                               "--store", url, *args], capture_output=True, text=True,
                              env=env, check=False)
        if done.returncode != 0:
            raise RuntimeError(done.stderr)
        return done.stdout

    return run


#: the reads studied, as SQL the store sends (for EXPLAIN), with example parameters filled
def explained_reads(store: Store, project: str, env: str, branch: str,
                    lineage: Lineage) -> dict[str, tuple[str, list[Any]]]:
    """The SQL of each read and its parameters, captured from the store itself."""
    captured: dict[str, tuple[str, list[Any]]] = {}
    backend = store.backend
    real_query = backend.query

    def capture(name: str) -> Callable[..., Any]:
        def query(sql: str, params: Sequence[Any] = ()) -> Any:
            # a read of two queries (the noise read: the latest runs, then their
            # summaries) is explained query by query
            captured.setdefault(name if name not in captured else f"{name}, its summaries",
                                (sql, list(params)))
            return real_query(sql, params)
        return query

    for name, call in (
        ("noise read (start of a run)",
         lambda: store.summaries(env, project=project, keys=budget_keys(project))),
        ("earlier runs counted (start of a run)",
         lambda: store.earlier_runs(env, project=project)),
        ("trend read (a branch and its base)",
         lambda: store.trend(project, env, lineage)),
        ("history list --project", lambda: store.runs(RunFilter(project=project), limit=50)),
        ("history list (every project)", lambda: store.runs(RunFilter(), limit=50)),
        ("history list --project --branch",
         lambda: store.runs(RunFilter(project=project, branch=branch), limit=50)),
        ("history list --scenario", lambda: store.runs(RunFilter(project=project,
                                                                  scenario="scenario-2"),
                                                        limit=50)),
    ):
        backend.query = capture(name)  # type: ignore[method-assign]
        try:
            call()
        finally:
            backend.query = real_query  # type: ignore[method-assign]
    return captured


def explain(conn: psycopg.Connection[Any], sql: str, params: Sequence[Any]) -> tuple[str, float]:
    conn.execute("SET jit = off")  # as the store's own connection has it
    rows = conn.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql.replace("?", "%s"),
                        params).fetchall()
    text = "\n".join(r[0] for r in rows)
    total = next((float(line.split("Execution Time:")[1].split()[0])
                  for line in text.splitlines() if "Execution Time:" in line), float("nan"))
    return text, total


def best_of(conn: psycopg.Connection[Any], sql: str, params: Sequence[Any],
            repeat: int = 5) -> float:
    """The query's fastest execution time (ms), server side, warm."""
    return min(explain(conn, sql, params)[1] for _ in range(repeat))


#: candidate indexes: name -> (what uses it, the statement that creates it)
CANDIDATES = {
    "run_scenario_latest": "run_scenario(project, scenario, env_id, ts)",
    "run_project_ts": "run(project, ts)",
    "run_ts": "run(ts)",
    "run_env_ts": "run(env_id, ts)",
}
#: alternatives measured against the chosen ones
ALTERNATIVES = {
    "alt_run_scenario_env_first": "run_scenario(project, env_id, scenario, ts)",
    "alt_run_project_branch_ts": "run(project, branch, ts)",
}


def index_study(url: str, reads: dict[str, tuple[str, list[Any]]]) -> list[list[str]]:
    """Each read's best server time with every index, without each candidate, and with
    each alternative added."""
    table = []
    with psycopg.connect(url) as conn:
        base = {name: best_of(conn, sql, params) for name, (sql, params) in reads.items()}
        table.append(["all chosen indexes", *(f"{base[n]:.2f}" for n in reads)])
        for index in CANDIDATES:
            conn.execute(f"DROP INDEX {index}")
            row = [f"without {index}"]
            for sql, params in reads.values():
                row.append(f"{best_of(conn, sql, params, 3):.2f}")
            conn.rollback()
            table.append(row)
        for name, target in ALTERNATIVES.items():
            conn.execute(f"CREATE INDEX {name} ON {target}")
            conn.execute(f"ANALYZE {target.split('(')[0]}")
            row = [f"with {name} {target}"]
            for sql, params in reads.values():
                row.append(f"{best_of(conn, sql, params, 3):.2f}")
            conn.rollback()
            table.append(row)
    return table


def grafana_panels(url: str, start: datetime, end: datetime) -> list[tuple[str, float]]:
    """Each panel query of docs/team.md as Grafana sends it (time filter, variables), its
    best time of three."""
    import re

    text = (ROOT / "docs" / "team.md").read_text()
    out = []
    with psycopg.connect(url) as conn:
        for block in re.findall(r"```sql\n(.*?)```", text, re.S):
            first = block.splitlines()[0]
            if not first.startswith(("-- panel:", "-- variable:")):
                continue
            query = re.sub(r"\$__timeFilter\(([^)]*)\)",
                           rf"\1 BETWEEN '{start.isoformat()}' AND '{end.isoformat()}'", block)
            query = query.replace("$project", "'project-03','project-04'")
            query = query.replace("$metric", "wall_ms")
            best = min(timed(lambda q=query: conn.execute(q).fetchall(), 3))
            out.append((first.split(":", 1)[1].strip(), best))
    return out


def sizes(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {t: int(conn.execute("SELECT pg_total_relation_size(%s)", (t,)).fetchone()[0])
                for t in HISTORY_TABLES}


def counts(url: str) -> dict[str, int]:
    with psycopg.connect(url) as conn:
        return {t: int(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0])
                for t in HISTORY_TABLES}


def markdown_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the data")
    parser.add_argument("--runs", type=int, default=None,
                        help="runs in the year (default 10,400; --quick 1,040)")
    parser.add_argument("--plans", type=Path, default=None,
                        help="also write the EXPLAIN (ANALYZE, BUFFERS) plans to this file")
    args = parser.parse_args(argv)
    runs_wanted = args.runs or (1040 if args.quick else 10_400)
    started = time.perf_counter()
    print("# pytest-ragcost history at scale: PostgreSQL 15, one organisation's year\n")
    print(f"machine: {os.cpu_count()} cpus, load average {os.getloadavg()[0]:.1f} at start")
    with postgres_server(durable=True, settings={"shared_buffers": "256MB"}) as server:
        base = server.rsplit("/", 1)[0]
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute("CREATE DATABASE scratch")
            conn.execute("CREATE DATABASE history")
        scratch, url = f"{base}/scratch", f"{base}/history"
        template, first = capture_template(scratch, 100)
        open_store(url, Path("unused"), project="setup").close()  # the schema, migrated
        plan = plan_year(runs_wanted)
        print(f"\n## Filling: {len(plan):,} runs of {PROJECTS} projects over a year")
        fill_started = time.perf_counter()
        rows = fill(url, plan, template)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        fill_s = time.perf_counter() - fill_started
        n = counts(url)
        print(f"  loaded in {fill_s:.0f} s (COPY, then VACUUM ANALYZE): "
              + ", ".join(f"{t} {n[t]:,}" for t in HISTORY_TABLES if n[t]))
        figure("runs", f"{n['run']:,}", ">= 10,000", n["run"] >= 10_000)
        figure("request rows", f"{n['request']:,}", ">= 1,000,000", n["request"] >= 1_000_000)
        del rows

        # a busy project, its usual environment, a branch with runs, that branch's lineage
        project = "project-03"
        env = ENVS[1]
        feature = next(r for r in reversed(plan) if r.project == project
                       and r.branch != "main")
        before_fork = [r.sha for r in plan if r.project == project and r.branch == "main"
                       and r.ts < min(x.ts for x in plan if x.branch == feature.branch)]
        lineage = Lineage(feature.branch,
                          tuple(r.sha for r in plan if r.branch == feature.branch)[::-1]
                          + tuple(reversed(before_fork[-500:])))

        print("\n## The history read at the start of a run (connect, schema check, noise)")
        reads = []
        for p in range(PROJECTS):
            proj = f"project-{p:02d}"
            reads += timed(noise_read(url, proj, ENVS[p % 2]), 5)
        summaries = noise_read(url, project, env)()
        runs_read = max(len(v) for keys in summaries.values() for st in keys.values()
                        for v in st.values())
        figure("start-of-run read, 20 projects x 5", ms(reads), "<= 100 ms",
               statistics.median(reads) <= 0.1 and max(reads) <= 0.1)
        opening = timed(lambda: open_store(url, Path("unused"), project=project).close(), 20)
        figure("  of which opening (connect, schema check)", ms(opening))
        held = open_store(url, Path("unused"), project=project)
        keys = budget_keys(project)
        querying = timed(lambda: held.summaries(env, project=project, keys=keys), 20)
        figure("  of which the noise query and its rows (5 noisy entries per scenario)",
               ms(querying))
        every = timed(lambda: held.summaries(env, project=project), 20)
        figure("  for scale: every summary of those runs (42 per scenario)", ms(every))
        held.close()
        figure(f"  of which {project}: scenarios / runs per scenario read",
               f"{len(summaries)} / {runs_read}")
        store = open_store(url, Path("unused"), project=project)
        trend_s = timed(lambda: store.trend(project, env, lineage), 10)
        got = store.trend(project, env, lineage)
        figure(f"trend read of {feature.branch} ({len(got)} runs)", ms(trend_s))

        print("\n## The write of a 100-request run (Store.record, summaries included)")
        outcomes = real_outcomes(100, scenarios=4, seed=7)
        writes = timed(lambda: store.record(run_meta(project, env, "main", "f" * 40),
                                            outcomes), 20)
        figure("write of a 100-request run (4 scenarios)", ms(writes), "<= 1 s",
               max(writes) <= 1.0)
        building = timed(lambda: [_Rows("x").add(o, {}) for o in outcomes], 5)
        figure("  of which building its rows and summaries (no database)", ms(building))
        figure("same write into an empty store", f"{first['empty_write_s'] * 1000:.1f} ms")

        print("\n## ragcost history list")
        list_q = timed(lambda: store.runs(RunFilter(project=project), limit=50), 20)
        figure("list query (--project, 50 runs)", ms(list_q), "<= 1 s", max(list_q) <= 1.0)
        list_all = timed(lambda: store.runs(RunFilter(), limit=50), 20)
        figure("list query (every project, 50 runs)", ms(list_all), "<= 1 s",
               max(list_all) <= 1.0)
        list_scn = timed(lambda: store.runs(RunFilter(project=project, scenario="scenario-2",
                                                      since=datetime.now(UTC) - timedelta(
                                                          days=3650)), limit=50), 20)
        figure("list query (--project --scenario --since)", ms(list_scn), "<= 1 s",
               max(list_scn) <= 1.0)
        cmd = timed(list_command(url, "--project", project), 5)
        figure("`ragcost history list --project` (a new process)", ms(cmd), "<= 1 s",
               max(cmd) <= 1.0)
        cmd_all = timed(list_command(url), 5)
        figure("`ragcost history list` (a new process, every project)", ms(cmd_all),
               "<= 1 s", max(cmd_all) <= 1.0)
        python_only = timed(lambda: subprocess.run([sys.executable, "-c", "pass"], check=True),
                            5)
        figure("  for scale: a bare `python -c pass`", ms(python_only))

        print("\n## Bytes per run")
        size = sizes(url)
        total = sum(size.values())
        n = counts(url)
        figure("database tables and indexes", f"{total / 2**20:,.0f} MiB for {n['run']:,} runs "
               f"and {n['request']:,} requests")
        figure("bytes per run", f"{total / n['run'] / 1024:,.1f} KiB "
               f"({total / n['request']:,.0f} bytes per request)")
        figure("bytes per run, summaries only (run, run_scenario, run_metric, environment)",
               f"{sum(size[t] for t in ('run', 'run_scenario', 'run_metric', 'environment')) / n['run'] / 1024:,.1f} KiB")  # noqa: E501
        print("  " + ", ".join(f"{t} {size[t] / 2**20:,.1f} MiB" for t in HISTORY_TABLES))
        with psycopg.connect(url) as conn:
            indexes = conn.execute(
                "SELECT indexrelname, pg_relation_size(indexrelid) FROM pg_stat_user_indexes"
                " ORDER BY 2 DESC").fetchall()
        print("  indexes: " + ", ".join(f"{name} {size / 2**20:,.1f} MiB"
                                        for name, size in indexes))

        print("\n## Index study: best server time (ms) of each read, warm")
        explained = explained_reads(store, project, env, feature.branch, lineage)
        study = index_study(url, explained)
        print(markdown_table(["indexes", *explained], study))
        plans: list[str] = []
        with psycopg.connect(url) as conn:
            for name, (sql, params) in explained.items():
                text, _ = explain(conn, sql, params)
                plans.append(f"### {name}\n\n```sql\n{sql}\n```\n\n```text\n{text}\n```\n")
        if args.plans is not None:
            args.plans.write_text("\n".join(plans))
            print(f"\n  plans written to {args.plans}")
        else:
            print("\n## EXPLAIN (ANALYZE, BUFFERS)\n\n" + "\n".join(plans))

        print("\n## The Grafana panels of docs/team.md, 30 days of 2 projects, warm")
        end = max(r.ts for r in plan)
        for name, seconds in grafana_panels(url, end - timedelta(days=30), end):
            figure(f"panel: {name}", f"{seconds * 1000:.1f} ms", "<= 15 s (its role's "
                   "statement_timeout)", seconds <= 15)

        print("\n## Retention: prune to 90 days")
        summaries = noise_read(url, project, env)()
        now = max(r.ts for r in plan) + timedelta(days=1)
        prune_started = time.perf_counter()
        result = store.prune(90, now=now)
        prune_s = time.perf_counter() - prune_started
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        n_after = counts(url)
        figure("prune --keep-days 90", f"{result.runs:,} runs, {result.requests:,} requests "
               f"in {prune_s:.0f} s ({prune_s / max(result.runs, 1) * 1000:.0f} ms per run); "
               f"left: {n_after['request']:,} requests, {n_after['run_metric']:,} summaries")
        size_after = sizes(url)
        figure("database after the prune and VACUUM (space kept for reuse)",
               f"{sum(size_after.values()) / 2**20:,.0f} MiB")
        after = noise_read(url, project, env)()
        figure("noise read after the prune equals the one before", str(after == summaries),
               "True", after == summaries)
        reads_after = timed(noise_read(url, project, env), 20)
        figure("start-of-run read after the prune", ms(reads_after), "<= 100 ms",
               max(reads_after) <= 0.1)
        store.close()
    print(f"\n## Figures (total {time.perf_counter() - started:.0f} s)\n")
    print(markdown_table(["figure", "value", "target", "verdict"], FIGURES))
    return 1 if any(f[3] == "MISSED" for f in FIGURES) else 0


def test_a_small_year_fills_measures_and_explains(tmp_path: Path,
                                                   capsys: Any) -> None:
    """A smoke run on 300 runs (``python -m pytest -p no:ragcost
    benchmarks/bench_history_scale.py``): every read is measured and explained, the
    noise reads the same after a prune, and the scale figures say they are short."""
    plans = tmp_path / "plans.md"
    FIGURES.clear()
    assert main(["--runs", "300", "--plans", str(plans)]) == 1  # fewer than 10,000 runs
    verdicts = {name.strip(): verdict for name, _, _, verdict in FIGURES}
    assert verdicts["runs"] == verdicts["request rows"] == "MISSED"
    assert verdicts["noise read after the prune equals the one before"] == "met"
    explained = plans.read_text()
    assert explained.count("### ") == explained.count("Execution Time:") >= 8
    out = capsys.readouterr().out
    assert "bytes per run: " in out
    assert "| all chosen indexes |" in out


if __name__ == "__main__":
    raise SystemExit(main())
