"""Every use of ragas in pytest-ragcost lives here.

ragas is imported only when a ``ragas_*`` metric is scored, never at plugin load. We
use the metrics API ragas is keeping, ``ragas.metrics.collections`` classes called
with ``await metric.ascore(...)``; the deprecated ``ragas.evaluate()`` is never called
(it silently turns failures into NaN and builds an OpenAI judge behind your back).

Before the first import we set ``RAGAS_DO_NOT_TRACK=true``: ragas otherwise posts
usage analytics from a background thread, and a test suite must not talk to the
network. (ragas still writes an anonymous id file under the user data directory when
an LLM metric runs; that is ragas's behaviour and does not leave the machine.)

Judged metrics get their LLM from ``build_judge_llm``: an ``AsyncOpenAI`` client with
the judge's ``base_url``, key, timeout and retries, whose HTTP transport is our
``JudgeTransport`` (replay, record or live; see ``judge.py``), wrapped by ragas's own
``llm_factory`` so its real prompt and parsing code runs in every mode.
"""

from __future__ import annotations

import asyncio
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pytest_ragcost.quality.judge import JudgeCall, JudgeSettings, find_miss, judging
from pytest_ragcost.run import Sample

if TYPE_CHECKING:
    from pytest_ragcost.quality.transport import JudgeTransport

INSTALL_HINT = "pip install 'pytest-ragcost[ragas]'"


class RagasUnavailableError(ImportError):
    """ragas (or one of the packages a metric needs) is not installed."""


@dataclass(frozen=True)
class RagasMetricSpec:
    """How one of our ``ragas_*`` names maps onto a ragas collections metric."""

    class_name: str
    inputs: tuple[str, ...]
    judged: bool
    options: Mapping[str, Any] = field(default_factory=dict)
    needs: tuple[str, ...] = ()


#: Our name (after ``ragas_``) -> the collections class and the sample fields it reads.
#: Sample fields map to ragas arguments as: question -> user_input, answer ->
#: response, contexts -> retrieved_contexts, reference -> reference.
RAGAS_METRICS: Mapping[str, RagasMetricSpec] = {
    # deterministic: no LLM, no embeddings
    "rouge_score": RagasMetricSpec(
        "RougeScore", ("reference", "response"), False, {"rouge_type": "rougeL"}, ("rouge_score",)
    ),
    "rouge1_score": RagasMetricSpec(
        "RougeScore", ("reference", "response"), False, {"rouge_type": "rouge1"}, ("rouge_score",)
    ),
    "bleu_score": RagasMetricSpec(
        "BleuScore", ("reference", "response"), False, {}, ("sacrebleu",)
    ),
    "chrf_score": RagasMetricSpec(
        "CHRFScore", ("reference", "response"), False, {}, ("sacrebleu",)
    ),
    "exact_match": RagasMetricSpec("ExactMatch", ("reference", "response"), False),
    "string_presence": RagasMetricSpec("StringPresence", ("reference", "response"), False),
    "string_similarity": RagasMetricSpec(
        "NonLLMStringSimilarity", ("reference", "response"), False, {}, ("rapidfuzz",)
    ),
    "quoted_spans_alignment": RagasMetricSpec(
        "QuotedSpansAlignment", ("response", "retrieved_contexts"), False
    ),
    # judged: an LLM answers
    "faithfulness": RagasMetricSpec(
        "Faithfulness", ("user_input", "response", "retrieved_contexts"), True
    ),
    "context_recall": RagasMetricSpec(
        "ContextRecall", ("user_input", "retrieved_contexts", "reference"), True
    ),
    "context_precision": RagasMetricSpec(
        "ContextPrecisionWithReference", ("user_input", "reference", "retrieved_contexts"), True
    ),
    "context_utilization": RagasMetricSpec(
        "ContextUtilization", ("user_input", "response", "retrieved_contexts"), True
    ),
    "context_relevance": RagasMetricSpec(
        "ContextRelevance", ("user_input", "retrieved_contexts"), True
    ),
    "response_groundedness": RagasMetricSpec(
        "ResponseGroundedness", ("response", "retrieved_contexts"), True
    ),
    "answer_accuracy": RagasMetricSpec(
        "AnswerAccuracy", ("user_input", "response", "reference"), True
    ),
    "factual_correctness": RagasMetricSpec("FactualCorrectness", ("response", "reference"), True),
}

_FIELD_OF = {
    "user_input": "question",
    "response": "answer",
    "retrieved_contexts": "contexts",
    "reference": "reference",
}


def spec_for(metric: str) -> RagasMetricSpec:
    """The spec of a ``ragas_*`` metric name; ``ValueError`` lists the valid names."""
    name = metric.removeprefix("ragas_")
    if not metric.startswith("ragas_") or name not in RAGAS_METRICS:
        valid = ", ".join(f"ragas_{n}" for n in RAGAS_METRICS)
        msg = f"unknown ragas metric {metric!r}: expected one of {valid}"
        raise ValueError(msg)
    return RAGAS_METRICS[name]


def import_ragas() -> Any:
    """Import ``ragas.metrics.collections`` with tracking off; a clear error if missing."""
    os.environ["RAGAS_DO_NOT_TRACK"] = "true"
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            import ragas.metrics.collections as collections
    except ImportError as exc:
        msg = f"ragas metrics need ragas 0.4.3 or later ({exc}); install it with: {INSTALL_HINT}"
        raise RagasUnavailableError(msg) from exc
    return collections


_PIP_NAME = {"rouge_score": "rouge-score", "rapidfuzz": "rapidfuzz", "sacrebleu": "sacrebleu"}


def _check_needs(metric: str, spec: RagasMetricSpec) -> None:
    import importlib.util

    missing = [m for m in spec.needs if importlib.util.find_spec(m) is None]
    if missing:
        # rouge-score and rapidfuzz come with the ragas extra; sacrebleu does not.
        names = " ".join(_PIP_NAME.get(m, m) for m in missing)
        msg = (
            f"{metric} needs the package(s) {', '.join(missing)}, which are not installed; "
            f"install them with: pip install {names}"
        )
        raise RagasUnavailableError(msg)


def build_judge_llm(settings: JudgeSettings, transport: JudgeTransport) -> Any:
    """A ragas collections ``llm`` that talks to the judge through ``transport``."""
    import_ragas()
    import httpx
    from openai import AsyncOpenAI
    from ragas.llms.base import llm_factory

    client = AsyncOpenAI(
        base_url=settings.base_url,
        api_key=settings.api_key(),
        timeout=settings.timeout_s,
        # instructor (below) owns retries: it retries on any error, HTTP or parse, so
        # retrying here as well would multiply the attempts
        max_retries=0,
        http_client=httpx.AsyncClient(transport=transport, timeout=settings.timeout_s),
    )
    # instructor counts attempts, not retries; a replayed miss must surface at once
    attempts = 1 if transport.mode == "replay" else settings.retries + 1
    if settings.structured_mode == "json":
        return llm_factory(settings.model, provider="openai", client=client, max_retries=attempts)
    import instructor
    from ragas.llms.base import InstructorLLM

    mode = (
        instructor.Mode.JSON_SCHEMA
        if settings.structured_mode == "json_schema"
        else instructor.Mode.MD_JSON
    )
    patched = instructor.from_openai(client, mode=mode)
    return InstructorLLM(
        client=patched, model=settings.model, provider="openai", max_retries=attempts
    )


def make_metric(metric: str, llm: Any = None) -> Any:
    """Instantiate the collections metric for ``metric`` (a judged one needs ``llm``)."""
    spec = spec_for(metric)
    _check_needs(metric, spec)
    collections = import_ragas()
    cls = getattr(collections, spec.class_name)
    if spec.judged:
        if llm is None:
            msg = f"{metric} is judged by an LLM: configure a judge (judge: in ragcost.yaml)"
            raise ValueError(msg)
        return cls(llm=llm, **spec.options)
    return cls(**spec.options)


def sample_inputs(spec: RagasMetricSpec, sample: Sample) -> dict[str, Any] | str:
    """The ragas keyword arguments for one sample, or the reason they are missing."""
    out: dict[str, Any] = {}
    for arg in spec.inputs:
        fld = _FIELD_OF[arg]
        value = getattr(sample, fld)
        if arg == "retrieved_contexts":
            value = list(value)
        if not value:
            return f"the sample has no {fld!r} (ragcost.sample({fld}=...))"
        out[arg] = value
    return out


@dataclass(frozen=True)
class Job:
    """One sample to score: its key, what to call it, and the judge-call attribution."""

    index: int
    sample: Sample
    label: str
    content: str


@dataclass(frozen=True)
class Outcome:
    """The result of one job: a value, or why there is none."""

    index: int
    value: float | None
    miss: bool = False
    reason: str | None = None


async def ascore_jobs(
    metric: str,
    jobs: Sequence[Job],
    *,
    settings: JudgeSettings | None = None,
    transport: JudgeTransport | None = None,
) -> list[Outcome]:
    """Score ``jobs`` on one ragas metric, at most ``settings.concurrency`` at a time.

    Never raises for one sample: an exception, a timeout or a NaN becomes an outcome
    with ``value=None`` and a reason ("quality unknown"), a judge miss is marked.
    """
    spec = spec_for(metric)
    llm = None
    if spec.judged:
        if settings is None or transport is None:
            msg = f"{metric} is judged by an LLM: configure a judge (judge: in ragcost.yaml)"
            raise ValueError(msg)
        llm = build_judge_llm(settings, transport)
    scorer = make_metric(metric, llm)
    concurrency = settings.concurrency if settings is not None else 4
    sem = asyncio.Semaphore(concurrency)
    # One judged sample may make several requests, each with the client's own
    # timeout and retries; this guard only stops a wedged call from hanging the run.
    guard_s = settings.timeout_s * (settings.retries + 1) * 4 if settings else None

    async def one(job: Job) -> Outcome:
        kwargs = sample_inputs(spec, job.sample)
        if isinstance(kwargs, str):
            return Outcome(job.index, None, reason=kwargs)
        async with sem:
            try:
                with judging(JudgeCall(metric, job.content, job.label)):
                    result = await asyncio.wait_for(scorer.ascore(**kwargs), guard_s)
            except Exception as exc:
                miss = find_miss(exc)
                if miss is not None:
                    return Outcome(job.index, None, miss=True, reason=miss.reason)
                if isinstance(exc, TimeoutError):
                    return Outcome(job.index, None, reason=f"judge timed out after {guard_s:g} s")
                text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
                return Outcome(job.index, None, reason=f"{type(exc).__name__}: {text}"[:300])
        value = getattr(result, "value", None)
        if (
            not isinstance(value, int | float)
            or isinstance(value, bool)
            or not math.isfinite(value)
        ):
            return Outcome(job.index, None, reason=f"ragas returned {value!r}, not a finite score")
        return Outcome(job.index, float(value))

    try:
        # one filter for the whole batch: catch_warnings is process-wide, so entering it
        # per task would restore filters out of order as tasks interleave
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return list(await asyncio.gather(*(one(j) for j in jobs)))
    finally:
        if transport is not None:
            await transport.aclose()
