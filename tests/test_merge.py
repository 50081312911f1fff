"""``ragcost merge``: the runs of a split suite (``-k`` slices, ``--ragcost-shard=I/N``
with xdist inside) merged into one run that ``ragcost compare`` judges as it judges the
run of the whole suite; runs of different commits, settings or environments refused."""

from __future__ import annotations

import json
import re
import textwrap
from pathlib import Path
from typing import Any

import pytest
from conftest import read_json

from pytest_ragcost.cli import main

SUITE = textwrap.dedent(
    """
    import pytest


    def run(ragcost, context):
        for q in ragcost.requests(["a", "b", "c"]):
            with ragcost.stage("generate") as st:
                st.tokens(prompt=100, context=context, completion=50, model="gpt-4o-mini")


    @pytest.mark.ragcost(scenario="alpha")
    def test_alpha(ragcost):
        run(ragcost, 400)


    @pytest.mark.ragcost(scenario="beta")
    def test_beta(ragcost):
        run(ragcost, 480)


    @pytest.mark.parametrize("k", [1, 2, 3])
    @pytest.mark.ragcost()
    def test_sweep(ragcost, k):
        run(ragcost, 100 * k)


    def test_plain():
        assert True
    """
)

#: alpha passes, beta rose 20% (FAIL), the sweep is NEW, and "gone" ran nowhere (STALE
#: once the whole suite ran)
BUDGET = """\
version: 1
scenarios:
  alpha:
    tokens_context: {baseline: 400}
  beta:
    tokens_context: {baseline: 400}
  gone:
    errors: {baseline: 0}
"""

#: two complementary -k slices of the suite
SLICES = ("alpha or plain", "not (alpha or plain)")


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for name in ("GITHUB_STEP_SUMMARY", "PYTEST_XDIST_WORKER"):
        monkeypatch.delenv(name, raising=False)
    pytester.makepyfile(test_suite=SUITE)
    (pytester.path / "ragcost.yaml").write_text(BUDGET, encoding="utf-8")
    return pytester


def _run(project: pytest.Pytester, out: str, *args: str) -> Path:
    # no history: every run is judged on what it measured alone, as in a fresh CI job
    project.runpytest("--ragcost", f"--ragcost-json={out}", "--ragcost-history=none", *args)
    path = project.path / out
    assert path.is_file(), f"{out} was not written"
    return path


def _shards(project: pytest.Pytester, *extra: str) -> list[Path]:
    return [_run(project, f"shard{i}.json", "-k", k, *extra) for i, k in enumerate(SLICES, 1)]


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _rows(doc: dict[str, Any]) -> set[tuple[str, str, str]]:
    return {(v["scenario"], v["key"], v["status"]) for sc in doc["scenarios"]
            for v in sc["verdicts"]}


def _judged(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str], run: Path
) -> tuple[int, set[tuple[str, str, str]]]:
    """ragcost compare's exit code and its (scenario, key, status) rows."""
    judged = run.with_name(f"judged-{run.name}")
    code, _, err = _cli(capsys, "compare", str(run), "--history", "none", "--json", str(judged))
    assert code in (0, 1), err
    return code, _rows(read_json(judged))


def test_two_k_shards_merged_are_judged_as_the_whole_run(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    whole = _run(project, "whole.json")
    shards = _shards(project)
    for shard in shards:
        assert read_json(shard)["complete"] is False
    code, out, err = _cli(capsys, "merge", *map(str, shards), "-o", "merged.json")
    assert code == 0, err
    assert "5 scenario(s)" in out
    assert "complete: the shards ran every test" in out
    assert "1 scenario(s) of the budget file no shard ran are STALE" in out

    merged = read_json(project.path / "merged.json")
    assert merged["complete"] is True
    selection = merged["selection"]
    assert selection["suite_size"] == 6
    assert selection["ran_all"] is True
    assert selection["suite_sha256"] == read_json(whole)["selection"]["suite_sha256"]
    assert len(selection["tests"]) == 6

    # the merged file holds the verdicts the whole run's file holds (STALE included)
    assert _rows(merged) == _rows(read_json(whole))
    whole_code, whole_rows = _judged(project, capsys, whole)
    merged_code, merged_rows = _judged(project, capsys, project.path / "merged.json")
    assert merged_rows == whole_rows
    assert merged_code == whole_code == 1
    assert {("alpha", "tokens_context", "PASS"), ("beta", "tokens_context", "FAIL"),
            ("gone", "*", "STALE")} <= merged_rows
    # one shard alone is not the suite: "gone" is not called STALE from it
    _, shard_rows = _judged(project, capsys, shards[0])
    assert not any(status == "STALE" for _, _, status in shard_rows)

    # report and export read the merged run as the whole one
    def scenario_lines(text: str) -> list[str]:
        return sorted(line for line in text.splitlines() if line.startswith("scenario "))

    _, whole_report, _ = _cli(capsys, "report", str(whole))
    _, merged_report, _ = _cli(capsys, "report", str(project.path / "merged.json"))
    assert scenario_lines(merged_report) == scenario_lines(whole_report)
    assert len(scenario_lines(merged_report)) == 6
    code, _, err = _cli(capsys, "export", str(project.path / "merged.json"), "--csv", "csv")
    assert code == 0, err
    configs = (project.path / "csv" / "configs.csv").read_text(encoding="utf-8")
    assert all(name in configs for name in ("alpha", "beta", "test_sweep[3]"))


def test_a_missing_shard_leaves_the_merge_incomplete(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    first = _shards(project)[0]
    code, out, err = _cli(capsys, "merge", str(first), "-o", "merged.json")
    assert code == 0, err
    assert "not complete: the shards selected 2 of the suite's 6 tests" in out
    assert read_json(project.path / "merged.json")["complete"] is False
    _, rows = _judged(project, capsys, project.path / "merged.json")
    assert not any(status == "STALE" for _, _, status in rows)


def test_ragcost_shard_slices_with_xdist_inside_and_merges_whole(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    paths = []
    for index in (1, 2):
        result = project.runpytest(
            "--ragcost", f"--ragcost-json=part{index}.json", "--ragcost-history=none",
            f"--ragcost-shard={index}/2", "-n", "2",
        )
        result.stdout.fnmatch_lines(["2 workers [[]3 items[]]"])
        paths.append(project.path / f"part{index}.json")
    parts = [read_json(p) for p in paths]
    firsts = [set(p["selection"]["tests"]) for p in parts]
    assert all(len(tests) == 3 for tests in firsts)
    assert not firsts[0] & firsts[1]
    assert all(p["complete"] is False for p in parts)
    code, _, err = _cli(capsys, "merge", *map(str, paths), "-o", "merged.json")
    assert code == 0, err
    assert read_json(project.path / "merged.json")["complete"] is True
    _, rows = _judged(project, capsys, project.path / "merged.json")
    assert ("gone", "*", "STALE") in rows


def test_a_whole_run_records_its_selection_and_a_deselected_one_is_not_complete(
    project: pytest.Pytester,
) -> None:
    doc = read_json(_run(project, "deselect.json", "--deselect", "test_suite.py::test_plain"))
    assert doc["selection"]["suite_size"] == 6
    assert "test_suite.py::test_plain" not in doc["selection"]["tests"]
    assert doc["complete"] is False
    doc = read_json(_run(project, "ids.json", "test_suite.py::test_alpha"))
    assert doc["selection"] is None


def _edit(path: Path, change: Any) -> None:
    doc = json.loads(path.read_text(encoding="utf-8"))
    change(doc)
    path.write_text(json.dumps(doc), encoding="utf-8")


def _commit(sha: str) -> Any:
    def change(doc: dict[str, Any]) -> None:
        doc["environment"]["git"] = {"commit": sha, "dirty": False, "branch": "main"}
    return change


def _cpu(name: str) -> Any:
    def change(doc: dict[str, Any]) -> None:
        doc["environment"]["comparable"]["cpu"] = name
    return change


@pytest.mark.parametrize(
    ("first", "second", "extra", "said"),
    [
        (_commit("a" * 40), _commit("b" * 40), (),
         "differ in the commit (environment.git.commit): "
         f"'{'a' * 40}' in shard1.json, '{'b' * 40}' in shard2.json"),
        (_cpu("AMD EPYC 7763"), _cpu("Intel Xeon 8370C"), (),
         "differ in environment.comparable.cpu: 'AMD EPYC 7763' in shard1.json, "
         "'Intel Xeon 8370C' in shard2.json"),
        (None, None, ("--ragcost-requests=2",),
         "differ in settings.requests_cap: None in shard1.json, 2 in shard2.json"),
    ],
    ids=["commit", "environment", "settings"],
)
def test_runs_of_another_commit_environment_or_setting_are_refused(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    first: Any, second: Any, extra: tuple[str, ...], said: str,
) -> None:
    one = _run(project, "shard1.json", "-k", SLICES[0])
    two = _run(project, "shard2.json", "-k", SLICES[1], *extra)
    if first is not None:
        _edit(one, first)
        _edit(two, second)
    monkeypatch.chdir(project.path)
    code, out, err = _cli(capsys, "merge", "shard1.json", "shard2.json", "-o", "merged.json")
    assert code == 2
    assert said in err
    assert "Traceback" not in err
    assert out == ""
    assert not (project.path / "merged.json").exists()


def test_a_scenario_in_two_shards_is_refused_naming_both_files(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:
    _run(project, "one.json", "-k", "alpha or beta")
    _run(project, "two.json", "-k", "beta or sweep")
    monkeypatch.chdir(project.path)
    code, _, err = _cli(capsys, "merge", "one.json", "two.json", "-o", "merged.json")
    assert code == 2
    assert "scenario 'beta' is in both one.json and two.json" in err
    assert not (project.path / "merged.json").exists()


@pytest.mark.parametrize(
    ("text", "said"),
    [
        (None, "bad.json: cannot read"),
        ("{not json", "bad.json"),
        ('{"schema_version": 1, "scenarios": [], "selection": {"suite_sha256": "xyz", '
         '"suite_size": 1}}', "bad.json: selection.suite_sha256 must be a SHA-256 digest"),
        ('{"schema_version": 1, "scenarios": [], "selection": {"suite_sha256": "'
         + "0" * 64 + '", "suite_size": 0, "tests": ["t.py::a"]}}',
         "bad.json: selection.tests must be at most suite_size (0) node ids"),
    ],
    ids=["missing", "not json", "bad digest", "more tests than the suite"],
)
def test_a_bad_run_file_is_a_located_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
    text: str | None, said: str,
) -> None:
    monkeypatch.chdir(tmp_path)
    if text is not None:
        (tmp_path / "bad.json").write_text(text, encoding="utf-8")
    good = tmp_path / "good.json"
    good.write_text('{"schema_version": 1, "scenarios": []}', encoding="utf-8")
    code, _, err = _cli(capsys, "merge", "good.json", "bad.json", "-o", "out.json")
    assert code == 2
    assert said in err, err
    assert "Traceback" not in err
    assert not (tmp_path / "out.json").exists()


@pytest.mark.parametrize("value", ["3/2", "0/2", "1", "a/b", "1/0"])
def test_a_bad_shard_is_a_usage_error(project: pytest.Pytester, value: str) -> None:
    result = project.runpytest("--ragcost", f"--ragcost-shard={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--ragcost-shard takes I/N*"])


def test_a_shard_without_ragcost_is_a_usage_error(project: pytest.Pytester) -> None:
    result = project.runpytest("--ragcost-shard=1/2")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*--ragcost-shard slices a --ragcost run; add --ragcost*"])


def test_the_merged_run_is_exported_to_prometheus_once(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    # the whole run's exposition, written by the plugin, against the merged run's
    _run(project, "whole.json", "--ragcost-prometheus=textfile:whole.prom")
    shards = _shards(project)
    assert _cli(capsys, "merge", *map(str, shards), "-o", "merged.json")[0] == 0
    code, out, err = _cli(capsys, "export", "merged.json", "--prometheus",
                          "textfile:merged.prom")
    assert code == 0, err
    assert "merged.prom" in out

    def scenarios(name: str) -> set[str]:
        text = (project.path / name).read_text(encoding="utf-8")
        return set(re.findall(r'scenario="([^"]+)"', text))

    assert scenarios("merged.prom") == scenarios("whole.prom")
    assert {"alpha", "beta", "test_suite.py::test_sweep[2]"} <= scenarios("merged.prom")
    code, _, err = _cli(capsys, "export", "merged.json")
    assert code == 2
    assert "export needs --csv DIR, --prometheus TARGET or both" in err
    code, _, err = _cli(capsys, "export", "merged.json", "--prometheus", "http://x")
    assert code == 2
    assert "--prometheus takes textfile:PATH" in err
