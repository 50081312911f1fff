"""Session fixtures of the example: the corpus, the index and the LLM, each built once.

Everything heavy lands in ``.cache/`` next to this file (or ``$RAG_CACHE_DIR``): the
generated PDFs, the embedding cache, the Milvus Lite database file and the assembled
GGUF model. A second run reuses all of it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from ragpipe import environment
from ragpipe.config import EXAMPLE_DIR, Settings, load_settings

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

# The heavy modules are imported by the fixtures that use them, after the environment
# check: a missing package then gives one clear message, not an import error per module.
if TYPE_CHECKING:
    from ragpipe.corpus import Corpus, GeneratedDocument
    from ragpipe.ingest import Embedder
    from ragpipe.pipeline import Question, RagService


def pytest_configure(config: pytest.Config) -> None:
    """Stop before any test runs when a requirement of the example is missing or wrong."""
    unmet = environment.problems()
    if unmet:
        raise pytest.UsageError(environment.describe(unmet, config.invocation_params.dir))


def _cache_dir() -> Path:
    return Path(os.environ.get("RAG_CACHE_DIR", EXAMPLE_DIR / ".cache")).resolve()


@pytest.fixture(scope="session")
def rag_settings() -> Settings:
    """The knobs in ``rag.toml`` (or the file named by ``$RAG_CONFIG``)."""
    return load_settings()


@pytest.fixture(scope="session")
def corpus(rag_settings: Settings) -> Corpus:
    """The searchable corpus: seeded PDFs with planted facts, generated once into the cache."""
    from ragpipe.corpus import build_corpus

    c = rag_settings.corpus
    return build_corpus(
        _cache_dir(), c.seed, c.documents, c.pages_per_document, c.facts_per_document
    )


@pytest.fixture(scope="session")
def rag(rag_settings: Settings, corpus: Corpus) -> Iterator[RagService]:
    """The pipeline with its index built: embedder, Milvus Lite collection and LLM."""
    from ragpipe.ingest import Embedder
    from ragpipe.llm import generator_from_env
    from ragpipe.pipeline import RagService
    from ragpipe.store import VectorStore

    cache = _cache_dir()
    gen = rag_settings.generation
    embedder = Embedder(
        rag_settings.ingest.embedding_model, rag_settings.ingest.embed_batch_size, gen.threads
    )
    # Milvus Lite lets one process own a database file: one file per xdist worker.
    worker = os.environ.get("PYTEST_XDIST_WORKER", "main")
    store = VectorStore(cache / "milvus" / f"rag-{worker}.db", embedder.dim)
    generator = generator_from_env(cache, gen.model, gen.context_window_tokens, gen.threads)
    _register_token_counters(embedder, generator)
    service = RagService(rag_settings, embedder, store, generator, cache)
    service.ingest_corpus(corpus)
    yield service
    store.close()


def _register_token_counters(embedder: Embedder, generator: object) -> None:
    """Count tokens with the real tokenizers of the models in use, not an approximation."""
    from ragpipe.llm import LlamaCppGenerator

    try:
        from pytest_ragcost import register_counter
    except ImportError:  # the plugin is not installed: nothing is metered anyway
        return
    tok = embedder.model.tokenizer
    register_counter(embedder.name, lambda text: len(tok(text)["input_ids"]))
    if isinstance(generator, LlamaCppGenerator):
        register_counter(generator.model, generator.count_tokens)


@pytest.fixture(scope="session")
def questions(rag: RagService, corpus: Corpus) -> list[Question]:
    """One question per planted fact, with its reference answer, chunks and chunk ids."""
    return rag.questions(corpus.facts)


@pytest.fixture
def burst_documents(rag_settings: Settings) -> Iterator[GeneratedDocument]:
    """Documents for the ingest-burst scenario, made lazily so a capped run makes only a few.

    They come from another seed than the searchable corpus and are cached on disk too.
    """
    from ragpipe.corpus import GeneratedDocument, generate_document

    c = rag_settings.profile_corpus("ingest-burst")
    directory = _cache_dir() / "burst" / f"s{c.seed + 1}-p{c.pages_per_document}"

    def generate() -> Iterator[GeneratedDocument]:
        used: set[int] = set()
        for i in range(c.documents):
            doc_id = f"burst-{i:04d}"
            path = directory / f"{doc_id}.pdf"
            if path.exists():
                yield GeneratedDocument(doc_id, path, doc_id, c.pages_per_document, ())
                continue
            made = generate_document(
                c.seed + 1, i, c.pages_per_document, c.facts_per_document, directory, used
            )
            made.path.replace(path)
            yield GeneratedDocument(doc_id, path, made.title, made.pages, made.facts)

    return generate()
