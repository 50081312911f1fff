"""``ragcost bless RUN.json``: baselines from a saved run (a merge of shard runs above
all) written by the locked read-merge-write of ``--ragcost-update``, so two shards merged
and blessed give the baselines a bless of the whole suite gives; an incomplete run
(without ``--partial``) and a budget file changed since the run are refused."""

from __future__ import annotations

import json
import shutil
import textwrap
from pathlib import Path
from typing import Any

import pytest
from conftest import read_json
from ruamel.yaml import YAML

from pytest_ragcost.cli import main
from pytest_ragcost.run import metric_class, split_key

SUITE = textwrap.dedent(
    """
    import pytest

    DOCS = {f"q{i}": [f"q{i}-c{j}" for j in range(3)] for i in range(4)}


    def run(ragcost, context):
        for qid in ragcost.requests(list(DOCS), id=lambda q: q):
            with ragcost.stage("generate") as st:
                st.tokens(prompt=100, context=context + int(qid[1:]), completion=50,
                          model="gpt-4o-mini")
                st.count(candidates=len(DOCS[qid]))
            hits = DOCS[qid][:2] + (["other"] if qid == "q3" else [])
            ragcost.sample(question=qid, answer="answer", contexts=[f"t {h}" for h in hits],
                           context_ids=hits, reference_ids=DOCS[qid])


    @pytest.mark.ragcost(scenario="alpha")
    def test_alpha(ragcost):
        run(ragcost, 400)


    @pytest.mark.ragcost(scenario="beta")
    def test_beta(ragcost):
        run(ragcost, 480)


    @pytest.mark.ragcost(scenario="gamma")
    def test_gamma(ragcost):
        run(ragcost, 120)


    def test_plain():
        assert True
    """
)

#: alpha has baselines (one noisy entry at the p95); beta and gamma are new
BUDGET = """\
version: 1
# budgets reviewed like code
scenarios:
  alpha:
    tokens_context: {baseline: 300, tolerance: 50%}  # kept in place
    generate.wall_ms: {baseline: 5.0, stat: p95, tolerance: 900%}
"""

SLICES = ("alpha or plain", "beta or gamma")
FILES = ("ragcost.yaml", "ragcost.items.json", "ragcost.scores.json")


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for name in ("GITHUB_STEP_SUMMARY", "PYTEST_XDIST_WORKER", "RAGCOST_AB_SIDE"):
        monkeypatch.delenv(name, raising=False)
    pytester.makepyfile(test_suite=SUITE)
    (pytester.path / "ragcost.yaml").write_text(BUDGET, encoding="utf-8")
    monkeypatch.chdir(pytester.path)
    return pytester


def _run(project: pytest.Pytester, out: str, *args: str) -> Path:
    result = project.runpytest("--ragcost", f"--ragcost-json={out}", "--ragcost-history=none",
                               *args)
    assert result.ret == 0, result.stdout.str()
    return project.path / out


def _cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _merged(project: pytest.Pytester, capsys: pytest.CaptureFixture[str]) -> Path:
    shards = [_run(project, f"shard{i}.json", "-k", k) for i, k in enumerate(SLICES, 1)]
    code, _, err = _cli(capsys, "merge", *map(str, shards), "-o", "merged.json")
    assert code == 0, err
    return project.path / "merged.json"


def _restore(project: pytest.Pytester) -> None:
    (project.path / "ragcost.yaml").write_text(BUDGET, encoding="utf-8")
    for name in FILES[1:]:
        (project.path / name).unlink(missing_ok=True)


def _texts(project: pytest.Pytester) -> dict[str, str]:
    return {name: (project.path / name).read_text(encoding="utf-8") for name in FILES
            if (project.path / name).exists()}


def _noisy(key: str) -> bool:
    return metric_class(split_key(key)[1]) == "noisy"


def _yaml_shape(text: str) -> dict[str, Any]:
    """ragcost.yaml parsed, with each noisy baseline's measured figures (value and standard
    error) replaced by their presence: two runs measure times and energy differently."""
    doc = YAML(typ="safe").load(text)
    for scenario in doc["scenarios"].values():
        for key, entry in scenario.items():
            if _noisy(key):
                for field in ("baseline", "se"):
                    if field in entry:
                        entry[field] = "measured"
    return dict(doc)


def _items_shape(text: str) -> dict[str, Any]:
    """ragcost.items.json parsed, each item's noisy figures replaced by their presence."""
    doc: dict[str, Any] = json.loads(text)
    for scenario in doc["scenarios"].values():
        for item in scenario["items"].values():
            item["metrics"] = {k: "measured" if _noisy(k) else v
                               for k, v in item["metrics"].items()}
    return doc


def test_two_shards_merged_and_blessed_write_what_a_whole_bless_writes(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    merged = _merged(project, capsys)
    assert read_json(merged)["complete"] is True
    # the plugin's bless of the whole suite
    whole = _run(project, "whole.json", "--ragcost-update")
    by_plugin = _texts(project)
    assert set(by_plugin) == set(FILES)
    assert "# budgets reviewed like code" in by_plugin["ragcost.yaml"]

    _restore(project)
    code, out, err = _cli(capsys, "bless", str(merged), "--config", "ragcost.yaml")
    assert code == 0, err
    assert "ragcost.items.json" in out
    by_cli = _texts(project)
    assert set(by_cli) == set(FILES)
    assert "# budgets reviewed like code" in by_cli["ragcost.yaml"]
    assert "tokens_context: {baseline: 401.5, n: 4, tolerance: 50%}  # kept in place" in \
        by_cli["ragcost.yaml"]
    shape = _yaml_shape(by_cli["ragcost.yaml"])
    assert shape == _yaml_shape(by_plugin["ragcost.yaml"])
    assert set(shape["scenarios"]) == {"alpha", "beta", "gamma"}
    assert shape["scenarios"]["beta"]["tokens_context"]["baseline"] == 481.5
    assert _items_shape(by_cli["ragcost.items.json"]) == \
        _items_shape(by_plugin["ragcost.items.json"])
    # retrieval scores per sample are exact: the same file
    assert json.loads(by_cli["ragcost.scores.json"]) == \
        json.loads(by_plugin["ragcost.scores.json"])

    # and the whole run's own file, blessed here, writes byte for byte what the plugin
    # wrote at its end: one writer
    _restore(project)
    code, _, err = _cli(capsys, "bless", str(whole))
    assert code == 0, err
    assert _texts(project) == by_plugin


def test_an_incomplete_run_is_refused_unless_partial(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    shard = _run(project, "shard.json", "-k", SLICES[1])
    code, out, err = _cli(capsys, "bless", str(shard))
    assert code == 2
    assert out == ""
    assert f"{shard} is not a run of the whole suite (complete: false: it selected 2 of " \
        "the suite's 4 tests)" in err
    assert "--partial" in err
    assert _texts(project) == {"ragcost.yaml": BUDGET}

    code, _, err = _cli(capsys, "bless", str(shard), "--partial")
    assert code == 0, err
    doc = YAML(typ="safe").load((project.path / "ragcost.yaml").read_text(encoding="utf-8"))
    # the scenarios it ran; alpha's baseline stays as it was
    assert set(doc["scenarios"]) == {"alpha", "beta", "gamma"}
    assert doc["scenarios"]["alpha"]["tokens_context"]["baseline"] == 300


def test_a_budget_file_changed_since_the_run_is_refused(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    merged = _merged(project, capsys)
    changed = BUDGET.replace("tolerance: 900%", "tolerance: 800%")
    (project.path / "ragcost.yaml").write_text(changed, encoding="utf-8")
    code, _, err = _cli(capsys, "bless", str(merged))
    assert code == 2
    assert f"{merged} was not measured against ragcost.yaml: ragcost.yaml has changed " \
        "since the run" in err
    assert _texts(project) == {"ragcost.yaml": changed}

    # a run made without a budget file, blessed into one that exists now
    (project.path / "ragcost.yaml").unlink()
    bare = _run(project, "bare.json")
    (project.path / "ragcost.yaml").write_text(BUDGET, encoding="utf-8")
    code, _, err = _cli(capsys, "bless", str(bare))
    assert code == 2
    assert "the run read no budget file, and ragcost.yaml exists now" in err
    # and into the file it did not have: created, as --ragcost-update creates it
    (project.path / "ragcost.yaml").unlink()
    code, _, err = _cli(capsys, "bless", str(bare))
    assert code == 0, err
    assert (project.path / "ragcost.items.json").is_file()


def test_a_run_already_blessed_is_refused(
    project: pytest.Pytester, capsys: pytest.CaptureFixture[str]
) -> None:
    blessed = _run(project, "blessed.json", "--ragcost-update")
    before = _texts(project)
    code, _, err = _cli(capsys, "bless", str(blessed))
    assert code == 2
    assert "has changed since the run" in err
    assert _texts(project) == before
    shutil.rmtree(project.path / ".ragcost", ignore_errors=True)
