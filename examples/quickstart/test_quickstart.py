"""The quick-start scenario: retrieve, build a prompt, generate; metered by pytest-ragcost."""

from __future__ import annotations

import pytest
from rag import build_prompt

TOP_K = 3


@pytest.mark.ragcost(scenario="quickstart-qa", requests=24, warmup=2)
def test_qa(ragcost, rag, questions):
    for q in ragcost.requests(questions * 3):
        with ragcost.stage("bm25_search") as st:
            hits = rag.search(q.text, top_k=TOP_K)
            st.count(candidates=len(hits))
        with ragcost.stage("generate") as st:
            prompt = build_prompt(q.text, hits)
            answer = rag.llm(prompt, on_first_token=st.first_token)
            st.tokens(prompt=prompt, context=[h.text for h in hits],
                      completion=answer.text, model="gpt-4o-mini")
        ragcost.sample(question=q.text, answer=answer.text,
                       contexts=[h.text for h in hits], reference=q.reference,
                       context_ids=[h.id.split("#")[0] for h in hits],
                       reference_ids=[q.source])
        assert answer.text
