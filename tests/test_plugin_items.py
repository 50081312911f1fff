"""Per-item baselines, as a user meets them: bless once at the full request count, then
gate a quicker run over some of the items on exactly those items."""

from __future__ import annotations

import json
import os
import stat

import pytest

SCENARIO = '''
import pytest

TOP_K = {top_k}
DOCS = [
    "Milvus supports FLAT, IVF_FLAT, IVF_PQ, HNSW and DISKANN indexes.",
    "Hybrid search combines dense vectors with sparse BM25 scores.",
    "A reranker scores each candidate passage against the question.",
    "HyDE writes a hypothetical answer and embeds it for retrieval.",
    "Chunks of 512 tokens overlap by 64 tokens in the ingest step.",
    "The collection keeps one partition per tenant.",
    "Streaming answers report the time to the first token.",
    "RAGAS scores faithfulness and context recall per sample.",
]
QUESTIONS = {questions}


def words(text):
    return set(text.lower().replace("?", " ").replace(".", " ").replace(",", " ").split())


def search(question, top_k):
    return sorted(DOCS, key=lambda d: (-len(words(question) & words(d)), d))[:top_k]


@pytest.mark.ragcost(scenario="milvus-qa", requests=12)
def test_qa(ragcost):
    for q in ragcost.requests(QUESTIONS):
        with ragcost.stage("retrieve") as st:
            hits = search(q, TOP_K)
            st.count(candidates=len(hits))
        with ragcost.stage("generate") as st:
            prompt = "Context: " + " ".join(hits) + " Question: " + q
            st.tokens(prompt=prompt, context=hits, completion=hits[0])
'''

QUESTIONS = [
    "Which indexes does Milvus support?",
    "What does hybrid search combine?",
    "What does the reranker score?",
    "How does HyDE retrieve?",
    "How large are the chunks?",
    "How are tenants kept apart?",
    "What does streaming report?",
    "What does RAGAS score?",
    "Which index suits a disk?",
    "What overlaps in ingest?",
    "Who writes a hypothetical answer?",
    "What is scored per sample?",
]

#: times gated as warnings: this test is about exact metrics on a shared machine
CONFIG = """\
version: 1
scenarios:
  milvus-qa:
    tokens_context: {baseline: 0}
    tokens_prompt: {baseline: 0}
    generate.tokens_context: {baseline: 0}
    retrieve.count_candidates: {baseline: 0}
    errors: {baseline: 0}
    wall_ms: {baseline: 1, severity: warn}
"""


@pytest.fixture
def blessed(rag_project: pytest.Pytester) -> pytest.Pytester:
    rag_project.makepyfile(test_qa=SCENARIO.format(top_k=4, questions=QUESTIONS))
    rag_project.path.joinpath("ragcost.yaml").write_text(CONFIG, encoding="utf-8")
    result = rag_project.runpytest("--ragcost", "--ragcost-update")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "ragcost: stored per-item baselines beside the config in ragcost.items.json: "
        "milvus-qa (12 items)"
    ])
    return rag_project


def test_the_bless_keeps_every_items_metrics_beside_the_config(blessed: pytest.Pytester) -> None:
    doc = json.loads((blessed.path / "ragcost.items.json").read_text(encoding="utf-8"))
    items = doc["scenarios"]["milvus-qa"]["items"]
    assert len(items) == 12
    labels = sorted(i["label"] for i in items.values())
    assert labels == sorted(QUESTIONS)
    first = next(i for i in items.values() if i["label"] == QUESTIONS[0])
    assert set(first["metrics"]) == {"tokens_context", "tokens_prompt", "generate.tokens_context",
                                     "retrieve.count_candidates", "errors", "wall_ms"}
    assert first["metrics"]["retrieve.count_candidates"] == 4


def test_a_quick_run_over_half_the_items_is_compared_on_them_and_passes(
    blessed: pytest.Pytester,
) -> None:
    result = blessed.runpytest("--ragcost", "--ragcost-requests=6", "--ragcost-json=run.json")
    result.assert_outcomes(passed=1)
    verdicts = {v["key"]: v for v in json.loads((blessed.path / "run.json").read_text())[
        "scenarios"][0]["verdicts"]}
    assert verdicts["tokens_context"]["status"] == "PASS"
    assert "[6 of 12 baseline items]" in verdicts["tokens_context"]["message"]
    assert verdicts["errors"]["status"] == "PASS"


def test_a_raised_top_k_on_six_requests_fails_naming_the_metric_and_the_item(
    blessed: pytest.Pytester,
) -> None:
    blessed.makepyfile(test_qa=SCENARIO.format(top_k=8, questions=QUESTIONS))
    result = blessed.runpytest("--ragcost", "--ragcost-requests=6")
    result.assert_outcomes(failed=1)
    assert result.ret == 1
    expected = (
        "  tokens_context: 102 vs baseline 49.33 (+52.67, +106.8%) over tolerance 5% (n=6) "
        "[6 of 12 baseline items]: item 'What does the reranker score?': tokens_context 44 → "
        "102; item 'How large are the chunks?': tokens_context 44 → 102; "
    )
    assert any(line.startswith(expected) for line in result.outlines), result.stdout.str()
    result.stdout.fnmatch_lines(["*retrieve.count_candidates: 8 vs baseline 4*"])


def test_a_run_sharing_no_item_is_incomparable_warned_and_in_the_headline(
    blessed: pytest.Pytester,
) -> None:
    blessed.makepyfile(test_qa=SCENARIO.format(top_k=4, questions=["What is new?"] * 2))
    result = blessed.runpytest("--ragcost", "--ragcost-markdown=pr.md")
    result.assert_outcomes(passed=1, warnings=6)
    result.stdout.fnmatch_lines([
        "*RagcostWarning: milvus-qa: INCOMPARABLE: tokens_context: none of this run's 2 items "
        "is among the 12 items of the baseline*",
    ])
    headline = (blessed.path / "pr.md").read_text(encoding="utf-8").splitlines()[2]
    assert headline.startswith("**0 failing**, **6 incomparable** (not gated) of 6 gated")


def test_a_rebless_keeps_the_files_mode(blessed: pytest.Pytester) -> None:
    path = blessed.path / "ragcost.items.json"
    os.chmod(path, 0o640)
    blessed.runpytest("--ragcost", "--ragcost-update").assert_outcomes(passed=1)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_a_broken_items_file_is_a_usage_error_naming_it(blessed: pytest.Pytester) -> None:
    (blessed.path / "ragcost.items.json").write_text("{\n<<<<<<< HEAD\n", encoding="utf-8")
    result = blessed.runpytest("--ragcost")
    assert result.ret == 4
    result.stderr.fnmatch_lines(["*ragcost.items.json:2:1: not valid JSON*merge conflict*"])
