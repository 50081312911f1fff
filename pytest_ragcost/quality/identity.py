"""Which question a quality sample answers, and what the pipeline produced for it.

* ``sample_key(sample)`` says *which question* this is: a hash of the sample's inputs
  (question, reference answer, reference contexts, reference ids). It pairs a current
  score with a baseline score and is stable across runs as long as the test data is.
  Repeated questions in one scenario are told apart by ``sample_keys`` ("#2", "#3"...).
* ``output_hash(sample)`` says *what the pipeline produced* for it: a hash of the
  answer, the retrieved contexts and their ids. A baseline score is reused only when
  both the key and the output hash match.
* ``content_hash(sample)`` hashes both; the judge record is keyed on it.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

from pytest_ragcost.run import Sample


def _digest(payload: object) -> str:
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _inputs(sample: Sample) -> dict[str, object]:
    return {
        "question": sample.question,
        "reference": sample.reference,
        "reference_contexts": list(sample.reference_contexts),
        "reference_ids": list(sample.reference_ids),
    }


def _outputs(sample: Sample) -> dict[str, object]:
    return {
        "answer": sample.answer,
        "contexts": list(sample.contexts),
        "context_ids": list(sample.context_ids),
    }


def sample_key(sample: Sample) -> str:
    """Which question this sample answers: 16 hex digits of a hash of its inputs."""
    return _digest(_inputs(sample))[:16]


def output_hash(sample: Sample) -> str:
    """What the pipeline produced for this sample: 16 hex digits of a hash of its outputs."""
    return _digest(_outputs(sample))[:16]


def content_hash(sample: Sample) -> str:
    """Inputs and outputs together (the judge record's sample key)."""
    return _digest({"in": _inputs(sample), "out": _outputs(sample)})[:16]


def sample_keys(samples: Sequence[Sample]) -> list[str]:
    """``sample_key`` for each sample, with ``#2``, ``#3``... added to repeats, in order."""
    seen: dict[str, int] = {}
    out: list[str] = []
    for s in samples:
        key = sample_key(s)
        seen[key] = seen.get(key, 0) + 1
        out.append(key if seen[key] == 1 else f"{key}#{seen[key]}")
    return out
