"""``ragcost``: the gate without pytest.

    ragcost check [ragcost.yaml]                 validate the file; exit 2 with its problems
    ragcost report RUN.json [--markdown]         the tables of a saved --ragcost-json run
    ragcost compare RUN.json [--config FILE] [--strict]
                                                 verdicts of a saved run against a budget file
    ragcost ab REF [--rounds N] [-- PYTEST ARGS] head against a git ref, same job, alternating

``compare`` reaches the same verdicts as the plugin, from the same library code
(:func:`pytest_ragcost.compare.evaluate.evaluate`), pricing the saved tokens with the
file's prices and comparing the saved quality scores with the per-sample baselines beside
it; its exit code is 1 when a verdict fails (0 otherwise), 2 for bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import __version__
from .models import Outcome, ScenarioRun


class CliError(Exception):
    pass


@dataclass(frozen=True)
class SavedRun:
    """A ``--ragcost-json`` document read back: its environment, whether the whole suite
    ran (so a scenario missing from it is STALE), and each scenario's outcome."""

    environment: dict[str, Any]
    complete: bool
    outcomes: list[Outcome]


def _load_run(path: Path) -> SavedRun:
    from .models import RequestRecord, Sample, ScenarioRun

    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise CliError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except json.JSONDecodeError as exc:
        raise CliError(f"{path}:{exc.lineno}: not JSON: {exc.msg}") from None
    if not isinstance(doc, dict) or doc.get("schema_version") != 1:
        raise CliError(
            f"{path}: not a pytest-ragcost run (expected schema_version 1, written by "
            "pytest --ragcost --ragcost-json=PATH)"
        )
    outcomes = []
    try:
        for sc in doc["scenarios"]:
            if not sc["nodeid"]:
                continue  # a STALE placeholder: no test produced the scenario
            run = ScenarioRun(
                scenario=sc["scenario"],
                nodeid=sc["nodeid"],
                warmup=int(sc.get("warmup", 0)),
                requests=tuple(RequestRecord.from_dict(r) for r in sc["requests"]),
                samples=tuple(Sample.from_dict(s) for s in sc.get("samples", [])),
                token_notes={str(k): str(v) for k, v in sc.get("token_notes", {}).items()},
            )
            outcomes.append(
                Outcome(
                    run=run,
                    test_passed=bool(sc.get("test_passed", True)),
                    quality=dict(sc.get("quality") or {}),
                    quality_errors={
                        str(k): str(v) for k, v in (sc.get("quality_errors") or {}).items()
                    },
                )
            )
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise CliError(f"{path}: malformed run record ({type(exc).__name__}: {exc})") from None
    environment = doc.get("environment", {})
    return SavedRun(
        environment if isinstance(environment, dict) else {},
        bool(doc.get("complete", False)),
        outcomes,
    )


def _check(args: argparse.Namespace) -> int:
    from .budget import BudgetError, load

    path = Path(args.path)
    if not path.exists():
        raise CliError(f"{path}: no such file")
    try:
        budget = load(path)
    except BudgetError as exc:
        print(exc, file=sys.stderr)
        return 2
    n = sum(len(s.entries) for s in budget.scenarios.values())
    print(f"{path}: ok ({len(budget.scenarios)} scenarios, {n} entries)")
    return 0


def _report(args: argparse.Namespace) -> int:
    from .report.markdown import markdown
    from .report.terminal import metrics_table, waterfall_text

    saved = _load_run(Path(args.run))
    if args.markdown:
        sys.stdout.write(markdown(saved.outcomes, saved.environment))
        return 0
    for outcome in saved.outcomes:
        run = outcome.run
        print(f"scenario {run.scenario} ({run.nodeid}): {len(run.requests)} requests")
        if run.requests:
            print(metrics_table(run))
            print()
            print(waterfall_text(run))
        print()
    return 0


def _compare(args: argparse.Namespace) -> int:
    from .compare.evaluate import QualityScores, evaluate, exit_code, stale
    from .compare.gate import GateError, load_gate
    from .config import Settings
    from .quality.gate import scores_path
    from .quality.store import ScoreStoreError, load_scores
    from .report.terminal import verdict_table

    saved = _load_run(Path(args.run))
    settings = Settings(enabled=True, config_path=Path(args.config))
    try:
        gate = load_gate(settings, saved.environment)
        assert gate is not None
        store = load_scores(scores_path(gate.path))
    except (GateError, ScoreStoreError) as exc:
        print(exc, file=sys.stderr)
        return 2
    outcomes = [
        evaluate(o.run, gate, quality=QualityScores.from_outcome(o) if o.quality or
                 o.quality_errors else None, stored=store, test_passed=o.test_passed)
        for o in saved.outcomes
    ]
    if saved.complete:
        for verdict in stale(gate, (o.run.scenario for o in outcomes)):
            outcomes.append(Outcome(run=ScenarioRun(verdict.scenario, "", ()),
                                    verdicts=[verdict]))
    for outcome in outcomes:
        if not outcome.verdicts:
            continue
        print(f"scenario {outcome.run.scenario}")
        print(verdict_table(outcome.verdicts))
        print()
    return exit_code(outcomes, strict=args.strict)


def _ab(args: argparse.Namespace) -> int:
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
        print(f"ragcost ab: {exc}", file=sys.stderr)
        return 2
    write_outputs(
        result,
        Path(args.json) if args.json else None,
        Path(args.markdown) if args.markdown else None,
    )
    print("\n".join(summary_lines(result)))
    return result.exit_code


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    pytest_args: list[str] = []
    if "--" in argv:
        cut = argv.index("--")
        argv, pytest_args = argv[:cut], argv[cut + 1 :]
    parser = argparse.ArgumentParser(prog="ragcost", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"pytest-ragcost {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("check", help="validate ragcost.yaml")
    p.add_argument("path", nargs="?", default="ragcost.yaml")
    p.set_defaults(func=_check)
    p = sub.add_parser("report", help="tables of a saved --ragcost-json run")
    p.add_argument("run")
    p.add_argument("--markdown", action="store_true", help="Markdown instead of text")
    p.set_defaults(func=_report)
    p = sub.add_parser("compare", help="verdicts of a saved run against ragcost.yaml")
    p.add_argument("run")
    p.add_argument("--config", default="ragcost.yaml")
    p.add_argument("--strict", action="store_true",
                   help="fail on INCOMPARABLE, INCONCLUSIVE, NEW and STALE too "
                   "(like --ragcost-strict)")
    p.set_defaults(func=_compare)
    p = sub.add_parser(
        "ab",
        help="same-job A/B: head against a git ref in alternating rounds (pytest args after --)",
    )
    p.add_argument("ref", help="the base: a branch, tag or commit, e.g. origin/main")
    p.add_argument("--rounds", type=int, default=6, help="alternating rounds (default 6)")
    p.add_argument("--config", default="ragcost.yaml",
                   help="head's ragcost.yaml: which keys, tolerances and severities")
    p.add_argument("--json", metavar="PATH", help="write the A/B runs and verdicts as JSON")
    p.add_argument("--markdown", metavar="PATH", help="write the verdicts as Markdown")
    p.set_defaults(func=_ab)
    args = parser.parse_args(argv)
    args.pytest_args = pytest_args
    try:
        return int(args.func(args))
    except CliError as exc:
        print(f"ragcost: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
