"""``ragcost history``: list, show, export and prune the run history, and record a saved
run into it.

    ragcost history list   [--store URL] [filters] [--limit N] [--json]
    ragcost history show   RUN_ID [--store URL] [--json]
    ragcost history export [--store URL] [filters] [--requests] [--format csv|json] [-o FILE]
    ragcost history prune  --keep-days N [--store URL] [--project NAME] [--dry-run]
    ragcost history record RUN.json [--store URL] [--config FILE]

Filters: ``--project``, ``--branch``, ``--scenario``, ``--since`` and ``--until`` (an ISO
date or time, UTC unless it says otherwise, or an age such as ``7d``, ``12h``, ``2w``).
The store is a SQLite path or a ``postgresql://`` URL; by default, the history of the
pytest project around the current directory (its ``ragcost_history``, else
``.ragcost/history.sqlite3`` at its rootdir). A URL's password is never printed.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import json
import re
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

#: the runs ``list`` shows unless ``--limit`` says otherwise
DEFAULT_LIMIT = 50

_AGE_RE = re.compile(r"^(\d+(?:\.\d+)?)\s*([mhdw])$")
_AGE_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}

SUMMARY_FIELDS = ("run_id", "ts", "project", "branch", "commit", "env_id", "profile",
                  "scenario", "metric", "stat", "value", "se", "n", "source", "verdict")
REQUEST_FIELDS = ("run_id", "ts", "project", "branch", "commit", "scenario", "index",
                  "item_id", "trace_id", "status", "wall_ms", "cpu_ms", "energy_j")


class CommandError(Exception):
    """A usage or input error of ``ragcost history``; ``str()`` is the message (exit 2)."""


def parse_time(text: str, option: str, *, now: datetime | None = None) -> datetime:
    """``--since``/``--until``: an ISO date or date and time (UTC unless it names its
    offset) or an age before now (``30m``, ``12h``, ``7d``, ``2w``)."""
    value = text.strip()
    age = _AGE_RE.match(value.lower())
    if age:
        delta = timedelta(**{_AGE_UNITS[age.group(2)]: float(age.group(1))})
        return (now or datetime.now(UTC)) - delta
    try:
        when = datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        msg = (f"{option}: {text!r} is not a time; expected an ISO date (2026-01-31), a date "
               "and time (2026-01-31T12:00Z) or an age (30m, 12h, 7d, 2w)")
        raise CommandError(msg) from None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def _positive(kind: type[int] | type[float], what: str) -> Any:
    def parse(text: str) -> int | float:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a {what}") from None
        if not value >= 0 or value != value or value == float("inf"):
            raise argparse.ArgumentTypeError(f"{text!r} is not a {what}")
        return value

    return parse


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Add ``history`` and its commands to the ``ragcost`` parser's subcommands."""
    top: argparse.ArgumentParser = sub.add_parser(
        "history", help="list, show, export, prune and record into the run history (SQLite "
        "or PostgreSQL)",
        description=(__doc__ or "").split("\n\n", 1)[0],
    )
    commands = top.add_subparsers(dest="history_command", required=True, metavar="COMMAND")

    def common(p: argparse.ArgumentParser) -> None:
        p.add_argument("--store", metavar="URL",
                       help="the history: a SQLite path or postgresql://USER@HOST/DB (default: "
                       "this pytest project's ragcost_history, else "
                       ".ragcost/history.sqlite3 at its rootdir)")

    def filters(p: argparse.ArgumentParser) -> None:
        p.add_argument("--project", help="only this project's runs")
        p.add_argument("--branch", help="only runs on this branch")
        p.add_argument("--scenario", help="only runs with this scenario")
        p.add_argument("--since", metavar="TIME",
                       help="runs at or after TIME: 2026-01-31, 2026-01-31T12:00Z, or an age "
                       "such as 7d, 12h, 2w")
        p.add_argument("--until", metavar="TIME", help="runs before TIME (as --since)")

    p = commands.add_parser("list", help="the latest runs, newest first")
    common(p)
    filters(p)
    p.add_argument("--limit", type=_positive(int, "number of runs"), default=DEFAULT_LIMIT,
                   help=f"at most this many runs (default {DEFAULT_LIMIT}; 0 for all)")
    p.add_argument("--json", action="store_true", help="JSON instead of a table")
    p = commands.add_parser("show", help="one run: its commit, environment and summaries")
    p.add_argument("run_id", metavar="RUN_ID", help="a run id, or its first 4+ hex digits")
    common(p)
    p.add_argument("--json", action="store_true", help="JSON instead of text")
    p = commands.add_parser(
        "export", help="per-run summaries (or per-request rows) as CSV or JSON"
    )
    common(p)
    filters(p)
    p.add_argument("--format", choices=("csv", "json"), default="csv",
                   help="csv (default) or json")
    p.add_argument("--requests", action="store_true",
                   help="one row per request instead of per (run, scenario, metric, stat); "
                   "pruned runs have none")
    p.add_argument("-o", "--output", metavar="FILE", help="write to FILE instead of stdout")
    p = commands.add_parser(
        "prune", help="drop per-request rows older than N days, keeping per-run summaries"
    )
    common(p)
    p.add_argument("--keep-days", type=_positive(float, "number of days >= 0"), required=True,
                   metavar="N", help="keep the per-request rows of the last N days")
    p.add_argument("--project", help="only this project's runs (default: every project)")
    p.add_argument("--dry-run", action="store_true", help="say what would go, drop nothing")
    p = commands.add_parser(
        "record",
        help="write a saved run (e.g. one ragcost merge made) into the history, as the "
        "plugin writes a run at its end",
        description="Write a --ragcost-json run, or a run ragcost merge made of shard runs, "
        "into the history as the plugin would have written it at the end of that run: the "
        "same rows, project, branch, commit and environment. A run already recorded (the "
        "same run id) is refused and nothing is written.",
    )
    p.add_argument("run", metavar="RUN.json", help="the saved run")
    common(p)
    p.add_argument("--config", default=None, metavar="FILE",
                   help="the run's ragcost.yaml, whose entries say which statistic each "
                   "metric is summarised by besides the mean and median (default: "
                   "./ragcost.yaml when there is one)")
    return top


def run(args: argparse.Namespace, out: io.StringIO) -> int:
    """Run one ``ragcost history`` command; raises :class:`CommandError` for the user."""
    from . import HistoryError

    if args.history_command == "record":
        return _record(args, out)
    store = _open(args.store)
    try:
        command = args.history_command
        if command == "list":
            _list(store, args, out)
        elif command == "show":
            _show(store, args, out)
        elif command == "export":
            _export(store, args, out)
        else:
            _prune(store, args, out)
    except HistoryError as exc:
        raise CommandError(store.backend.scrub(str(exc))) from None
    finally:
        store.close()
    return 0


def _open(url: str | None, *, creating: bool = False, project: str | None = None) -> Any:
    """The store ``--store`` names (else this pytest project's); a SQLite file that does
    not exist is an error unless ``creating`` (a record creates it, as a run does)."""
    from . import HistoryError, open_store
    from .locate import locate

    here = locate(Path.cwd())
    if url is None:
        if here.store is None:
            msg = (f"{here.ini} turns the history off (ragcost_history = none); name one "
                   "with --store PATH|URL")
            raise CommandError(msg)
        url = here.store
    text = url.strip()
    if not text:
        raise CommandError("--store: empty; give a SQLite path or postgresql://USER@HOST/DB")
    if "://" not in text or text.startswith("sqlite:///"):
        path = Path(text.removeprefix("sqlite:///"))
        from ..redact import redact_url

        shown = redact_url(str(path))  # a libpq key=value string given as the store
        if not path.exists() and not creating:
            msg = (f"no history at {shown} (pytest --ragcost writes one there; --store names "
                   "another: a SQLite path or postgresql://USER@HOST/DB)")
            raise CommandError(msg)
        if path.is_dir():
            raise CommandError(f"{shown} is a directory, not a SQLite history file")
    try:
        # a store older than projects gives its runs this directory's project
        return open_store(text, Path(text), project=project or here.project)
    except HistoryError as exc:
        from ..redact import redact_text, secrets_in

        # a driver's message may quote the URL, password and all
        raise CommandError(redact_text(str(exc), secrets_in(text))) from None
    except Exception as exc:
        from ..redact import redact_text, secrets_in

        raise CommandError(redact_text(f"cannot open the history: {type(exc).__name__}: "
                                       f"{exc}", secrets_in(text))) from None


def _record(args: argparse.Namespace, out: io.StringIO) -> int:
    """``ragcost history record RUN.json``: the saved run into the store, once."""
    from dataclasses import replace

    from ..compare.gate import GateError, load_gate
    from ..config import Settings
    from ..run.codec import RunFileError, read_run
    from ..runhistory import record_run
    from .locate import locate

    where = Path(args.run)
    try:
        saved = read_run(where)
    except RunFileError as exc:
        raise CommandError(f"{exc}; nothing was recorded") from None
    raw = where.read_bytes()
    if not saved.settings.project:
        # a run file older than projects: the project of the directory it is recorded from
        saved = replace(saved, settings=replace(saved.settings,
                                                project=locate(Path.cwd()).project))
    if not saved.id:
        # a run file older than run ids: its bytes name it, so the same file is one run
        saved = replace(saved, id=hashlib.sha256(raw).hexdigest()[:32])
    config = Path(args.config if args.config is not None else "ragcost.yaml")
    if args.config is not None and not config.exists() and not config.is_symlink():
        raise CommandError(f"{config}: no such file (named by --config); give the run's "
                           "ragcost.yaml, or leave --config out")
    try:
        gate = load_gate(Settings(enabled=True, config_path=config), saved.environment) \
            if config.exists() else None
    except GateError as exc:
        raise CommandError(f"{exc}; nothing was recorded") from None
    store = _open(args.store, creating=True, project=saved.settings.project)
    label = store.label
    try:
        if store.has_run(saved.id):
            raise CommandError(
                f"{where}: run {saved.id} is already in the history {label} (recorded by "
                "the run itself, or by an earlier ragcost history record); nothing was "
                "written"
            )
        try:
            record_run(store, saved, gate)
        except Exception as exc:
            if store.has_run(saved.id):  # another record of it won the race
                raise CommandError(f"{where}: run {saved.id} is already in the history "
                                   f"{label}; nothing was written") from None
            raise CommandError(
                f"{where}: not recorded in the history {label}: "
                f"{store.backend.scrub(f'{type(exc).__name__}: {exc}')}; nothing was written"
            ) from None
    finally:
        store.close()
    git = saved.environment.get("git")
    git = git if isinstance(git, dict) else {}
    requests = sum(len(o.run.requests) for o in saved.outcomes)
    scenarios = sum(1 for o in saved.outcomes if o.run.requests)
    branch = git.get("branch") or "-"
    commit = _commit(git.get("commit"), git.get("dirty"))
    state = "complete" if saved.complete else "not complete"
    out.write(f"ragcost: recorded {where} as run {saved.id} in {label}: project "
              f"{saved.settings.project}, {branch} at {commit}, {scenarios} scenario(s), "
              f"{requests} request(s), {state}\n")
    return 0


def _filter(args: argparse.Namespace) -> Any:
    from . import RunFilter

    since = None if args.since is None else parse_time(args.since, "--since")
    until = None if args.until is None else parse_time(args.until, "--until")
    if since is not None and until is not None and since >= until:
        raise CommandError(f"--since ({since:%Y-%m-%d %H:%M}Z) must be before --until "
                           f"({until:%Y-%m-%d %H:%M}Z)")
    return RunFilter(project=args.project, branch=args.branch, scenario=args.scenario,
                     since=since, until=until)


def _when(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M")


def _commit(sha: str | None, dirty: bool | None) -> str:
    if not sha:
        return "-"
    return sha[:10] + ("*" if dirty else "")


def _table(header: tuple[str, ...], rows: Iterable[tuple[str, ...]]) -> str:
    rows = list(rows)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(header)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip(),
             "  ".join("-" * w for w in widths)]
    lines += ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
              for r in rows]
    return "\n".join(lines) + "\n"


def _list(store: Any, args: argparse.Namespace, out: io.StringIO) -> None:
    runs = store.runs(_filter(args), limit=args.limit or None)
    if args.json:
        doc = {"store": store.label, "runs": [r.to_dict() for r in runs]}
        out.write(json.dumps(doc, indent=2) + "\n")
        return
    if not runs:
        out.write(f"no runs in {store.label} match\n")
        return
    out.write(_table(
        ("started (UTC)", "project", "branch", "commit", "profile", "scenarios", "requests",
         "errors", "run"),
        ((_when(r.ts), r.project or "-", r.branch or "-", _commit(r.commit, r.dirty),
          r.profile or "-", str(len(r.scenarios)),
          f"{r.requests}" + (" (pruned)" if r.pruned_at else ""), str(r.errors), r.id[:12])
         for r in runs),
    ))
    more = "" if args.limit == 0 or len(runs) < args.limit else f" (--limit {args.limit})"
    out.write(f"{len(runs)} run(s) in {store.label}, newest first{more}; * = uncommitted "
              "changes\n")


def _show(store: Any, args: argparse.Namespace, out: io.StringIO) -> None:
    detail = store.run(args.run_id)
    run = detail.run
    if args.json:
        doc = {
            "store": store.label, "run": run.to_dict(),
            "environment": dict(detail.environment), "config": dict(detail.config),
            "price_rates_hash": detail.price_rates_hash,
            "metrics": [
                {"scenario": m.scenario, "metric": m.key, "stat": m.stat, "value": m.value,
                 "se": m.se, "n": m.n, "source": m.source, "verdict": m.verdict}
                for m in detail.metrics
            ],
        }
        out.write(json.dumps(doc, indent=2, default=str) + "\n")
        return
    comparable = detail.environment.get("comparable") or {}
    machine = ", ".join(f"{k} {v}" for k, v in comparable.items() if v not in (None, ""))
    lines = [
        f"run {run.id} ({run.profile or 'run'}), {_when(run.ts)} UTC",
        f"project      {run.project or '-'}",
        f"branch       {run.branch or '-'} at {_commit(run.commit, run.dirty)}"
        + (" (uncommitted changes)" if run.dirty else ""),
        f"environment  {run.env_id or '-'}" + (f" ({machine})" if machine else ""),
        f"ragcost      {run.ragcost_version or '-'}"
        + (f", price rates {detail.price_rates_hash}" if detail.price_rates_hash else ""),
        f"requests     {run.requests} ({run.errors} with errors) in {len(run.scenarios)} "
        "scenario(s)",
    ]
    if run.pruned_at is not None:
        lines.append(f"pruned       per-request rows dropped {_when(run.pruned_at)} UTC; "
                     "the summaries below are kept")
    out.write("\n".join(lines) + "\n")
    by_scenario: dict[str, list[Any]] = {}
    for m in detail.metrics:
        by_scenario.setdefault(m.scenario, []).append(m)
    for scenario in run.scenarios or tuple(by_scenario):
        out.write(f"\nscenario {scenario}\n")
        out.write(_table(
            ("metric", "stat", "value", "se", "n", "verdict"),
            ((m.key, m.stat, f"{m.value:.6g}", "-" if m.se is None else f"{m.se:.3g}",
              str(m.n), m.verdict or "-") for m in by_scenario.get(scenario, [])),
        ))


def _export(store: Any, args: argparse.Namespace, out: io.StringIO) -> None:
    where = _filter(args)
    rows: Iterator[dict[str, Any]] = (
        store.request_rows(where) if args.requests else store.summary_rows(where)
    )
    fields = REQUEST_FIELDS if args.requests else SUMMARY_FIELDS
    buffer = io.StringIO()
    count = 0
    if args.format == "csv":
        writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        for row in rows:
            writer.writerow({k: "" if row[k] is None else row[k] for k in fields})
            count += 1
    else:
        buffer.write('{"store": ' + json.dumps(store.label) + ', "level": '
                     + json.dumps("requests" if args.requests else "summaries")
                     + ', "rows": [')
        for row in rows:
            buffer.write(("\n  " if count == 0 else ",\n  ") + json.dumps(row))
            count += 1
        buffer.write("\n]}\n")
    if args.output in (None, "-"):
        out.write(buffer.getvalue())
        return
    from ..files import write_text_atomic

    path = Path(args.output)
    try:
        if not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, buffer.getvalue())
    except OSError as exc:
        raise CommandError(f"{path}: cannot write: {exc.strerror or exc}") from None
    what = "request" if args.requests else "summary"
    out.write(f"ragcost: wrote {path} ({count} {what} row(s) from {store.label})\n")


def _prune(store: Any, args: argparse.Namespace, out: io.StringIO) -> None:
    result = store.prune(args.keep_days, project=args.project, dry_run=args.dry_run)
    scope = f" of project {args.project}" if args.project else ""
    verb = "would drop" if args.dry_run else "dropped"
    out.write(
        f"ragcost: {verb} the per-request rows of {result.runs} run(s){scope} older than "
        f"{_when(result.cutoff)} UTC ({result.requests} request(s)) in {store.label}; "
        "their per-run summaries are kept\n"
    )
    if not args.dry_run and result.runs and store.backend.dialect == "sqlite":
        out.write("ragcost: the SQLite file gives the space back after VACUUM "
                  "(sqlite3 FILE 'VACUUM')\n")
