"""The files and exports a finished run writes on the controller: the JSON run, the
Markdown tables (also appended to ``$GITHUB_STEP_SUMMARY``), the HTML report, the CSV
pair and the Prometheus metrics.

A file that cannot be written, or a report that cannot be rendered, is said and fails
the run; the other outputs are still written. A failed Prometheus export is said and
never fails it (the results themselves are in the JSON, the history and the summary).
Renderers are imported only for the outputs asked for: a run that writes no HTML never
loads jinja2.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .config import Settings
from .files import append_step_summary, write_text_atomic
from .run import Outcome

if TYPE_CHECKING:
    from .compare.frontier import Frontier
    from .compare.gate import Gate
    from .profile.sampler import ScenarioProfile
    from .report.trends import RunSummary
    from .run.model import Run, Selection


@dataclass
class Written:
    """What writing the outputs came to."""

    #: said in the summary as errors
    problems: list[str] = field(default_factory=list)
    #: said in the summary as notes; never fail the run
    notes: list[str] = field(default_factory=list)
    #: how many outputs failed (each one fails the run)
    failed: int = 0
    #: the frontier of every sweep, for the terminal summary
    frontiers: list[Frontier] = field(default_factory=list)


def finished_run(
    outcomes: Sequence[Outcome],
    environment: dict[str, Any],
    settings: Settings,
    gate: Gate | None,
    *,
    complete: bool,
    selection: Selection | None = None,
    xdist_workers: int = 0,
) -> Run:
    """The finished run as one record: what ``--ragcost-json`` writes and what the
    history stores (:func:`pytest_ragcost.runhistory.record_run`), with a new run id."""
    from .run.model import Run, RunSettings

    meters_doc = environment.get("meters")
    if xdist_workers and isinstance(meters_doc, dict):
        # the controller measures nothing itself: its workers shared the machine
        meters_doc["xdist_workers"] = xdist_workers
    # to the microsecond: `ragcost compare` reads the history from before this time, and
    # the history stores this run at this time, while rows written in the same second
    # before the run (a quick run) must still count
    created = dt.datetime.now(dt.UTC).isoformat(timespec="microseconds")
    return Run(
        environment=environment, outcomes=list(outcomes), complete=complete,
        created=created, version=__version__, selection=selection, id=uuid.uuid4().hex,
        settings=RunSettings(
            meters=tuple(settings.meters), requests_cap=settings.requests,
            update=settings.update, strict=settings.strict,
            watts_per_thread=settings.watts_per_thread,
            config=str(settings.config_path) if settings.config_path else None,
            config_found=bool(gate is not None and gate.exists),
            project=settings.project,
            config_sha256=gate.sha256 if gate is not None else None,
        ),
    )


def write_outputs(
    run: Run,
    settings: Settings,
    gate: Gate | None,
    *,
    profiles: Mapping[str, ScenarioProfile] | None = None,
    history: Sequence[RunSummary] = (),
) -> Written:
    """Write every output ``settings`` asks for; never raises for a file or a renderer."""
    out = Written()
    outcomes, environment, created = run.outcomes, dict(run.environment), run.created
    markdown_wanted = settings.markdown_path is not None or bool(
        os.environ.get("GITHUB_STEP_SUMMARY")
    )
    if outcomes:  # the terminal summary shows them too
        out.frontiers = _frontiers(outcomes, gate, out)
    if settings.html_path is not None:
        from .report.outputs import html_text, outcomes_summary

        try:
            # earlier runs from the history, then this run: the newest point of each trend
            trend = [*history, outcomes_summary(outcomes, environment, created)] \
                if history else []
            text = html_text(outcomes, environment, out.frontiers, created=created,
                             profiles=profiles, history=trend)
        except Exception as exc:  # a renderer that breaks is said, as an unwritable file is
            _render_failed(settings.html_path, exc, out)
        else:
            _write(settings.html_path, text, out)
    if settings.csv_dir is not None:
        from .report.outputs import csv_texts

        try:
            texts = csv_texts(outcomes, out.frontiers, created)
        except Exception as exc:
            _render_failed(settings.csv_dir, exc, out)
        else:
            for name, text in texts.items():
                _write(settings.csv_dir / name, text, out)
    if settings.json_path is not None:
        from .report.outputs import run_json

        _write(settings.json_path, run_json(run), out)
    md_text: str | None = None
    if markdown_wanted:
        from .report.markdown import markdown

        md_text = markdown(list(outcomes), environment, out.frontiers)
    if settings.markdown_path is not None and md_text is not None:
        _write(settings.markdown_path, md_text, out)
    if settings.prometheus is not None:
        out.notes.append(_export_prometheus(settings.prometheus, outcomes, environment))
    if (problem := append_step_summary(md_text)) is not None:
        out.problems.append(problem)
    return out


def _frontiers(outcomes: Sequence[Outcome], gate: Gate | None, out: Written) -> list[Frontier]:
    from .report.outputs import frontiers

    drop = gate.budget.defaults.quality_drop if gate is not None else None
    try:
        return frontiers(outcomes, drop)
    except Exception as exc:  # a report problem is said, never a traceback
        out.problems.append(f"could not compute the sweeps' frontiers: {exc}")
        return []


def _export_prometheus(
    target_text: str, outcomes: Sequence[Outcome], environment: dict[str, Any]
) -> str:
    """Write or push the metrics; returns the line that says what happened."""
    from .export.prometheus import export, run_info
    from .export.target import parse_target

    target = parse_target(target_text)
    try:
        return export(target, list(outcomes), run_info(environment, __version__))
    except OSError as exc:
        return (
            f"warning: could not export Prometheus metrics to {target}: "
            f"{exc.strerror or exc}; the run's results are unaffected"
        )


def _render_failed(path: Path, exc: Exception, out: Written) -> None:
    out.problems.append(f"could not render {path}: {type(exc).__name__}: {exc}")
    out.failed += 1


def _write(path: Path, text: str, out: Written) -> None:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        write_text_atomic(path, text)
    except OSError as exc:
        out.problems.append(f"could not write {path}: {exc.strerror or exc}")
        out.failed += 1
