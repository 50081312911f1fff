"""pytest-ragcost: cost and quality regression gates for RAG pipelines.

What a user imports comes from here::

    from pytest_ragcost import Recorder, register_counter, load_run, evaluate

Each name is loaded on first use (a module ``__getattr__``): pytest imports this
package for every run, with or without ``--ragcost``, and pays for none of them.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: public name -> the module that defines it
_EXPORTS: dict[str, str] = {
    # writing a scenario
    "Recorder": "pytest_ragcost.record.recorder",
    "register_counter": "pytest_ragcost.record.tokens",
    "unregister_counter": "pytest_ragcost.record.tokens",
    "TokenCounter": "pytest_ragcost.record.tokens",
    "RagcostWarning": "pytest_ragcost.session",
    # a run and its verdicts
    "ScenarioRun": "pytest_ragcost.run.model",
    "RequestRecord": "pytest_ragcost.run.model",
    "StageRecord": "pytest_ragcost.run.model",
    "Sample": "pytest_ragcost.run.model",
    "Verdict": "pytest_ragcost.run.model",
    "Outcome": "pytest_ragcost.run.model",
    "Run": "pytest_ragcost.run.model",
    # a saved --ragcost-json run, read back and checked
    "load_run": "pytest_ragcost.run.codec",
    "RunFileError": "pytest_ragcost.run.codec",
    # the sentence of a verdict
    "sentence": "pytest_ragcost.report.verdicts",
    # comparing outside pytest
    "Settings": "pytest_ragcost.config",
    "load_gate": "pytest_ragcost.compare.gate",
    "Gate": "pytest_ragcost.compare.gate",
    "GateError": "pytest_ragcost.compare.gate",
    "evaluate": "pytest_ragcost.compare.evaluate",
    # the efficiency frontier of a sweep
    "sweeps": "pytest_ragcost.compare.frontier",
    "frontier": "pytest_ragcost.compare.frontier",
    "Frontier": "pytest_ragcost.compare.frontier",
}
#: a public name that differs from the defining module's own
_RENAMED = {"load_run": "read_run"}

__all__ = [
    "Frontier",
    "Gate",
    "GateError",
    "Outcome",
    "RagcostWarning",
    "Recorder",
    "RequestRecord",
    "Run",
    "RunFileError",
    "Sample",
    "ScenarioRun",
    "Settings",
    "StageRecord",
    "TokenCounter",
    "Verdict",
    "__version__",
    "evaluate",
    "frontier",
    "load_gate",
    "load_run",
    "register_counter",
    "sentence",
    "sweeps",
    "unregister_counter",
]

if TYPE_CHECKING:
    from .compare.evaluate import evaluate
    from .compare.frontier import Frontier, frontier, sweeps
    from .compare.gate import Gate, GateError, load_gate
    from .config import Settings
    from .record.recorder import Recorder
    from .record.tokens import TokenCounter, register_counter, unregister_counter
    from .report.verdicts import sentence
    from .run.codec import RunFileError
    from .run.codec import read_run as load_run
    from .run.model import Outcome, RequestRecord, Run, Sample, ScenarioRun, StageRecord, Verdict
    from .session import RagcostWarning


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        msg = f"module 'pytest_ragcost' has no attribute {name!r}"
        raise AttributeError(msg)
    value = getattr(importlib.import_module(module), _RENAMED.get(name, name))
    globals()[name] = value  # the next look-up is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
