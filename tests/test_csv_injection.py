"""CSV injection: a text cell a spreadsheet would evaluate (``= + - @``, tab or carriage
return first) is written with a leading ``'`` in every CSV the plugin and ``ragcost
export`` write, while numbers, negative ones included, stay numbers."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from pytest_ragcost.cli import main
from pytest_ragcost.report.csv import FORMULA_START, neutralise

HOSTILE = '''
import pytest

@pytest.mark.parametrize("knob", ["=cmd|' /C calc'!A0", "@SUM(1+1)*cmd|' /C calc'!A0",
                                  "+1+cmd", "\\tTAB", "\\rCR", "-2+3", "plain"])
@pytest.mark.parametrize("offset", [-2, 3])
@pytest.mark.ragcost(requests=2)
def test_sweep(ragcost, knob, offset):
    for q in ragcost.requests(["=1+1", "@x"]):
        with ragcost.stage("retrieve") as st:
            st.count(hits=1)
        ragcost.sample(question=q, answer=q, contexts=[q], context_ids=["a"],
                       reference_ids=["a"])


@pytest.mark.ragcost(scenario="=HYPERLINK(\\"http://evil\\")", requests=1)
def test_named(ragcost):
    for q in ragcost.requests(["-cmd"]):
        with ragcost.stage("retrieve") as st:
            st.count(hits=1)
'''


def _cells(path: Path) -> list[dict[str, str]]:
    # bytes, not read_text: universal newlines would turn a cell's carriage return into \n
    return list(csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8"), newline="")))


def _check(directory: Path) -> None:
    for name in ("requests.csv", "configs.csv"):
        rows = _cells(directory / name)
        assert rows
        for row in rows:
            for column, cell in row.items():
                if cell.startswith(FORMULA_START):
                    float(cell)  # only a number may start with - or +, column by column
                    assert column in ("offset", "value", "knob"), (name, column, cell)
        configs = {r["config"] for r in _cells(directory / "configs.csv")}
        assert "'=HYPERLINK(\"http://evil\")" in configs
    knobs = {r["knob"] for r in _cells(directory / "configs.csv") if r["knob"]}
    assert {"'=cmd|' /C calc'!A0", "'@SUM(1+1)*cmd|' /C calc'!A0", "'+1+cmd", "'\tTAB",
            "'\rCR", "'-2+3", "plain"} <= knobs
    offsets = {r["offset"] for r in _cells(directory / "configs.csv") if r["offset"]}
    assert offsets == {"-2", "3"}  # a real negative number stays a number


def test_the_plugin_and_the_cli_neutralise_formula_cells(
    rag_project: pytest.Pytester, tmp_path: Path
) -> None:
    rag_project.makepyfile(test_hostile=HOSTILE)
    result = rag_project.runpytest("--ragcost", "--ragcost-csv=out", "--ragcost-json=run.json")
    result.assert_outcomes(passed=15)
    _check(rag_project.path / "out")
    assert main(["export", str(rag_project.path / "run.json"), "--csv", str(tmp_path)]) == 0
    _check(tmp_path)


@pytest.mark.parametrize(
    ("cell", "written"),
    [("=1+1", "'=1+1"), ("-1+1", "'-1+1"), ("@a", "'@a"), ("\tx", "'\tx"), ("\rx", "'\rx"),
     ("+x", "'+x"), ("-3", "-3"), ("-2.5e3", "-2.5e3"), ("a=b", "a=b"), (-3, -3), (2.5, 2.5)],
)
def test_neutralise(cell: object, written: object) -> None:
    assert neutralise(cell) == written
