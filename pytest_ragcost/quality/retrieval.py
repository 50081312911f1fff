"""Retrieval metrics computed by pytest-ragcost itself: ``hit_at_k``, ``mrr``,
``context_precision`` and ``context_recall``, one score per sample.

These run offline, need no extra, and are deterministic: the same sample always gets
the same score. They are our own code on purpose: the equivalent ragas metrics
(``NonLLMContextRecall``, ``IDBasedContextPrecision``...) live only in the namespace
ragas has deprecated, so the base install does not depend on them.

What counts as relevant
-----------------------
A retrieved context is *relevant* when it matches at least one reference item.

* **By id** when the sample has both ``context_ids`` and ``reference_ids``: a retrieved
  id matches a reference id when the two strings are equal (after ``str.strip``).
  Ids win over text because they are exact and cheap.
* **By text** otherwise, against ``reference_contexts``. Both texts are normalised
  (Unicode NFKC, case folded, every run of whitespace turned into one space, trimmed),
  then they match when they are equal **or one contains the other**. Containment in
  both directions is deliberate: a chunker that cuts a reference passage into a bigger
  chunk, or a smaller one wholly inside it, still retrieved the passage. A normalised
  text shorter than ``MIN_MATCH_CHARS`` characters only matches by equality, so a
  stray "the" never counts as containing evidence.

Definitions (``k`` defaults to the number of retrieved contexts)
----------------------------------------------------------------
* ``hit_at_k``: 1.0 if any of the first ``k`` retrieved contexts is relevant, else 0.0.
* ``mrr``: the reciprocal rank ``1 / rank`` of the first relevant context within the
  first ``k`` (0.0 if none). Its mean over samples is the mean reciprocal rank.
* ``context_precision``: average precision over the first ``k``: the mean of
  precision@i taken at every rank i that holds a relevant context (0.0 if none does).
  This is the same rank-aware formula ragas uses for its context precision.
* ``context_recall``: the fraction of distinct reference items (ids or texts) matched
  by at least one of the first ``k`` retrieved contexts.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from pytest_ragcost.run import Sample

#: The metric names this module computes, in report order.
RETRIEVAL_METRICS: tuple[str, ...] = ("hit_at_k", "mrr", "context_precision", "context_recall")

#: A normalised text shorter than this matches another only when they are equal.
MIN_MATCH_CHARS = 20

MatchMode = Literal["ids", "text"]

_WS = re.compile(r"\s+")


class MissingReferenceError(ValueError):
    """A sample has nothing to judge its retrieval against."""


@dataclass(frozen=True)
class RetrievalJudgement:
    """Which retrieved contexts were relevant, and how that was decided."""

    relevant: tuple[bool, ...]
    reference_found: tuple[bool, ...]
    mode: MatchMode


def normalise_text(text: str) -> str:
    """The form two texts are compared in: NFKC, case folded, whitespace collapsed."""
    return _WS.sub(" ", unicodedata.normalize("NFKC", text).casefold()).strip()


def texts_match(retrieved: str, reference: str) -> bool:
    """True when two texts match under the rule in this module's docstring."""
    return _normalised_match(normalise_text(retrieved), normalise_text(reference))


def _normalised_match(a: str, b: str) -> bool:
    if not a or not b:
        return False
    if a == b:
        return True
    shorter, longer = (a, b) if len(a) <= len(b) else (b, a)
    return len(shorter) >= MIN_MATCH_CHARS and shorter in longer


def _describe(sample: Sample, index: int | None) -> str:
    where = f"sample {index}" if index is not None else "a sample"
    if sample.question:
        q = sample.question if len(sample.question) <= 60 else sample.question[:57] + "..."
        where += f" ({q!r})"
    return where


def judge_retrieval(
    sample: Sample, k: int | None = None, *, index: int | None = None
) -> RetrievalJudgement:
    """Decide which of the first ``k`` retrieved items are relevant.

    ``index`` only names the sample in an error. Raises ``MissingReferenceError`` when
    the sample carries neither reference ids (with context ids) nor reference contexts.
    """
    if k is not None and k < 1:
        msg = f"retrieval metrics: k must be a positive integer (got {k!r})"
        raise ValueError(msg)
    if sample.context_ids and sample.reference_ids:
        got = [i.strip() for i in sample.context_ids]
        refs = list(dict.fromkeys(r.strip() for r in sample.reference_ids))
        top = got[:k] if k is not None else got
        ref_set = set(refs)
        found = set(top) & ref_set
        return RetrievalJudgement(
            relevant=tuple(i in ref_set for i in top),
            reference_found=tuple(r in found for r in refs),
            mode="ids",
        )
    if sample.reference_contexts:
        # normalise each text once: the match is tried for every (context, reference) pair
        top = [
            normalise_text(c) for c in (sample.contexts[:k] if k is not None else sample.contexts)
        ]
        refs_n = [
            n for n in dict.fromkeys(normalise_text(r) for r in sample.reference_contexts) if n
        ]
        pairs = [[_normalised_match(c, r) for r in refs_n] for c in top]
        relevant = tuple(any(row) for row in pairs)
        found_t = tuple(any(row[j] for row in pairs) for j in range(len(refs_n)))
        return RetrievalJudgement(relevant=relevant, reference_found=found_t, mode="text")
    msg = (
        f"retrieval metrics need a reference for {_describe(sample, index)}: "
        "expected reference_contexts=[...] (or reference_ids=[...] together with "
        "context_ids=[...]) in ragcost.sample(...), found neither. Pass the passages "
        "that answer the question, or drop the retrieval metric from this scenario."
    )
    raise MissingReferenceError(msg)


def hit_at_k(judgement: RetrievalJudgement) -> float:
    """1.0 if any judged retrieved context is relevant."""
    return 1.0 if any(judgement.relevant) else 0.0


def reciprocal_rank(judgement: RetrievalJudgement) -> float:
    """``1 / rank`` of the first relevant context, 0.0 if there is none."""
    for rank, rel in enumerate(judgement.relevant, start=1):
        if rel:
            return 1.0 / rank
    return 0.0


def average_precision(judgement: RetrievalJudgement) -> float:
    """Mean of precision@i over the ranks i holding a relevant context."""
    hits = 0
    total = 0.0
    for rank, rel in enumerate(judgement.relevant, start=1):
        if rel:
            hits += 1
            total += hits / rank
    return total / hits if hits else 0.0


def recall(judgement: RetrievalJudgement) -> float:
    """Fraction of distinct reference items found among the judged contexts."""
    found = judgement.reference_found
    return sum(found) / len(found) if found else 0.0


def retrieval_scores(
    sample: Sample,
    metrics: Sequence[str] = RETRIEVAL_METRICS,
    k: int | None = None,
    *,
    index: int | None = None,
) -> dict[str, float]:
    """Score one sample on the named retrieval metrics.

    >>> s = Sample(contexts=("a passage about cats and their habits", "dogs"),
    ...            reference_contexts=("A passage about cats and their habits",))
    >>> retrieval_scores(s)["mrr"]
    1.0
    """
    unknown = [m for m in metrics if m not in RETRIEVAL_METRICS]
    if unknown:
        msg = (
            f"unknown retrieval metric(s) {', '.join(map(repr, unknown))}: "
            f"expected any of {', '.join(RETRIEVAL_METRICS)}"
        )
        raise ValueError(msg)
    judgement = judge_retrieval(sample, k, index=index)
    funcs = {
        "hit_at_k": hit_at_k,
        "mrr": reciprocal_rank,
        "context_precision": average_precision,
        "context_recall": recall,
    }
    return {m: funcs[m](judgement) for m in metrics}
