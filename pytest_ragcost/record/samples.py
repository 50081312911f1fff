"""``ragcost.sample(...)``: one quality sample, its arguments checked."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from ..run import Sample
from .checks import RagcostUsageError, type_name


def check_sample(
    question: object,
    answer: object,
    contexts: object,
    reference: object,
    reference_contexts: object,
    context_ids: object,
    reference_ids: object,
) -> None:
    """A usage error naming the first argument ``ragcost.sample()`` cannot take."""
    __tracebackhide__ = True
    for name, text in (("question", question), ("answer", answer), ("reference", reference)):
        if text is not None and not isinstance(text, str):
            msg = f"ragcost.sample({name}=...) takes a string or None (got {type_name(text)})"
            raise RagcostUsageError(msg)
    for name, value in (("contexts", contexts), ("reference_contexts", reference_contexts)):
        if (
            isinstance(value, str | bytes | Mapping)
            or not isinstance(value, Sequence)
            or not all(isinstance(v, str) for v in value)
        ):
            found = type_name(value)
            if isinstance(value, Sequence) and not isinstance(value, str | bytes):
                odd = next(v for v in value if not isinstance(v, str))
                found = f"a {found} holding a {type_name(odd)}"
            msg = f"ragcost.sample({name}=...) takes a list of strings (got {found})"
            raise RagcostUsageError(msg)
    for name, ids in (("context_ids", context_ids), ("reference_ids", reference_ids)):
        if isinstance(ids, str | bytes | Mapping) or not isinstance(ids, Sequence):
            msg = (
                f"ragcost.sample({name}=...) takes a list of ids (strings or numbers; "
                f"got {type_name(ids)})"
            )
            raise RagcostUsageError(msg)


def build_sample(
    *,
    question: str | None,
    answer: str | None,
    contexts: Sequence[str],
    reference: str | None,
    reference_contexts: Sequence[str],
    context_ids: Sequence[Any],
    reference_ids: Sequence[Any],
    trace_id: str | None,
    extra: Mapping[str, Any],
) -> Sample:
    """The sample to keep, from checked arguments."""
    return Sample(
        question=question,
        answer=answer,
        contexts=tuple(contexts),
        reference=reference,
        reference_contexts=tuple(reference_contexts),
        context_ids=tuple(str(x) for x in context_ids),
        reference_ids=tuple(str(x) for x in reference_ids),
        trace_id=trace_id,
        extra=dict(extra),
    )
