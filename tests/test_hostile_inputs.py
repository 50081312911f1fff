"""Hostile and broken input files, as a user meets them: ragcost.yaml through a dangling
symlink or on a device, per-item baselines and score stores that are not what the bless
writes. The plugin stops with a usage error (exit 4) and the CLI with exit 2, each naming
the file and the place; never an INTERNALERROR, never a traceback, never a silent NEW."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from pytest_ragcost.cli import main

SCENARIO = '''
import pytest

@pytest.mark.ragcost(scenario="qa", requests=2)
def test_qa(ragcost):
    for q in ragcost.requests(["solar", "wind"]):
        with ragcost.stage("retrieve") as st:
            st.count(hits=1)
        with ragcost.stage("generate") as st:
            st.tokens(prompt="about " + q, completion=q)
        ragcost.sample(question=q, answer=q, contexts=[q], context_ids=[q],
                       reference_ids=[q])
'''

CONFIG = "version: 1\nscenarios:\n  qa:\n    tokens_prompt: {baseline: 2}\n"


@pytest.fixture
def project(rag_project: pytest.Pytester) -> pytest.Pytester:
    rag_project.makepyfile(test_qa=SCENARIO)
    return rag_project


def _no_crash(result: pytest.RunResult) -> None:
    text = result.stdout.str() + result.stderr.str()
    assert "INTERNALERROR" not in text
    assert "Traceback" not in text


# --------------------------------------------------------------------------- ragcost.yaml


def test_a_config_that_is_a_dangling_symlink_is_a_usage_error(project: pytest.Pytester) -> None:
    link = project.path / "budgets.yaml"
    link.symlink_to(project.path / "moved-away.yaml")
    result = project.runpytest("--ragcost", f"--ragcost-config={link}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(
        ["*budgets.yaml: cannot be read (got it is a symlink to *moved-away.yaml*, which does "
         "not exist)*"])
    _no_crash(result)


def test_the_default_config_as_a_dangling_symlink_is_an_error_too(
    project: pytest.Pytester,
) -> None:
    (project.path / "ragcost.yaml").symlink_to("elsewhere/ragcost.yaml")
    result = project.runpytest("--ragcost")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*ragcost.yaml: cannot be read*symlink to*does not exist*"])


def test_a_bless_through_a_dangling_symlink_creates_its_target(project: pytest.Pytester) -> None:
    (project.path / "shared").mkdir()
    (project.path / "ragcost.yaml").symlink_to("shared/ragcost.yaml")
    result = project.runpytest("--ragcost", "--ragcost-update")
    result.assert_outcomes(passed=1)
    assert "qa:" in (project.path / "shared" / "ragcost.yaml").read_text()


@pytest.mark.parametrize("flags", [(), ("--ragcost-update",)])
def test_a_config_on_a_device_is_refused_and_nothing_is_written_beside_it(
    project: pytest.Pytester, flags: tuple[str, ...]
) -> None:
    before = set(os.listdir("/dev"))
    result = project.runpytest("--ragcost", "--ragcost-config=/dev/null", *flags)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*/dev/null: cannot be read (got it is a character device, "
                                 "not a regular file)*"])
    assert set(os.listdir("/dev")) - before == set()


# --------------------------------------------------------------------------- per-item file

HOSTILE_ITEMS = {
    "invalid UTF-8": (b'{"version": 1, "scenarios": {"qa": \xff}}', "is not UTF-8 text"),
    "deep nesting": (b'{"version": 1, "scenarios": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
                     "nests too deeply"),
    "5,000-digit integer": (
        b'{"version": 1, "scenarios": {"qa": {"items": {"x": {"metrics": {"tokens_prompt": '
        + b"9" * 5000 + b"}}}}}}", "holds an integer of more than 30 digits"),
    "negative cost": (
        b'{"version": 1, "scenarios": {"qa": {"items": {"x": {"metrics": {"tokens_prompt": '
        b"-1e300}}}}}}", 'scenarios.qa.items.x.metrics.tokens_prompt must be a finite number'),
    "a directory": (None, "is a directory, not a regular file"),
}


def _place(path: Path, data: bytes | None) -> None:
    if data is None:
        path.mkdir()
    else:
        path.write_bytes(data)


@pytest.mark.parametrize("case", sorted(HOSTILE_ITEMS))
def test_a_hostile_items_file_is_a_usage_error_naming_it(
    project: pytest.Pytester, case: str
) -> None:
    data, words = HOSTILE_ITEMS[case]
    project.path.joinpath("ragcost.yaml").write_text(CONFIG)
    _place(project.path / "ragcost.items.json", data)
    result = project.runpytest("--ragcost")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "ragcost.items.json" in result.stderr.str()
    assert words in result.stderr.str()
    _no_crash(result)


@pytest.mark.parametrize("case", sorted(HOSTILE_ITEMS))
def test_compare_answers_a_hostile_items_file_with_exit_2(
    tmp_path: Path, case: str, capsys: pytest.CaptureFixture[str]
) -> None:
    data, words = HOSTILE_ITEMS[case]
    run = tmp_path / "run.json"
    run.write_text(json.dumps({"schema_version": 1, "environment": {}, "scenarios": []}))
    (tmp_path / "ragcost.yaml").write_text(CONFIG)
    _place(tmp_path / "ragcost.items.json", data)
    assert main(["compare", str(run), "--config", str(tmp_path / "ragcost.yaml")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("ragcost: ")
    assert "ragcost.items.json" in err
    assert words in err
    assert "Traceback" not in err


# --------------------------------------------------------------------------- score store


def _scores(path: Path, kind: str) -> str:
    if kind == "directory":
        path.mkdir()
        return "is a directory, not a regular file"
    if kind == "symlink loop":
        path.symlink_to(path.name)
        return "is a symlink loop"
    if kind == "invalid UTF-8":
        path.write_bytes(b'{"version": 1,\n "scenarios": {"qa\xfe": {}}}')
        return ":2: is not UTF-8 text"
    path.write_text('{"version": 1, "scenarios": {"qa": {"hit_at_k": {"tier": "x", '
                    '"samples": {"k": {"output": "o", "score": 1e999}}}}}}')
    return "holds a number too large"


SCORE_CASES = ["directory", "symlink loop", "invalid UTF-8", "overflowing score"]


@pytest.mark.parametrize("kind", SCORE_CASES)
def test_compare_answers_a_broken_score_store_with_exit_2(
    tmp_path: Path, kind: str, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run.json"
    run.write_text(json.dumps({"schema_version": 1, "environment": {}, "scenarios": []}))
    (tmp_path / "ragcost.yaml").write_text(CONFIG)
    words = _scores(tmp_path / "ragcost.scores.json", kind)
    assert main(["compare", str(run), "--config", str(tmp_path / "ragcost.yaml")]) == 2
    err = capsys.readouterr().err
    assert "ragcost.scores.json" in err
    assert words in err
    assert "Traceback" not in err


@pytest.mark.parametrize("kind", SCORE_CASES)
def test_a_broken_score_store_stops_the_run_naming_it(
    project: pytest.Pytester, kind: str
) -> None:
    project.path.joinpath("ragcost.yaml").write_text(CONFIG)
    words = _scores(project.path / "ragcost.scores.json", kind)
    result = project.runpytest("--ragcost")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    assert "ragcost.scores.json" in result.stderr.str()
    assert words in result.stderr.str()
    _no_crash(result)


def test_a_score_store_broken_during_the_run_is_unmeasured_naming_the_file(
    project: pytest.Pytester,
) -> None:
    project.path.joinpath("ragcost.yaml").write_text(CONFIG)
    project.makepyfile(test_qa=SCENARIO.replace(
        "    for q in", "    open('ragcost.scores.json', 'wb').write(b'\\xff')\n    for q in"))
    result = project.runpytest("--ragcost")
    text = result.stdout.str()
    assert "UNMEASURED" in text
    assert "ragcost.scores.json" in text
    assert "is not UTF-8 text" in text


def test_a_hostile_judge_record_is_a_usage_error_naming_it(project: pytest.Pytester) -> None:
    project.path.joinpath("ragcost.yaml").write_text(CONFIG)
    (project.path / "ragcost.judge.json").write_text(json.dumps({
        "version": 1, "answers": [{"judge_model": "j", "metric": "m", "sample": "s",
                                   "prompt_sha256": "p", "response": "r",
                                   "usage": {"input_tokens": "lots"}}]}))
    result = project.runpytest("--ragcost")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*ragcost.judge.json: answers[[]0[]].usage.input_tokens must "
                                 "be a whole number*"])
    _no_crash(result)
