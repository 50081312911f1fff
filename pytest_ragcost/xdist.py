"""pytest-xdist: what travels between the controller and its workers.

The controller sends each worker the budget file's text and the history's earlier runs
(``workerinput``), so every worker judges against the same baselines without reading
files or the store itself. Workers measure and judge; their outcomes travel back, and
the controller alone writes files and the history.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import pytest

from .models import Outcome

if TYPE_CHECKING:
    from .runhistory import Runs

#: ``workerinput`` keys (controller -> worker)
CONFIG_TEXT = "ragcost_config_text"
HISTORY = "ragcost_history"
#: ``workeroutput`` keys (worker -> controller, when the worker finishes)
OUTCOMES = "ragcost_outcomes"
NOTES = "ragcost_notes"
PROBLEMS = "ragcost_problems"


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


class Controller:
    """Registered on the controller: feeds each worker as it starts and takes its
    results when it goes down."""

    def __init__(
        self,
        config_text: Callable[[], str | None],
        history: Callable[[], Runs],
        keep: Callable[[Outcome], None],
        note: Callable[[str], None],
        problem: Callable[[str], None],
    ) -> None:
        self._config_text = config_text
        self._history = history
        self._keep = keep
        self._note = note
        self._problem = problem
        #: workers started (the controller's JSON counts them)
        self.workers = 0

    @pytest.hookimpl(optionalhook=True)
    def pytest_configure_node(self, node: Any) -> None:
        self.workers += 1
        text = self._config_text()
        if text is not None:
            node.workerinput[CONFIG_TEXT] = text
        node.workerinput[HISTORY] = runs_to_json(self._history())

    @pytest.hookimpl(optionalhook=True)
    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        output = getattr(node, "workeroutput", {}) or {}
        for data in output.get(OUTCOMES, []):
            self._keep(Outcome.from_dict(data))
        for note in output.get(NOTES, []):
            self._note(note)
        for problem in output.get(PROBLEMS, []):
            self._problem(problem)


def send_results(
    config: pytest.Config, outcomes: Sequence[Outcome], notes: Sequence[str],
    problems: list[str],
) -> None:
    """On a worker at the end: its outcomes, notes and problems for the controller."""
    output: dict[str, Any] = config.workeroutput  # type: ignore[attr-defined]
    output[NOTES] = list(notes)
    # workeroutput crosses a process boundary; a value it cannot carry would lose every
    # result of this worker, so anything odd travels as its repr
    output[OUTCOMES] = [transportable(o.to_dict(), problems) for o in outcomes]
    output[PROBLEMS] = list(problems)


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
    from .compare.stats import RunSummary

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
