"""Item ids: the key that pairs a request with the baseline's request for the same item."""

from __future__ import annotations

import subprocess
import sys
from collections import namedtuple
from dataclasses import dataclass

import pytest
from conftest import read_json, scenario_of

from pytest_ragcost.record.item_id import ItemIdError, ItemIds, content_id, label_of


@dataclass(frozen=True)
class Question:
    text: str
    reference: str


Pair = namedtuple("Pair", "question answer")


def test_content_id_is_the_same_in_another_process() -> None:
    code = (
        "from pytest_ragcost.record.item_id import content_id;"
        "print(content_id({'b': [1, 2.5, None], 'a': b'x', 'c': {1, 2}}), content_id('q'))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        env={"PYTHONHASHSEED": "123", "PATH": "", "PYTHONPATH": ":".join(sys.path)},
    ).stdout.split()
    assert out == [content_id({"a": b"x", "c": {2, 1}, "b": [1, 2.5, None]}), content_id("q")]


def test_content_id_tells_items_apart_by_content_and_type() -> None:
    ids = {
        content_id("1"), content_id(1), content_id(b"1"), content_id(["1"]),
        content_id(Question("q", "a")), content_id(Question("q", "b")),
        content_id({"text": "q", "reference": "a"}), content_id(Pair("q", "a")),
    }
    assert len(ids) == 8
    assert content_id(Question("q", "a")) == content_id(Question("q", "a"))


def test_an_object_whose_repr_holds_an_address_asks_for_id() -> None:
    with pytest.raises(ItemIdError, match=r"memory address.*id=lambda item"):
        content_id(object())


def test_labels_are_short_and_readable() -> None:
    assert label_of(Question("Which indexes does Milvus support?", "x")) == (
        "Which indexes does Milvus support?"
    )
    assert label_of({"query": "hybrid search"}) == "hybrid search"
    assert label_of(42) == "42"
    long = label_of("word " * 40)
    assert len(long) == 60
    assert long.endswith("…")


def test_repeats_are_numbered_and_explicit_ids_are_kept() -> None:
    ids = ItemIds()
    assert [i for i, _ in (ids.next("a"), ids.next("b"), ids.next("a"))][2] == (
        content_id("a") + "#2"
    )
    named = ItemIds(lambda q: q.text.split()[0])
    assert named.next(Question("Which one?", "")) == ("Which", "Which")
    with pytest.raises(ItemIdError, match="non-empty id"):
        ItemIds(lambda q: "").next("x")


ID_SCENARIO = '''
import pytest
from ragkit import QUESTIONS, Retriever

@pytest.mark.ragcost(scenario="ids", requests=3)
def test_ids(ragcost):
    for q in ragcost.requests(QUESTIONS, id={id_fn}):
        with ragcost.stage("search") as st:
            st.count(hits=len(Retriever().search(q)))
'''


def test_each_request_carries_its_item_id_and_label_in_the_json(
    rag_project: pytest.Pytester,
) -> None:
    rag_project.makepyfile(test_ids=ID_SCENARIO.format(id_fn="lambda q: q.split()[-1]"))
    rag_project.runpytest("--ragcost", "--ragcost-json=run.json").assert_outcomes(passed=1)
    requests = scenario_of(read_json(rag_project.path / "run.json"), "ids")["requests"]
    assert [(r["item_id"], r["item_label"]) for r in requests] == [
        ("electricity?", "electricity?"), ("store?", "store?"), ("reading?", "reading?")
    ]


def test_default_ids_are_content_hashes_of_the_items(rag_project: pytest.Pytester) -> None:
    rag_project.makepyfile(test_ids=ID_SCENARIO.format(id_fn="None"))
    rag_project.runpytest("--ragcost", "--ragcost-json=run.json").assert_outcomes(passed=1)
    requests = scenario_of(read_json(rag_project.path / "run.json"), "ids")["requests"]
    assert requests[0]["item_id"] == content_id("How do solar panels make electricity?")
    assert requests[0]["item_label"] == "How do solar panels make electricity?"


def test_an_id_function_that_fails_names_the_item(rag_project: pytest.Pytester) -> None:
    rag_project.makepyfile(test_ids=ID_SCENARIO.format(id_fn="lambda q: q.slug"))
    result = rag_project.runpytest("--ragcost")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(
        ["*ragcost.requests(id=...) raised AttributeError*for item 'How do solar panels*"]
    )
