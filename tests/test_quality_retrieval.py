"""Our own retrieval metrics: the matching rule and each metric's definition."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_ragcost.quality import RETRIEVAL_METRICS, MissingReferenceError, retrieval_scores
from pytest_ragcost.quality.retrieval import MIN_MATCH_CHARS, normalise_text, texts_match
from pytest_ragcost.run import Sample

CATS = "Cats sleep for twelve to sixteen hours a day."
DOGS = "Dogs were domesticated from wolves thousands of years ago."
FISH = "Goldfish can remember things for months, not seconds."
BIRD = "Parrots can live for more than eighty years in captivity."


def test_normalisation_folds_case_width_and_whitespace() -> None:
    assert normalise_text("  \uff23\uff21\uff34\uff33\tsleep\n\nall   DAY ") == "cats sleep all day"


@pytest.mark.parametrize(
    ("retrieved", "reference", "expected"),
    [
        (CATS, CATS.upper(), True),  # equal after normalising
        ("Intro. " + CATS + " More text follows here.", CATS, True),  # chunk holds the passage
        (CATS[:30], CATS, True),  # a fragment of the passage (>= MIN_MATCH_CHARS)
        ("Cats sleep", CATS, False),  # too short to count as containment
        ("Cats sleep", "cats  SLEEP", True),  # ...but equality always counts
        (DOGS, CATS, False),
        ("", CATS, False),
    ],
)
def test_text_matching_rule(retrieved: str, reference: str, expected: bool) -> None:
    assert texts_match(retrieved, reference) is expected


def test_min_match_chars_boundary() -> None:
    ref = "x" * 5 + "abcdefghijklmnopqrstuvwxyz" + "y" * 5
    exactly = "abcdefghijklmnopqrstuvwxyz"[:MIN_MATCH_CHARS]
    assert texts_match(exactly, ref)
    assert not texts_match(exactly[:-1], ref)


def test_scores_by_text() -> None:
    # ranks: 1 irrelevant, 2 relevant, 3 irrelevant, 4 relevant; 3 references, 2 found
    s = Sample(
        contexts=(DOGS, CATS, FISH, BIRD), reference_contexts=(CATS, BIRD, "An unrelated fact.")
    )
    got = retrieval_scores(s)
    assert got["hit_at_k"] == 1.0
    assert got["mrr"] == 0.5
    assert got["context_precision"] == pytest.approx((1 / 2 + 2 / 4) / 2)
    assert got["context_recall"] == pytest.approx(2 / 3)


def test_k_caps_the_contexts_looked_at() -> None:
    s = Sample(contexts=(DOGS, CATS, FISH, BIRD), reference_contexts=(CATS, BIRD))
    assert retrieval_scores(s, k=1) == {
        "hit_at_k": 0.0,
        "mrr": 0.0,
        "context_precision": 0.0,
        "context_recall": 0.0,
    }
    assert retrieval_scores(s, ("context_recall",), k=2) == {"context_recall": 0.5}
    with pytest.raises(ValueError, match="positive integer"):
        retrieval_scores(s, k=0)


def test_ids_win_over_text_when_both_sides_have_ids() -> None:
    s = Sample(
        contexts=(CATS, DOGS),
        context_ids=("d7", " d3 "),
        reference_ids=("d3", "d9", "d3"),
        reference_contexts=(CATS,),  # would give mrr 1.0 by text
    )
    got = retrieval_scores(s)
    assert got["mrr"] == 0.5
    assert got["context_recall"] == 0.5  # d3 found, d9 not; the repeated d3 counts once
    # without reference ids the text rule applies
    s2 = Sample(contexts=(CATS, DOGS), context_ids=("d7", "d3"), reference_contexts=(CATS,))
    assert retrieval_scores(s2)["mrr"] == 1.0


def test_a_sample_without_reference_is_an_error_that_names_it() -> None:
    s = Sample(question="Why do cats purr?", contexts=(CATS,))
    with pytest.raises(
        MissingReferenceError, match=r"sample 3 \('Why do cats purr\?'\).*reference_contexts"
    ):
        retrieval_scores(s, index=3)


def test_unknown_metric_lists_the_valid_ones() -> None:
    with pytest.raises(ValueError, match="hit_at_k, mrr, context_precision, context_recall"):
        retrieval_scores(Sample(contexts=(CATS,), reference_contexts=(CATS,)), ("ndcg",))


POOL = [CATS, DOGS, FISH, BIRD, "Horses can sleep standing up thanks to a stay apparatus."]


@given(
    retrieved=st.lists(st.sampled_from(POOL), min_size=1, max_size=6),
    refs=st.lists(st.sampled_from(POOL), min_size=1, max_size=4),
    k=st.integers(min_value=1, max_value=6),
)
def test_properties(retrieved: list[str], refs: list[str], k: int) -> None:
    s = Sample(contexts=tuple(retrieved), reference_contexts=tuple(refs))
    got = retrieval_scores(s, k=k)
    assert set(got) == set(RETRIEVAL_METRICS)
    assert all(0.0 <= v <= 1.0 for v in got.values())
    # mrr and precision are zero exactly when nothing relevant was hit
    assert (got["mrr"] > 0) == (got["hit_at_k"] == 1.0) == (got["context_precision"] > 0)
    assert got["mrr"] <= got["hit_at_k"]
    # looking at more contexts never lowers recall or hit
    if k < 6:
        more = retrieval_scores(s, k=k + 1)
        assert more["context_recall"] >= got["context_recall"]
        assert more["hit_at_k"] >= got["hit_at_k"]
    # a perfect ranking of every reference gives 1.0 everywhere
    perfect = Sample(contexts=tuple(dict.fromkeys(refs)), reference_contexts=tuple(refs))
    assert retrieval_scores(perfect) == dict.fromkeys(RETRIEVAL_METRICS, 1.0)
