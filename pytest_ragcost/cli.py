"""``ragcost``: the gate without pytest.

    ragcost check [ragcost.yaml]                 validate the file
    ragcost report RUN.json                      the tables of a saved --ragcost-json run
    ragcost report RUN.json --markdown PATH      the verdicts as Markdown
    ragcost report RUN.json --html PATH          the HTML report (--history PAST.json ... for
                                                 trends over earlier runs)
    ragcost export RUN.json --csv DIR            requests.csv and configs.csv
    ragcost export RUN.json --prometheus TARGET  the run's metrics to a .prom file or Pushgateway
    ragcost compare RUN.json [--config FILE] [--strict]
                                                 verdicts of a saved run against a budget file
    ragcost merge RUN.json... -o RUN.json        shard runs of one commit as one run
    ragcost bless RUN.json [--config FILE] [--partial] [--improvements]
                                                 baselines from a saved (or merged) run,
                                                 as --ragcost-update writes them
    ragcost ab REF [--rounds N] [-- PYTEST ARGS] head against a git ref, same job, alternating
    ragcost history list|show|export|prune|record
                                                 the run history (SQLite or PostgreSQL)
    ragcost bisect GOOD BAD [--metric KEY] [-- PYTEST ARGS]
                                                 the first commit that moved a metric
    ragcost estimate [--json] [-- PYTEST ARGS]   what a run would spend, before it runs

An output option takes its path as its value, as the plugin's flags do
(``--ragcost-html=PATH``, ``--ragcost-csv=DIR``); ``-`` sends it to stdout.

``compare`` reaches the same verdicts as the plugin, from the same library code
(:func:`pytest_ragcost.compare.evaluate.evaluate`), pricing the saved tokens with the
file's prices and comparing the saved quality scores with the per-sample baselines beside
it.

Exit codes: 0 all good; 1 a gate failed (``compare`` only; with ``--strict`` also an
INCOMPARABLE, INCONCLUSIVE, NEW or STALE verdict); 2 a usage or input error (a bad
argument, a file that is missing, unreadable or malformed, output that cannot be
written). A CI step can tell "over budget" (1) from "the job is broken" (2).
"""

from __future__ import annotations

import argparse
import io
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from . import __version__
from .run import Outcome, ScenarioRun
from .run.model import Run

if TYPE_CHECKING:
    from .compare.gate import Gate

EXIT_OK = 0
EXIT_GATE_FAILED = 1
EXIT_USAGE = 2
#: stopped by Ctrl-C, SIGTERM or SIGHUP (``ragcost ab``, ``ragcost bisect``; the shell's
#: 128 + SIGINT)
EXIT_INTERRUPTED = 130

_EPILOG = """\
exit codes:
  0  success (compare: no verdict failed)
  1  compare: a gate failed (a FAIL verdict; with --strict also INCOMPARABLE,
     INCONCLUSIVE, NEW or STALE)
  2  usage or input error: bad arguments; a missing, unreadable or malformed file
     (ragcost.yaml or the run JSON); output that cannot be written
  130  ab: stopped by Ctrl-C, SIGTERM or SIGHUP (the base worktree is removed)
"""


class CliError(Exception):
    """A usage or input error; ``str()`` is the message (exit code 2)."""


def _load_run(path: Path) -> Run:
    from .run.codec import RunFileError, read_run

    try:
        return read_run(path)
    except RunFileError as exc:
        raise CliError(str(exc)) from None


def _check(args: argparse.Namespace, out: io.StringIO) -> int:
    from .budget import BudgetError, load

    path = Path(args.path)
    if not path.exists() and not path.is_symlink():
        raise CliError(f"{path}: no such file")
    try:
        budget = load(path)
    except BudgetError as exc:
        raise CliError(str(exc)) from None
    n = sum(len(s.entries) for s in budget.scenarios.values())
    from .report.fmt import count

    out.write(f"{path}: ok ({count(len(budget.scenarios), 'scenario')}, "
              f"{count(n, 'entry', 'entries')})\n")
    return EXIT_OK


def _quality_drop(config: str | None) -> Any:
    """``defaults.quality_drop`` of the named ragcost.yaml, or None (the 1% default)."""
    from .budget import BudgetError, load

    if config is None:
        return None
    path = Path(config)
    if not path.exists() and not path.is_symlink():
        raise CliError(
            f"{path}: no such file (named by --config); give the path of an existing "
            "ragcost.yaml, or leave --config out for the default quality_drop of 1%"
        )
    try:
        return load(path).defaults.quality_drop
    except BudgetError as exc:
        raise CliError(str(exc)) from None


def _write_file(path: Path, text: str) -> None:
    """Write an output file by the rules of :mod:`pytest_ragcost.files` (whole or not at
    all; through symlinks; into devices and pipes; never over a directory)."""
    from .files import write_text_atomic

    try:
        if not path.parent.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, text)
    except OSError as exc:
        raise CliError(f"{path}: cannot write: {exc.strerror or exc}") from None


#: What ``--html`` or ``--markdown`` hold when given without a path (the old spelling).
_BARE = "\0bare"
#: The path that names stdout.
STDOUT = "-"


def _deprecated(old: str, new: str) -> None:
    print(f"ragcost: {old} is deprecated and will be removed; write {new}", file=sys.stderr)


def _report_targets(args: argparse.Namespace) -> tuple[str | None, str | None]:
    """Where the HTML and the Markdown go (a path, ``-`` for stdout, or None), with the
    old spellings mapped onto the new ones: ``--html -o FILE``, and ``--html`` or
    ``--markdown`` without a path (to stdout)."""
    html, markdown = args.html, args.markdown
    if args.run is None:
        # `ragcost report --html run.json`: the old flag took no value, so the run file
        # was read as the flag's path; it is the run
        if html not in (None, _BARE) and markdown is None:
            args.run, html = html, _BARE
        elif markdown not in (None, _BARE) and html is None:
            args.run, markdown = markdown, _BARE
        else:
            raise CliError("report needs the run file: ragcost report RUN.json "
                           "[--markdown PATH] [--html PATH]")
    if args.output is not None:
        if html is None:
            raise CliError("-o/--output goes with --html (the HTML report); write "
                           f"--html {args.output}")
        if html != _BARE:
            raise CliError(f"give the HTML report's path once: --html {html} (-o/--output "
                           "is the old spelling of the same thing)")
        _deprecated("--html -o FILE", f"--html {args.output}")
        html = args.output
    elif html == _BARE:
        _deprecated("--html without a path (to stdout)", "--html PATH, or --html - for stdout")
        html = STDOUT
    if markdown == _BARE:
        _deprecated("--markdown without a path (to stdout)",
                    "--markdown PATH, or --markdown - for stdout")
        markdown = STDOUT
    if html is None and args.history:
        raise CliError("--history goes with --html (the trend charts of the HTML report)")
    if html == STDOUT and markdown == STDOUT:
        raise CliError("--html and --markdown cannot both go to stdout; give one of them a "
                       "path")
    return html, markdown


def _report(args: argparse.Namespace, out: io.StringIO) -> int:
    from .report.markdown import markdown
    from .report.terminal import metrics_table, waterfall_text

    html_to, markdown_to = _report_targets(args)
    saved = _load_run(Path(args.run))
    texts: list[tuple[str, str]] = []
    if html_to is not None:
        from .profile.formats import profile_dir, read_dir
        from .report.outputs import frontiers, html_text, run_summary

        # the run itself is the newest point of every trend
        history = [run_summary(_load_run(Path(p))) for p in args.history]
        if history:
            history.append(run_summary(saved))
        fronts = frontiers(saved.outcomes, _quality_drop(args.config))
        # --ragcost-profile wrote the stage profiles beside the run; unreadable ones are said
        found, unreadable = read_dir(profile_dir(Path(args.run)))
        for problem in unreadable:
            print(f"ragcost: note: {problem}; the report goes on without it", file=sys.stderr)
        texts.append((html_to, html_text(saved.outcomes, saved.environment, fronts,
                                         history=history, created=saved.created,
                                         profiles={p.scenario: p for p in found})))
    if markdown_to is not None:
        texts.append((markdown_to, markdown(saved.outcomes, dict(saved.environment))))
    if texts:
        to_stdout = any(target == STDOUT for target, _ in texts)
        for target, text in texts:
            if target == STDOUT:
                out.write(text)
                continue
            _write_file(Path(target), text)
            note = f"ragcost: wrote {target} ({len(text.encode('utf-8')):,} bytes)"
            if to_stdout:  # stdout carries the report that goes there, and nothing else
                print(_inert(note), file=sys.stderr)
            else:
                out.write(note + "\n")
        return EXIT_OK
    for outcome in saved.outcomes:
        run = outcome.run
        out.write(f"scenario {run.scenario} ({run.nodeid}): {len(run.requests)} requests\n")
        if run.requests:
            out.write(metrics_table(run) + "\n\n")
            out.write(waterfall_text(run) + "\n")
        out.write("\n")
    return EXIT_OK


def _load_gate(config_arg: str | None, saved: Run) -> tuple[Path, Gate]:
    """The budget file ``--config`` names (default ./ragcost.yaml, which may be absent:
    every scenario is NEW then), read for the saved run's environment."""
    from .compare.gate import GateError, load_gate
    from .config import Settings

    explicit = config_arg is not None
    config = Path(config_arg if config_arg is not None else "ragcost.yaml")
    if explicit and not config.exists() and not config.is_symlink():
        raise CliError(
            f"{config}: no such file (named by --config); give the path of an existing "
            "ragcost.yaml, or leave --config out to use ./ragcost.yaml when there is one"
        )
    try:
        gate = load_gate(Settings(enabled=True, config_path=config), saved.environment)
    except GateError as exc:
        raise CliError(str(exc)) from None
    assert gate is not None
    return config, gate


def _compare(args: argparse.Namespace, out: io.StringIO) -> int:
    from .compare.evaluate import QualityScores, evaluate, exit_code, stale_scenarios
    from .quality.gate import scores_path
    from .quality.store import ScoreStoreError, load_scores
    from .report.terminal import verdict_table

    saved = _load_run(Path(args.run))
    config, gate = _load_gate(args.config, saved)
    try:
        store = load_scores(scores_path(gate.path))
    except ScoreStoreError as exc:
        raise CliError(str(exc)) from None
    if not gate.exists:
        # on stderr: stdout holds only the verdict tables
        print(_inert(f"note: {config} not found: every scenario is NEW"), file=sys.stderr)
    measured = [o for o in saved.outcomes if o.run.nodeid or o.run.requests]
    books = _noise_books(args.history, saved, measured, config)
    outcomes = [
        evaluate(o.run, gate, quality=QualityScores.from_outcome(o), stored=store,
                 test_passed=o.test_passed, noise=books.get(o.run.scenario))
        for o in measured
    ]
    if saved.complete:
        for verdict in stale_scenarios(gate, (o.run.scenario for o in outcomes)):
            outcomes.append(Outcome(run=ScenarioRun(verdict.scenario, "", ()),
                                    verdicts=[verdict]))
    for outcome in outcomes:
        if not outcome.verdicts:
            continue
        out.write(f"scenario {outcome.run.scenario}\n")
        out.write(verdict_table(outcome.verdicts) + "\n\n")
    if args.json:
        from dataclasses import replace

        from .report.outputs import run_json

        _write_file(Path(args.json), run_json(replace(saved, outcomes=outcomes)))
    return exit_code(outcomes, strict=args.strict)


def _merge(args: argparse.Namespace, out: io.StringIO) -> int:
    from .report.outputs import run_json
    from .run.merge import MergeError, merge_runs

    runs = [(str(path), _load_run(Path(path))) for path in args.runs]
    try:
        merged = merge_runs(runs)
    except MergeError as exc:
        raise CliError(str(exc)) from None
    run = merged.run
    measured = len(run.outcomes)
    stale = 0
    if run.complete:
        # as the plugin does after a whole run: the budget's scenarios no shard ran
        from .compare.evaluate import stale_scenarios

        _, gate = _load_gate(args.config, run)
        if gate.exists:
            for verdict in stale_scenarios(gate, (o.run.scenario for o in run.outcomes)):
                run.outcomes.append(Outcome(run=ScenarioRun(verdict.scenario, "", ()),
                                            verdicts=[verdict]))
                stale += 1
    _write_file(Path(args.output), run_json(run))
    if merged.incomplete is None:
        what = "complete: the shards ran every test of the suite"
        if stale:
            what += f"; {stale} scenario(s) of the budget file no shard ran are STALE"
    else:
        what = (f"not complete: {merged.incomplete}; no scenario missing from it is called "
                "STALE")
    out.write(f"ragcost: merged {len(runs)} run(s), {measured} scenario(s), into "
              f"{args.output}; {what}\n")
    return EXIT_OK


def _bless(args: argparse.Namespace, out: io.StringIO) -> int:
    from .budget import BudgetError
    from .compare.bless import bless
    from .compare.gate import GateError, load_gate
    from .config import Settings
    from .run.metrics import UpdateMode

    where = Path(args.run)
    saved = _load_run(where)
    if not saved.complete and not args.partial:
        raise CliError(
            f"{where} is not a run of the whole suite ({_why_incomplete(saved)}); bless a "
            "run of the whole suite or a complete ragcost merge of its shards, or give "
            "--partial to write the baselines of the scenarios it ran and leave the others "
            "as they are"
        )
    config = Path(args.config if args.config is not None else "ragcost.yaml")
    mode: UpdateMode = "improvements" if args.improvements else "all"
    try:
        gate = load_gate(Settings(enabled=True, config_path=config, update=mode),
                         saved.environment)
    except GateError as exc:
        raise CliError(str(exc)) from None
    assert gate is not None
    _same_config(where, saved, gate.sha256, config)
    try:
        # the one locked read-merge-write of --ragcost-update
        result = bless(list(saved.outcomes), gate, mode=mode)
    except (BudgetError, OSError, ValueError) as exc:
        raise CliError(f"could not update {config}: {exc}") from None
    from .budget.items import items_path
    from .report.terminal import update_result_lines

    lines = update_result_lines(result.update)
    if result.items_written:
        lines.append(f"ragcost: stored per-item baselines beside the config in "
                     f"{items_path(gate.path).name}: " + ", ".join(result.items_written))
    if result.quality_written:
        lines.append(f"ragcost: stored per-sample baseline scores of "
                     f"{len(result.quality_written)} quality metric(s) beside the config: "
                     + ", ".join(result.quality_written))
    failed = [o.run.scenario for o in saved.outcomes if o.run.requests and not o.test_passed]
    if failed:
        lines.append("ragcost: not blessed (their tests failed): " + ", ".join(failed))
    out.write("\n".join(lines) + "\n")
    return EXIT_OK


def _why_incomplete(saved: Run) -> str:
    sel = saved.selection
    if sel is None:
        return ("complete: false, and it records no selection: node ids, --lf or --sw, or a "
                "file written before pytest-ragcost 0.3")
    if not sel.ran_all:
        return "complete: false: not every test it selected ran to its end"
    return f"complete: false: it selected {len(sel.tests)} of the suite's {sel.suite_size} tests"


def _same_config(where: Path, saved: Run, now: str | None, config: Path) -> None:
    """Refuse a budget file other than the one the run was measured against."""
    then = saved.settings.config_sha256
    if then is None and saved.settings.config_found:
        raise CliError(
            f"{where} records no digest of the ragcost.yaml it read (written before "
            "pytest-ragcost 0.3): it cannot be told apart from another file; bless with "
            "pytest --ragcost --ragcost-update, or a run of this version"
        )
    if then == now:
        return
    if then is None:
        what = f"the run read no budget file, and {config} exists now"
    elif now is None:
        what = f"the run read a budget file (sha256 {then[:12]}), and {config} does not exist"
    else:
        what = (f"{config} has changed since the run (the run read sha256 {then[:12]}, the "
                f"file is now {now[:12]}; a bless or an edit since)")
    raise CliError(
        f"{where} was not measured against {config}: {what}; bless from a run made against "
        "this file (run the suite again), or restore the file the run read"
    )


def _noise_books(
    history: str | None, saved: Run, outcomes: Sequence[Outcome], config: Path
) -> dict[str, Any]:
    """Per scenario, where its noisy metrics take their between-run noise from.

    By default: the noise each verdict of the saved run recorded (so an uploaded run is
    judged as the plugin judged it, without its store), else the history at the default
    place beside the config (``.ragcost/history.sqlite3``) when it exists, read as it was
    before the run; ``--history URL`` reads that store instead; ``--history none`` uses
    the prior alone.
    """
    from .compare.noise import NoiseBook

    if history is not None and history.strip().lower() == "none":
        return {o.run.scenario: NoiseBook() for o in outcomes}
    recorded = {
        o.run.scenario: {v.key: v.noise for v in o.verdicts if v.noise is not None}
        for o in outcomes
    }
    summaries: dict[str, Any] = {}
    url = history
    if url is None and not any(recorded.values()):
        default = config.resolve().parent / ".ragcost" / "history.sqlite3"
        url = str(default) if default.is_file() else None
    if url is not None:
        summaries = _history_summaries(url, saved, config)
    books = {}
    for o in outcomes:
        name = o.run.scenario
        if history is not None:
            books[name] = NoiseBook(summaries.get(name, {}))
        else:
            books[name] = NoiseBook(summaries.get(name, {}), recorded.get(name, {}))
    return books


def _history_summaries(url: str, saved: Run, config: Path) -> dict[str, Any]:
    """Earlier runs' summaries on the saved run's environment, from runs before it."""
    from .config import SettingsError, default_project, history_location
    from .history import HistoryError, open_store

    try:
        where = history_location(url, "--history", config.resolve().parent)
    except SettingsError as exc:
        raise CliError(str(exc)) from None
    if where is None:
        return {}
    try:
        project = saved.settings.project or default_project(config.resolve().parent)
        store = open_store(where, Path(where), project=project)
    except HistoryError as exc:
        print(f"ragcost: warning: history not read: {exc}; noisy metrics are judged on "
              "the prior", file=sys.stderr)
        return {}
    try:
        env_id = str(saved.environment.get("id"))
        return store.summaries(env_id, project=project, before=saved.created or None)
    except Exception as exc:
        from .redact import redact_text, secrets_in

        text = redact_text(f"{type(exc).__name__}: {exc}", secrets_in(url))
        print(f"ragcost: warning: history not read: {text}; noisy metrics are judged on "
              "the prior", file=sys.stderr)
        return {}
    finally:
        store.close()


def _ab(args: argparse.Namespace, out: io.StringIO) -> int:
    from .ab import ABError, run_ab, summary_lines, write_outputs

    try:
        result = run_ab(
            args.ref,
            rounds=args.rounds,
            pytest_args=args.pytest_args,
            config=Path(args.config),
            log=lambda line: print(line, flush=True),
        )
    except ABError as exc:
        print(_inert(f"ragcost ab: {exc}"), file=sys.stderr)
        return 2
    except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM, SIGHUP: one line, no traceback
        line = getattr(exc, "line", None)
        print(line if isinstance(line, str) else "ragcost ab: interrupted; the base "
              "worktree was removed, nothing was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    write_outputs(
        result,
        Path(args.json) if args.json else None,
        Path(args.markdown) if args.markdown else None,
        Path(args.html) if args.html else None,
    )
    out.write("\n".join(summary_lines(result)) + "\n")
    return result.exit_code


def _bisect(args: argparse.Namespace, out: io.StringIO) -> int:
    import signal

    from .bisect import BisectError, run_bisect, summary_lines

    def terminate(signum: int, frame: object) -> None:
        # SIGTERM unwinds like Ctrl-C, so every temporary worktree is removed
        raise KeyboardInterrupt

    old = signal.signal(signal.SIGTERM, terminate)
    try:
        result = run_bisect(
            args.good, args.bad, key=args.metric, scenario=args.scenario,
            pytest_args=args.pytest_args, rounds=args.rounds,
            config=Path(args.config) if args.config else None,
            log=lambda line: print(line, flush=True),
        )
    except BisectError as exc:
        raise CliError(f"bisect: {exc}") from None
    except KeyboardInterrupt:
        print("ragcost bisect: interrupted; its temporary worktrees are removed and the "
              "checkout is as it was", file=sys.stderr, flush=True)
        return EXIT_INTERRUPTED
    finally:
        signal.signal(signal.SIGTERM, old)
    out.write("\n".join(summary_lines(result)) + "\n")
    return EXIT_OK


def _estimate(args: argparse.Namespace, out: io.StringIO) -> int:
    import json

    from .estimate import text, to_json
    from .preflight import collect

    found, est, problem = collect(args.pytest_args)
    if problem is not None:
        raise CliError(f"estimate: {problem}")
    if est is None:
        # pytest's own words: a bad option, a collection error, a bad marker
        lines = [ln for ln in found.output.splitlines() if ln.strip()]
        said = "\n".join(lines[-15:])
        raise CliError(f"estimate: collecting the tests failed (pytest exit code "
                       f"{found.exit_code}):\n{said}")
    if args.json:
        out.write(json.dumps(to_json(est), indent=1) + "\n")
    else:
        out.write(text(est))
    return EXIT_OK


def _export(args: argparse.Namespace, out: io.StringIO) -> int:
    if args.csv is None and args.prometheus is None:
        raise CliError("export needs --csv DIR, --prometheus TARGET or both")
    saved = _load_run(Path(args.run))
    if args.prometheus is not None:
        out.write(_prometheus(args.prometheus, saved) + "\n")
    if args.csv is not None:
        _csv(args, saved, out)
    return EXIT_OK


def _prometheus(target_text: str, saved: Run) -> str:
    """Write or push the saved run's metrics, as ``--ragcost-prometheus`` does at the end
    of a run; an unreachable gateway is a warning, as it is there."""
    from .export import ExtraMissingError, require
    from .export.target import PrometheusTargetError, parse_target

    try:
        target = parse_target(target_text, "--prometheus")
        require("prometheus_client", "prometheus", "--prometheus")
    except (PrometheusTargetError, ExtraMissingError) as exc:
        raise CliError(str(exc)) from None
    from .export.prometheus import export, run_info

    try:
        line = export(target, saved.outcomes, run_info(saved.environment, saved.version))
    except OSError as exc:
        print(_inert(f"ragcost: warning: could not export Prometheus metrics to {target}: "
                     f"{exc.strerror or exc}"), file=sys.stderr)
        return ""
    return f"ragcost: {line}"


def _csv(args: argparse.Namespace, saved: Run, out: io.StringIO) -> None:
    from .report.outputs import csv_texts, frontiers

    fronts = frontiers(saved.outcomes, _quality_drop(args.config))
    directory = Path(args.csv)
    if directory.exists() and not directory.is_dir():
        raise CliError(f"{directory}: is not a directory; --csv names the directory that "
                       "receives requests.csv and configs.csv")
    for name, text in csv_texts(saved.outcomes, fronts, saved.created).items():
        _write_file(directory / name, text)
        out.write(f"ragcost: wrote {directory / name}\n")


def _inert(text: str) -> str:
    from .report.terminal import inert

    return inert(text)


def _emit(text: str) -> str | None:
    """Write ``text`` to stdout; the reason when it cannot be written (a closed pipe is
    not an error: the reader, e.g. ``head``, had what it wanted)."""
    from .report.terminal import inert

    try:
        # names and messages come from files: no escape sequence reaches the terminal raw
        sys.stdout.write(inert(text))
        sys.stdout.flush()
    except BrokenPipeError:
        _silence_stdout()
    except OSError as exc:
        _silence_stdout()
        return exc.strerror or str(exc)
    return None


def _silence_stdout() -> None:
    # The interpreter flushes stdout again at exit; point it at /dev/null so that flush
    # cannot print a second error.
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, io.UnsupportedOperation):
        pass


def _history(args: argparse.Namespace, out: io.StringIO) -> int:
    from .history.command import CommandError, run

    try:
        return run(args, out)
    except CommandError as exc:
        raise CliError(str(exc)) from None


class _Parser(argparse.ArgumentParser):
    """argparse, with any URL it quotes in an error (``unrecognized arguments: ...``)
    stripped of its secrets."""

    def error(self, message: str) -> NoReturn:
        from .redact import redact_text

        super().error(redact_text(message))


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="ragcost",
        description=(__doc__ or "").splitlines()[0],
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"pytest-ragcost {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    p = sub.add_parser("check", help="validate ragcost.yaml (exit 2 with its problems)")
    p.add_argument("path", nargs="?", default="ragcost.yaml")
    p.set_defaults(func=_check)
    p = sub.add_parser("report", help="tables of a saved --ragcost-json run")
    p.add_argument("run", nargs="?", help="the run: a file written by --ragcost-json")
    p.add_argument("--markdown", nargs="?", const=_BARE, metavar="PATH",
                   help="write the verdicts as Markdown to PATH (- for stdout)")
    p.add_argument("--html", nargs="?", const=_BARE, metavar="PATH",
                   help="write the self-contained HTML report to PATH (- for stdout)")
    p.add_argument("-o", "--output", metavar="FILE", help=argparse.SUPPRESS)
    p.add_argument("--history", nargs="*", default=[], metavar="PAST.json",
                   help="earlier --ragcost-json runs, oldest first, for the trend charts")
    p.add_argument("--config", default=None,
                   help="ragcost.yaml whose defaults.quality_drop judges sweeps (default 1%%)")
    p.set_defaults(func=_report)
    p = sub.add_parser("export", help="CSV or Prometheus export of a saved --ragcost-json run")
    p.add_argument("run")
    p.add_argument("--csv", metavar="DIR", help="directory for the CSV files")
    p.add_argument("--prometheus", metavar="TARGET",
                   help="textfile:PATH or pushgateway:URL[?label=value], as "
                   "--ragcost-prometheus (e.g. once, for a run merged from shards)")
    p.add_argument("--config", default=None,
                   help="ragcost.yaml whose defaults.quality_drop judges sweeps (default 1%%)")
    p.set_defaults(func=_export)
    p = sub.add_parser(
        "compare",
        help="verdicts of a saved run against ragcost.yaml (exit 1 when one fails)",
        epilog=_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("run")
    p.add_argument(
        "--config",
        default=None,
        help="the budget file (default: ./ragcost.yaml; without it every scenario is NEW; "
        "a named file that does not exist is an error)",
    )
    p.add_argument("--strict", action="store_true",
                   help="fail on INCOMPARABLE, INCONCLUSIVE, NEW and STALE too "
                   "(like --ragcost-strict)")
    p.add_argument("--json", metavar="PATH", default=None,
                   help="also write the run with the verdicts reached here, as "
                   "--ragcost-json writes it")
    p.add_argument(
        "--history", default=None, metavar="URL|none",
        help="where noisy metrics take their between-run noise from: by default the noise "
        "the run recorded (the plugin's), else the history beside the config "
        "(.ragcost/history.sqlite3) as it was before the run; a SQLite path or "
        "postgresql:// URL reads that store; none uses the prior alone",
    )
    p.set_defaults(func=_compare)
    p = sub.add_parser(
        "merge",
        help="shard runs of one commit, configuration and environment (a CI matrix) as "
        "one run",
    )
    p.add_argument("runs", nargs="+", metavar="RUN.json",
                   help="the shards' --ragcost-json runs")
    p.add_argument("-o", "--output", required=True, metavar="RUN.json",
                   help="where the merged run goes (ragcost compare, report and export "
                   "read it as one run of the whole suite)")
    p.add_argument("--config", default=None,
                   help="the budget file whose scenarios no shard ran are STALE in a "
                   "complete merge, as after a whole run (default: ./ragcost.yaml)")
    p.set_defaults(func=_merge)
    p = sub.add_parser(
        "bless",
        help="write baselines (ragcost.yaml, ragcost.items.json, ragcost.scores.json) from a "
        "saved run, e.g. one ragcost merge made, as --ragcost-update writes them",
        description="Write the baselines of a saved --ragcost-json run (or a run ragcost "
        "merge made of shard runs) into ragcost.yaml and the files beside it, by the same "
        "locked read-merge-write as pytest --ragcost --ragcost-update at the end of that "
        "run. The run must be of the whole suite (complete) unless --partial, and measured "
        "against the budget file as it is now.",
    )
    p.add_argument("run", metavar="RUN.json", help="the saved run")
    p.add_argument("--config", default=None,
                   help="the budget file to write (default: ./ragcost.yaml; created when "
                   "absent, as --ragcost-update creates it)")
    p.add_argument("--partial", action="store_true",
                   help="bless a run that is not of the whole suite: the scenarios it ran, "
                   "leaving the others' baselines as they are")
    p.add_argument("--improvements", action="store_true",
                   help="only lower costs and better scores, as --ragcost-update=improvements")
    p.set_defaults(func=_bless)
    p = sub.add_parser(
        "ab",
        help="same-job A/B: head against a git ref in alternating rounds (pytest args after --)",
    )
    p.add_argument("ref", help="the base: a branch, tag or commit, e.g. origin/main")
    p.add_argument("--rounds", type=int, default=None,
                   help="exactly this many alternating rounds, judged once (default: "
                   "sequential, stopping when the verdicts decide, at most 12 rounds)")
    p.add_argument("--config", default="ragcost.yaml",
                   help="head's ragcost.yaml: which keys, tolerances and severities")
    p.add_argument("--json", metavar="PATH", help="write the A/B runs and verdicts as JSON")
    p.add_argument("--markdown", metavar="PATH", help="write the verdicts as Markdown")
    p.add_argument("--html", metavar="PATH",
                   help="write the HTML report (with --ragcost-profile among the pytest args: "
                   "base and head profiles of each regressed stage, side by side)")
    p.set_defaults(func=_ab)
    from .history.command import add_parser

    add_parser(sub).set_defaults(func=_history)
    p = sub.add_parser(
        "bisect",
        help="the first commit between GOOD and BAD that moved a metric (pytest args after --)",
        description="Measure commits between GOOD and BAD (first parents) in temporary git "
        "worktrees, halving the range each step, and print the first commit that moved the "
        "metric with its value on each side. Exact metrics are compared by value; noisy "
        "ones (times, energy) by the same-job A/B rule against GOOD. The checkout, branch, "
        "index and stash are never touched. The pytest arguments go after --: ragcost "
        "bisect GOOD BAD --metric tokens_context -- tests/test_rag.py",
    )
    p.add_argument("good", help="a commit where the metric was as before (older)")
    p.add_argument("bad", help="a later commit where it had moved, e.g. HEAD")
    p.add_argument("--metric", metavar="KEY", default=None,
                   help="the metric key, e.g. tokens_context or retrieve.wall_ms (default: "
                   "the first that moved from GOOD to BAD)")
    p.add_argument("--scenario", default=None, help="only this scenario (default: all)")
    p.add_argument("--rounds", type=int, default=4,
                   help="alternating rounds per commit for a noisy metric (default 4)")
    p.add_argument("--config", default=None,
                   help="ragcost.yaml whose tolerances judge noisy metrics (default: "
                   "./ragcost.yaml when there is one, else 5%%)")
    p.set_defaults(func=_bisect)
    p = sub.add_parser(
        "estimate",
        help="what a run would spend (requests, tokens, dollars, CPU/GPU seconds, minutes), "
        "before it runs (pytest args after --)",
        description="Collect the tests the pytest arguments select (nothing runs) and add "
        "up what each scenario would spend, from the per-item baselines "
        "(ragcost.items.json), ragcost.yaml, the history and the price table. Items never "
        "measured are counted offline when the test hands ragcost.requests() a module-level "
        "list, else marked unknown. The pytest arguments go after --: ragcost estimate "
        "--json -- tests/ -k qa --ragcost-requests=20",
    )
    p.add_argument("--json", action="store_true",
                   help="print the estimate as JSON (fields in docs/cli.md)")
    p.set_defaults(func=_estimate)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    pytest_args: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, pytest_args = argv[:cut], argv[cut + 1 :]
    args = _parser().parse_args(argv)  # exits 2 on a usage error, as argparse does
    args.pytest_args = pytest_args
    out = io.StringIO()
    try:
        code = int(args.func(args, out))
    except CliError as exc:
        _emit(out.getvalue())
        print(_inert(f"ragcost: {exc}"), file=sys.stderr)
        return EXIT_USAGE
    except (RecursionError, MemoryError) as exc:
        print(f"ragcost: the input is too large or too deep to handle ({type(exc).__name__})",
              file=sys.stderr)
        return EXIT_USAGE
    problem = _emit(out.getvalue())
    if problem is not None:
        print(f"ragcost: cannot write the output: {problem}", file=sys.stderr)
        return EXIT_USAGE
    return code


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
