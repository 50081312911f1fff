"""Options as a user meets them: flags, their ini twins, which one wins, ``--help``,
``--markers``, and what bad input looks like (exit code 4, a clear line, no traceback)."""

from __future__ import annotations

import pytest
from conftest import read_json, scenario_of, scenario_source

INI_ALL = """
[pytest]
ragcost = true
ragcost_json = from-ini.json
ragcost_requests = 2
ragcost_meter = process
"""


def _usage_error(result: pytest.RunResult, *patterns: str) -> None:
    assert result.ret == pytest.ExitCode.USAGE_ERROR, result.ret
    result.stderr.fnmatch_lines(list(patterns))
    output = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in output


def test_help_lists_every_option_and_ini_key(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--help")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        [
            "cost and quality gates for RAG pipelines (pytest-ragcost):",
            "  --ragcost *Meter ragcost scenarios*",
            "  --ragcost-json=PATH*",
            "  --ragcost-markdown=PATH*",
            "  --ragcost-requests=N*",
            "  --ragcost-meter=NAMES*",
            "  --ragcost-config=PATH*",
            "  --ragcost-update*",
            "  --ragcost-strict*",
            "  --ragcost-watts-per-thread=W*",
        ]
    )
    for key in ("ragcost (bool)", "ragcost_json (string)", "ragcost_requests (string)",
                "ragcost_meter (string)", "ragcost_config (string)", "ragcost_strict (bool)"):
        result.stdout.fnmatch_lines([f"  {key}*"])


def test_markers_show_the_ragcost_signature(pytester: pytest.Pytester) -> None:
    result = pytester.runpytest("--markers")
    assert result.ret == 0
    result.stdout.fnmatch_lines(
        ["@pytest.mark.ragcost(scenario=None, requests=None, warmup=0, load=None): a metered RAG "
         "scenario.*"]
    )


def test_every_option_works_from_the_ini_file(rag_project: pytest.Pytester) -> None:
    rag_project.makeini(INI_ALL)
    rag_project.makepyfile(test_scenario=scenario_source("qa-ini", requests=5))
    result = rag_project.runpytest()
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*= ragcost =*", "scenario qa-ini (*): 2 requests"])
    doc = read_json(rag_project.path / "from-ini.json")
    assert doc["settings"]["meters"] == ["process"]
    assert doc["settings"]["requests_cap"] == 2
    assert scenario_of(doc, "qa-ini")["n_requests"] == 2
    # the process meter alone gives times but no energy figure
    assert [m["name"] for m in doc["environment"]["meters"]["used"]] == ["process"]
    record = scenario_of(doc, "qa-ini")["requests"][0]
    assert "cpu_ms" in record["metrics"]
    assert not any(k.startswith("energy") for k in record["metrics"])


def test_command_line_wins_over_the_ini_file(rag_project: pytest.Pytester) -> None:
    rag_project.makeini(INI_ALL)
    rag_project.makepyfile(test_scenario=scenario_source("qa-ini", requests=5))
    result = rag_project.runpytest(
        "--ragcost-json=from-cli.json", "--ragcost-requests=1", "--ragcost-meter=estimate"
    )
    result.assert_outcomes(passed=1)
    assert not (rag_project.path / "from-ini.json").exists()
    doc = read_json(rag_project.path / "from-cli.json")
    assert doc["settings"]["meters"] == ["estimate"]
    assert scenario_of(doc, "qa-ini")["n_requests"] == 1
    record = scenario_of(doc, "qa-ini")["requests"][0]
    assert record["sources"]["energy_cpu_j"] == "estimated"


def test_ini_can_turn_it_off_and_the_flag_back_on(rag_project: pytest.Pytester) -> None:
    rag_project.makeini("[pytest]\nragcost = false\nragcost_json = run.json\n")
    rag_project.makepyfile(test_scenario=scenario_source("qa-ini", requests=2))
    off = rag_project.runpytest()
    off.assert_outcomes(passed=1)
    off.stdout.no_fnmatch_line("*= ragcost =*")
    assert not (rag_project.path / "run.json").exists()

    on = rag_project.runpytest("--ragcost")
    on.assert_outcomes(passed=1)
    on.stdout.fnmatch_lines(["*= ragcost =*"])
    assert scenario_of(read_json(rag_project.path / "run.json"), "qa-ini")["n_requests"] == 2


def test_unknown_meter_is_a_usage_error(rag_project: pytest.Pytester) -> None:
    rag_project.makepyfile(test_scenario=scenario_source())
    result = rag_project.runpytest("--ragcost", "--ragcost-meter=foo")
    _usage_error(result, "*--ragcost-meter*unknown meter 'foo'*valid names are auto, rapl*")


def test_unknown_meter_in_the_ini_names_the_ini_key(rag_project: pytest.Pytester) -> None:
    rag_project.makeini("[pytest]\nragcost = true\nragcost_meter = rapl,bogus\n")
    rag_project.makepyfile(test_scenario=scenario_source())
    result = rag_project.runpytest()
    _usage_error(result, "*ragcost_meter*unknown meter 'bogus'*")


@pytest.mark.parametrize("value", ["abc", "0", "-3", "2.5"])
def test_requests_that_are_not_a_positive_whole_number_are_a_usage_error(
    rag_project: pytest.Pytester, value: str
) -> None:
    rag_project.makepyfile(test_scenario=scenario_source())
    result = rag_project.runpytest("--ragcost", f"--ragcost-requests={value}")
    _usage_error(result, f"*--ragcost-requests must be a whole number*got '{value}'*")


@pytest.mark.parametrize("flag", [[], ["--ragcost"]])
def test_unknown_marker_argument_is_a_usage_error_listing_the_valid_ones(
    rag_project: pytest.Pytester, flag: list[str]
) -> None:
    rag_project.makepyfile(
        test_bad="""
        import pytest

        @pytest.mark.ragcost(scenarios="typo", requests=2)
        def test_it(ragcost):
            for _ in ragcost.requests([1, 2]):
                pass
        """
    )
    result = rag_project.runpytest(*flag)
    _usage_error(
        result,
        "*test_bad.py::test_it*unknown argument 'scenarios'*valid arguments: scenario, "
        "requests, warmup*",
    )


def test_marker_requests_must_be_a_positive_whole_number(rag_project: pytest.Pytester) -> None:
    rag_project.makepyfile(
        test_bad="""
        import pytest

        @pytest.mark.ragcost(requests="many")
        def test_it(ragcost):
            pass
        """
    )
    result = rag_project.runpytest("--ragcost")
    _usage_error(result, "*requests must be a whole number >= 1 (got 'many')*")


def test_stage_name_with_a_dot_fails_the_test_naming_the_stage(
    rag_project: pytest.Pytester,
) -> None:
    rag_project.makepyfile(
        test_dot="""
        import pytest

        @pytest.mark.ragcost(scenario="dotted")
        def test_it(ragcost):
            for _ in ragcost.requests([1]):
                with ragcost.stage("hybrid.search"):
                    pass
        """
    )
    result = rag_project.runpytest("--ragcost")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*stage name 'hybrid.search' is not a valid name*without dots*"])


def test_json_path_that_cannot_be_written_is_a_clear_error(
    rag_project: pytest.Pytester,
) -> None:
    rag_project.makepyfile(test_scenario=scenario_source(requests=2))
    (rag_project.path / "afile").write_text("not a directory\n", encoding="utf-8")
    result = rag_project.runpytest("--ragcost", "--ragcost-json=afile/run.json")
    output = result.stdout.str() + result.stderr.str()
    assert "Traceback" not in output
    result.stdout.fnmatch_lines(["ragcost error: could not write *afile/run.json*"])
    assert result.ret != 0, "a JSON report that could not be written must fail the run"
