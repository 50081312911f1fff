"""A small RAG pipeline for the quick start: real BM25 retrieval over a few documents,
a prompt builder, and a stand-in generator.

The generator is a stand-in for an LLM (``StandInGenerator``): it answers with the
retrieved sentence that shares most words with the question, streaming it word by
word, so the example runs anywhere in a second. ``examples/rag/`` has the real thing
(Milvus Lite, sentence embeddings, llama.cpp).
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

WORD = re.compile(r"[a-z0-9]+")


def words(text: str) -> list[str]:
    return WORD.findall(text.lower())


@dataclass(frozen=True)
class Chunk:
    id: str
    text: str


@dataclass(frozen=True)
class Answer:
    text: str


def chunk_documents(folder: Path, size_words: int = 60, overlap_words: int = 15) -> list[Chunk]:
    """Split every ``*.txt`` document into overlapping windows of words."""
    chunks = []
    step = max(1, size_words - overlap_words)
    for doc in sorted(folder.glob("*.txt")):
        tokens = doc.read_text(encoding="utf-8").split()
        for n, start in enumerate(range(0, max(1, len(tokens) - overlap_words), step)):
            piece = " ".join(tokens[start : start + size_words])
            chunks.append(Chunk(f"{doc.stem}#{n}", piece))
    return chunks


class BM25:
    """Okapi BM25 over chunks (k1=1.5, b=0.75)."""

    def __init__(self, chunks: list[Chunk], k1: float = 1.5, b: float = 0.75) -> None:
        self.chunks = chunks
        self.k1, self.b = k1, b
        self.tf = [Counter(words(c.text)) for c in chunks]
        self.lengths = [sum(tf.values()) for tf in self.tf]
        self.avg = sum(self.lengths) / max(1, len(self.lengths))
        df: Counter[str] = Counter()
        for tf in self.tf:
            df.update(tf.keys())
        n = len(chunks)
        self.idf = {w: math.log(1 + (n - d + 0.5) / (d + 0.5)) for w, d in df.items()}

    def search(self, query: str, top_k: int = 4) -> list[Chunk]:
        terms = words(query)
        scored = []
        for i, tf in enumerate(self.tf):
            norm = self.k1 * (1 - self.b + self.b * self.lengths[i] / self.avg)
            score = sum(
                self.idf.get(t, 0.0) * tf[t] * (self.k1 + 1) / (tf[t] + norm)
                for t in terms
                if t in tf
            )
            scored.append((score, i))
        scored.sort(key=lambda s: (-s[0], s[1]))
        return [self.chunks[i] for score, i in scored[:top_k] if score > 0]


def build_prompt(question: str, hits: list[Chunk]) -> str:
    context = "\n\n".join(f"[{h.id}] {h.text}" for h in hits)
    return (
        "Answer the question using only the context.\n\n"
        f"Context:\n{context}\n\nQuestion: {question}\nAnswer:"
    )


class StandInGenerator:
    """A stand-in for an LLM: picks the context sentence closest to the question and
    streams it word by word. Not a language model."""

    def stream(self, prompt: str) -> Iterator[str]:
        question = prompt.rsplit("Question:", 1)[-1]
        context = prompt.split("Context:", 1)[-1].rsplit("Question:", 1)[0]
        sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+", context) if s.strip()]
        asked = set(words(question))
        best = max(sentences, key=lambda s: len(asked & set(words(s))), default="I don't know.")
        best = re.sub(r"^\[[^\]]+\]\s*", "", best)
        for word in best.split():
            yield word + " "

    def __call__(self, prompt: str, on_first_token: Callable[[], None] | None = None) -> Answer:
        parts = []
        for piece in self.stream(prompt):
            if not parts and on_first_token is not None:
                on_first_token()
            parts.append(piece)
        return Answer("".join(parts).strip())
