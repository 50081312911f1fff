"""Portable where Python is: ``resource`` (POSIX only) is imported by nothing but a metered
run that asks for the process meter, and where it is missing the run says which figures
it lacks instead of failing."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from conftest import read_json, scenario_of

TEST_APP = '''
import sys

def test_app(ragcost):
    for q in ragcost.requests(["a", "b", "c"]):
        with ragcost.stage("retrieve") as st:
            st.count(chunks=3)
        with ragcost.stage("generate") as st:
            st.tokens(prompt=12, completion=4)
    print("resource imported:", "resource" in sys.modules and sys.modules["resource"] is not None)
'''


def _hide_resource(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sitecustomize that makes ``import resource`` fail in the inner interpreter, as on
    a platform without it (it runs before pytest loads any plugin)."""
    site = pytester.mkdir("nosite")
    (site / "sitecustomize.py").write_text("import sys\nsys.modules['resource'] = None\n")
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(site), *filter(None, [os.environ.get("PYTHONPATH")])]
    ))


def test_the_fixture_without_ragcost_imports_no_resource(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_app=TEST_APP)
    result = pytester.runpytest_subprocess("-s", "-p", "no:randomly")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*resource imported: False*"])


def test_without_resource_the_fixture_runs(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _hide_resource(pytester, monkeypatch)
    pytester.makepyfile(test_app=TEST_APP)
    result = pytester.runpytest_subprocess("-s", "-p", "no:randomly")
    result.assert_outcomes(passed=1)


def test_without_resource_a_metered_run_says_what_it_lacks(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    _hide_resource(pytester, monkeypatch)
    pytester.makepyfile(test_app=TEST_APP)
    result = pytester.runpytest_subprocess(
        "--ragcost", "--ragcost-json=out.json", "-p", "no:randomly"
    )
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "ragcost: rusage unavailable: the resource module is missing on this platform "
        "(POSIX only): peak_rss_mb, ctx_switches, page_faults are not measured",
    ])
    doc = read_json(Path(pytester.path, "out.json"))
    scenario = scenario_of(doc, "test_app.py::test_app")
    requests = scenario["requests"]
    assert len(requests) == 3
    for request in requests:
        metrics = request["metrics"]
        # wall and CPU time come from the clocks, energy from the CPU time
        assert metrics["wall_ms"] > 0
        assert metrics["cpu_ms"] >= 0
        assert "energy_cpu_j" in metrics
        assert not {"peak_rss_mb", "ctx_switches", "page_faults"} & set(metrics)
        assert [s["name"] for s in request["stages"]] == ["retrieve", "generate"]
    meters = doc["environment"]["meters"]
    unavailable = {u["name"]: u["reason"] for u in meters["unavailable"]}
    assert "peak_rss_mb" in unavailable["rusage"]


def test_with_resource_a_request_has_its_process_figures(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_app=TEST_APP)
    result = pytester.runpytest_subprocess(
        "--ragcost", "--ragcost-json=out.json", "-p", "no:randomly"
    )
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*rusage unavailable*")
    doc = read_json(Path(pytester.path, "out.json"))
    for request in scenario_of(doc, "test_app.py::test_app")["requests"]:
        assert {"peak_rss_mb", "ctx_switches", "page_faults", "cpu_ms"} <= set(
            request["metrics"]
        )
