"""What ``--ragcost`` loads before a run needs it: nothing heavy for a run whose tests
meter nothing, the budget file's reader only when there is a file, and the same header
lines either way. (The time it adds is a figure in benchmarks/bench_startup.py.)"""

from __future__ import annotations

import pytest
from conftest import scenario_source

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


#: the modules only some runs need: the xdist transport (and the run codec it sends
#: outcomes with), JUnit properties, stage profiles and the OpenTelemetry bridge
OPTIONAL = (
    "pytest_ragcost.xdist",
    "pytest_ragcost.run.codec",
    "pytest_ragcost.junit",
    "pytest_ragcost.profile.keep",
    "pytest_ragcost.profile.sampler",
    "pytest_ragcost.export.opentelemetry",
)

#: writes which of OPTIONAL the controller (or the only process) loaded by its end
OPTIONAL_CONFTEST = f"""
import sys
from pathlib import Path

OPTIONAL = {OPTIONAL!r}


def pytest_unconfigure(config):
    if not hasattr(config, "workerinput"):
        Path("loaded.txt").write_text(",".join(m for m in OPTIONAL if m in sys.modules))
"""

ONE_TEST = "def test_one():\n    assert 1 + 1 == 2\n"


def test_a_one_test_run_loads_no_part_it_was_not_asked_for(rag_project: pytest.Pytester) -> None:
    rag_project.makepyfile(test_one=ONE_TEST)
    rag_project.makeconftest(OPTIONAL_CONFTEST)
    result = rag_project.runpytest_subprocess("--ragcost", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    assert _loaded(rag_project) == []
    # the header says what span capture will do without loading the SDK's bridge for it
    result.stdout.fnmatch_lines([
        "ragcost: OpenTelemetry: capturing app spans (opentelemetry-sdk *.*); no span "
        "exporter named by OTEL_TRACES_EXPORTER / OTEL_EXPORTER_OTLP_ENDPOINT",
    ])


def test_a_metered_run_loads_no_part_it_was_not_asked_for(rag_project: pytest.Pytester) -> None:
    rag_project.makepyfile(test_scenario=scenario_source("qa-lazy", requests=2))
    rag_project.makeconftest(OPTIONAL_CONFTEST)
    result = rag_project.runpytest_subprocess("--ragcost", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    # spans are captured from the first metered test on: the bridge is the one part loaded
    assert _loaded(rag_project) == ["pytest_ragcost.export.opentelemetry"]


@pytest.mark.parametrize(("args", "module"), [
    (["-n", "2"], "pytest_ragcost.xdist"),
    (["--junitxml=junit.xml"], "pytest_ragcost.junit"),
    (["--ragcost-profile=all"], "pytest_ragcost.profile.keep"),
])
def test_each_part_loads_when_its_option_asks_for_it(
    rag_project: pytest.Pytester, args: list[str], module: str
) -> None:
    rag_project.makepyfile(test_scenario=scenario_source("qa-lazy", requests=2))
    rag_project.makeconftest(OPTIONAL_CONFTEST)
    result = rag_project.runpytest_subprocess("--ragcost", "-p", "no:cacheprovider", *args)
    result.assert_outcomes(passed=1)
    assert module in _loaded(rag_project)
