"""``ragcost``: the gate without pytest.

    ragcost check [ragcost.yaml]                 validate the file; exit 2 with its problems
    ragcost report RUN.json [--markdown]         the tables of a saved --ragcost-json run
    ragcost compare RUN.json [--config FILE]     verdicts of a saved run against a budget file

``compare`` reaches the same verdicts as the plugin, from the same library code; its exit
code is 1 when a verdict fails (0 otherwise), 2 for bad input.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import __version__


class CliError(Exception):
    pass


def _load_run(path: Path) -> list[Any]:
    from .models import Outcome, RequestRecord, Sample, ScenarioRun

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
            run = ScenarioRun(
                scenario=sc["scenario"],
                nodeid=sc["nodeid"],
                warmup=int(sc.get("warmup", 0)),
                requests=tuple(RequestRecord.from_dict(r) for r in sc["requests"]),
                samples=tuple(Sample.from_dict(s) for s in sc.get("samples", [])),
                energy={"token_notes": sc.get("token_notes", {})},
            )
            outcomes.append(Outcome(run=run))
    except (KeyError, TypeError, ValueError) as exc:
        raise CliError(f"{path}: malformed run record ({type(exc).__name__}: {exc})") from None
    return [doc, outcomes]


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

    doc, outcomes = _load_run(Path(args.run))
    if args.markdown:
        sys.stdout.write(markdown(outcomes, doc.get("environment", {})))
        return 0
    for outcome in outcomes:
        run = outcome.run
        print(f"scenario {run.scenario} ({run.nodeid}): {len(run.requests)} requests")
        if run.requests:
            print(metrics_table(run))
            print()
            print(waterfall_text(run))
        print()
    return 0


def _compare(args: argparse.Namespace) -> int:
    from .compare.gate import GateError, load_gate
    from .config import Settings
    from .report.terminal import verdict_table

    doc, outcomes = _load_run(Path(args.run))
    settings = Settings(enabled=True, config_path=Path(args.config))
    try:
        gate = load_gate(settings, doc.get("environment", {}))
    except GateError as exc:
        print(exc, file=sys.stderr)
        return 2
    assert gate is not None
    failed = False
    for outcome in outcomes:
        if not outcome.run.requests:
            continue
        verdicts = gate.evaluate(outcome.run)
        failed = failed or any(v.status == "FAIL" for v in verdicts)
        print(f"scenario {outcome.run.scenario}")
        print(verdict_table(verdicts))
        print()
    return 1 if failed else 0


def main(argv: Sequence[str] | None = None) -> int:
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
    p.set_defaults(func=_compare)
    args = parser.parse_args(argv)
    try:
        return int(args.func(args))
    except CliError as exc:
        print(f"ragcost: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
