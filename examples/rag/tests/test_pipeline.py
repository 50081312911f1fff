"""Plain tests of the example pipeline (no metering): they hold with or without --ragcost."""

from __future__ import annotations

import dataclasses
import itertools
import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest
from ragpipe.config import load_settings
from ragpipe.corpus import Corpus
from ragpipe.ingest import ParsedDocument, chunk_document
from ragpipe.llm import OpenAICompatibleGenerator
from ragpipe.pipeline import Question, RagService


def _doc(text: str) -> ParsedDocument:
    return ParsedDocument("d", Path("d.pdf"), (text,), "0" * 64)


def test_chunks_respect_size_and_overlap() -> None:
    words = " ".join(f"word{i:04d}" for i in range(2000))
    chunks = chunk_document(_doc(words), size_chars=300, overlap_chars=60)
    assert len(chunks) > 10
    assert all(len(c.text) <= 300 for c in chunks)
    for a, b in itertools.pairwise(chunks):
        first_of_b = b.text.split()[0]
        # the next chunk starts inside the previous one: that is the overlap
        assert first_of_b in a.text.split(), (a.text[-80:], b.text[:80])
    # and nothing is lost: every word appears in some chunk
    seen = {w for c in chunks for w in c.text.split()}
    assert seen == set(words.split())


def test_chunking_rejects_overlap_not_below_size() -> None:
    with pytest.raises(ValueError, match="overlap_chars < size_chars"):
        chunk_document(_doc("a b c"), size_chars=100, overlap_chars=100)


def test_every_question_has_reference_chunks(questions: list[Question], corpus: Corpus) -> None:
    assert len(questions) >= 100
    missing = [q.fact_id for q in questions if not q.reference_ids]
    assert not missing
    facts = {f.fact_id: f for f in corpus.facts}
    two_chunk = [q for q in questions if facts[q.fact_id].support]
    assert len(two_chunk) >= len(questions) // 4  # about one in three states its value indirectly
    for q in questions:
        assert any(q.reference in text for text in q.reference_contexts), q
        # a two-chunk fact also references the chunk of its link sentence (or its halves)
        for sentence in facts[q.fact_id].support:
            half = len(sentence) // 2
            assert any(
                sentence[:half] in text or sentence[half:] in text
                for text in q.reference_contexts
            ), (q.fact_id, sentence)


def test_hybrid_search_finds_planted_facts(rag: RagService, questions: list[Question]) -> None:
    sample = questions[::4]
    found = sum(
        any(h.chunk_id in q.reference_ids for h in rag.search(q.text, top_k=8)) for q in sample
    )
    assert found / len(sample) >= 0.8, f"hit@8 was {found}/{len(sample)}"


def test_rerank_keeps_n_and_counts_query_plus_chunks(
    rag: RagService, questions: list[Question]
) -> None:
    q = questions[0]
    hits = rag.search(q.text, top_k=16)
    out = rag.rerank(q.text, hits, 5)
    assert len(out.hits) == 5
    assert {h.chunk_id for h in out.hits} <= {h.chunk_id for h in hits}
    one = rag.embedder.token_count([q.text])
    assert out.tokens_in == one + rag.embedder.token_count([h.text for h in hits])


def test_unchanged_documents_are_not_embedded_again(rag: RagService, corpus: Corpus) -> None:
    report = rag.ingest_corpus(corpus)
    assert report.embedded == 0
    assert report.already_indexed == len(corpus.documents)
    assert rag.store.count(rag.collection) == report.chunks


def test_hyde_gate_by_question_length() -> None:
    knobs = dataclasses.replace(load_settings().retrieval, hyde="short", hyde_max_words=4)
    assert knobs.use_hyde("replication factor?")
    assert not knobs.use_hyde("what is the replication factor of the gateway?")
    assert dataclasses.replace(knobs, hyde="on").use_hyde("a b c d e f g")
    assert not dataclasses.replace(knobs, hyde="off").use_hyde("a")


def test_profiles_override_the_defaults() -> None:
    s = load_settings()
    assert s.profile_retrieval("qa-quality").rerank_n == 5
    assert s.profile_retrieval("qa-typical").hyde == "off"
    with pytest.raises(KeyError, match=r"no \[profiles\.nope\]"):
        s.profile_retrieval("nope")


@pytest.fixture
def fake_openai() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    """An OpenAI-compatible streaming endpoint on loopback that answers 'forty two'."""
    seen: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            seen.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(200)
            self.send_header("Content-Type", "text/event-stream")
            self.end_headers()
            for piece in ("forty", " two"):
                event = {"choices": [{"index": 0, "delta": {"content": piece}}]}
                self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
            usage = {"prompt_tokens": 11, "completion_tokens": 2, "total_tokens": 13}
            self.wfile.write(f"data: {json.dumps({'choices': [], 'usage': usage})}\n\n".encode())
            self.wfile.write(b"data: [DONE]\n\n")

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/v1", seen
    server.shutdown()


def test_openai_compatible_stream_reports_usage_and_first_token(
    fake_openai: tuple[str, list[dict[str, Any]]],
) -> None:
    url, seen = fake_openai
    marks: list[int] = []
    answer = OpenAICompatibleGenerator(url, "m").generate(
        "q?", 48, on_first_token=lambda: marks.append(1)
    )
    assert answer.text == "forty two"
    assert answer.usage == {"prompt_tokens": 11, "completion_tokens": 2, "total_tokens": 13}
    assert marks == [1]
    assert seen[0]["stream"] is True
    assert seen[0]["stream_options"] == {"include_usage": True}
    assert seen[0]["max_tokens"] == 48


def test_local_llm_streams_an_answer(rag: RagService, questions: list[Question]) -> None:
    q = questions[0]
    hits = rag.search(q.text, top_k=4)
    marks: list[int] = []
    answer = rag.llm(rag.prompt(q.text, hits), on_first_token=lambda: marks.append(1))
    assert answer.text
    assert marks == [1]
    assert 0 < answer.usage["completion_tokens"] <= rag.settings.generation.max_tokens + 1
