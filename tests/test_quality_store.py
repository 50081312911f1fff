"""The per-sample score store (ragcost.scores.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from pytest_ragcost.quality import (
    ScoreStoreError,
    StoredMetric,
    StoredScore,
    load_scores,
    save_scores,
    update_scores,
)
from pytest_ragcost.quality.store import ScoreStore
from pytest_ragcost.run.codec import RunFileError, encode_scores
from pytest_ragcost.run.codec import decode_scores as read_scores


def test_a_missing_file_is_an_empty_store(tmp_path: Path) -> None:
    store = load_scores(tmp_path / "ragcost.scores.json")
    assert store.get("qa", "mrr") is None


def test_update_round_trips_and_keeps_other_entries(tmp_path: Path) -> None:
    path = tmp_path / "ragcost.scores.json"
    update_scores(path, "qa", "mrr", {"k2": ("o2", 0.5), "k1": ("o1", 1.0)}, tier="deterministic")
    update_scores(
        path, "chat", "ragas_faithfulness", {"k9": ("o9", 0.75)}, tier="judged-replayed", judge="j1"
    )
    update_scores(path, "qa", "mrr", {"k1": ("o1b", 0.25)}, tier="deterministic")
    store = load_scores(path)
    mrr = store.get("qa", "mrr")
    assert mrr is not None
    assert mrr.scores() == {"k1": 0.25}
    assert mrr.reusable("k1", "o1b") == 0.25
    assert mrr.reusable("k1", "o1") is None  # output changed: not reusable
    faith = store.get("chat", "ragas_faithfulness")
    assert faith == StoredMetric("judged-replayed", "j1", {"k9": StoredScore("o9", 0.75)})


def test_keys_are_sorted_and_no_temporary_file_is_left(tmp_path: Path) -> None:
    path = tmp_path / "ragcost.scores.json"
    update_scores(path, "zeta", "mrr", {"b": ("o", 1.0), "a": ("o", 0.0)}, tier="deterministic")
    update_scores(path, "alpha", "mrr", {"c": ("o", 1.0)}, tier="deterministic")
    text = path.read_text()
    assert text.index('"alpha"') < text.index('"zeta"')
    assert text.index('"a"') < text.index('"b"')
    assert text.endswith("\n")
    assert json.loads(text)["version"] == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ragcost.scores.json"]


def test_broken_json_names_file_line_and_fix(tmp_path: Path) -> None:
    path = tmp_path / "ragcost.scores.json"
    path.write_text('{\n  "version": 1,\n  "scenarios": {\n<<<<<<< HEAD\n}\n')
    with pytest.raises(ScoreStoreError, match=r"ragcost\.scores\.json:4:1: not valid JSON") as exc:
        load_scores(path)
    assert "merge conflict" in str(exc.value)


@pytest.mark.parametrize(
    ("data", "where", "found"),
    [
        ([], "the top level", "'list'"),
        ({"version": 7}, "'version'", "7"),
        ({"version": 1, "scenarios": {"qa": []}}, "scenarios.qa", "'list'"),
        (
            {"version": 1, "scenarios": {"qa": {"mrr": {"samples": {}}}}},
            "scenarios.qa.mrr.tier",
            "None",
        ),
        (
            {
                "version": 1,
                "scenarios": {
                    "qa": {
                        "mrr": {
                            "tier": "deterministic",
                            "samples": {"k": {"output": "o", "score": "high"}},
                        }
                    }
                },
            },
            "scenarios.qa.mrr.samples.k.score",
            "'high'",
        ),
        (
            {
                "version": 1,
                "scenarios": {
                    "qa": {
                        "mrr": {
                            "tier": "deterministic",
                            "samples": {"k": {"output": "o", "score": True}},
                        }
                    }
                },
            },
            "scenarios.qa.mrr.samples.k.score",
            "True",
        ),
    ],
)
def test_wrong_shapes_say_where_expected_and_found(
    tmp_path: Path, data: object, where: str, found: str
) -> None:
    path = tmp_path / "s.json"
    path.write_text(json.dumps(data))
    with pytest.raises(ScoreStoreError) as exc:
        load_scores(path)
    msg = str(exc.value)
    assert msg.startswith(f"{path}: {where} must be")
    assert f"(found {found})" in msg


def test_non_finite_scores_are_not_stored(tmp_path: Path) -> None:
    store = ScoreStore(
        {"qa": {"m": StoredMetric("deterministic", None, {"k": StoredScore("o", float("nan"))})}}
    )
    with pytest.raises(ValueError, match="failed judgement is not a baseline"):
        save_scores(tmp_path / "s.json", store)
    assert not (tmp_path / "s.json").exists()


def test_metric_scores_survive_a_json_round_trip() -> None:
    from pytest_ragcost.quality import MetricScores, SampleScore

    scores = MetricScores(
        "ragas_faithfulness",
        "judged-replayed",
        (
            SampleScore("k1", "o1", "sample 0 'Q?'", 0.75, reused=True),
            SampleScore("k2", "o2", "sample 1", None, miss=True, reason="never judged"),
        ),
        seconds=1.5,
        judge_model="j",
        judge_replayed_calls=3,
        judge_input_tokens=900,
    )
    written = encode_scores(scores)
    assert read_scores(json.loads(json.dumps(written))) == scores
    with pytest.raises(RunFileError, match=r"tier must be one of deterministic"):
        read_scores({**written, "tier": "vibes"})
