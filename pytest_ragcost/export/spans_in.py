"""Spans an instrumented application already emits, turned into ragcost stages.

Pure functions over :class:`CapturedSpan` (a plain copy of a finished span); the OTel glue
that fills them lives in :mod:`pytest_ragcost.export.opentelemetry`.

Three conventions are read: OpenTelemetry GenAI (``gen_ai.*``), OpenInference
(``openinference.span.kind``, ``llm.token_count.*``) and OpenLLMetry (``llm.request.type``,
``traceloop.*``, vector ``db.system``). The rules that keep numbers from being counted twice:

- a span that starts inside an explicit ``ragcost.stage()`` adds attributes to that stage
  (provider tokens, model, time to first token), never time: the stage owns its time;
- spans outside any ragcost stage become stages of their own kind, timed as the union of
  their intervals (nested or concurrent spans of one kind are not added up), minus the time
  of nested spans of another kind, so the stages of a request never sum past its wall time;
- tokens come only from leaf model spans (a model span with a model span of the same kind
  below it is a wrapper: its usage is its children's, again);
- the same call seen by two instrumentors (two model spans of one kind, one inside the
  other or siblings, overlapping by 90 % or more, with the same model and usage) is kept
  once.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from ..run import StageRecord

#: the stages a captured span can form, and the order they are appended in
SPAN_STAGES = ("embed", "retrieve", "rerank", "generate")
#: kinds whose spans report provider usage
MODEL_STAGES = frozenset({"generate", "embed", "rerank"})
#: time overlap (of the shorter span) above which two model spans are one call seen twice
DUPLICATE_OVERLAP = 0.9
#: the source label of times taken from spans (the instrumentation's clock, not ours)
SPAN_TIMER = "span"

_GENAI_OPERATIONS = {
    "chat": "generate",
    "text_completion": "generate",
    "generate_content": "generate",
    "generate": "generate",
    "completion": "generate",
    "embeddings": "embed",
    "embedding": "embed",
    "retrieval": "retrieve",
    "rerank": "rerank",
}
_OPENINFERENCE_KINDS = {
    "LLM": "generate",
    "EMBEDDING": "embed",
    "RETRIEVER": "retrieve",
    "RERANKER": "rerank",
}
_TRACELOOP_REQUEST_TYPES = {
    "chat": "generate",
    "completion": "generate",
    "embedding": "embed",
    "rerank": "rerank",
}
#: ``db.system`` values of vector stores (OpenLLMetry and the database semconv)
VECTOR_DBS = frozenset(
    {
        "milvus",
        "qdrant",
        "chroma",
        "chromadb",
        "pinecone",
        "weaviate",
        "lancedb",
        "marqo",
        "pgvector",
        "faiss",
        "vespa",
        "elasticsearch",
        "opensearch",
        "redis",
    }
)


@dataclass(frozen=True)
class CapturedSpan:
    """A finished span of the application, copied out of the SDK.

    ``owner`` is the index (in the request's stage list) of the ``ragcost.stage()`` that was
    open when the span started, or None when it started outside every ragcost stage.
    """

    span_id: int
    trace_id: int
    parent_id: int | None
    name: str
    start_ns: int
    end_ns: int
    attributes: Mapping[str, Any]
    owner: int | None = None
    error: str | None = None
    #: the time of a "first token" event, when the instrumentation records one
    first_token_ns: int | None = None

    @property
    def duration_ns(self) -> int:
        return max(0, self.end_ns - self.start_ns)

    # read once per span: merge() looks at each of them many times
    @cached_property
    def kind(self) -> str | None:
        return stage_of(self.attributes)

    @cached_property
    def usage(self) -> dict[str, float]:
        return usage_of(self.attributes)

    @cached_property
    def model(self) -> str | None:
        return model_of(self.attributes)


def stage_of(attributes: Mapping[str, Any]) -> str | None:
    """The ragcost stage a span's attributes describe, or None (a container or unknown)."""
    operation = attributes.get("gen_ai.operation.name")
    if isinstance(operation, str) and operation.lower() in _GENAI_OPERATIONS:
        return _GENAI_OPERATIONS[operation.lower()]
    kind = attributes.get("openinference.span.kind")
    if isinstance(kind, str) and kind.upper() in _OPENINFERENCE_KINDS:
        return _OPENINFERENCE_KINDS[kind.upper()]
    request_type = attributes.get("llm.request.type")
    if isinstance(request_type, str) and request_type.lower() in _TRACELOOP_REQUEST_TYPES:
        return _TRACELOOP_REQUEST_TYPES[request_type.lower()]
    system = attributes.get("db.system") or attributes.get("db.system.name")
    if (isinstance(system, str) and system.lower() in VECTOR_DBS) or (
        "db.vector.query.top_k" in attributes
    ):
        return "retrieve"
    return None


def _number(attributes: Mapping[str, Any], *names: str) -> float | None:
    for name in names:
        value = attributes.get(name)
        if isinstance(value, int | float) and not isinstance(value, bool) and value >= 0:
            return float(value)
    return None


def usage_of(attributes: Mapping[str, Any]) -> dict[str, float]:
    """Provider-reported tokens on a span: ``prompt``, ``completion``, ``cached_prompt``."""
    out: dict[str, float] = {}
    prompt = _number(
        attributes,
        "gen_ai.usage.input_tokens",
        "gen_ai.usage.prompt_tokens",
        "llm.token_count.prompt",
    )
    completion = _number(
        attributes,
        "gen_ai.usage.output_tokens",
        "gen_ai.usage.completion_tokens",
        "llm.token_count.completion",
    )
    cached = _number(
        attributes,
        "gen_ai.usage.cache_read.input_tokens",
        "gen_ai.usage.cache_read_input_tokens",
        "llm.token_count.prompt_details.cache_read",
    )
    if prompt is not None:
        out["prompt"] = prompt
    if completion is not None:
        out["completion"] = completion
    if cached:
        out["cached_prompt"] = cached
    return out


def convention_of(attributes: Mapping[str, Any]) -> str:
    """Which convention a span follows, for the ``provider:otel-...`` source label."""
    if "openinference.span.kind" in attributes:
        return "openinference"
    if "llm.request.type" in attributes or any(k.startswith("traceloop.") for k in attributes):
        return "openllmetry"
    return "genai"


def model_of(attributes: Mapping[str, Any]) -> str | None:
    for name in ("gen_ai.response.model", "gen_ai.request.model", "llm.model_name",
                 "embedding.model_name", "reranker.model_name"):
        value = attributes.get(name)
        if isinstance(value, str) and value:
            return value
    return None


def endpoint_of(attributes: Mapping[str, Any]) -> str | None:
    """``host:port`` of the remote endpoint a client span called, when it says."""
    host = attributes.get("server.address") or attributes.get("net.peer.name")
    if not isinstance(host, str) or not host:
        return None
    port = attributes.get("server.port") or attributes.get("net.peer.port")
    return f"{host}:{port}" if isinstance(port, int) and not isinstance(port, bool) else host


def first_token_ns(span: CapturedSpan) -> int | None:
    """When the first streamed token arrived, from the span's attribute or event."""
    seconds = _number(span.attributes, "gen_ai.response.time_to_first_chunk",
                      "gen_ai.response.time_to_first_token")
    if seconds is not None:
        return span.start_ns + int(seconds * 1e9)
    return span.first_token_ns


def union_ns(intervals: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge intervals into disjoint, sorted ones."""
    merged: list[tuple[int, int]] = []
    for start, end in sorted(i for i in intervals if i[1] > i[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def length_ns(intervals: Sequence[tuple[int, int]]) -> int:
    return sum(end - start for start, end in intervals)


def subtract_ns(
    keep: Sequence[tuple[int, int]], remove: Sequence[tuple[int, int]]
) -> list[tuple[int, int]]:
    """``keep`` minus ``remove`` (both disjoint and sorted)."""
    out: list[tuple[int, int]] = []
    for start, end in keep:
        cursor = start
        for r_start, r_end in remove:
            if r_end <= cursor or r_start >= end:
                continue
            if r_start > cursor:
                out.append((cursor, r_start))
            cursor = max(cursor, r_end)
        if cursor < end:
            out.append((cursor, end))
    return out


def _overlap(a: CapturedSpan, b: CapturedSpan) -> float:
    shorter = min(a.duration_ns, b.duration_ns)
    common = min(a.end_ns, b.end_ns) - max(a.start_ns, b.start_ns)
    if shorter <= 0:
        return 1.0 if common >= 0 else 0.0
    return max(0, common) / shorter


class _Tree:
    def __init__(self, spans: Sequence[CapturedSpan]) -> None:
        self.by_id = {s.span_id: s for s in spans}
        self._up: dict[int, tuple[int, ...]] = {}

    def ancestor_ids(self, span: CapturedSpan) -> tuple[int, ...]:
        """Ids of the span's captured ancestors, nearest first (memoised)."""
        known = self._up.get(span.span_id)
        if known is not None:
            return known
        chain: list[int] = []
        seen = {span.span_id}
        parent = span.parent_id
        while parent is not None and parent in self.by_id and parent not in seen:
            if parent in self._up:
                chain.extend((parent, *self._up[parent]))
                break
            seen.add(parent)
            chain.append(parent)
            parent = self.by_id[parent].parent_id
        self._up[span.span_id] = tuple(chain)
        return self._up[span.span_id]

    def ancestors(self, span: CapturedSpan) -> Iterable[CapturedSpan]:
        return (self.by_id[i] for i in self.ancestor_ids(span))

    def is_ancestor(self, maybe: CapturedSpan, of: CapturedSpan) -> bool:
        return maybe.span_id in self.ancestor_ids(of)


def _same_call(a: CapturedSpan, b: CapturedSpan, tree: _Tree) -> bool:
    if a.kind != b.kind or _overlap(a, b) < DUPLICATE_OVERLAP:
        return False
    if a.model and b.model and a.model != b.model:
        return False
    if a.usage and b.usage and a.usage != b.usage:
        return False
    return a.parent_id == b.parent_id or tree.is_ancestor(b, a) or tree.is_ancestor(a, b)


def drop_duplicates(spans: Sequence[CapturedSpan]) -> tuple[list[CapturedSpan], int]:
    """Keep one span per model call seen by several instrumentors; also how many dropped.

    Of a duplicate pair the one reporting usage is kept (the inner one on a tie)."""
    tree = _Tree(spans)
    models = sorted((s for s in spans if s.kind in MODEL_STAGES), key=lambda s: s.start_ns)
    dropped: set[int] = set()
    for i, a in enumerate(models):
        if a.span_id in dropped:
            continue
        for b in models[i + 1:]:
            if b.start_ns > a.end_ns:
                break  # sorted by start: no later span overlaps ``a``
            if b.span_id in dropped or not _same_call(a, b, tree):
                continue
            a_inner = tree.is_ancestor(b, a)
            keep_a = bool(a.usage) > bool(b.usage) or (
                bool(a.usage) == bool(b.usage) and a_inner
            )
            dropped.add(b.span_id if keep_a else a.span_id)
            if not keep_a:
                break
    kept = [s for s in spans if s.span_id not in dropped]
    return kept, len(dropped)


def leaf_model_spans(spans: Sequence[CapturedSpan]) -> list[CapturedSpan]:
    """Model spans with no model span of the same kind below them: the ones whose usage
    counts."""
    tree = _Tree(spans)
    inner: set[int] = set()
    for span in spans:
        if span.kind not in MODEL_STAGES:
            continue
        for ancestor in tree.ancestors(span):
            if ancestor.kind == span.kind:
                inner.add(ancestor.span_id)
    return [s for s in spans if s.kind in MODEL_STAGES and s.span_id not in inner]


@dataclass
class Merged:
    """A request's stages with what its spans added, and what spans-out needs to know."""

    stages: tuple[StageRecord, ...]
    #: earliest first token of a leaf generate span, in ns since the epoch
    first_token_ns: int | None = None
    #: stage index -> the captured model spans (trace id, span id) under it
    links: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    #: per appended (span-derived) stage: its first start and last end, in ns since epoch
    derived_times: dict[int, tuple[int, int]] = field(default_factory=dict)
    duplicates: int = 0


def _with_usage(stage: StageRecord, usage: dict[str, float], source: str) -> StageRecord:
    if not usage or any(
        str(stage.sources.get(f"tokens_{k}", "")).startswith("provider")
        for k in ("prompt", "completion")
    ):
        # st.usage() already reported this stage's provider usage: the spans say it again
        return stage
    metrics = dict(stage.metrics)
    sources = dict(stage.sources)
    for kind, value in usage.items():
        metrics[f"tokens_{kind}"] = value
        sources[f"tokens_{kind}"] = source
    billed = [k for k in ("prompt", "completion", "rerank_in") if f"tokens_{k}" in metrics]
    metrics["tokens_total"] = sum(metrics[f"tokens_{k}"] for k in billed)
    sources["tokens_total"] = "derived"
    return replace(stage, metrics=metrics, sources=sources)


def _add_usage(into: dict[str, float], usage: Mapping[str, float]) -> None:
    for kind, value in usage.items():
        into[kind] = into.get(kind, 0.0) + value


def merge(
    stages: Sequence[StageRecord],
    spans: Sequence[CapturedSpan],
    stage_starts_ns: Sequence[int] = (),
) -> Merged:
    """Fold one request's captured spans into its stages (see the module's rules).

    ``stage_starts_ns`` are the epoch start times of the explicit stages, for their time to
    first token."""
    kept, duplicates = drop_duplicates(spans)
    tree = _Tree(kept)
    leaves = {s.span_id for s in leaf_model_spans(kept)}
    out = list(stages)
    links: dict[int, list[tuple[int, int]]] = {}
    first_token: int | None = None

    # 1. spans inside an explicit stage add attributes only
    owned: dict[int, list[CapturedSpan]] = {}
    every_owned: dict[int, list[CapturedSpan]] = {}
    for span in spans:
        if span.owner is not None:
            every_owned.setdefault(span.owner, []).append(span)
    for span in kept:
        if span.owner is not None and 0 <= span.owner < len(out):
            owned.setdefault(span.owner, []).append(span)
    for index, members in owned.items():
        usage: dict[str, float] = {}
        stage = out[index]
        model = stage.model
        ttft: int | None = None
        conventions: set[str] = set()
        for span in sorted(members, key=lambda s: s.start_ns):
            if span.span_id not in leaves:
                continue
            links.setdefault(index, []).append((span.trace_id, span.span_id))
            _add_usage(usage, span.usage)
            conventions.add(convention_of(span.attributes))
            model = model or span.model
            first = first_token_ns(span) if span.kind == "generate" else None
            if first is not None and ttft is None:
                ttft = first
        stage = _with_usage(stage, usage, _source(conventions))
        if model != stage.model:
            stage = replace(stage, model=model)
        called = endpoints(every_owned.get(index, []))
        if called and stage.endpoint is None:
            stage = replace(stage, endpoint=called[0])
        if ttft is not None:
            first_token = ttft if first_token is None else min(first_token, ttft)
            if "ttft_ms" not in stage.metrics and index < len(stage_starts_ns):
                stage = replace(
                    stage,
                    metrics={**stage.metrics,
                             "ttft_ms": max(0, ttft - stage_starts_ns[index]) / 1e6},
                    sources={**stage.sources, "ttft_ms": SPAN_TIMER},
                )
        out[index] = stage

    # 2. spans outside every explicit stage form stages of their own kind
    loose = [s for s in kept if s.owner is None and s.kind is not None]
    derived_times: dict[int, tuple[int, int]] = {}
    for kind in SPAN_STAGES:
        members = [s for s in loose if s.kind == kind]
        if not members:
            continue
        own = union_ns((s.start_ns, s.end_ns) for s in members)
        nested_other = union_ns(
            (s.start_ns, s.end_ns)
            for s in loose
            if s.kind != kind and any(a.kind == kind for a in tree.ancestors(s))
        )
        wall_ns = length_ns(subtract_ns(own, nested_other))
        metrics: dict[str, float] = {"wall_ms": wall_ns / 1e6}
        sources: dict[str, str] = {"wall_ms": SPAN_TIMER}
        usage = {}
        conventions = set()
        model = None
        ttft = None
        errors = [s.error for s in members if s.error]
        index = len(out)
        for span in sorted(members, key=lambda s: s.start_ns):
            if span.span_id not in leaves:
                continue
            links.setdefault(index, []).append((span.trace_id, span.span_id))
            _add_usage(usage, span.usage)
            conventions.add(convention_of(span.attributes))
            model = model or span.model
            first = first_token_ns(span) if kind == "generate" else None
            if first is not None and ttft is None:
                ttft = first
        start = min(s.start_ns for s in members)
        if ttft is not None:
            metrics["ttft_ms"] = max(0, ttft - start) / 1e6
            sources["ttft_ms"] = SPAN_TIMER
            first_token = ttft if first_token is None else min(first_token, ttft)
        count = sum(1 for s in members if s.span_id in leaves or kind not in MODEL_STAGES)
        metrics["count_calls"] = float(count)
        sources["count_calls"] = "derived"
        # duplicates too: the span kept may be the one without the server's address
        called = endpoints(
            [s for s in spans if s.owner is None and s.kind == kind]
        )
        stage = StageRecord(kind, metrics, sources, errors[0] if errors else None, model,
                            endpoint=called[0] if called else None)
        out.append(_with_usage(stage, usage, _source(conventions)))
        derived_times[index] = (start, max(s.end_ns for s in members))
    return Merged(tuple(out), first_token, links, derived_times, duplicates)


def _source(conventions: set[str]) -> str:
    if len(conventions) == 1:
        return f"provider:otel-{next(iter(conventions))}"
    return "provider:otel"


def endpoints(spans: Sequence[CapturedSpan]) -> list[str]:
    """The distinct remote endpoints the spans called, in first-call order."""
    seen: dict[str, None] = {}
    for span in sorted(spans, key=lambda s: s.start_ns):
        endpoint = endpoint_of(span.attributes)
        if endpoint:
            seen.setdefault(endpoint, None)
    return list(seen)
