"""The span-to-stage rules on plain captured spans (the pure half of spans in)."""

from __future__ import annotations

from typing import Any

import pytest

from pytest_ragcost.export.spans_in import (
    CapturedSpan,
    drop_duplicates,
    merge,
    stage_of,
    union_ns,
    usage_of,
)
from pytest_ragcost.run import StageRecord

MS = 1_000_000
_ids = iter(range(1, 10_000))


def span(start_ms: float, end_ms: float, parent: CapturedSpan | None = None,
         owner: int | None = None, **attrs: Any) -> CapturedSpan:
    return CapturedSpan(
        span_id=next(_ids), trace_id=7, parent_id=parent.span_id if parent else None,
        name="s", start_ns=int(start_ms * MS), end_ns=int(end_ms * MS),
        attributes=attrs, owner=owner,
    )


def chat(start: float, end: float, parent: CapturedSpan | None = None,
         owner: int | None = None, prompt: int = 10, completion: int = 5,
         **extra: Any) -> CapturedSpan:
    return span(start, end, parent, owner, **{
        "gen_ai.operation.name": "chat", "gen_ai.request.model": "m",
        "gen_ai.usage.input_tokens": prompt, "gen_ai.usage.output_tokens": completion,
        **extra,
    })


@pytest.mark.parametrize(
    ("attrs", "stage"),
    [
        ({"gen_ai.operation.name": "chat"}, "generate"),
        ({"gen_ai.operation.name": "text_completion"}, "generate"),
        ({"gen_ai.operation.name": "embeddings"}, "embed"),
        ({"gen_ai.operation.name": "retrieval"}, "retrieve"),
        ({"gen_ai.operation.name": "invoke_agent"}, None),
        ({"openinference.span.kind": "LLM"}, "generate"),
        ({"openinference.span.kind": "EMBEDDING"}, "embed"),
        ({"openinference.span.kind": "RETRIEVER"}, "retrieve"),
        ({"openinference.span.kind": "RERANKER"}, "rerank"),
        ({"openinference.span.kind": "CHAIN"}, None),
        ({"llm.request.type": "chat"}, "generate"),
        ({"llm.request.type": "embedding"}, "embed"),
        ({"llm.request.type": "rerank"}, "rerank"),
        ({"db.system": "milvus"}, "retrieve"),
        ({"db.system": "postgresql"}, None),
        ({"db.vector.query.top_k": 8}, "retrieve"),
        ({"traceloop.span.kind": "workflow"}, None),
        ({"http.method": "POST"}, None),
    ],
)
def test_spans_map_to_stages(attrs: dict[str, Any], stage: str | None) -> None:
    assert stage_of(attrs) == stage


def test_usage_in_each_convention() -> None:
    assert usage_of({"gen_ai.usage.input_tokens": 3, "gen_ai.usage.output_tokens": 4}) == {
        "prompt": 3.0, "completion": 4.0}
    assert usage_of({"gen_ai.usage.prompt_tokens": 3, "gen_ai.usage.completion_tokens": 4}) == {
        "prompt": 3.0, "completion": 4.0}
    assert usage_of({"llm.token_count.prompt": 3, "llm.token_count.completion": 4,
                     "llm.token_count.prompt_details.cache_read": 2}) == {
        "prompt": 3.0, "completion": 4.0, "cached_prompt": 2.0}
    assert usage_of({"gen_ai.usage.input_tokens": True}) == {}


def test_union_of_nested_and_concurrent_intervals() -> None:
    assert union_ns([(0, 10), (5, 20), (30, 40), (35, 36)]) == [(0, 20), (30, 40)]


def test_loose_spans_of_one_kind_are_timed_as_their_union() -> None:
    # two concurrent calls (threads), 0-100 and 50-150 ms: 150 ms of generate, not 200
    merged = merge([], [chat(0, 100), chat(50, 150)])
    (stage,) = merged.stages
    assert stage.name == "generate"
    assert stage.metrics["wall_ms"] == pytest.approx(150)
    assert stage.metrics["tokens_prompt"] == 20
    assert stage.metrics["count_calls"] == 2


def test_nested_span_of_another_kind_is_not_counted_twice() -> None:
    retrieve = span(0, 100, **{"openinference.span.kind": "RETRIEVER"})
    embed = span(10, 40, retrieve, **{"openinference.span.kind": "EMBEDDING",
                                      "llm.token_count.prompt": 6})
    stages = {s.name: s for s in merge([], [retrieve, embed]).stages}
    assert stages["retrieve"].metrics["wall_ms"] == pytest.approx(70)
    assert stages["embed"].metrics["wall_ms"] == pytest.approx(30)
    assert stages["embed"].metrics["tokens_prompt"] == 6
    assert sum(s.metrics["wall_ms"] for s in stages.values()) == pytest.approx(100)


def test_tokens_only_from_leaf_model_spans() -> None:
    # a framework's LLM span around two provider calls reports their sum again
    agent = span(0, 200, **{"openinference.span.kind": "LLM", "llm.token_count.prompt": 30,
                            "llm.token_count.completion": 12})
    first = chat(10, 90, agent, prompt=10, completion=5)
    second = chat(100, 190, agent, prompt=20, completion=7)
    (stage,) = merge([], [agent, first, second]).stages
    assert stage.metrics["tokens_prompt"] == 30
    assert stage.metrics["tokens_completion"] == 12
    assert stage.metrics["count_calls"] == 2


def test_a_second_instrumentor_on_the_same_call_is_dropped() -> None:
    outer = chat(0, 100, prompt=9, completion=4)
    inner = span(2, 99, outer, **{"openinference.span.kind": "LLM", "llm.model_name": "m",
                                  "llm.token_count.prompt": 9,
                                  "llm.token_count.completion": 4})
    kept, dropped = drop_duplicates([outer, inner])
    assert dropped == 1
    assert kept == [inner]
    merged = merge([], [outer, inner])
    assert merged.duplicates == 1
    assert merged.stages[0].metrics["tokens_prompt"] == 9


def test_sibling_duplicates_from_two_instrumentors() -> None:
    parent = span(0, 300, **{"traceloop.span.kind": "workflow"})
    a = chat(10, 110, parent)
    b = chat(11, 110, parent)
    assert drop_duplicates([parent, a, b])[1] == 1


def test_different_calls_are_not_duplicates() -> None:
    parent = span(0, 300)
    # overlapping but different usage: two real calls in parallel
    a = chat(10, 110, parent, prompt=10)
    b = chat(12, 110, parent, prompt=11)
    # same usage but one after the other
    c = chat(120, 200, parent)
    d = chat(200, 290, parent)
    assert drop_duplicates([parent, a, b, c, d])[1] == 0


def test_an_explicit_stage_owns_the_time_and_spans_add_tokens() -> None:
    stage = StageRecord("answer", {"wall_ms": 120.0, "tokens_prompt": 50.0,
                                   "tokens_context": 30.0, "tokens_total": 50.0},
                        {"wall_ms": "timer", "tokens_prompt": "counted"})
    inside = chat(10, 90, owner=0, prompt=52, completion=6,
                  **{"server.address": "llm.internal", "server.port": 8080})
    (merged,) = merge([stage], [inside], [0]).stages
    assert merged.metrics["wall_ms"] == 120.0
    assert merged.sources["wall_ms"] == "timer"
    # provider tokens win over counted ones; context stays counted
    assert merged.metrics["tokens_prompt"] == 52
    assert merged.sources["tokens_prompt"] == "provider:otel-genai"
    assert merged.metrics["tokens_context"] == 30
    assert merged.metrics["tokens_total"] == 58
    assert merged.model == "m"
    assert merged.endpoint == "llm.internal:8080"


def test_st_usage_is_not_overwritten_by_a_span_of_the_same_call() -> None:
    stage = StageRecord("generate", {"wall_ms": 80.0, "tokens_prompt": 52.0,
                                     "tokens_completion": 6.0, "tokens_total": 58.0},
                        {"tokens_prompt": "provider:openai-chat",
                         "tokens_completion": "provider:openai-chat"})
    (merged,) = merge([stage], [chat(1, 70, owner=0, prompt=52, completion=6)], [0]).stages
    assert merged.metrics["tokens_total"] == 58
    assert merged.sources["tokens_prompt"] == "provider:openai-chat"


def test_time_to_first_token_from_the_semconv_attribute() -> None:
    stage = StageRecord("generate", {"wall_ms": 500.0}, {})
    inside = chat(100, 400, owner=0, **{"gen_ai.response.time_to_first_chunk": 0.05})
    merged = merge([stage], [inside], [90 * MS])
    assert merged.stages[0].metrics["ttft_ms"] == pytest.approx(60)
    assert merged.first_token_ns == 150 * MS


def test_failed_loose_span_is_an_error_of_its_stage() -> None:
    failed = CapturedSpan(span_id=99_999, trace_id=7, parent_id=None, name="chat m",
                          start_ns=0, end_ns=10 * MS,
                          attributes={"gen_ai.operation.name": "chat",
                                      "server.address": "127.0.0.1", "server.port": 9},
                          error="APIConnectionError")
    (stage,) = merge([], [failed]).stages
    assert stage.error == "APIConnectionError"
    assert stage.endpoint == "127.0.0.1:9"
