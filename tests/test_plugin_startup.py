"""What ``--ragcost`` loads before a run needs it: nothing heavy for a run whose tests
meter nothing, the budget file's reader only when there is a file, and the same header
lines either way. (The time it adds is a figure in benchmarks/bench_startup.py.)"""

from __future__ import annotations

import pytest

#: loaded only once a scenario is judged, a file is read, or an output is rendered
HEAVY = (
    "ruamel.yaml",
    "pytest_ragcost.budget",
    "pytest_ragcost.compare.gate",
    "pytest_ragcost.compare.evaluate",
    "pytest_ragcost.compare.frontier",
    "pytest_ragcost.quality",
    "pytest_ragcost.record.recorder",
    "pytest_ragcost.record.tokens",
    "tiktoken",
    "jinja2",
    "pytest_ragcost.report.html",
    "pytest_ragcost.report.markdown",
    "pytest_ragcost.report.jsonout",
)

PLAIN_TEST = f"""
import sys

HEAVY = {HEAVY!r}


def test_plain():
    loaded = [m for m in HEAVY if m in sys.modules]
    assert loaded == []
"""

#: writes what was loaded by the end of the run (after the summary and every output)
CONFTEST = f"""
import sys
from pathlib import Path

HEAVY = {HEAVY!r}


def pytest_unconfigure(config):
    loaded = [m for m in HEAVY if m in sys.modules]
    Path("loaded.txt").write_text(",".join(loaded))
"""


def _loaded(project: pytest.Pytester) -> list[str]:
    text = (project.path / "loaded.txt").read_text(encoding="utf-8")
    return [m for m in text.split(",") if m]


def test_a_run_that_meters_nothing_loads_nothing_heavy(rag_project: pytest.Pytester) -> None:
    rag_project.makepyfile(test_plain=PLAIN_TEST)
    rag_project.makeconftest(CONFTEST)
    result = rag_project.runpytest_subprocess("--ragcost", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    # every header line of a run is still there
    result.stdout.fnmatch_lines([
        "ragcost: *, energy: *",
        "ragcost: config: *ragcost.yaml (not found: every scenario is NEW; --ragcost-update "
        "writes it)",
        "ragcost: history: *history.sqlite3, project * (0 earlier run(s) of these scenarios "
        "on this machine)",
    ])
    result.stdout.fnmatch_lines(["*= ragcost =*", "energy: *"])
    assert _loaded(rag_project) == []


def test_the_budget_reader_loads_when_there_is_a_file(rag_project: pytest.Pytester) -> None:
    rag_project.makepyfile(test_plain=PLAIN_TEST.replace("assert loaded == []",
                                                         "assert 'ruamel.yaml' in loaded"))
    rag_project.makeconftest(CONFTEST)
    (rag_project.path / "ragcost.yaml").write_text("version: 1\nscenarios: {}\n", encoding="utf-8")
    result = rag_project.runpytest_subprocess("--ragcost", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["ragcost: config: *ragcost.yaml (0 scenarios)"])


def test_a_bless_without_a_file_still_writes_one(rag_project: pytest.Pytester) -> None:
    rag_project.makepyfile(test_plain=PLAIN_TEST)
    rag_project.makeconftest(CONFTEST)
    result = rag_project.runpytest_subprocess("--ragcost-update", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert (rag_project.path / "ragcost.yaml").exists()
    assert "pytest_ragcost.budget" in _loaded(rag_project)
