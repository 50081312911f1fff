"""The vector store: one Milvus Lite collection with a dense field and a BM25 sparse field.

The sparse vectors are made inside Milvus by its built-in BM25 function over an analysed
VARCHAR field, so a search sends the raw question text for the lexical half and a dense
vector for the semantic half; Milvus fuses the two ranked lists with reciprocal rank
fusion (RRF).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pymilvus import (
    AnnSearchRequest,
    DataType,
    Function,
    FunctionType,
    MilvusClient,
    RRFRanker,
)

from .ingest import Chunk, Vectors

_MAX_TEXT_CHARS = 4096


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk and its fused score (higher is better)."""

    chunk_id: str
    doc_id: str
    text: str
    score: float


class VectorStore:
    """A Milvus Lite database file holding named collections of chunks."""

    def __init__(self, db_path: Path, dim: int) -> None:
        db_path.parent.mkdir(parents=True, exist_ok=True)
        self.db_path = db_path
        self.dim = dim
        self.client = MilvusClient(str(db_path))

    def ensure_collection(self, name: str, *, fresh: bool = False) -> None:
        """Create ``name`` with the hybrid schema; ``fresh`` drops an existing one first."""
        if self.client.has_collection(name):
            if not fresh:
                # A collection from an earlier run sits on disk released; search needs it loaded.
                self.client.load_collection(name)
                return
            self.client.drop_collection(name)
        schema = self.client.create_schema(auto_id=False)
        schema.add_field("id", DataType.VARCHAR, is_primary=True, max_length=96)
        schema.add_field("doc_id", DataType.VARCHAR, max_length=96)
        schema.add_field("doc_sha256", DataType.VARCHAR, max_length=64)
        schema.add_field("chunk_index", DataType.INT64)
        schema.add_field("text", DataType.VARCHAR, max_length=_MAX_TEXT_CHARS, enable_analyzer=True)
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=self.dim)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(
            Function(
                name="text_bm25",
                function_type=FunctionType.BM25,
                input_field_names=["text"],
                output_field_names=["sparse"],
            )
        )
        index = self.client.prepare_index_params()
        index.add_index(field_name="dense", index_type="HNSW", metric_type="COSINE")
        index.add_index(field_name="sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        self.client.create_collection(name, schema=schema, index_params=index)

    def document_hashes(self, name: str) -> dict[str, str]:
        """``doc_id -> content hash`` of every document already in the collection."""
        rows = self.client.query(
            name, filter="chunk_index == 0", output_fields=["doc_id", "doc_sha256"], limit=16384
        )
        return {str(r["doc_id"]): str(r["doc_sha256"]) for r in rows}

    def delete_document(self, name: str, doc_id: str) -> None:
        self.client.delete(name, filter=f'doc_id == "{doc_id}"')

    def write(self, name: str, chunks: Sequence[Chunk], vectors: Vectors, doc_sha256: str) -> int:
        """Insert the chunks of one document; returns rows written."""
        if len(chunks) != vectors.shape[0]:
            msg = f"{len(chunks)} chunks but {vectors.shape[0]} vectors; embed every chunk once"
            raise ValueError(msg)
        rows: list[dict[str, Any]] = [
            {
                "id": c.chunk_id,
                "doc_id": c.doc_id,
                "doc_sha256": doc_sha256,
                "chunk_index": c.index,
                "text": c.text[:_MAX_TEXT_CHARS],
                "dense": v.tolist(),
            }
            for c, v in zip(chunks, vectors, strict=True)
        ]
        result = self.client.insert(name, rows)
        return int(result["insert_count"])

    def count(self, name: str) -> int:
        rows = self.client.query(name, filter="", output_fields=["count(*)"])
        return int(rows[0]["count(*)"])

    def hybrid_search(
        self, name: str, dense: Vectors, text: str, top_k: int, rrf_k: int
    ) -> list[Hit]:
        """Dense ANN and BM25 over ``text``, each ``top_k`` deep, fused with RRF."""
        requests = [
            AnnSearchRequest(
                data=[dense.tolist()], anns_field="dense", param={"ef": max(64, top_k)}, limit=top_k
            ),
            AnnSearchRequest(data=[text], anns_field="sparse", param={}, limit=top_k),
        ]
        result = self.client.hybrid_search(
            name,
            requests,
            ranker=RRFRanker(rrf_k),
            limit=top_k,
            output_fields=["doc_id", "text"],
        )
        return [
            Hit(
                str(r["id"]),
                str(r["entity"]["doc_id"]),
                str(r["entity"]["text"]),
                float(r["distance"]),
            )
            for r in result[0]
        ]

    def close(self) -> None:
        self.client.close()
