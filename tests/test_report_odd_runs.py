"""Saved runs that no plugin wrote: a stage named ``a.b`` or ``""``, a negative or absurd
figure, a scenario name holding terminal escape sequences. ``ragcost report`` (text,
Markdown, HTML, and as a ``--history`` file) and ``ragcost compare`` answer with a located
error (exit 2) or a rendered report, never a traceback, and nothing reaches the terminal
raw."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from pytest_ragcost.cli import main

ESC = "\x1b[31mRED\x1b[0m\x1b]0;pwned\x07\x9b2J"

SCENARIO = '''
import pytest

@pytest.mark.ragcost(scenario={name!r}, requests=2)
def test_s(ragcost):
    for q in ragcost.requests(["a", "b"]):
        with ragcost.stage("retrieve") as st:
            st.count(hits=1)
        with ragcost.stage("generate") as st:
            st.tokens(prompt="x y", completion="z")
'''


@pytest.fixture(scope="module")
def saved_run(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A run the plugin saved (made once: each case changes a copy)."""
    root = tmp_path_factory.mktemp("saved")
    (root / "test_s.py").write_text(SCENARIO.format(name="s"), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k not in ("GITHUB_STEP_SUMMARY",
                                                              "PYTEST_ADDOPTS")}
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--ragcost", "--ragcost-json=run.json",
         "--ragcost-history=none", "-p", "no:cacheprovider", "-p", "no:randomly", "-q"],
        cwd=root, env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return (root / "run.json").read_text(encoding="utf-8")


@pytest.fixture
def saved(saved_run: str) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(saved_run)
    return doc


def _stage_named(name: str) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        for request in doc["scenarios"][0]["requests"]:
            request["stages"][0]["name"] = name
    return change


def _metric(key: str, value: object) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        doc["scenarios"][0]["requests"][0]["metrics"][key] = value
    return change


def _stage_metric(key: str) -> Callable[[dict[str, Any]], None]:
    def change(doc: dict[str, Any]) -> None:
        metrics = doc["scenarios"][0]["requests"][0]["stages"][0]["metrics"]
        metrics[key] = 1.0
    return change


CASES: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "stage a.b": (_stage_named("a.b"), "scenarios[0].requests[0].stages[0].name must be a "
                  "stage name"),
    "stage empty": (_stage_named(""), "scenarios[0].requests[0].stages[0].name must be a "
                    "stage name"),
    "metric a.b in a stage": (_stage_metric("a.b"), "stages[0].metrics.a.b must be named by a "
                              "metric name"),
    "tokens -1e300": (_metric("tokens_prompt", -1e300), "scenarios[0].requests[0].metrics."
                      "tokens_prompt must be a finite number from 0 to"),
    "wall 1e300": (_metric("wall_ms", 1e300), "metrics.wall_ms must be a finite number from 0"),
}

COMMANDS = [["report"], ["report", "--markdown", "-"], ["report", "--html", "-"],
            ["report", "--html", "-", "--history"], ["export", "--csv"], ["compare"]]


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("command", COMMANDS, ids=" ".join)
def test_an_odd_run_is_a_located_error(
    saved: dict[str, Any], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    case: str, command: list[str],
) -> None:
    change, words = CASES[case]
    change(saved)
    bad = tmp_path / "odd.json"
    bad.write_text(json.dumps(saved))
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"schema_version": 1, "environment": {}, "scenarios": []}))
    if command[-1] == "--history":
        args = [command[0], str(good), *command[1:], str(bad)]
    elif command[-1] == "--csv":
        args = [*command[:1], str(bad), "--csv", str(tmp_path / "csv")]
    else:
        args = [command[0], str(bad), *command[1:]]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"ragcost: {bad}: ")
    assert words in err
    assert "Traceback" not in err


def test_escape_sequences_in_names_never_reach_the_terminal_raw(
    rag_project: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    rag_project.makepyfile(test_s=SCENARIO.format(name=ESC))
    result = rag_project.runpytest("--ragcost", "--ragcost-json=run.json")
    result.assert_outcomes(passed=1)
    summary = result.stdout.str()
    assert "scenario \\x1b[31mRED" in summary
    assert "\x1b" not in summary
    assert "\x07" not in summary
    run = str(rag_project.path / "run.json")
    for args in (["report", run], ["report", run, "--markdown", "-"], ["compare", run]):
        main(args)
        out, err = capsys.readouterr()
        assert "RED" in out
        for raw in ("\x1b", "\x07", "\x9b"):
            assert raw not in out + err, args
