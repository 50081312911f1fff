"""pytest-xdist: what travels between the controller and its workers.

The controller sends each worker the budget file's text and the history's earlier runs
(``workerinput``), so every worker judges against the same baselines without reading
files or the store itself. Workers measure and judge; each scenario's outcome travels
back on the test's own report as soon as the test finishes (pytest serialises a
report's attributes, and xdist hands the report to the controller's
``pytest_runtest_logreport``), so a worker that dies loses only the test it was
running. The controller alone writes files and the history, and says which worker
crashed and what it lost.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import pytest

from .run import Outcome
from .run.codec import RunFileError, decode_outcome, encode_outcome

if TYPE_CHECKING:
    from .runhistory import Runs

#: ``workerinput`` keys (controller -> worker)
CONFIG_TEXT = "ragcost_config_text"
HISTORY = "ragcost_history"
#: ``workeroutput`` keys (worker -> controller, when the worker finishes)
NOTES = "ragcost_notes"
PROBLEMS = "ragcost_problems"
#: the suite the worker collected and the tests it selected (sorted node ids)
SELECTION = "ragcost_selection"
#: attributes of a worker's test reports (worker -> controller, as each test finishes)
OUTCOME_ATTR = "ragcost_outcome"
PROBLEMS_ATTR = "ragcost_problems"
SCENARIO_ATTR = "ragcost_scenario"
PROFILE_ATTR = "ragcost_profile"


def is_worker(config: pytest.Config) -> bool:
    return hasattr(config, "workerinput")


def worker_input(config: pytest.Config) -> dict[str, Any] | None:
    """What the controller sent this worker, or None on the controller (or without
    xdist)."""
    workerinput: dict[str, Any] | None = getattr(config, "workerinput", None)
    return workerinput


def history_of(workerinput: dict[str, Any]) -> Runs:
    """The earlier runs the controller read from the history."""
    return runs_from_json(workerinput.get(HISTORY) or "{}")


# -- the worker's side -----------------------------------------------------------------
def mark_running(report: pytest.TestReport, scenario: str) -> None:
    """On a worker's setup report: the scenario this test measures, so the controller
    can name it if the worker dies before the test ends."""
    setattr(report, SCENARIO_ATTR, scenario)


def send_outcome(report: pytest.TestReport, outcome: Outcome) -> None:
    """On a worker's call report: the scenario's outcome, as JSON text (a string always
    crosses; a value execnet cannot carry would lose the whole report)."""
    problems: list[str] = []
    setattr(report, OUTCOME_ATTR, json.dumps(transportable(encode_outcome(outcome), problems)))
    if problems:
        setattr(report, PROBLEMS_ATTR, problems)


def send_profile(report: pytest.TestReport, profile: dict[str, Any]) -> None:
    """On a worker's call report: the scenario's kept stage profile
    (``--ragcost-profile``), as JSON text."""
    setattr(report, PROFILE_ATTR, json.dumps(profile))


def send_notes(config: pytest.Config, notes: Sequence[str], problems: Sequence[str]) -> None:
    """On a worker at its end: the notes (exports) and problems not tied to one test."""
    output: dict[str, Any] = config.workeroutput  # type: ignore[attr-defined]
    output[NOTES] = list(notes)
    output[PROBLEMS] = list(problems)


def send_selection(config: pytest.Config, suite: Sequence[str], selected: Sequence[str]) -> None:
    """On a worker after collection: the suite and its selection (every worker collects
    the same ones; the controller collects nothing)."""
    output: dict[str, Any] = config.workeroutput  # type: ignore[attr-defined]
    output[SELECTION] = {"suite": list(suite), "selected": list(selected)}


# -- the controller's side -------------------------------------------------------------
@dataclass
class Crash:
    """A worker that died: its id, what xdist said, the test it was running (if one)
    and that test's scenario (if it had reached its setup's end), and the scenarios
    it had finished, which were kept."""

    worker: str
    error: str
    nodeid: str | None = None
    scenario: str | None = None
    kept: tuple[str, ...] = ()

    def line(self) -> str:
        running = (
            f"while running {self.nodeid}" if self.nodeid is not None else "between tests"
        )
        lost = (
            f"; scenario {self.scenario!r} was not measured" if self.scenario is not None
            else ""
        )
        kept = (
            f"; the {len(self.kept)} scenario(s) it finished are kept: {', '.join(self.kept)}"
            if self.kept else ""
        )
        return f"xdist worker {self.worker} crashed {running} ({self.error}){lost}{kept}"

    def not_blessed(self, config_name: str) -> str | None:
        """The bless's note for what this crash lost, or None when it lost no test."""
        if self.nodeid is None:
            return None
        what = (f"scenario {self.scenario!r} ({self.nodeid})" if self.scenario is not None
                else f"whatever {self.nodeid} measures")
        return (
            f"not blessed: {what}: its worker {self.worker} crashed while running it; "
            f"{config_name} keeps its earlier baselines; run it again to bless it"
        )


class Controller:
    """Registered on the controller: feeds each worker as it starts, keeps each
    scenario's outcome as its test's report arrives, and notes crashed workers."""

    def __init__(
        self,
        config_text: Callable[[], str | None],
        history: Callable[[], Runs],
        keep: Callable[[Outcome], None],
        note: Callable[[str], None],
        problem: Callable[[str], None],
        profile: Callable[[dict[str, Any]], None] = lambda data: None,
    ) -> None:
        self._config_text = config_text
        self._profile = profile
        self._history = history
        self._keep = keep
        self._note = note
        self._problem = problem
        #: workers started (the controller's JSON counts them)
        self.workers = 0
        #: the suite and the selected tests, as the first worker to finish collected them
        self.selection: tuple[list[str], list[str]] | None = None
        self.crashes: list[Crash] = []
        self._running: dict[str, str] = {}  # nodeid -> scenario, from setup reports
        self._kept: dict[str, list[str]] = {}  # worker id -> scenarios received

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        self.workers += 1
        text = self._config_text()
        if text is not None:
            node.workerinput[CONFIG_TEXT] = text
        node.workerinput[HISTORY] = runs_to_json(self._history())

    def pytest_runtest_logreport(self, report: pytest.TestReport) -> None:
        node = getattr(report, "node", None)
        if node is None:
            return  # this process's own report (no xdist): the session keeps its outcome
        scenario = getattr(report, SCENARIO_ATTR, None)
        if isinstance(scenario, str):
            self._running[report.nodeid] = scenario
        text = getattr(report, OUTCOME_ATTR, None)
        if isinstance(text, str):
            try:
                outcome = decode_outcome(json.loads(text), report.nodeid)
            except (RunFileError, ValueError) as exc:  # a result that cannot be read is said
                self._problem(f"a result from xdist worker {_worker_id(node)} could not be "
                              f"read: {exc}")
                return
            self._keep(outcome)
            self._kept.setdefault(_worker_id(node), []).append(outcome.run.scenario)
        for problem in getattr(report, PROBLEMS_ATTR, None) or []:
            self._problem(str(problem))
        profile = getattr(report, PROFILE_ATTR, None)
        if isinstance(profile, str):
            try:
                self._profile(json.loads(profile))
            except (KeyError, TypeError, ValueError, AttributeError) as exc:  # a help, not a result
                self._note(f"a stage profile from xdist worker {_worker_id(node)} could not "
                           f"be read ({type(exc).__name__}: {exc}); the results are unaffected")

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        if error is not None:
            worker = _worker_id(node)
            self.crashes.append(Crash(worker, str(error), kept=tuple(self._kept.get(worker, ()))))
        output = getattr(node, "workeroutput", {}) or {}
        for note in output.get(NOTES, []):
            self._note(note)
        for problem in output.get(PROBLEMS, []):
            self._problem(problem)
        selection = output.get(SELECTION)
        if self.selection is None and isinstance(selection, dict):
            self.selection = ([str(t) for t in selection.get("suite", [])],
                              [str(t) for t in selection.get("selected", [])])

    @pytest.hookimpl(optionalhook=True)
    def pytest_handlecrashitem(self, crashitem: str, report: Any, sched: Any) -> None:
        # xdist calls this right after pytest_testnodedown for the worker that died
        worker = _worker_id(getattr(report, "node", None))
        for crash in reversed(self.crashes):
            if crash.worker == worker and crash.nodeid is None:
                crash.nodeid = crashitem
                crash.scenario = self._running.get(crashitem)
                return


def _worker_id(node: Any) -> str:
    gateway = getattr(node, "gateway", None)
    return str(getattr(gateway, "id", None) or getattr(node, "workerid", "?"))


def runs_to_json(runs: Runs) -> str:
    """Earlier runs' summaries as JSON, for the workers."""
    return json.dumps(
        {
            scenario: {
                key: {stat: [[r.value, r.se, r.n, r.commit] for r in rs] for stat, rs in st.items()}
                for key, st in keys.items()
            }
            for scenario, keys in runs.items()
        }
    )


def runs_from_json(text: str) -> Runs:
    # the statistics module is needed only when the controller sent earlier runs
    from .compare.noise import RunSummary

    data = json.loads(text)
    return {
        scenario: {
            key: {stat: [RunSummary(*r) for r in rs] for stat, rs in st.items()}
            for key, st in keys.items()
        }
        for scenario, keys in data.items()
    }


def transportable(data: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    """``data`` as plain JSON values; samples that cannot be sent are dropped, said in
    ``problems``."""
    try:
        json.dumps(data)
        return data
    except (TypeError, ValueError, OverflowError, RecursionError):
        pass
    try:
        plain: dict[str, Any] = json.loads(json.dumps(data, default=repr))
        return plain
    except (TypeError, ValueError, OverflowError, RecursionError) as exc:
        problems.append(
            f"scenario {data.get('run', {}).get('scenario')!r}: its samples could not be sent "
            f"from the worker ({type(exc).__name__}); its other figures are kept"
        )
        run = dict(data.get("run", {}))
        run["samples"] = []
        return {**data, "run": run}
