"""Shard runs put back together: the runs a CI matrix made of one suite, each job a
slice of it (``-k``, ``-m`` or ``--ragcost-shard=I/N``), become one run that the command
line gates, reports and exports as if the whole suite had run in one job.

Only runs of one commit, one configuration and one environment merge: anything else
would mix measurements the gate must not compare. The merged run is ``complete`` (a
scenario of ragcost.yaml missing from it is STALE) when the shards selected every test
of the same suite between them and each ran all of its tests.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from typing import Any

from .model import JSON, Outcome, Run, RunSettings, Selection


class MergeError(ValueError):
    """Runs that cannot be merged; the message names the field and both values."""


@dataclass(frozen=True)
class Merged:
    """The merged run, and why it is not complete when it is not (None when it is)."""

    run: Run
    incomplete: str | None = None


#: the environment's fields that must be equal, and how a message names them
_ENVIRONMENT = (
    ("system", "environment.system"),
    ("implementation", "environment.implementation"),
    ("python", "environment.python"),
)


def merge_runs(runs: Sequence[tuple[str, Run]]) -> Merged:
    """One run from ``(file name, run)`` pairs of one commit, configuration and
    environment; raises :class:`MergeError` naming what differs, or a scenario that
    two of them measured."""
    if not runs:
        raise MergeError("nothing to merge: name the shard runs (RUN.json ...)")
    first_name, first = runs[0]
    for name, run in runs[1:]:
        _same(first_name, first, name, run)
    outcomes: list[Outcome] = []
    where: dict[str, str] = {}
    for name, run in runs:
        for outcome in run.outcomes:
            scenario = outcome.run.scenario
            if not outcome.run.nodeid and not outcome.run.requests:
                # a shard's judgement of a scenario no test of it ran (STALE): the gate
                # judges the merged run afresh
                continue
            if scenario in where:
                raise MergeError(
                    f"scenario {scenario!r} is in both {where[scenario]} and {name}: shards "
                    "must be disjoint slices of the suite (one -k, -m or --ragcost-shard "
                    "slice per job)"
                )
            where[scenario] = name
            outcomes.append(outcome)
    selection, incomplete = _selection(runs)
    created = min((run.created for _, run in runs if run.created), default="")
    merged = Run(
        environment=first.environment,
        outcomes=outcomes,
        complete=incomplete is None,
        created=created,
        settings=first.settings,
        version=first.version,
        selection=selection,
        id=merged_id([run.id for _, run in runs]),
    )
    return Merged(merged, incomplete)


def merged_id(ids: Sequence[str]) -> str:
    """The merged run's id: one of the shards' ids alone, the same for the same shards in
    any order (merging them again gives a run the history already holds), and empty
    when a shard has none (a run file older than run ids)."""
    if not ids or not all(ids):
        return ""
    if len(set(ids)) == 1:
        return ids[0]
    text = "merge\n" + "\n".join(sorted(ids))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]


def _same(name_a: str, a: Run, name_b: str, b: Run) -> None:
    def differ(field: str, value_a: object, value_b: object) -> None:
        if value_a != value_b:
            raise MergeError(
                f"{name_a} and {name_b} differ in {field}: {value_a!r} in {name_a}, "
                f"{value_b!r} in {name_b}; only runs of one commit, configuration and "
                "environment merge (the jobs of one CI matrix)"
            )

    git_a, git_b = _obj(a.environment.get("git")), _obj(b.environment.get("git"))
    differ("the commit (environment.git.commit)", git_a.get("commit"), git_b.get("commit"))
    differ("uncommitted changes (environment.git.dirty)", git_a.get("dirty"),
           git_b.get("dirty"))
    for s in fields(RunSettings):
        differ(f"settings.{s.name}", getattr(a.settings, s.name), getattr(b.settings, s.name))
    differ("the pytest-ragcost version (tool.version)", a.version, b.version)
    comp_a = _obj(a.environment.get("comparable"))
    comp_b = _obj(b.environment.get("comparable"))
    for key in sorted(set(comp_a) | set(comp_b)):
        differ(f"environment.comparable.{key}", comp_a.get(key), comp_b.get(key))
    differ("the environment id (environment.id)", a.environment.get("id"),
           b.environment.get("id"))
    for key, label in _ENVIRONMENT:
        differ(label, a.environment.get(key), b.environment.get(key))
    pkg_a, pkg_b = _obj(a.environment.get("packages")), _obj(b.environment.get("packages"))
    for key in sorted(set(pkg_a) | set(pkg_b)):
        differ(f"environment.packages.{key}", pkg_a.get(key), pkg_b.get(key))


def _obj(value: JSON) -> Mapping[str, Any]:
    return value if isinstance(value, dict) else {}


def _selection(runs: Sequence[tuple[str, Run]]) -> tuple[Selection | None, str | None]:
    """The merged selection, and why the merged run is not complete (None: it is)."""
    missing = [name for name, run in runs if run.selection is None]
    if missing:
        return None, (
            f"{', '.join(missing)} do(es) not record which tests it selected (written "
            "before pytest-ragcost 0.3, or run with --lf, --sw or node ids)"
        )
    selections = [(name, run.selection) for name, run in runs if run.selection is not None]
    first_name, first = selections[0]
    for name, sel in selections[1:]:
        if (sel.suite_sha256, sel.suite_size) != (first.suite_sha256, first.suite_size):
            return None, (
                f"{first_name} and {name} collected different suites ({first.suite_size} "
                f"and {sel.suite_size} tests): run every shard with the same paths and "
                "options"
            )
    not_all = [name for name, sel in selections if not sel.ran_all]
    tests = tuple(sorted({t for _, sel in selections for t in sel.tests}))
    merged = Selection(suite_sha256=first.suite_sha256, suite_size=first.suite_size,
                       tests=tests, ran_all=not not_all)
    if not_all:
        return merged, (
            f"{', '.join(not_all)} did not run all of its tests (stopped, or a worker "
            "crashed)"
        )
    if len(tests) < first.suite_size:
        return merged, (
            f"the shards selected {len(tests)} of the suite's {first.suite_size} tests"
        )
    return merged, None
