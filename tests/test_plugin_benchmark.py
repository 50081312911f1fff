"""pytest-benchmark side by side: ``benchmark(...)`` calls get CPU time and energy per
call in ``extra_info["ragcost"]``, and neither plugin turns the other off under xdist."""

from __future__ import annotations

import pytest
from conftest import read_json, scenario_of, scenario_source

BENCH_TEST = """
def work():
    return sum(i * i for i in range(3000))


def test_bench(benchmark):
    benchmark.pedantic(work, rounds=5, iterations=20)
"""



@pytest.fixture(autouse=True)
def _not_an_xdist_worker(monkeypatch: pytest.MonkeyPatch) -> None:
    # the in-process inner sessions inherit the outer run's PYTEST_XDIST_WORKER, and
    # pytest-benchmark turns itself off when it sees it: under `pytest -n 2` these tests
    # would measure nothing
    monkeypatch.delenv("PYTEST_XDIST_WORKER", raising=False)

def test_benchmark_json_carries_cpu_and_energy_per_call(rag_project: pytest.Pytester) -> None:
    rag_project.makepyfile(test_bench=BENCH_TEST)
    result = rag_project.runpytest(
        "--ragcost", "--ragcost-watts-per-thread=8", "--benchmark-json=bench.json"
    )
    result.assert_outcomes(passed=1)
    doc = read_json(rag_project.path / "bench.json")
    (bench,) = doc["benchmarks"]
    info = bench["extra_info"]["ragcost"]
    assert info["calls"] == 5 * 20
    assert info["cpu_ms_per_call"] > 0
    # the estimate is CPU time x watts per thread, per call
    assert info["energy_cpu_j_per_call"] == pytest.approx(info["cpu_ms_per_call"] / 1000 * 8)
    assert info["energy_cpu_j_source"] == "estimated"
    # CPU time per call cannot exceed wall time per call by much on one thread
    assert info["cpu_ms_per_call"] <= bench["stats"]["max"] * 1000 * 1.5


def test_benchmark_without_ragcost_has_no_extra_info(rag_project: pytest.Pytester) -> None:
    rag_project.makepyfile(test_bench=BENCH_TEST)
    result = rag_project.runpytest("--benchmark-json=bench.json")
    result.assert_outcomes(passed=1)
    (bench,) = read_json(rag_project.path / "bench.json")["benchmarks"]
    assert "ragcost" not in bench["extra_info"]


def test_under_xdist_benchmark_disables_itself_and_ragcost_still_reports(
    rag_project: pytest.Pytester,
) -> None:
    rag_project.makepyfile(test_bench=BENCH_TEST)
    rag_project.makepyfile(test_scenario=scenario_source("qa-xdist", requests=2))
    # a subprocess: pytest-benchmark's warning goes to the real stderr
    result = rag_project.runpytest_subprocess(
        "--ragcost", "-n", "2", "--ragcost-json=run.json", "--benchmark-json=bench.json"
    )
    result.assert_outcomes(passed=2)
    # pytest-benchmark logs that it turned itself off only when its benchmark ran on the
    # controller or on gw0, so whether that line shows depends on where xdist sent the test;
    # what it does (write no bench.json) does not
    # pytest-benchmark writes nothing when it is off; ragcost reports as usual
    assert not (rag_project.path / "bench.json").exists()
    result.stdout.fnmatch_lines(["*= ragcost =*", "scenario qa-xdist (*): 2 requests"])
    scenario = scenario_of(read_json(rag_project.path / "run.json"), "qa-xdist")
    assert scenario["n_requests"] == 2


def test_benchmark_only_still_runs_the_ragcost_scenarios_under_their_own_flag(
    rag_project: pytest.Pytester,
) -> None:
    rag_project.makepyfile(test_bench=BENCH_TEST)
    rag_project.makepyfile(test_scenario=scenario_source("qa-side", requests=2))
    result = rag_project.runpytest("--ragcost", "--ragcost-json=run.json",
                                   "--benchmark-json=bench.json")
    result.assert_outcomes(passed=2)
    (bench,) = read_json(rag_project.path / "bench.json")["benchmarks"]
    assert bench["extra_info"]["ragcost"]["calls"] == 100
    assert scenario_of(read_json(rag_project.path / "run.json"), "qa-side")["n_requests"] == 2
