from __future__ import annotations

from pathlib import Path

import pytest
from questions import QUESTIONS, Question
from rag import BM25, StandInGenerator, chunk_documents

HERE = Path(__file__).parent


class Pipeline:
    def __init__(self) -> None:
        self.index = BM25(chunk_documents(HERE / "docs", size_words=30, overlap_words=8))
        self.llm = StandInGenerator()

    def search(self, question: str, top_k: int):
        return self.index.search(question, top_k=top_k)


@pytest.fixture(scope="session")
def rag() -> Pipeline:
    return Pipeline()


@pytest.fixture(scope="session")
def questions() -> list[Question]:
    return QUESTIONS
