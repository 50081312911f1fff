"""ragas's deterministic metrics, run for real, and the lazy-import contract."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pytest_ragcost.quality import is_quality_metric, score_metric, tier_of
from pytest_ragcost.run import Sample

ROOT = Path(__file__).resolve().parent.parent

SAMPLES = [
    Sample(
        question="When did the Berlin Wall fall?",
        answer="The Berlin Wall fell on 9 November 1989.",
        contexts=("The Berlin Wall fell on the night of 9 November 1989.",),
        reference="The Berlin Wall fell on 9 November 1989.",
    ),
    Sample(
        question="What is the boiling point of water at sea level?",
        answer="Water boils at 100 degrees Celsius at sea level.",
        contexts=("At sea level, water boils at 100 °C (212 °F).",),
        reference="At sea level water boils at 100 degrees Celsius.",
    ),
    Sample(
        question="Who wrote Pride and Prejudice?",
        answer="It was written by Charlotte Bronte.",
        contexts=("Pride and Prejudice is an 1813 novel by Jane Austen.",),
        reference="Jane Austen wrote Pride and Prejudice.",
    ),
]


def _subprocess(code: str, **env: str) -> str:
    full_env = {k: v for k, v in os.environ.items() if k != "RAGAS_DO_NOT_TRACK"}
    full_env.update(env)
    full_env["PYTHONPATH"] = str(ROOT)
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, env=full_env
    ).stdout


def test_importing_the_quality_package_imports_no_heavy_module() -> None:
    out = _subprocess(
        "import sys, json, pytest_ragcost.quality, pytest_ragcost.prices;"
        "print(json.dumps([m for m in ('ragas', 'openai', 'httpx', 'instructor', 'genai_prices',"
        " 'langchain_core') if m in sys.modules]))"
    )
    assert json.loads(out) == []


ragas_needed = pytest.mark.skipif(
    importlib.util.find_spec("ragas") is None,
    reason="needs the ragas extra: pip install 'pytest-ragcost[ragas]'",
)


@ragas_needed
def test_rouge_matches_the_rouge_score_package() -> None:
    from rouge_score import rouge_scorer

    scores = score_metric("ragas_rouge_score", SAMPLES)
    assert scores.tier == "deterministic"
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True)
    want = [scorer.score(s.reference or "", s.answer or "")["rougeL"].fmeasure for s in SAMPLES]
    assert [s.value for s in scores.samples] == pytest.approx(want)
    # the scores really separate a right answer from a wrong one
    assert scores.samples[0].value == pytest.approx(1.0)
    assert (scores.samples[2].value or 0) < 0.5


@ragas_needed
def test_exact_match_and_string_similarity() -> None:
    exact = score_metric("ragas_exact_match", SAMPLES)
    assert [s.value for s in exact.samples] == [1.0, 0.0, 0.0]
    sim = score_metric("ragas_string_similarity", SAMPLES)
    values = [s.value for s in sim.samples]
    assert values[0] == pytest.approx(1.0)
    assert all(v is not None and 0.0 <= v < 1.0 for v in values[1:])


@ragas_needed
def test_a_sample_without_the_needed_field_is_unknown_not_zero() -> None:
    samples = [*SAMPLES[:1], Sample(question="Q?", answer="An answer.")]
    scores = score_metric("ragas_rouge_score", samples)
    assert scores.samples[0].value == pytest.approx(1.0)
    assert scores.samples[1].value is None
    assert (
        scores.samples[1].reason == "the sample has no 'reference' (ragcost.sample(reference=...))"
    )


@ragas_needed
def test_tracking_is_switched_off_before_ragas_loads() -> None:
    out = _subprocess(
        "from pytest_ragcost.run import Sample;"
        "from pytest_ragcost.quality import score_metric;"
        "score_metric('ragas_exact_match', [Sample(answer='a', reference='a')]);"
        "import os; from ragas._analytics import do_not_track;"
        "print(os.environ['RAGAS_DO_NOT_TRACK'], do_not_track())"
    )
    assert out.split() == ["true", "True"]


@pytest.mark.skipif(importlib.util.find_spec("sacrebleu") is not None, reason="sacrebleu installed")
@ragas_needed
def test_a_metric_whose_package_is_missing_says_what_to_install() -> None:
    with pytest.raises(ImportError, match="pip install sacrebleu"):
        score_metric("ragas_bleu_score", SAMPLES)


def test_metric_names_and_tiers() -> None:
    assert is_quality_metric("mrr")
    assert is_quality_metric("ragas_faithfulness")
    assert not is_quality_metric("ragas_made_up")
    assert tier_of("context_recall") == "deterministic"
    assert tier_of("ragas_rouge_score") == "deterministic"
    assert tier_of("ragas_context_recall") == "judged-live"
    with pytest.raises(ValueError, match="expected one of ragas_rouge_score"):
        tier_of("ragas_made_up")
