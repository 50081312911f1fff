"""The report files that need more than one renderer: the HTML page and the CSV pair.

The plugin and the ``ragcost`` CLI both call these, so a saved run renders the same
report as the run that wrote it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from ..run import Outcome, Tolerance

if TYPE_CHECKING:
    from ..compare.frontier import Frontier
    from ..profile.sampler import ScenarioProfile
    from ..run.model import Run
    from .trends import RunSummary

DEFAULT_QUALITY_DROP = Tolerance(0.01, relative=True)


def frontiers(outcomes: Sequence[Outcome], quality_drop: Tolerance | None) -> list[Frontier]:
    """The frontier of every sweep in the run (``quality_drop`` defaults to 1%)."""
    from ..compare.frontier import sweeps

    return sweeps(outcomes, quality_drop or DEFAULT_QUALITY_DROP)


def html_text(
    outcomes: Sequence[Outcome],
    environment: Mapping[str, Any],
    fronts: Sequence[Frontier],
    *,
    history: Sequence[RunSummary] = (),
    created: str = "",
    profiles: Mapping[str, ScenarioProfile] | None = None,
) -> str:
    from .html import render

    return render(outcomes, environment, frontiers=fronts, history=history, created=created,
                  profiles=profiles)


def csv_texts(
    outcomes: Sequence[Outcome], fronts: Sequence[Frontier], run_id: str
) -> dict[str, str]:
    """File name -> text of the CSV export."""
    from .csv import CONFIG_FILE, REQUEST_FILE, config_rows, request_rows

    return {
        REQUEST_FILE: request_rows(outcomes, run_id),
        CONFIG_FILE: config_rows(outcomes, fronts),
    }


def run_summary(saved: Run) -> RunSummary:
    """A saved ``--ragcost-json`` run (checked by :func:`pytest_ragcost.run.codec.read_run`) as
    one point of a trend: per scenario, the mean of every metric key over its requests and
    of every quality score."""
    return outcomes_summary(saved.outcomes, saved.environment, saved.created)


def outcomes_summary(outcomes: Sequence[Outcome], environment: Mapping[str, Any],
                     created: str) -> RunSummary:
    """One run's outcomes as one point of a trend (see :func:`run_summary`)."""
    from .summary import summarize_run
    from .trends import RunSummary

    values: dict[str, dict[str, float]] = {}
    for outcome in outcomes:
        row = values.setdefault(outcome.run.scenario, {})
        if outcome.run.requests:
            for key, stats in summarize_run(outcome.run).items():
                mean = stats.get("mean")
                if isinstance(mean, int | float) and math.isfinite(mean):
                    row[key] = float(mean)
        for metric, data in outcome.quality.items():
            mean = data.mean()
            if mean is not None:
                row[metric] = mean
    git = environment.get("git")
    commit = str(git.get("commit") or "")[:8] if isinstance(git, Mapping) else ""
    label = (created or "?")[:16] + (f" {commit}" if commit else "")
    sha = str(git.get("commit") or "") if isinstance(git, Mapping) else ""
    return RunSummary(label, values, commit=sha or None)


def run_json(run: Run) -> str:
    """The ``--ragcost-json`` document of ``run``: the codec's, with each verdict's sentence
    and each scenario's summary written in for readers (both recomputed on reading)."""
    from ..run.codec import dumps, encode_run
    from .summary import summarize_run
    from .verdicts import sentence

    return dumps(encode_run(run, describe=sentence, summary=summarize_run))
