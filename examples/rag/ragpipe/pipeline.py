"""The RAG service the example's tests drive: ingest, hybrid search, HyDE, rerank, generate."""

from __future__ import annotations

import hashlib
import json
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from .config import Settings
from .corpus import Corpus, Fact, fact_chunk_ids
from .ingest import (
    Chunk,
    Embedder,
    EmbeddingCache,
    ParsedDocument,
    Vectors,
    chunk_document,
    parse_pdf,
)
from .llm import Answer, FirstTokenHook, Generator
from .store import Hit, VectorStore

RERANKER_NAME = "minilm-maxsim"


class Slots(Protocol):
    """What bounds a part of the service: a semaphore, or a wrapper of one."""

    def __enter__(self) -> object: ...

    def __exit__(self, *exc: object) -> object: ...


@dataclass(frozen=True)
class Question:
    """One question of the evaluation set, with what a correct pipeline should find."""

    fact_id: str
    text: str
    reference: str
    reference_contexts: tuple[str, ...]
    reference_ids: tuple[str, ...]


@dataclass(frozen=True)
class IngestReport:
    documents: int
    embedded: int
    reused_from_cache: int
    already_indexed: int
    chunks: int


@dataclass(frozen=True)
class Reranked:
    hits: list[Hit]
    tokens_in: int


class RagService:
    """One configured pipeline over one Milvus Lite collection."""

    def __init__(
        self,
        settings: Settings,
        embedder: Embedder,
        store: VectorStore,
        generator: Generator,
        cache_dir: Path,
    ) -> None:
        self.settings = settings
        self.embedder = embedder
        self.store = store
        self.generator = generator
        self.cache = EmbeddingCache(cache_dir / "embeddings")
        self.collection = ""
        self._chunks_by_doc: dict[str, list[Chunk]] = {}
        # How the service bounds its concurrency (served from several threads): one
        # llama.cpp context generates for one request at a time, and the embedding model's
        # tokenizer is not safe to share between threads. A load test wraps these with
        # ragcost.queue() to see the wait in front of each.
        self.generation_slots: Slots = threading.BoundedSemaphore(1)
        self.embedding_slots: Slots = threading.BoundedSemaphore(1)

    # -- ingest -------------------------------------------------------------------------

    def parse(self, path: Path, doc_id: str | None = None) -> ParsedDocument:
        return parse_pdf(path, doc_id)

    def chunk(self, doc: ParsedDocument) -> list[Chunk]:
        ing = self.settings.ingest
        return chunk_document(doc, ing.chunk_size_chars, ing.chunk_overlap_chars)

    def embed(self, texts: Sequence[str]) -> Vectors:
        with self.embedding_slots:
            return self.embedder.embed(texts)

    def index_write(
        self, collection: str, chunks: Sequence[Chunk], vectors: Vectors, sha: str
    ) -> int:
        return self.store.write(collection, chunks, vectors, sha)

    def collection_name(self, corpus_key: str) -> str:
        ing = self.settings.ingest
        raw = f"{corpus_key}|{ing.chunk_size_chars}|{ing.chunk_overlap_chars}|{ing.embedding_model}"
        return "rag_" + hashlib.sha256(raw.encode()).hexdigest()[:16]

    def ingest_corpus(self, corpus: Corpus) -> IngestReport:
        """Index every document of ``corpus``, skipping what is already there unchanged.

        Two caches keep a warm run cheap: the collection remembers each document's content
        hash (an unchanged document is not written again), and the embedding cache keeps
        chunks and vectors per (content hash, chunking knobs, model), so even a rebuilt
        collection does not re-embed an unchanged PDF.
        """
        ing = self.settings.ingest
        self.collection = self.collection_name(corpus.directory.name)
        self.store.ensure_collection(self.collection)
        indexed = self.store.document_hashes(self.collection)
        embedded = reused = skipped = n_chunks = 0
        for doc in corpus.documents:
            sha = hashlib.sha256(doc.path.read_bytes()).hexdigest()
            key = EmbeddingCache.key(
                sha, ing.chunk_size_chars, ing.chunk_overlap_chars, ing.embedding_model
            )
            chunks = self._cached_chunks(key, doc.doc_id)
            vectors = self.cache.get(key, len(chunks)) if chunks is not None else None
            if chunks is None or vectors is None:
                chunks = self.chunk(self.parse(doc.path, doc.doc_id))
                vectors = self.embed([c.text for c in chunks])
                self.cache.put(key, vectors)
                self._save_chunks(key, chunks)
                embedded += 1
            else:
                reused += 1
            self._chunks_by_doc[doc.doc_id] = chunks
            n_chunks += len(chunks)
            if indexed.get(doc.doc_id) == sha:
                skipped += 1
                continue
            if doc.doc_id in indexed:
                self.store.delete_document(self.collection, doc.doc_id)
            self.store.write(self.collection, chunks, vectors, sha)
        return IngestReport(len(corpus.documents), embedded, reused, skipped, n_chunks)

    def _cached_chunks(self, key: str, doc_id: str) -> list[Chunk] | None:
        path = self.cache.directory / f"{key}.chunks.json"
        if not path.exists():
            return None
        return [
            Chunk(c["chunk_id"], doc_id, c["index"], c["text"])
            for c in json.loads(path.read_text())
        ]

    def _save_chunks(self, key: str, chunks: Sequence[Chunk]) -> None:
        path = self.cache.directory / f"{key}.chunks.json"
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(
            json.dumps([{"chunk_id": c.chunk_id, "index": c.index, "text": c.text} for c in chunks])
        )
        tmp.replace(path)

    def questions(self, facts: Iterable[Fact]) -> list[Question]:
        """The evaluation set: each planted fact, with the chunk ids that hold it.

        Questions are interleaved across documents (first fact of every document, then the
        second ...), so a run capped at a few requests still samples the whole corpus.
        """
        by_doc: dict[str, list[Fact]] = {}
        for fact in facts:
            by_doc.setdefault(fact.doc_id, []).append(fact)
        rounds = max((len(v) for v in by_doc.values()), default=0)
        ordered = [fs[i] for i in range(rounds) for fs in by_doc.values() if i < len(fs)]
        out: list[Question] = []
        for fact in ordered:
            chunks = self._chunks_by_doc.get(fact.doc_id, [])
            ids = fact_chunk_ids(fact, [(c.chunk_id, c.text) for c in chunks])
            texts = tuple(c.text for c in chunks if c.chunk_id in ids)
            out.append(Question(fact.fact_id, fact.question, fact.answer, texts, tuple(ids)))
        return out

    # -- query --------------------------------------------------------------------------

    def hyde_prompt(self, question: str) -> str:
        return (
            "Below is a passage from a technical operations manual.\n"
            f"Question it answers: {question}\n"
            "Passage: "
        )

    def hyde(self, question: str, on_first_token: FirstTokenHook | None = None) -> Answer:
        """HyDE: let the LLM write a hypothetical answer passage to search with."""
        with self.generation_slots:
            return self.generator.generate(
                self.hyde_prompt(question),
                self.settings.generation.hyde_max_tokens,
                on_first_token,
                stop=("\n\n", "Question"),
            )

    def search(
        self,
        question: str,
        top_k: int,
        hypothetical: str | None = None,
        collection: str | None = None,
    ) -> list[Hit]:
        """Hybrid search: dense on the question (averaged with a HyDE passage if given),
        BM25 on the question's words, fused with RRF."""
        texts = [question] if hypothetical is None else [question, hypothetical]
        vectors = self.embed(texts)
        dense = vectors.mean(axis=0)
        dense = dense / max(float(np.linalg.norm(dense)), 1e-12)
        return self.store.hybrid_search(
            collection or self.collection,
            dense.astype(np.float32),
            question,
            top_k,
            self.settings.retrieval.rrf_k,
        )

    def rerank(self, question: str, hits: Sequence[Hit], rerank_n: int) -> Reranked:
        """Rerank by late interaction (MaxSim) over all-MiniLM-L6-v2 token embeddings.

        No cross-encoder ships offline here, so this reads the query and each candidate
        chunk in full with the bi-encoder and scores every query token against its best
        matching chunk token (ColBERT-style MaxSim, untrained for it). It is a real second
        pass over query + k x chunk tokens, which is what the token count reports.
        """
        if not hits:
            return Reranked([], 0)
        texts = [question, *(h.text for h in hits)]
        with self.embedding_slots:
            embs = self.embedder.token_embeddings(texts)
            tokens_in = self.embedder.token_count(texts)
        query = embs[0]
        scores = [float((query @ doc.T).max(axis=1).mean()) for doc in embs[1:]]
        order = sorted(range(len(hits)), key=lambda i: -scores[i])[:rerank_n]
        return Reranked([hits[i] for i in order], tokens_in)

    def prompt(self, question: str, hits: Sequence[Hit]) -> str:
        """The generation prompt: numbered context passages, then the question."""
        context = "\n".join(f"[{i + 1}] {h.text}" for i, h in enumerate(hits))
        return (
            "Answer the question with a short phrase taken from the context.\n\n"
            f"Context:\n{context}\n\n"
            f"Question: {question}\n"
            "Answer:"
        )

    def llm(self, prompt: str, on_first_token: FirstTokenHook | None = None) -> Answer:
        # A base model keeps writing after its answer; the answer is one line.
        with self.generation_slots:
            return self.generator.generate(
                prompt, self.settings.generation.max_tokens, on_first_token,
                stop=("\n", "Question:"),
            )
