"""pytest-xdist: workers measure, the controller collects and reports, numbers do not
change with parallelism, and energy labels follow the shared-machine rule."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import read_json, scenario_of, scenario_source

from pytest_ragcost.meters.base import EnergyDelta, EnergyMeter, Unavailable
from pytest_ragcost.meters.registry import MeterSet, build

SCENARIOS = ("qa-one", "qa-two", "qa-three")


def _write_scenarios(project: pytest.Pytester) -> None:
    for i, name in enumerate(SCENARIOS):
        project.makepyfile(
            **{f"test_s{i}": scenario_source(name, requests=2 + i, func=name.replace("-", "_"))}
        )


def _token_summaries(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out: dict[str, dict[str, Any]] = {}
    for name in SCENARIOS:
        summary = scenario_of(doc, name)["summary"]
        out[name] = {
            key: (row["mean"], row["p50"], row["total"], row["n"], row["source"])
            for key, row in summary.items()
            if key.split(".")[-1].startswith("tokens_")
        }
        assert out[name], f"no token figures for {name}"
    return out


def test_parallel_run_gives_the_same_token_numbers_as_a_serial_run(
    rag_project: pytest.Pytester,
) -> None:
    _write_scenarios(rag_project)
    serial = rag_project.runpytest("--ragcost", "--ragcost-json=serial.json")
    serial.assert_outcomes(passed=3)
    parallel = rag_project.runpytest(
        "--ragcost", "--ragcost-json=parallel.json", "-n", "2", "--junitxml=junit.xml"
    )
    parallel.assert_outcomes(passed=3)

    serial_doc = read_json(rag_project.path / "serial.json")
    parallel_doc = read_json(rag_project.path / "parallel.json")
    assert _token_summaries(parallel_doc) == _token_summaries(serial_doc)
    for i, name in enumerate(SCENARIOS):
        scenario = scenario_of(parallel_doc, name)
        assert scenario["n_requests"] == 2 + i
        for record in scenario["requests"]:
            assert record["sources"]["energy_j"] == "estimated"
    # the controller prints one summary holding every worker's scenarios
    parallel.stdout.fnmatch_lines(["*= ragcost =*"])
    for i, name in enumerate(SCENARIOS):
        parallel.stdout.fnmatch_lines([f"scenario {name} (*): {2 + i} requests"])
    # per-test figures travel from the workers and land in JUnit XML (xunit2, pytest's
    # default: as suite properties named by scenario)
    junit = (rag_project.path / "junit.xml").read_text(encoding="utf-8")
    for i, name in enumerate(SCENARIOS):
        assert f'name="ragcost.{name}.requests" value="{2 + i}"' in junit
    # the workers are counted (the controller itself measures nothing)
    assert parallel_doc["environment"]["meters"]["xdist_workers"] == 2


class FakeMeter(EnergyMeter):
    """A counter that reports 2 J of CPU energy per window."""

    name = "fake"
    domains = ("cpu",)

    def __init__(self, kind: str = "measured") -> None:
        self.kind = kind  # type: ignore[assignment]

    def snapshot(self) -> float:
        return 0.0

    def delta(self, before: Any, after: Any) -> EnergyDelta:
        return EnergyDelta({"cpu": 2.0})

    def describe(self) -> dict[str, Any]:
        return {}


def _built(kind: str = "measured") -> MeterSet:
    return build(
        ["auto"],
        watts_per_thread=4.0,
        watts_source="default",
        probers={"rapl": lambda: FakeMeter(kind), "nvml": lambda: Unavailable("nvml", "none")},
    )


@pytest.mark.parametrize(("workers", "label"), [(None, "measured"), ("1", "measured"),
                                                ("2", "attributed"), ("8", "attributed")])
def test_machine_wide_counters_are_attributed_when_workers_share_the_machine(
    monkeypatch: pytest.MonkeyPatch, workers: str | None, label: str
) -> None:
    if workers is None:
        monkeypatch.delenv("PYTEST_XDIST_WORKER_COUNT", raising=False)
    else:
        monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", workers)
    meters = _built()
    metrics, sources = meters.figures([0.0], [0.0], cpu_ms=10.0)
    assert metrics["energy_cpu_j"] == 2.0
    assert sources["energy_cpu_j"] == label
    assert sources["energy_j"] == label
    # a measured CPU counter replaces the CPU-time estimate
    assert meters.estimate is None
    assert meters.describe()["used"][1]["kind"] == label
    assert meters.energy_label() == f"fake ({label})"


def test_estimates_stay_estimated_under_xdist(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "2")
    meters = _built("estimated")
    _, sources = meters.figures([0.0], [0.0], cpu_ms=10.0)
    assert sources["energy_cpu_j"] == "estimated"

    monkeypatch.setenv("PYTEST_XDIST_WORKER_COUNT", "4")
    no_counters = build(
        ["auto"],
        watts_per_thread=4.0,
        watts_source="default",
        probers={"rapl": lambda: Unavailable("rapl", "none"),
                 "nvml": lambda: Unavailable("nvml", "none")},
    )
    metrics, sources = no_counters.figures([], [], cpu_ms=250.0)
    assert metrics["energy_cpu_j"] == pytest.approx(1.0)
    assert sources["energy_j"] == "estimated"


CRASHING = '''
import os
import signal

import pytest
from ragkit import QUESTIONS, Retriever


def _measure(ragcost):
    for q in ragcost.requests(QUESTIONS):
        with ragcost.stage("search") as st:
            st.count(candidates=len(Retriever().search(q)))


@pytest.mark.ragcost(scenario="kept-1", requests=2)
def test_a(ragcost):
    _measure(ragcost)


@pytest.mark.ragcost(scenario="kept-2", requests=2)
def test_b(ragcost):
    _measure(ragcost)


@pytest.mark.ragcost(scenario="lost", requests=2)
def test_c(ragcost):
    _measure(ragcost)
    {kill}
'''

XDIST = ("-n", "2", "--dist", "loadfile", "--max-worker-restart=0", "-p", "no:randomly")
KILLS = {"os._exit": "os._exit(1)", "SIGKILL": "os.kill(os.getpid(), signal.SIGKILL)"}


def _crashing_project(project: pytest.Pytester, kill: str) -> None:
    project.makepyfile(test_crash=CRASHING.replace("{kill}", KILLS[kill]))
    project.makepyfile(test_other=scenario_source("other", requests=2, func="other"))


def _history_scenarios(project: pytest.Pytester) -> list[str]:
    import sqlite3

    with sqlite3.connect(project.path / ".ragcost" / "history.sqlite3") as conn:
        rows = conn.execute("SELECT DISTINCT scenario FROM request ORDER BY 1").fetchall()
    return [r[0] for r in rows]


@pytest.mark.parametrize("kill", sorted(KILLS))
def test_a_crashed_worker_loses_only_the_test_it_was_running(
    rag_project: pytest.Pytester, kill: str
) -> None:
    _crashing_project(rag_project, kill)
    # loadfile: test_crash.py's three tests run in order on one worker; without a restart,
    # xdist gives the crashed test to no other worker
    result = rag_project.runpytest("--ragcost", "--ragcost-json=run.json", *XDIST)
    result.assert_outcomes(passed=3, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    doc = read_json(rag_project.path / "run.json")
    assert sorted(s["scenario"] for s in doc["scenarios"]) == ["kept-1", "kept-2", "other"]
    assert scenario_of(doc, "kept-1")["n_requests"] == 2
    assert doc["complete"] is False
    result.stdout.fnmatch_lines([
        "ragcost error: xdist worker gw* crashed while running test_crash.py::test_c (*); "
        "scenario 'lost' was not measured; the 2 scenario(s) it finished are kept: "
        "kept-1, kept-2",
    ])
    for name in ("kept-1", "kept-2", "other"):
        result.stdout.fnmatch_lines([f"scenario {name} (*): 2 requests"])
    assert _history_scenarios(rag_project) == ["kept-1", "kept-2", "other"]


def test_a_bless_names_what_a_crashed_worker_lost(rag_project: pytest.Pytester) -> None:
    _crashing_project(rag_project, "SIGKILL")
    result = rag_project.runpytest("--ragcost-update", *XDIST)
    result.assert_outcomes(passed=3, failed=1)
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    text = (rag_project.path / "ragcost.yaml").read_text(encoding="utf-8")
    for name in ("kept-1", "kept-2", "other"):
        assert f"{name}:" in text
    assert "lost:" not in text
    result.stdout.fnmatch_lines([
        "ragcost error: not blessed: scenario 'lost' (test_crash.py::test_c): its worker gw* "
        "crashed while running it; ragcost.yaml keeps its earlier baselines; run it again "
        "to bless it",
    ])
