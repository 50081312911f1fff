"""The run's link to the history store: earlier runs read at the start, this run
written at the end, on the controller only.

A store that cannot be opened, read or written is said once (a warning and a summary
line) and the run goes on without it, gating noisy metrics on the prior; it never
changes the exit code and never loses the run's other outputs.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .config import Settings

if TYPE_CHECKING:
    from .compare.gate import Gate
    from .compare.noise import RunSummary
    from .history import Store
    from .report.trends import RunSummary as TrendPoint
    from .run.model import Run

#: scenario -> metric key -> stat -> earlier runs' summaries
Runs = dict[str, dict[str, dict[str, list["RunSummary"]]]]


class RunHistory:
    """The history of one run: the open store (or None), the earlier runs it gave, and the
    lines to say in the summary."""

    def __init__(self, settings: Settings, warn: Callable[[str], None],
                 say: Callable[[str], None] | None = None) -> None:
        self.settings = settings
        self._say = say  # a line for the person watching (the store is locked: waiting)
        self.store: Store | None = None
        self.runs: Runs = {}
        #: earlier runs of the busiest scenario here (at most the noise rule's window)
        self.earlier = 0
        #: said in the summary as warnings (never fails the run)
        self.lines: list[str] = []
        self._warn = warn

    def open(self, environment: Mapping[str, Any], gate: Gate | None = None) -> None:
        """Open the store and read earlier runs on this machine: the summaries the noisy
        entries of the budget file ask for, and how many runs there are."""
        if self.settings.history is None:
            return
        if os.environ.get("RAGCOST_AB_SIDE"):
            return  # a side of a same-job A/B (ab.py): its runs are not this tree's history
        # the store's modules (and sqlite3 or psycopg) load only when the history is on
        from .history import open_store

        try:
            self.store = open_store(self.settings.history, Path(self.settings.history),
                                    project=self.settings.project, on_wait=self._say)
            env_id = str(environment.get("id"))
            self.runs = self.store.summaries(env_id, project=self.settings.project,
                                             keys=noise_keys(gate))
            self.earlier = self.store.earlier_runs(env_id, project=self.settings.project)
        except Exception as exc:
            self._failed("not read", exc)

    def header_line(self) -> str | None:
        if self.store is None:
            return None
        return (
            f"history: {self.store.label}, project {self.settings.project} ({self.earlier} "
            "earlier run(s) of these scenarios on this machine)"
        )

    def record(self, run: Run, gate: Gate | None) -> None:
        """Write this run; a failure is said, never raised."""
        if self.store is None:
            return
        try:
            record_run(self.store, run, gate)
        except Exception as exc:
            self._failed("not written", exc)

    def trend(self, environment: Mapping[str, Any],
              scenarios: Sequence[str]) -> list[TrendPoint]:
        """The earlier runs of ``scenarios`` on this machine, oldest first, as the HTML
        report's trend points; none (and a warning) when the store cannot give them."""
        if self.store is None or not scenarios:
            return []
        from .report.trends import RunSummary as Point

        try:
            runs = self.store.trend(self.settings.project, str(environment.get("id")),
                                    scenarios=scenarios)
        except Exception as exc:
            # the store stays open: the run's write still tries, and says if it fails
            self._failed("not read for the trends", exc,
                         "the HTML report is written without trends", close=False)
            return []
        return [Point(r.label, r.values, commit=r.commit) for r in runs]

    def close(self) -> None:
        if self.store is not None:
            with contextlib.suppress(Exception):
                self.store.close()
            self.store = None

    def _failed(self, what: str, exc: BaseException,
                consequence: str = "noisy metrics are gated on the prior",
                *, close: bool = True) -> None:
        from .history import HistoryError
        from .redact import redact_text, secrets_in

        text = str(exc) if isinstance(exc, HistoryError) else f"{type(exc).__name__}: {exc}"
        # a driver's message may quote the URL, password and all
        text = redact_text(text, secrets_in(self.settings.history))
        line = (
            f"history {what}: {text}; {consequence} "
            "(--ragcost-history=none turns the history off)"
        )
        self.lines.append(line)
        if close:
            self.close()
        self._warn(line)


def record_run(store: Store, run: Run, gate: Gate | None) -> str:
    """Write ``run`` into ``store`` as the end of a ``--ragcost`` run writes it, and
    return its id: the plugin's own run, and a saved or merged run that ``ragcost history
    record`` writes, go through here. ``gate`` (the run's ragcost.yaml, if any) says which
    statistic each budget entry gates on, summarised besides the mean and median."""
    from .history import RunMeta

    stats_wanted: dict[str, dict[str, str]] = {}
    if gate is not None:
        for name, scenario in gate.budget.scenarios.items():
            stats_wanted[name] = {k: str(e.stat) for k, e in scenario.entries.items()}
    settings = run.settings
    selection = run.selection
    meta = RunMeta(
        environment=run.environment,
        ragcost_version=run.version or __version__,
        project=settings.project or "",
        profile=profile(settings.update is not None),
        config={
            "requests": settings.requests_cap,
            "meters": list(settings.meters),
            "config": settings.config,
            "update": settings.update,
            "complete": run.complete,
            "selection": None if selection is None else {
                "suite_sha256": selection.suite_sha256,
                "suite_size": selection.suite_size,
                "selected": len(selection.tests),
                "ran_all": selection.ran_all,
            },
        },
        ts=_created(run.created),
        run_id=run.id or None,
    )
    return store.record(meta, list(run.outcomes), stats_wanted=stats_wanted)


def _created(text: str) -> datetime | None:
    """The run's ``created`` time (UTC), or None when it has none."""
    if not text:
        return None
    when = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def noise_keys(gate: Gate | None) -> dict[str, set[tuple[str, str]]]:
    """Scenario -> the (metric key, statistic) pairs whose between-run noise the budget
    file's entries can ask for: its noisy (and unclassified) metrics, by their statistic
    and by their mean (the noise rule's fallback). A scenario the budget does not name is
    judged on its means (:meth:`Store.summaries` reads those for it)."""
    if gate is None:
        return {}
    from .run import metric_class, split_key

    wanted: dict[str, set[tuple[str, str]]] = {}
    for name, scenario in gate.budget.scenarios.items():
        pairs = wanted.setdefault(name, set())
        for key, entry in scenario.entries.items():
            try:
                _, metric = split_key(key)
            except ValueError:
                continue
            if metric_class(metric) in ("noisy", "unknown"):
                pairs.update({(key, str(entry.stat)), (key, "mean")})
    return wanted


def profile(blessing: bool) -> str:
    """How the history labels a run: a bless, a plain run, or one side of a same-job A/B
    (whose runner sets RAGCOST_AB_SIDE in the runs it starts)."""
    side = os.environ.get("RAGCOST_AB_SIDE", "").strip()
    if side in ("base", "head"):
        return f"ab-{side}"
    return "bless" if blessing else "run"
