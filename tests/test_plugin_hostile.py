"""Careless and hostile use of the plugin, met as a user meets it: each gives a clear
message or a correct result, never an INTERNALERROR, a traceback or a lost file."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import read_json, scenario_source

BAD_CALLS = {
    "tokens-model-int": (
        'st.tokens(prompt="x", model=123)',
        "st.tokens(model=...) takes a model name string such as 'gpt-4o-mini' "
        "(got 123 of type int)",
    ),
    "tokens-huge-count": (
        "st.tokens(prompt=10**400)",
        "st.tokens(prompt=...) as a count must be from 0 to 2**53 (got a 401-digit number)",
    ),
    "tokens-negative": ("st.tokens(prompt=-1)", "as a count must be from 0 to 2**53 (got -1)"),
    "count-huge": (
        "st.count(x=10**400)",
        "st.count(x=...) must be from 0 to 2**53 (got a 401-digit number)",
    ),
    "count-nan": ('st.count(x=float("nan"))', "st.count(x=...) needs a finite number (got nan"),
    "count-string": ('st.count(x="3")', "st.count(x=...) needs a finite number (got '3' of "),
    "sample-contexts-none": (
        "ragcost.sample(contexts=None)",
        "ragcost.sample(contexts=...) takes a list of strings (got NoneType)",
    ),
    "sample-contexts-ints": (
        "ragcost.sample(contexts=[1, 2])",
        "ragcost.sample(contexts=...) takes a list of strings (got a list holding a int)",
    ),
    "sample-question-bytes": (
        'ragcost.sample(question=b"q")',
        "ragcost.sample(question=...) takes a string or None (got bytes)",
    ),
    "sample-ids-none": (
        "ragcost.sample(context_ids=None)",
        "ragcost.sample(context_ids=...) takes a list of ids",
    ),
}


def _calling(call: str) -> str:
    return f'''
import pytest

@pytest.mark.ragcost(scenario="bad-call", requests=1)
def test_bad(ragcost):
    for q in ragcost.requests(["a"]):
        with ragcost.stage("s") as st:
            {call}
'''


@pytest.mark.parametrize("name", sorted(BAD_CALLS))
def test_bad_api_arguments_fail_the_test_naming_the_call(
    rag_project: pytest.Pytester, name: str
) -> None:
    call, message = BAD_CALLS[name]
    rag_project.makepyfile(test_bad=_calling(call))
    result = rag_project.runpytest("--ragcost")
    result.assert_outcomes(failed=1)
    assert message in result.stdout.str()
    assert "INTERNALERROR" not in result.stdout.str()
    assert "AttributeError" not in result.stdout.str()
    assert "OverflowError" not in result.stdout.str()


UNSERIALISABLE = '''
import pytest


class Odd:
    """Not JSON; one repr for every instance, so the warning is said once per location."""

    def __repr__(self):
        return "<Odd>"

@pytest.mark.ragcost(scenario="odd-sample", requests=2)
def test_odd(ragcost):
    for q in ragcost.requests(["a", "b"]):
        with ragcost.stage("s") as st:
            st.tokens(prompt=q, model="gpt-4o-mini")
        ragcost.sample(question=q, answer="x", contexts=["c"],
                       raw=b"bytes", tags={"a"}, thing=Odd())


@pytest.mark.ragcost(scenario="healthy", requests=2)
def test_healthy(ragcost):
    for q in ragcost.requests(["a", "b"]):
        with ragcost.stage("s") as st:
            st.tokens(prompt=q, model="gpt-4o-mini")
'''


@pytest.mark.parametrize("xdist", [False, True], ids=["serial", "xdist"])
def test_an_unserialisable_sample_value_is_stored_as_repr_and_nothing_is_lost(
    rag_project: pytest.Pytester, xdist: bool
) -> None:
    rag_project.makepyfile(test_odd=UNSERIALISABLE)
    args = ["--ragcost", "--ragcost-update", "--ragcost-json=run.json",
            "--ragcost-markdown=run.md", "-W", "default"]
    if xdist:
        args += ["-n", "2"]
    result = rag_project.runpytest(*args)
    result.assert_outcomes(passed=2, warnings=3)
    assert result.ret == 0
    out = result.stdout.str()
    assert "INTERNALERROR" not in out
    assert "ragcost.sample(raw=...): a bytes cannot be stored in the run's JSON; stored its " \
           "repr \"b'bytes'\" instead" in out
    doc = read_json(rag_project.path / "run.json")
    names = sorted(s["scenario"] for s in doc["scenarios"])
    assert names == ["healthy", "odd-sample"]
    extra = next(s for s in doc["scenarios"] if s["scenario"] == "odd-sample")["samples"][0]
    assert extra["extra"]["raw"] == "b'bytes'"
    assert extra["extra"]["tags"] == "{'a'}"
    assert (rag_project.path / "run.md").read_text()
    blessed = (rag_project.path / "ragcost.yaml").read_text()
    assert "  healthy:" in blessed
    assert "  odd-sample:" in blessed


def test_rerunning_a_good_project_still_works(rag_project: pytest.Pytester) -> None:
    rag_project.makepyfile(test_qa=scenario_source())
    result = rag_project.runpytest("--ragcost", "--ragcost-json=run.json")
    result.assert_outcomes(passed=1)
    assert json.loads(Path(rag_project.path / "run.json").read_text())["scenarios"]


def test_a_huge_se_gives_a_verdict_not_an_internal_error(rag_project: pytest.Pytester) -> None:
    rag_project.makepyfile(test_qa=scenario_source())
    rag_project.makefile(".yaml", ragcost=(
        "version: 1\nscenarios:\n  qa-tiny:\n"
        "    wall_ms: {baseline: 1.0e-6, n: 3, se: 1.0e10}\n"
        "    tokens_total: {baseline: 1.0e14}\n"
    ))
    result = rag_project.runpytest("--ragcost", "--ragcost-json=run.json")
    assert "INTERNALERROR" not in result.stdout.str()
    result.assert_outcomes(passed=1)
    doc = read_json(rag_project.path / "run.json")
    verdict = next(v for v in doc["scenarios"][0]["verdicts"] if v["key"] == "wall_ms")
    # noise this large cannot tell anything: said as a verdict, whichever way it shows
    assert verdict["status"] in ("INCONCLUSIVE", "INCOMPARABLE"), verdict
    # the saved run gives the same verdict from the command line, without a traceback
    from pytest_ragcost.cli import main

    assert main(["compare", str(rag_project.path / "run.json"), "--config",
                 str(rag_project.path / "ragcost.yaml")]) in (0, 1)


@pytest.mark.parametrize(("line", "found"), [
    ("    wall_ms: {baseline: 1.0e-320}", "must be 0 or between 1e-12 and 1e+15 (got 1.0e-320)"),
    ("    wall_ms: {baseline: 1.0e300}", "must be 0 or between 1e-12 and 1e+15 (got 1.0e300)"),
    ("    wall_ms: {baseline: 1, n: " + "9" * 400 + "}",
     "must be from 0 to 2**53 (got 99999999999999999999...(400 characters))"),
    ("    wall_ms: {baseline: 1, tolerance: 1e200}", "must be at most 1e+15"),
])
def test_out_of_range_numbers_in_ragcost_yaml_are_located_errors(
    rag_project: pytest.Pytester, line: str, found: str
) -> None:
    rag_project.makepyfile(test_qa=scenario_source())
    rag_project.makefile(".yaml", ragcost="version: 1\nscenarios:\n  qa-tiny:\n" + line + "\n")
    result = rag_project.runpytest("--ragcost")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "ragcost.yaml:4: scenarios.qa-tiny.wall_ms." in result.stderr.str()
    assert found in result.stderr.str()
    from pytest_ragcost.cli import main

    assert main(["check", str(rag_project.path / "ragcost.yaml")]) == 2


def test_absurd_watts_per_thread_is_a_usage_error(rag_project: pytest.Pytester) -> None:
    rag_project.makepyfile(test_qa=scenario_source())
    result = rag_project.runpytest("--ragcost", "--ragcost-watts-per-thread=1e308")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        "*--ragcost-watts-per-thread must be a number of watts per hardware thread above 0 "
        "and at most 1000 (got '1e308')*"
    ])


def test_a_named_config_that_does_not_exist_is_a_usage_error(
    rag_project: pytest.Pytester,
) -> None:
    rag_project.makepyfile(test_qa=scenario_source())
    missing = rag_project.path / "nonexistent.yaml"
    result = rag_project.runpytest("--ragcost", f"--ragcost-config={missing}", "-q")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"*{missing}: no such file (named by --ragcost-config*"])
    # a bless may create it there
    blessed = rag_project.runpytest("--ragcost-update", f"--ragcost-config={missing}")
    blessed.assert_outcomes(passed=1)
    assert "qa-tiny:" in missing.read_text()
    # the default file missing stays "every scenario is NEW"
    (rag_project.path / "ragcost.yaml").unlink(missing_ok=True)
    default = rag_project.runpytest("--ragcost")
    default.assert_outcomes(passed=1)
    default.stdout.fnmatch_lines(["*NEW*"])


def test_relative_output_paths_follow_the_invocation_directory(
    rag_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    rag_project.makeini("[pytest]\nragcost_markdown = from-ini.md\n")
    rag_project.makepyfile(test_qa=scenario_source())
    sub = rag_project.path / "sub"
    sub.mkdir()
    monkeypatch.chdir(sub)
    result = rag_project.runpytest(str(rag_project.path / "test_qa.py"), "--ragcost",
                                   "--ragcost-json=run.json")
    result.assert_outcomes(passed=1)
    assert (sub / "run.json").exists()  # the command line: where pytest was invoked
    assert not (rag_project.path / "run.json").exists()
    assert (rag_project.path / "from-ini.md").exists()  # the ini file: the rootdir


ODD_NAME = '''
import pytest

@pytest.mark.ragcost(scenario="line\\\\nbreak", requests=2)
def test_odd_name(ragcost):
    for q in ragcost.requests(["a", "b"]):
        with ragcost.stage("s") as st:
            st.count(items=10**14)
'''


def test_names_and_numbers_print_on_one_line_and_short(rag_project: pytest.Pytester) -> None:
    rag_project.makepyfile(test_odd=ODD_NAME.replace("\\\\n", "\\n"))
    rag_project.makefile(".yaml", ragcost=(
        'version: 1\nscenarios:\n  "line\\nbreak":\n    s.count_items: {baseline: 1.0e-6}\n'))
    result = rag_project.runpytest("--ragcost", "--ragcost-markdown=run.md")
    out = result.stdout.str()
    assert "INTERNALERROR" not in out
    assert "scenario line\\nbreak (test_odd.py::test_odd_name): 2 requests" in out
    assert "inf%" not in out
    assert "+1e+22%" in out
    assert "0" * 30 not in out
    md = (rag_project.path / "run.md").read_text()
    assert "<details><summary>line\\nbreak: 2 requests</summary>" in md
    assert "inf%" not in md


def test_markdown_summary_lines_show_node_ids_without_backslashes(
    rag_project: pytest.Pytester,
) -> None:
    rag_project.makepyfile(test_qa=scenario_source(name="test_qa.py::test_qa"))
    result = rag_project.runpytest("--ragcost", "--ragcost-markdown=run.md")
    result.assert_outcomes(passed=1)
    md = (rag_project.path / "run.md").read_text()
    assert "<details><summary>test_qa.py::test_qa: 3 requests</summary>" in md
