"""ragcost.yaml: loading, every kind of mistake a person makes in it, and blessing in place."""

from __future__ import annotations

import difflib
import math
import os
import stat
import textwrap
from pathlib import Path

import pytest

from pytest_ragcost.budget import (
    Budget,
    BudgetError,
    Measured,
    Problem,
    format_baseline,
    load,
    loads,
    parse_tolerance,
    update,
)
from pytest_ragcost.run import Tolerance

SPEC_EXAMPLE = """\
version: 1
defaults:
  tolerance: 5%        # a cost may rise this much over its baseline
  quality_drop: 1%     # a quality score may drop this much below its baseline
scenarios:
  qa-typical:
    tokens_context:       {baseline: 3104}
    generate.wall_ms:     {baseline: 412.0, stat: p95, tolerance: 15%}
    energy_j:             {baseline: 3.41, tolerance: 10%, severity: warn}
    cost_usd:             {budget: 0.002}
    ragas_context_recall: {baseline: 0.91}
"""


def doc(body: str) -> str:
    return textwrap.dedent(body).lstrip("\n")


def problems_of(text: str) -> tuple[Problem, ...]:
    with pytest.raises(BudgetError) as info:
        loads(text)
    return info.value.problems


def one_problem(text: str) -> Problem:
    found = problems_of(text)
    assert len(found) == 1, "\n".join(str(p) for p in found)
    return found[0]


def scenario_doc(entries: str) -> str:
    """A valid file around the given entry lines of scenario ``qa`` (entries start line 4)."""
    return "version: 1\nscenarios:\n  qa:\n" + textwrap.indent(textwrap.dedent(entries), "    ")


# --------------------------------------------------------------------------- loading


def test_spec_example_loads_with_defaults_resolved() -> None:
    b = loads(SPEC_EXAMPLE)
    assert b.version == 1
    sc = b.scenarios["qa-typical"]
    assert list(sc.entries) == [
        "tokens_context", "generate.wall_ms", "energy_j", "cost_usd", "ragas_context_recall"
    ]
    tokens = b.entry("qa-typical", "tokens_context")
    assert tokens is not None
    assert tokens.baseline == 3104
    assert tokens.tolerance == Tolerance(0.05, relative=True)  # from defaults
    assert tokens.quality_drop is None
    assert (tokens.stat, tokens.severity, tokens.line) == ("mean", "fail", 7)
    wall = b.entry("qa-typical", "generate.wall_ms")
    assert wall is not None
    assert (wall.stage, wall.metric, wall.stat) == ("generate", "wall_ms", "p95")
    assert wall.tolerance == Tolerance(0.15, relative=True)  # own value beats the default
    energy = b.entry("qa-typical", "energy_j")
    assert energy is not None
    assert energy.severity == "warn"
    cost = b.entry("qa-typical", "cost_usd")
    assert cost is not None
    assert (cost.baseline, cost.budget) == (None, 0.002)
    recall = b.entry("qa-typical", "ragas_context_recall")
    assert recall is not None
    assert recall.is_quality
    assert recall.tolerance is None
    assert recall.quality_drop == Tolerance(0.01, relative=True)
    assert recall.allowed == recall.quality_drop
    assert b.entry("qa-typical", "wall_ms") is None
    assert b.entry("nope", "wall_ms") is None


def test_without_defaults_nothing_is_invented() -> None:
    b = loads("version: 1\nscenarios:\n  qa:\n    wall_ms: {baseline: 3}\n    mrr: {}\n")
    wall = b.entry("qa", "wall_ms")
    assert wall is not None
    assert (wall.tolerance, wall.stat, wall.severity) == (None, "mean", "fail")
    mrr = b.entry("qa", "mrr")
    assert mrr is not None
    assert (mrr.baseline, mrr.quality_drop) == (None, None)


def test_defaults_stat_severity_and_judge_miss_apply() -> None:
    b = loads(doc("""
        version: 1
        defaults: {stat: median, severity: warn, tolerance: 2.5, on_judge_miss: skip}
        scenarios:
          qa:
            wall_ms: {baseline: 3}
            cpu_ms: {baseline: 3, stat: max, severity: fail, tolerance: "10%"}
    """))
    assert b.defaults.on_judge_miss == "skip"
    wall, cpu = b.entry("qa", "wall_ms"), b.entry("qa", "cpu_ms")
    assert wall is not None
    assert cpu is not None
    assert (wall.stat, wall.severity, wall.tolerance) == ("median", "warn", Tolerance(2.5, False))
    assert (cpu.stat, cpu.severity, cpu.tolerance) == ("max", "fail", Tolerance(0.1, True))


def test_missing_file_is_an_empty_budget_that_keeps_its_path(tmp_path: Path) -> None:
    path = tmp_path / "ragcost.yaml"
    b = load(path)
    assert b == Budget(path=path, exists=False)
    assert not b.scenarios


@pytest.mark.parametrize("text", ["", "\n\n", "# only a comment\n", "null\n", "---\n"])
def test_empty_documents_are_empty_budgets(text: str) -> None:
    b = loads(text)
    assert b.exists
    assert not b.scenarios
    assert b.environment == {}


def test_full_file_with_judge_prices_environment_and_success() -> None:
    b = loads(doc("""
        version: 1
        judge:
          model: gpt-4o-mini
          base_url: http://localhost:8080/v1
          api_key_env: OPENAI_API_KEY
          concurrency: 8
          timeout_s: 30
          retries: 0
          structured_mode: json_schema
        prices:
          gpt-4o-mini: {input_per_mtok: 0.15, output_per_mtok: 0.6, cached_input_per_mtok: 0.075}
          local: {input_per_mtok: 0, output_per_mtok: 0}
        environment:
          id: abc123
          cpu: {model: EPYC, cores: 2}
          gpus: [A100, A100]
          driver: 2026-01-01
        scenarios:
          qa:
            success: {metric: ragas_answer_correctness, min: 0.7}
            hit_at_k: {baseline: 0.8}
    """))
    assert b.judge is not None
    assert (b.judge.model, b.judge.concurrency, b.judge.timeout_s, b.judge.retries) == (
        "gpt-4o-mini", 8, 30.0, 0)
    assert b.judge.structured_mode == "json_schema"  # the same settings the judge runs with
    assert b.prices["gpt-4o-mini"].cached_input_per_mtok == 0.075
    assert b.prices["local"].cached_input_per_mtok is None
    assert b.environment == {"id": "abc123", "cpu": {"model": "EPYC", "cores": 2},
                             "gpus": ["A100", "A100"], "driver": "2026-01-01"}
    sc = b.scenarios["qa"]
    assert sc.success is not None
    assert (sc.success.metric, sc.success.min, sc.success.line) == (
        "ragas_answer_correctness", 0.7, 20)
    assert list(sc.entries) == ["hit_at_k"]


def test_empty_scenario_and_entry_are_allowed() -> None:
    b = loads("version: 1\nscenarios:\n  sketch:\n  qa:\n    wall_ms:\n")
    assert b.scenarios["sketch"].entries == {}
    wall = b.entry("qa", "wall_ms")
    assert wall is not None
    assert wall.baseline is None


# --------------------------------------------------------------------------- problems


def test_rendered_problem_names_file_line_key_expected_found_and_fix() -> None:
    text = scenario_doc("energy_j: {baseline: 3.41, tolerance: ten}\n")
    with pytest.raises(BudgetError) as info:
        loads(text, "ragcost.yaml")
    rendered = str(info.value)
    assert rendered.startswith(
        "ragcost.yaml:4: scenarios.qa.energy_j.tolerance must be a number or a percentage like"
        ' "10%" (got \'ten\'); '
    )
    assert "\n" not in rendered
    assert "in J" in rendered  # the hint speaks the metric's unit


def test_all_problems_are_collected_in_line_order() -> None:
    text = doc("""
        version: 2
        defaults: {tolerance: ten, stat: avg, severty: warn}
        scenarios:
          qa:
            energy_j: {baseline: -1, tolerance: "-5%"}
            ragas_x: {quality_drop: 150%, baseline: .nan}
            a.b.c: {}
          qa: {}
    """)
    found = problems_of(text)
    assert [(p.line, p.key_path) for p in found] == [
        (1, "version"),
        (2, "defaults.tolerance"),
        (2, "defaults.stat"),
        (2, "defaults.severty"),
        (5, "scenarios.qa.energy_j.baseline"),
        (5, "scenarios.qa.energy_j.tolerance"),
        (6, "scenarios.qa.ragas_x.quality_drop"),
        (6, "scenarios.qa.ragas_x.baseline"),
        (7, 'scenarios.qa."a.b.c"'),
        (8, "scenarios.qa"),
    ]
    assert len(str(BudgetError(found)).splitlines()) == len(found)


def test_yaml_syntax_error_reports_its_line() -> None:
    p = one_problem("version: 1\nscenarios:\n  qa:\n    wall_ms: {baseline: 3\n    cpu_ms: x\n")
    assert p.line is not None
    assert p.line >= 4
    assert p.expected.startswith("is not valid YAML")


def test_tab_indentation_is_a_syntax_error_with_line() -> None:
    p = one_problem("version: 1\nscenarios:\n\tqa: {}\n")
    assert p.line == 3
    assert "YAML" in p.expected


def test_two_documents_are_refused() -> None:
    p = one_problem("version: 1\n---\nversion: 1\n")
    assert "YAML" in p.expected
    assert p.line == 2


@pytest.mark.parametrize(
    ("text", "found"),
    [("- a\n- b\n", "a list"), ("just words\n", "'just words'"), ("3\n", "3")],
)
def test_top_level_must_be_a_mapping(text: str, found: str) -> None:
    p = one_problem(text)
    assert (p.line, p.key_path, p.found) == (1, "", found)
    assert "mapping at the top level" in p.expected


def test_unknown_top_level_key_suggests_the_closest() -> None:
    p = one_problem("version: 1\nscenario:\n  qa: {}\n")
    assert (p.line, p.key_path, p.hint) == (2, "scenario", "did you mean 'scenarios'?")


def test_unknown_entry_key_suggests_the_closest() -> None:
    p = one_problem(scenario_doc("wall_ms: {baseline: 3, tolerence: 5%}\n"))
    assert (p.line, p.key_path) == (4, "scenarios.qa.wall_ms.tolerence")
    assert p.hint == "did you mean 'tolerance'?"


def test_unknown_key_far_from_everything_lists_the_valid_ones() -> None:
    p = one_problem(scenario_doc("wall_ms: {zzz: 1}\n"))
    assert "baseline" in p.hint
    assert "severity" in p.hint


@pytest.mark.parametrize(
    ("value", "expected", "hint_part"),
    [
        ('"3104"', "must be a number in ms", "remove the quotes"),
        ("true", "must be a number in ms", "plain number"),
        ("[1, 2]", "must be a number in ms", ""),
        ("-1", "must not be negative", ""),
        (".nan", "must be a finite number", "NaN"),
        (".inf", "must be a finite number", ""),
        ("1e400", "must be a finite number", ""),
    ],
)
def test_bad_baselines(value: str, expected: str, hint_part: str) -> None:
    p = one_problem(scenario_doc(f"wall_ms: {{baseline: {value}}}\n"))
    assert (p.line, p.key_path, p.expected) == (4, "scenarios.qa.wall_ms.baseline", expected)
    assert hint_part in p.hint


def test_negative_budget() -> None:
    p = one_problem(scenario_doc("cost_usd:\n  budget: -0.5\n"))
    assert (p.line, p.key_path, p.expected, p.found) == (
        5, "scenarios.qa.cost_usd.budget", "must not be negative", "-0.5")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("5%", Tolerance(0.05, True)),
        ('"10 %"', Tolerance(0.10, True)),
        ("+5%", Tolerance(0.05, True)),
        ("2.5%", Tolerance(0.025, True)),
        ("0%", Tolerance(0.0, True)),
        ("150%", Tolerance(1.5, True)),  # a cost may more than double if you say so
        ("0.5", Tolerance(0.5, False)),
        ("3", Tolerance(3.0, False)),
    ],
)
def test_tolerance_forms_accepted(value: str, expected: Tolerance) -> None:
    entry = loads(scenario_doc(f"wall_ms: {{tolerance: {value}}}\n")).entry("qa", "wall_ms")
    assert entry is not None
    assert entry.tolerance is not None
    assert math.isclose(entry.tolerance.value, expected.value)
    assert entry.tolerance.relative == expected.relative


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ten", 'must be a number or a percentage like "10%"'),
        ("abc%", 'must be a number or a percentage like "10%"'),
        ("5%%", 'must be a number or a percentage like "10%"'),
        ('"nan%"', 'must be a number or a percentage like "10%"'),
        ("-5%", "must not be negative"),
        ("-0.5", "must not be negative"),
        (".nan", "must be a finite number"),
        ("true", 'must be a number or a percentage like "10%"'),
        ("{a: 1}", 'must be a number or a percentage like "10%"'),
    ],
)
def test_tolerance_forms_refused(value: str, expected: str) -> None:
    p = one_problem(scenario_doc(f"wall_ms: {{tolerance: {value}}}\n"))
    assert (p.line, p.key_path, p.expected) == (4, "scenarios.qa.wall_ms.tolerance", expected)


def test_quality_drop_above_100_percent_is_refused() -> None:
    p = one_problem(scenario_doc("ragas_faithfulness: {quality_drop: 150%}\n"))
    assert (p.line, p.key_path, p.expected) == (
        4, "scenarios.qa.ragas_faithfulness.quality_drop", "must be at most 100%")
    entry = loads(scenario_doc("mrr: {quality_drop: 100%}\n")).entry("qa", "mrr")
    assert entry is not None
    assert entry.quality_drop == Tolerance(1.0, True)


def test_defaults_quality_drop_above_100_percent_is_refused() -> None:
    p = one_problem("version: 1\ndefaults:\n  quality_drop: 101%\n")
    assert (p.line, p.key_path) == (3, "defaults.quality_drop")


def test_tolerance_belongs_to_costs_and_quality_drop_to_scores() -> None:
    found = problems_of(scenario_doc("mrr: {tolerance: 5%}\nwall_ms: {quality_drop: 1%}\n"))
    assert [(p.line, p.key_path) for p in found] == [
        (4, "scenarios.qa.mrr.tolerance"), (5, "scenarios.qa.wall_ms.quality_drop")]
    assert "quality_drop" in found[0].hint
    assert "tolerance" in found[1].hint


def test_unknown_metric_lists_valid_ones_and_suggests() -> None:
    p = one_problem(scenario_doc("generate.wal_ms: {baseline: 1}\n"))
    assert (p.line, p.key_path) == (4, "scenarios.qa.generate.wal_ms")
    assert p.expected == "names an unknown metric 'wal_ms'"
    assert "did you mean 'wall_ms'?" in p.hint
    assert "tokens_<kind>" in p.hint
    assert "energy_j" in p.hint
    p = one_problem(scenario_doc("latency: {baseline: 1}\n"))
    assert "valid metrics include" in p.hint


def test_entry_field_written_at_scenario_level_says_where_it_belongs() -> None:
    p = one_problem(scenario_doc("baseline: 3\n"))
    assert (p.line, p.key_path) == (4, "scenarios.qa.baseline")
    assert p.hint == ("baseline belongs inside a metric's entry,"
                      " e.g. tokens_context: {baseline: ...}")


@pytest.mark.parametrize("key", ["a.b.c", ".wall_ms", "wall_ms.", "a..wall_ms"])
def test_dotted_keys_that_do_not_parse(key: str) -> None:
    p = one_problem(scenario_doc(f"{key}: {{baseline: 1}}\n"))
    assert p.line == 4
    assert p.key_path == f'scenarios.qa."{key}"'
    assert p.expected == "must be 'metric' or 'stage.metric'"


def test_stage_name_must_be_an_identifier() -> None:
    p = one_problem(scenario_doc('"9stage.wall_ms": {baseline: 1}\n'))
    assert p.line == 4
    assert "stage name '9stage'" in p.expected


def test_quality_score_under_a_stage_is_refused() -> None:
    p = one_problem(scenario_doc("generate.ragas_faithfulness: {baseline: 0.9}\n"))
    assert p.line == 4
    assert "whole scenario" in p.hint


def test_unknown_stat_suggests() -> None:
    p = one_problem(scenario_doc("wall_ms: {stat: meen}\n"))
    assert (p.line, p.key_path, p.found) == (4, "scenarios.qa.wall_ms.stat", "'meen'")
    assert p.hint.startswith("did you mean 'mean'?")


def test_unknown_severity() -> None:
    p = one_problem(scenario_doc("wall_ms: {severity: error}\n"))
    assert p.key_path == "scenarios.qa.wall_ms.severity"
    assert p.expected == "must be one of fail, warn"


@pytest.mark.parametrize(
    ("fields", "key"),
    [("n: -1", "n"), ("n: 2.5", "n"), ("se: -0.1", "se"), ("source: guessed", "source")],
)
def test_bad_evidence(fields: str, key: str) -> None:
    p = one_problem(scenario_doc(f"energy_j: {{baseline: 1, {fields}}}\n"))
    assert (p.line, p.key_path) == (4, f"scenarios.qa.energy_j.{key}")


@pytest.mark.parametrize(
    ("text", "line", "key_path", "expected"),
    [
        ("scenarios: {}\n", 1, "version", "is missing"),
        ("version: 2\n", 1, "version", "must be 1"),
        ('version: "1"\n', 1, "version", "must be 1"),
        ("version: true\n", 1, "version", "must be 1"),
        ("version:\n", 1, "version", "must be 1"),
    ],
)
def test_version(text: str, line: int, key_path: str, expected: str) -> None:
    p = one_problem(text)
    assert (p.line, p.key_path, p.expected) == (line, key_path, expected)


def test_entry_must_be_a_mapping() -> None:
    p = one_problem(scenario_doc("wall_ms: 412\n"))
    assert (p.line, p.key_path, p.found) == (4, "scenarios.qa.wall_ms", "412")
    assert p.expected == "must be a mapping like {baseline: 3104}"


def test_scenarios_and_scenario_must_be_mappings() -> None:
    assert one_problem("version: 1\nscenarios: [a]\n").key_path == "scenarios"
    p = one_problem("version: 1\nscenarios:\n  qa: [wall_ms]\n")
    assert (p.line, p.key_path) == (3, "scenarios.qa")


def test_scenario_names_are_free_text_but_keys_must_be_strings() -> None:
    b = loads('version: 1\nscenarios:\n  "tests/test_rag.py::test_qa[x]": {}\n  qa typical: {}\n')
    assert list(b.scenarios) == ["tests/test_rag.py::test_qa[x]", "qa typical"]
    p = one_problem("version: 1\nscenarios:\n  2024: {}\n")
    assert (p.line, p.expected, p.found) == (3, "has a key that is not a string", "2024")
    assert 'quote it, e.g. "2024"' in p.hint
    p = one_problem('version: 1\nscenarios:\n  "": {}\n')
    assert p.expected == "must be a non-empty scenario name"


def test_duplicate_keys_name_both_lines() -> None:
    p = one_problem(scenario_doc("wall_ms: {baseline: 1}\nwall_ms: {baseline: 2}\n"))
    assert (p.line, p.key_path, p.expected) == (
        5, "scenarios.qa.wall_ms", "appears twice (first on line 4)")


@pytest.mark.parametrize(
    ("entry", "key_path", "expected"),
    [
        ("success: {metric: wall_ms, min: 0.7}", "scenarios.qa.success.metric",
         "must name a quality score"),
        ("success: {metric: mrr}", "scenarios.qa.success.min", "is missing"),
        ("success: {metric: mrr, min: 0.5, max: 1}", "scenarios.qa.success.max",
         "is not a known success key"),
        ("success: {metric: mrr, min: high}", "scenarios.qa.success.min", "must be a number"),
        ("success: 0.7", "scenarios.qa.success", "must be a mapping like"),
    ],
)
def test_bad_success(entry: str, key_path: str, expected: str) -> None:
    p = one_problem(scenario_doc(entry + "\n"))
    assert p.line == 4
    assert p.key_path == key_path
    assert p.expected.startswith(expected)


@pytest.mark.parametrize(
    ("field", "key_path", "expected"),
    [
        ("concurrency: 0", "judge.concurrency", "must be at least 1"),
        ("retries: -1", "judge.retries", "must be at least 0"),
        ("timeout_s: 0", "judge.timeout_s", "must be greater than 0"),
        ("api_key_env: sk-abc123", "judge.api_key_env",
         "must be the name of an environment variable"),
        ("model: 3", "judge.model", "must be a non-empty string"),
        ("modle: x", "judge.modle", "is not a known judge key"),
        ("structured_mode: xml", "judge.structured_mode",
         "must be one of json, json_schema, md_json"),
        ("base_url: http://localhost:8080/v1", "judge.model", "is required"),
    ],
)
def test_bad_judge(field: str, key_path: str, expected: str) -> None:
    p = one_problem(f"version: 1\njudge:\n  {field}\n")
    assert (p.key_path, p.expected) == (key_path, expected)
    assert p.line == (2 if key_path == "judge.model" and "required" in expected else 3)


def test_bad_prices() -> None:
    found = problems_of(doc("""
        version: 1
        prices:
          m1: {input_per_mtok: 0.15}
          m2: {input_per_mtok: -1, output_per_mtok: 1}
          m3: {input_per_mtok: 1, output_per_mtok: 1, cache_per_mtok: 1}
          m4: 3
    """))
    assert [(p.line, p.key_path) for p in found] == [
        (3, "prices.m1.output_per_mtok"),
        (4, "prices.m2.input_per_mtok"),
        (5, "prices.m3.cache_per_mtok"),
        (6, "prices.m4"),
    ]
    assert found[2].hint == "did you mean 'cached_input_per_mtok'?"


def test_environment_must_be_a_mapping() -> None:
    p = one_problem("version: 1\nenvironment: [a, b]\n")
    assert (p.line, p.key_path, p.found) == (2, "environment", "a list")


def test_aliases_are_refused() -> None:
    text = scenario_doc("wall_ms: &w {baseline: 1}\ncpu_ms: *w\n")
    p = one_problem(text)
    assert p.line == 4
    assert "alias" in p.expected


def test_recursive_alias_does_not_hang() -> None:
    p = one_problem("version: 1\nenvironment: &e {self: *e}\n")
    assert "alias" in p.expected


@pytest.mark.parametrize(
    "value", ["!foo 3", "!!python/object/apply:os.system ['true']", "!!binary aGVsbG8=",
              "!!set {a, b}"],
)
def test_non_standard_tags_are_refused(value: str) -> None:
    p = one_problem(f"version: 1\nenvironment:\n  x: {value}\n")
    assert p.line == 3
    assert p.expected == "uses a YAML tag that is not allowed"


def test_standard_tags_are_fine() -> None:
    b = loads("version: !!int 1\nenvironment:\n  x: !!str 3\n")
    assert b.environment == {"x": "3"}


def test_unreadable_files_raise_budget_error(tmp_path: Path) -> None:
    with pytest.raises(BudgetError) as info:
        load(tmp_path)  # a directory
    assert info.value.problems[0].expected == "cannot be read"
    bad = tmp_path / "ragcost.yaml"
    bad.write_bytes(b"version: 1\nscenarios:\n  q\xffa: {}\n")
    with pytest.raises(BudgetError) as info:
        load(bad)
    p = info.value.problems[0]
    assert (p.line, p.expected, p.found) == (3, "is not UTF-8 text", "byte 0xff")
    assert str(p).startswith(f"{bad}:3: is not UTF-8 text")


def test_a_path_with_a_nul_byte_is_a_budget_error() -> None:
    with pytest.raises(BudgetError, match="cannot be read"):
        load("ragcost\x00.yaml")


def test_absurd_nesting_is_a_budget_error() -> None:
    with pytest.raises(BudgetError):
        loads("[" * 5000 + "]" * 5000)
    deep = "version: 1\nenvironment:\n" + "".join(
        " " * (2 * i + 2) + f"k{i}:\n" for i in range(40)) + " " * 82 + "leaf: 1\n"
    p = one_problem(deep)
    assert p.expected == "is nested deeper than 32 levels"


def test_problem_without_a_line_renders_without_one() -> None:
    p = Problem("ragcost.yaml", None, "scenarios.qa", "is odd", "x", "fix it")
    assert str(p) == "ragcost.yaml: scenarios.qa is odd (got x); fix it"


def test_scenario_names_with_dots_are_quoted_in_key_paths() -> None:
    p = one_problem("version: 1\nscenarios:\n  qa.v2:\n    wall_ms: {stat: avg}\n")
    assert p.key_path == 'scenarios."qa.v2".wall_ms.stat'


def test_control_characters_are_reported() -> None:
    p = one_problem("version: 1\nscenarios:\n  qa\x00: {}\n")
    assert p.line == 3


def test_bom_and_crlf_files_load(tmp_path: Path) -> None:
    path = tmp_path / "ragcost.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + SPEC_EXAMPLE.replace("\n", "\r\n").encode())
    entry = load(path).entry("qa-typical", "energy_j")
    assert entry is not None
    assert entry.line == 9


def test_parse_tolerance_directly() -> None:
    assert parse_tolerance("7%") == Tolerance(0.07, True)
    assert parse_tolerance(2) == Tolerance(2.0, False)
    with pytest.raises(ValueError, match="at most 100%"):
        parse_tolerance("100.5%", max_relative=1.0)
    with pytest.raises(ValueError, match="finite"):
        parse_tolerance(math.inf)


# --------------------------------------------------------------------------- update

HAND_WRITTEN = """\
# Budgets for the RAG service. Reviewed like code.
version: 1

defaults:
  tolerance: 5%        # a cost may rise this much over its baseline
  quality_drop: "1%"   # quoted on purpose

scenarios:
  # the everyday question
  qa-typical:
    tokens_context:       {baseline: 3104}   # counted with o200k
    generate.wall_ms:     {baseline: 412.0, stat: p95, tolerance: 15%}
    energy_j:             {baseline: 3.41, tolerance: 10%, severity: warn}
    cost_usd:             {budget: 0.002, baseline: 0.0019}
    ragas_context_recall:
      # recall of the reference contexts
      baseline: 0.91
      severity: warn

  ingest-burst:
    wall_ms: {baseline: 9000.0}   # not measured in this run
    'count_chunks': {baseline: 1200}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ragcost.yaml"
    path.write_text(text)
    return path


def changed_lines(old: str, new: str) -> list[str]:
    diff = difflib.unified_diff(old.splitlines(), new.splitlines(), lineterm="", n=0)
    return [line for line in diff
            if line[:1] in "+-" and not line.startswith(("+++", "---"))]


def test_update_changes_only_baseline_numbers(tmp_path: Path) -> None:
    path = write(tmp_path, HAND_WRITTEN)
    result = update(path, {"qa-typical": {
        "tokens_context": Measured(3110),
        "generate.wall_ms": Measured(415.26, stat="p95"),
        "energy_j": Measured(3.399),
        "cost_usd": Measured(0.00181234),
        "ragas_context_recall": Measured(0.9234),
    }})
    new = path.read_text()
    changed = changed_lines(HAND_WRITTEN, new)
    assert len(changed) == 10  # five lines out, five lines in
    for line in changed:
        assert "baseline:" in line, line
    # the rest of each changed line is as it was: same alignment, comments, other keys
    assert "    tokens_context:       {baseline: 3110}   # counted with o200k" in new
    assert "    generate.wall_ms:     {baseline: 415.3, stat: p95, tolerance: 15%}" in new
    assert "    cost_usd:             {budget: 0.002, baseline: 0.00181234}" in new
    assert "      baseline: 0.9234\n" in new
    assert [(c.key, c.old, c.new) for c in result.changes] == [
        ("cost_usd", 0.0019, 0.00181234),
        ("energy_j", 3.41, 3.399),
        ("generate.wall_ms", 412.0, 415.3),
        ("ragas_context_recall", 0.91, 0.9234),
        ("tokens_context", 3104.0, 3110.0),
    ]
    assert result.written
    assert not result.created
    assert result.skipped == ()
    reread = load(path)
    assert reread.entry("qa-typical", "generate.wall_ms") == loads(new).entry(
        "qa-typical", "generate.wall_ms")
    cost = reread.entry("qa-typical", "cost_usd")
    assert cost is not None
    assert cost.budget == 0.002


def test_update_writes_evidence_next_to_the_baseline(tmp_path: Path) -> None:
    path = write(tmp_path, HAND_WRITTEN)
    update(path, {"qa-typical": {
        "energy_j": Measured(3.399, n=100, se=0.0512, source="estimated"),
        "ragas_context_recall": Measured(0.93, n=50),
    }})
    new = path.read_text()
    for line in changed_lines(HAND_WRITTEN, new):
        assert any(f"{k}:" in line for k in ("baseline", "n", "se", "source")), line
    assert ("    energy_j:             {baseline: 3.399, n: 100, se: 0.0512, source: estimated,"
            " tolerance: 10%, severity: warn}") in new
    assert "      baseline: 0.93\n      n: 50\n      severity: warn\n" in new
    entry = load(path).entry("qa-typical", "energy_j")
    assert entry is not None
    assert (entry.baseline, entry.n, entry.se, entry.source) == (3.399, 100, 0.0512, "estimated")


def test_stale_evidence_is_removed_with_a_new_baseline(tmp_path: Path) -> None:
    path = write(tmp_path, scenario_doc("""\
        wall_ms: {baseline: 3.0, n: 10, se: 0.2, tolerance: 5%}
        cpu_ms:
          baseline: 2.0
          se: 0.1  # from the old run
          n: 10
        """))
    update(path, {"qa": {"wall_ms": Measured(3.5, n=1), "cpu_ms": Measured(2.5)}})
    new = path.read_text()
    assert "wall_ms: {baseline: 3.5, n: 1, tolerance: 5%}" in new
    assert "cpu_ms:\n      baseline: 2.5\n" in new
    assert "se:" not in new
    assert "old run" not in new
    cpu = load(path).entry("qa", "cpu_ms")
    assert cpu is not None
    assert (cpu.n, cpu.se) == (None, None)


def test_new_keys_follow_existing_ones_sorted_and_new_scenarios_go_last(tmp_path: Path) -> None:
    path = write(tmp_path, HAND_WRITTEN)
    update(path, {
        "zz-new": {"wall_ms": Measured(12.34567), "errors": Measured(0)},
        "qa-typical": {"rerank.tokens_rerank_in": Measured(900), "count_candidates": Measured(8)},
        "aa-new": {"tokens_total": Measured(5000)},
    })
    new = path.read_text()
    assert new.startswith(HAND_WRITTEN.split("      severity: warn\n")[0])
    expected_tail = (
        "      severity: warn\n"
        "    count_candidates: {baseline: 8}\n"
        "    rerank.tokens_rerank_in: {baseline: 900}\n"
        "\n"
        "  ingest-burst:\n"
        "    wall_ms: {baseline: 9000.0}   # not measured in this run\n"
        "    'count_chunks': {baseline: 1200}\n"
        "  aa-new:\n"
        "    tokens_total: {baseline: 5000}\n"
        "  zz-new:\n"
        "    errors: {baseline: 0}\n"
        "    wall_ms: {baseline: 12.35}\n"
    )
    assert new.endswith(expected_tail)
    b = load(path)
    assert list(b.scenarios) == ["qa-typical", "ingest-burst", "aa-new", "zz-new"]
    assert list(b.scenarios["qa-typical"].entries)[-2:] == [
        "count_candidates", "rerank.tokens_rerank_in"]


def test_odd_scenario_names_are_quoted_and_read_back(tmp_path: Path) -> None:
    names = ["tests/test_rag.py::test_qa[hyde-on]", "true", "123", 'a "quoted": name',
             "tab\there", "ünïcode ✓", "- dash", "#hash"]
    path = write(tmp_path, "version: 1\nscenarios:\n  qa: {}\n")
    update(path, {name: {"wall_ms": Measured(1.0)} for name in names})
    b = load(path)
    assert list(b.scenarios) == ["qa", *sorted(names)]
    for name in names:
        entry = b.entry(name, "wall_ms")
        assert entry is not None
        assert entry.baseline == 1.0


def test_flow_scenarios_and_empty_places_are_filled_in_their_own_style(tmp_path: Path) -> None:
    path = write(tmp_path, doc("""
        version: 1
        scenarios:
          flowed: {wall_ms: {baseline: 10.0}}   # one line
          sketch:
          nulled: ~  # later
          braces: {}
          entry:
            wall_ms:
    """))
    update(path, {
        "flowed": {"cpu_ms": Measured(3.0), "wall_ms": Measured(11.0)},
        "sketch": {"wall_ms": Measured(1.0)},
        "nulled": {"wall_ms": Measured(2.0)},
        "braces": {"wall_ms": Measured(3.0)},
        "entry": {"wall_ms": Measured(4.0)},
    })
    new = path.read_text()
    assert "  flowed: {wall_ms: {baseline: 11.0}, cpu_ms: {baseline: 3.0}}   # one line\n" in new
    assert "  sketch:\n    wall_ms: {baseline: 1.0}\n" in new
    assert "  nulled:  # later\n    wall_ms: {baseline: 2.0}\n" in new
    assert "  braces:\n    wall_ms: {baseline: 3.0}\n" in new
    assert "    wall_ms: {baseline: 4.0}\n" in new
    b = load(path)
    assert {name: sc.entries["wall_ms"].baseline for name, sc in b.scenarios.items()} == {
        "flowed": 11.0, "sketch": 1.0, "nulled": 2.0, "braces": 3.0, "entry": 4.0}


def test_indentation_width_is_taken_from_the_file(tmp_path: Path) -> None:
    path = write(tmp_path, "version: 1\ndefaults:\n   tolerance: 5%\n")
    update(path, {"qa": {"cpu_ms": Measured(2.0)}})
    assert path.read_text().endswith("scenarios:\n   qa:\n      cpu_ms: {baseline: 2.0}\n")


def test_four_space_indentation_is_followed(tmp_path: Path) -> None:
    path = write(tmp_path, "version: 1\nscenarios:\n    qa:\n        wall_ms: {baseline: 1.0}\n")
    update(path, {"qa": {"cpu_ms": Measured(2.0)}, "new": {"cpu_ms": Measured(3.0)}})
    assert path.read_text() == (
        "version: 1\nscenarios:\n    qa:\n        wall_ms: {baseline: 1.0}\n"
        "        cpu_ms: {baseline: 2.0}\n    new:\n        cpu_ms: {baseline: 3.0}\n")


def test_improvements_mode_only_tightens(tmp_path: Path) -> None:
    path = write(tmp_path, scenario_doc("""\
        wall_ms: {baseline: 100.0}
        cpu_ms: {baseline: 100.0}
        tokens_context: {baseline: 3000}
        ragas_faithfulness: {baseline: 0.8}
        mrr: {baseline: 0.8}
        """))
    result = update(path, {"qa": {
        "wall_ms": Measured(90.0),          # cost fell: written
        "cpu_ms": Measured(120.0),          # cost rose: kept
        "tokens_context": Measured(3000),   # no change: kept
        "ragas_faithfulness": Measured(0.85),  # score rose: written
        "mrr": Measured(0.7),               # score fell: kept
        "errors": Measured(0),              # new: written
    }}, mode="improvements")
    b = load(path)
    got = {key: e.baseline for key, e in b.scenarios["qa"].entries.items()}
    assert got == {"wall_ms": 90.0, "cpu_ms": 100.0, "tokens_context": 3000.0,
                   "ragas_faithfulness": 0.85, "mrr": 0.8, "errors": 0.0}
    assert sorted(c.key for c in result.changes) == ["errors", "ragas_faithfulness", "wall_ms"]
    assert sorted(s.key for s in result.skipped) == ["cpu_ms", "mrr", "tokens_context"]


def test_all_mode_loosens_too(tmp_path: Path) -> None:
    path = write(tmp_path, scenario_doc("cpu_ms: {baseline: 100.0}\nmrr: {baseline: 0.8}\n"))
    update(path, {"qa": {"cpu_ms": Measured(120.0), "mrr": Measured(0.7)}})
    b = load(path)
    assert [e.baseline for e in b.scenarios["qa"].entries.values()] == [120.0, 0.7]


def test_stat_mismatch_is_skipped_not_written(tmp_path: Path) -> None:
    path = write(tmp_path, scenario_doc("wall_ms: {baseline: 1.0, stat: p95}\n"))
    before = path.read_text()
    result = update(path, {"qa": {"wall_ms": Measured(2.0, stat="mean")}})
    assert path.read_text() == before
    assert not result.written
    assert [(s.key, s.reason) for s in result.skipped] == [
        ("wall_ms", "the entry gates p95 but mean was measured")]


def test_new_entry_records_a_stat_other_than_the_default(tmp_path: Path) -> None:
    path = write(tmp_path, "version: 1\nscenarios:\n  qa: {}\n")
    update(path, {"qa": {"wall_ms": Measured(5.0, stat="p95")}})
    entry = load(path).entry("qa", "wall_ms")
    assert entry is not None
    assert (entry.stat, entry.baseline) == ("p95", 5.0)


@pytest.mark.parametrize(
    ("key", "value", "text", "number"),
    [
        ("tokens_context", 3104.0, "3104", 3104.0),
        ("tokens_context", 3104.5, "3104.5", 3104.5),
        ("tokens_context", 1 / 3, repr(1 / 3), 1 / 3),  # exact metrics keep every digit
        ("wall_ms", 412.0449, "412.0", 412.0),
        ("wall_ms", 123456.7, "123500.0", 123500.0),
        ("energy_j", 1.23456e-05, "1.235e-05", 1.235e-05),
        ("energy_j", 1e-05, "1.0e-05", 1e-05),
        ("ragas_faithfulness", 0.912345, "0.9123", 0.9123),
        ("cost_usd", 0.00181234567, "0.00181235", 0.00181235),
    ],
)
def test_format_baseline_rounding(key: str, value: float, text: str, number: float) -> None:
    assert format_baseline(key, value) == (text, number)
    entry = loads(scenario_doc(f"{key}: {{baseline: {text}}}\n")).entry("qa", key)
    assert entry is not None
    assert entry.baseline == number


def test_missing_file_is_created_with_a_valid_document(tmp_path: Path) -> None:
    path = tmp_path / "ragcost.yaml"
    result = update(path, {"qa": {"wall_ms": Measured(5.0), "tokens_total": Measured(100)}},
                    environment={"id": "abc", "cpu": {"cores": 2}})
    assert result.created
    assert result.written
    text = path.read_text()
    assert text.startswith("# ragcost.yaml")
    b = load(path)
    assert b.defaults.tolerance == Tolerance(0.05, True)
    assert b.defaults.quality_drop == Tolerance(0.01, True)
    assert b.environment == {"id": "abc", "cpu": {"cores": 2}}
    assert [(k, e.baseline) for k, e in b.scenarios["qa"].entries.items()] == [
        ("tokens_total", 100.0), ("wall_ms", 5.0)]
    umask = os.umask(0)
    os.umask(umask)
    assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~umask


def test_comment_only_file_keeps_its_comments(tmp_path: Path) -> None:
    path = write(tmp_path, "# budgets go here\n")
    update(path, {"qa": {"wall_ms": Measured(5.0)}})
    text = path.read_text()
    assert text.startswith("# budgets go here\nversion: 1\n")
    assert load(path).entry("qa", "wall_ms") is not None


def test_environment_is_replaced_or_added(tmp_path: Path) -> None:
    path = write(tmp_path, doc("""
        version: 1
        environment:   # measured on
          cpu: epyc
          gpu: none
        # scenarios follow
        scenarios:
          qa:
            wall_ms: {baseline: 1.0}
    """))
    env = {"cpu": "AMD EPYC 7B13", "gpus": ["A100", 2], "ok": True, "x": None,
           "ratio": 0.5, "nested": {"a": {"b": "yes"}}}
    update(path, {}, environment=env)
    text = path.read_text()
    assert "# scenarios follow\nscenarios:\n" in text
    assert "environment:\n  cpu: \"AMD EPYC 7B13\"\n" in text
    assert load(path).environment == env
    path2 = write(tmp_path, "version: 1\n")
    update(path2, {}, environment={"id": "z"})
    assert path2.read_text() == "version: 1\nenvironment:\n  id: z\n"


def test_nothing_changes_means_nothing_is_written(tmp_path: Path) -> None:
    path = write(tmp_path, HAND_WRITTEN)
    measured = {"qa-typical": {"tokens_context": Measured(3104)}}
    before = path.stat()
    result = update(path, measured)
    assert not result.written
    assert result.changes == ()
    assert path.stat().st_ino == before.st_ino
    assert path.read_text() == HAND_WRITTEN


def test_update_keeps_crlf_bom_and_mode(tmp_path: Path) -> None:
    path = tmp_path / "ragcost.yaml"
    path.write_bytes(b"\xef\xbb\xbf" + HAND_WRITTEN.replace("\n", "\r\n").encode())
    path.chmod(0o640)
    update(path, {"qa-typical": {"tokens_context": Measured(3000)}})
    data = path.read_bytes()
    assert data.startswith(b"\xef\xbb\xbf")
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert b"{baseline: 3000}   # counted" in data
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_broken_file_is_reported_and_left_alone(tmp_path: Path) -> None:
    text = HAND_WRITTEN.replace("tolerance: 15%", "tolerance: fifteen")
    path = write(tmp_path, text)
    with pytest.raises(BudgetError) as info:
        update(path, {"qa-typical": {"tokens_context": Measured(1)}})
    assert info.value.problems[0].line == 12
    assert path.read_text() == text


@pytest.mark.parametrize(
    ("measured", "key_path"),
    [
        ({"qa": {"latency": Measured(1.0)}}, "scenarios.qa.latency"),
        ({"qa": {"wall_ms": Measured(math.nan)}}, "scenarios.qa.wall_ms.value"),
        ({"qa": {"wall_ms": Measured(-1.0)}}, "scenarios.qa.wall_ms.value"),
        ({"qa": {"tokens_total": Measured(10**400)}}, "scenarios.qa.tokens_total.value"),
        ({"qa": {"wall_ms": Measured(1.0, se=math.inf)}}, "scenarios.qa.wall_ms.se"),
        ({"qa": {"wall_ms": Measured(1.0, source="guess")}}, "scenarios.qa.wall_ms.source"),
        ({"": {"wall_ms": Measured(1.0)}}, "scenarios.\"\""),
    ],
)
def test_bad_measurements_are_refused_before_writing(
    tmp_path: Path, measured: dict[str, dict[str, Measured]], key_path: str
) -> None:
    path = write(tmp_path, HAND_WRITTEN)
    with pytest.raises(BudgetError) as info:
        update(path, measured)
    assert info.value.problems[0].key_path == key_path
    assert path.read_text() == HAND_WRITTEN


def test_bad_mode_is_a_value_error(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="improvements"):
        update(tmp_path / "x.yaml", {}, mode="better")  # type: ignore[arg-type]


# --------------------------------------------------------------------------- atomicity


def leftovers(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in tmp_path.iterdir() if p.name != "ragcost.yaml")


def test_failed_fsync_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, HAND_WRITTEN)

    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    with monkeypatch.context() as m:
        m.setattr(os, "fsync", broken_fsync)
        with pytest.raises(BudgetError) as info:
            update(path, {"qa-typical": {"tokens_context": Measured(1)}})
    assert "No space left on device" in str(info.value)
    assert path.read_text() == HAND_WRITTEN
    assert leftovers(tmp_path) == []


def test_crash_half_way_through_the_dump_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, HAND_WRITTEN)
    real_fdopen = os.fdopen

    class HalfWriter:
        def __init__(self, fd: int, mode: str) -> None:
            self.fh = real_fdopen(fd, mode)

        def __enter__(self) -> HalfWriter:
            return self

        def __exit__(self, *exc: object) -> None:
            self.fh.close()

        def write(self, data: bytes) -> int:
            self.fh.write(data[: len(data) // 2])
            raise KeyboardInterrupt  # the process is stopped mid-write

        def flush(self) -> None:
            self.fh.flush()

        def fileno(self) -> int:
            return self.fh.fileno()

    with monkeypatch.context() as m:
        m.setattr(os, "fdopen", HalfWriter)
        with pytest.raises(KeyboardInterrupt):
            update(path, {"qa-typical": {"tokens_context": Measured(1)}})
    assert path.read_text() == HAND_WRITTEN
    assert leftovers(tmp_path) == []


def test_failed_replace_leaves_the_old_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = write(tmp_path, HAND_WRITTEN)

    def broken_replace(src: str, dst: object) -> None:
        raise PermissionError(13, "Permission denied")

    with monkeypatch.context() as m:
        m.setattr(os, "replace", broken_replace)
        with pytest.raises(BudgetError):
            update(path, {"qa-typical": {"tokens_context": Measured(1)}})
    assert path.read_text() == HAND_WRITTEN
    assert leftovers(tmp_path) == []


def test_a_splice_that_would_break_the_file_is_never_written(tmp_path: Path) -> None:
    # a whole-document flow mapping cannot take a new top-level block
    text = "{version: 1}\n"
    path = write(tmp_path, text)
    with pytest.raises(BudgetError) as info:
        update(path, {"qa": {"wall_ms": Measured(1.0)}})
    assert "could not be updated in place" in str(info.value)
    assert path.read_text() == text
    assert leftovers(tmp_path) == []
