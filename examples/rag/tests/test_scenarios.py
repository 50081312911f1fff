"""The gated scenarios: three traffic profiles and a top_k sweep, metered by pytest-ragcost.

Run with ``pytest --ragcost`` (add ``--ragcost-requests=5`` for a quick pull-request run).
Their knobs live in ``rag.toml``; budgets and baselines in ``ragcost.yaml``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence

import pytest
from ragpipe.config import RetrievalSettings, load_settings
from ragpipe.corpus import GeneratedDocument
from ragpipe.pipeline import Question, RagService
from ragpipe.store import Hit

from pytest_ragcost import Recorder

SETTINGS = load_settings()
REQUESTS = 100
# One unmeasured request first: the model's pages and llama.cpp's buffers warm up there,
# not in the first measured request.
WARMUP = 1


def run_qa(
    ragcost: Recorder, rag: RagService, questions: Sequence[Question], knobs: RetrievalSettings
) -> None:
    """One metered question-answering request per question, stage by stage."""
    for q in ragcost.requests(questions):
        answer_one(ragcost, rag, q, knobs)


def answer_one(ragcost: Recorder, rag: RagService, q: Question, knobs: RetrievalSettings) -> None:
    """One question through the pipeline, stage by stage, with its quality sample."""
    model = rag.generator.model
    hypothetical = None
    if knobs.use_hyde(q.text):
        with ragcost.stage("hyde") as st:
            draft = rag.hyde(q.text)
            st.tokens(prompt=rag.hyde_prompt(q.text), completion=draft.text, model=model)
            if draft.usage:
                st.usage(draft.usage)
            hypothetical = draft.text
    with ragcost.stage("hybrid_search") as st:
        hits: list[Hit] = rag.search(q.text, top_k=knobs.top_k, hypothetical=hypothetical)
        st.count(candidates=len(hits), hyde=int(hypothetical is not None))
    if knobs.rerank_n:
        with ragcost.stage("rerank") as st:
            reranked = rag.rerank(q.text, hits, knobs.rerank_n)
            # What the reranker read: the query and every candidate chunk, in tokens
            # of its own model (all-MiniLM-L6-v2), after its truncation.
            st.tokens(rerank_in=reranked.tokens_in)
            st.count(candidates=len(hits))
            hits = reranked.hits
    with ragcost.stage("prompt_build"):
        prompt = rag.prompt(q.text, hits)
    with ragcost.stage("generate") as st:
        answer = rag.llm(prompt, on_first_token=st.first_token)
        st.tokens(
            prompt=prompt, context=[h.text for h in hits], completion=answer.text, model=model
        )
        if answer.usage:
            st.usage(answer.usage)
    ragcost.sample(
        question=q.text,
        answer=answer.text,
        contexts=[h.text for h in hits],
        reference=q.reference,
        reference_contexts=list(q.reference_contexts),
        context_ids=[h.chunk_id for h in hits],
        reference_ids=list(q.reference_ids),
    )


@pytest.mark.ragcost(scenario="qa-typical", requests=REQUESTS, warmup=WARMUP)
def test_qa_typical(ragcost: Recorder, rag: RagService, questions: list[Question]) -> None:
    run_qa(ragcost, rag, questions, SETTINGS.profile_retrieval("qa-typical"))


@pytest.mark.parametrize("users", [1, 2, 4])
@pytest.mark.ragcost(
    scenario="qa-typical-u{users}", requests=REQUESTS, warmup=WARMUP, load={"users": "{users}"}
)
def test_qa_typical_under_load(
    ragcost: Recorder,
    rag: RagService,
    questions: list[Question],
    users: int,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """qa-typical with 1, 2 and 4 users at once (closed loop, each level its own scenario).

    The service generates for one request at a time (one llama.cpp context) and embeds
    for one at a time; wrapping both with ragcost.queue() records the wait in front of
    each and the queue each request found.
    """
    monkeypatch.setattr(rag, "generation_slots", ragcost.queue(rag.generation_slots, "generate"))
    monkeypatch.setattr(rag, "embedding_slots", ragcost.queue(rag.embedding_slots, "embed"))
    knobs = SETTINGS.profile_retrieval("qa-typical")
    ragcost.load(lambda q: answer_one(ragcost, rag, q, knobs), questions)


@pytest.mark.ragcost(scenario="qa-quality", requests=REQUESTS, warmup=WARMUP)
def test_qa_quality(ragcost: Recorder, rag: RagService, questions: list[Question]) -> None:
    run_qa(ragcost, rag, questions, SETTINGS.profile_retrieval("qa-quality"))


@pytest.mark.parametrize(
    "top_k",
    [
        pytest.param(
            k,
            marks=pytest.mark.ragcost(
                scenario=f"sweep-top_k-{k}", requests=REQUESTS, warmup=WARMUP
            ),
        )
        for k in SETTINGS.sweep_top_k
    ],
)
def test_sweep_top_k(
    ragcost: Recorder, rag: RagService, questions: list[Question], top_k: int
) -> None:
    """One knob at a time: the qa-typical profile with top_k changed."""
    base = SETTINGS.profile_retrieval("qa-typical")
    run_qa(ragcost, rag, questions, dataclasses.replace(base, top_k=top_k))


@pytest.mark.ragcost(scenario="ingest-burst", requests=REQUESTS)
def test_ingest_burst(
    ragcost: Recorder, rag: RagService, burst_documents: Iterator[GeneratedDocument]
) -> None:
    """Each request ingests one ~12-page PDF into a fresh collection, without the
    embedding cache, so every run measures the full work."""
    collection = "burst_" + rag.collection_name("burst")[4:]
    rag.store.ensure_collection(collection, fresh=True)
    embed_model = rag.embedder.name
    written = 0
    for doc in ragcost.requests(burst_documents):
        with ragcost.stage("pdf_parse") as st:
            parsed = rag.parse(doc.path, doc.doc_id)
            st.count(pages=len(parsed.pages), chars=parsed.chars)
        with ragcost.stage("chunk") as st:
            chunks = rag.chunk(parsed)
            st.count(chunks=len(chunks))
        with ragcost.stage("embed") as st:
            texts = [c.text for c in chunks]
            vectors = rag.embed(texts)
            st.tokens(embed_in=texts, model=embed_model)
        with ragcost.stage("index_write") as st:
            rows = rag.index_write(collection, chunks, vectors, parsed.content_sha256)
            st.count(rows=rows)
        written += rows
    assert written > 0, "the burst wrote no rows: check the burst corpus generator"
    assert rag.store.count(collection) == written
