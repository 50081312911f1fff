"""The per-sample baseline score store, ``ragcost.scores.json``.

Per-sample scores are too many for ``ragcost.yaml`` (which holds one reviewed baseline
per metric), so they live in a sidecar committed next to it. Layout::

    {
      "version": 1,
      "scenarios": {
        "qa-typical": {
          "ragas_faithfulness": {
            "tier": "judged-replayed",
            "judge": "gemma3-270m",
            "samples": {
              "3f1c...": {"output": "9ab2...", "score": 0.8}
            }
          }
        }
      }
    }

``samples`` maps ``sample_key`` (which question) to the ``output`` hash (what the
pipeline produced when the score was taken) and the ``score``. Keys are written sorted
and the write is atomic (a temporary file in the same directory, then ``os.replace``),
so a diff shows only the samples that moved and a crash never leaves half a file.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pytest_ragcost.files import locked, write_text_atomic
from pytest_ragcost.inputs import InputError, at, number, read_document

STORE_VERSION = 1
DEFAULT_FILENAME = "ragcost.scores.json"


class ScoreStoreError(InputError):
    """The score store file is broken; the message says where and how to fix it."""


#: the largest score store read
MAX_SCORES_BYTES = 256 << 20
_WHAT = "per-sample score store"
_FIX_JSON = (
    "the per-sample score store must be the JSON pytest-ragcost writes. Resolve the merge "
    "conflict or edit, or delete the file and re-run with --ragcost-update."
)


@dataclass(frozen=True)
class StoredScore:
    """One sample's baseline score and the output hash it was taken on."""

    output: str
    score: float


@dataclass(frozen=True)
class StoredMetric:
    """All baseline sample scores of one (scenario, metric)."""

    tier: str
    judge: str | None = None
    samples: Mapping[str, StoredScore] = field(default_factory=dict)

    def scores(self) -> dict[str, float]:
        """``sample_key -> score`` (what ``paired_verdict`` takes as ``baseline_scores``)."""
        return {k: v.score for k, v in self.samples.items()}

    def reusable(self, key: str, output: str) -> float | None:
        """The baseline score for ``key`` if its output is unchanged, else ``None``."""
        got = self.samples.get(key)
        return got.score if got is not None and got.output == output else None


@dataclass(frozen=True)
class ScoreStore:
    """The whole file: ``scenario -> metric -> StoredMetric``."""

    scenarios: Mapping[str, Mapping[str, StoredMetric]] = field(default_factory=dict)

    def get(self, scenario: str, metric: str) -> StoredMetric | None:
        """The stored baseline of one metric, or ``None`` when there is none yet."""
        return self.scenarios.get(scenario, {}).get(metric)

    def to_dict(self) -> dict[str, Any]:
        return {
            "version": STORE_VERSION,
            "scenarios": {
                sc: {
                    m: {
                        "tier": sm.tier,
                        "judge": sm.judge,
                        "samples": {
                            k: {"output": v.output, "score": v.score} for k, v in sm.samples.items()
                        },
                    }
                    for m, sm in metrics.items()
                }
                for sc, metrics in self.scenarios.items()
            },
        }


def _fail(path: Path, where: str, expected: str, found: object, fix: str) -> ScoreStoreError:
    found_txt = repr(found)
    if len(found_txt) > 80:
        found_txt = found_txt[:77] + "..."
    return ScoreStoreError(str(path), f"must be {expected}", where=where, found=found_txt,
                           fix=fix)


_FIX = "fix the entry by hand or delete the file and re-run with --ragcost-update"


def _parse(path: Path, data: object) -> ScoreStore:
    if not isinstance(data, dict):
        raise _fail(path, "the top level", "a JSON object", type(data).__name__, _FIX)
    version = data.get("version")
    if version != STORE_VERSION:
        raise _fail(
            path,
            "'version'",
            str(STORE_VERSION),
            version,
            "this file was written by another pytest-ragcost version; re-run with "
            "--ragcost-update to rewrite it",
        )
    raw_sc = data.get("scenarios", {})
    if not isinstance(raw_sc, dict):
        raise _fail(path, "'scenarios'", "an object", type(raw_sc).__name__, _FIX)
    scenarios: dict[str, dict[str, StoredMetric]] = {}
    for sc, metrics in raw_sc.items():
        if not isinstance(metrics, dict):
            raise _fail(path, at("scenarios", sc), "an object", type(metrics).__name__, _FIX)
        out: dict[str, StoredMetric] = {}
        for m, entry in metrics.items():
            where = at("scenarios", sc, m)
            if not isinstance(entry, dict):
                raise _fail(path, where, "an object", type(entry).__name__, _FIX)
            tier = entry.get("tier")
            judge = entry.get("judge")
            samples = entry.get("samples", {})
            if not isinstance(tier, str):
                raise _fail(path, f"{where}.tier", "a string", tier, _FIX)
            if judge is not None and not isinstance(judge, str):
                raise _fail(path, f"{where}.judge", "a string or null", judge, _FIX)
            if not isinstance(samples, dict):
                raise _fail(path, f"{where}.samples", "an object", type(samples).__name__, _FIX)
            parsed: dict[str, StoredScore] = {}
            for key, rec in samples.items():
                w = at(where, "samples", key)
                if not isinstance(rec, dict):
                    raise _fail(path, w, '{"output": "...", "score": 0.9}', rec, _FIX)
                outp, score = rec.get("output"), rec.get("score")
                if not isinstance(outp, str):
                    raise _fail(path, f"{w}.output", "a hash string", outp, _FIX)
                if isinstance(score, bool) or not isinstance(score, int | float):
                    raise _fail(path, f"{w}.score", "a finite number", score, _FIX)
                parsed[key] = StoredScore(output=outp, score=number(
                    score, str(path), f"{w}.score", fix=_FIX))
            out[m] = StoredMetric(tier=tier, judge=judge, samples=parsed)
        scenarios[sc] = out
    return ScoreStore(scenarios=scenarios)


def load_scores(path: str | os.PathLike[str]) -> ScoreStore:
    """Read the store; a missing file is an empty store (nothing recorded yet).

    Raises ``ScoreStoreError`` naming the file, the line or key, what was expected and
    what was found.
    """
    p = Path(path)
    return read_document(p, ScoreStoreError, lambda data: _parse(p, data), ScoreStore,
                         max_bytes=MAX_SCORES_BYTES, what=_WHAT, fix=_FIX_JSON)


def with_metric(store: ScoreStore, scenario: str, metric: str, entry: StoredMetric) -> ScoreStore:
    """A copy of ``store`` with one (scenario, metric) replaced by ``entry``."""
    scenarios = {sc: dict(ms) for sc, ms in store.scenarios.items()}
    scenarios.setdefault(scenario, {})[metric] = entry
    return ScoreStore(scenarios=scenarios)


def save_scores(path: str | os.PathLike[str], store: ScoreStore) -> None:
    """Write the store atomically with sorted keys and one entry per line."""
    p = Path(path)
    for sc, ms in store.scenarios.items():
        for m, sm in ms.items():
            bad = [k for k, v in sm.samples.items() if not math.isfinite(v.score)]
            if bad:
                msg = (
                    f"refusing to store non-finite scores for {sc}.{m} (samples "
                    f"{', '.join(bad[:5])}): a failed judgement is not a baseline"
                )
                raise ValueError(msg)
    text = json.dumps(store.to_dict(), indent=1, sort_keys=True, ensure_ascii=False) + "\n"
    p.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(p, text)


def merge_scores(
    path: str | os.PathLike[str], change: Callable[[ScoreStore], ScoreStore]
) -> ScoreStore:
    """The one way a bless writes the store: under the lock, re-read what is on disk (a
    bless running beside this one may have stored other scenarios since this run
    started), apply ``change`` to it, and write the result atomically when it differs.
    Returns the store as written."""
    with locked(path):
        old = load_scores(path)
        new = change(old)
        if new != old:
            save_scores(path, new)
        return new


def update_scores(
    path: str | os.PathLike[str],
    scenario: str,
    metric: str,
    scores: Mapping[str, tuple[str, float]],
    *,
    tier: str,
    judge: str | None = None,
) -> ScoreStore:
    """Replace the baseline of one (scenario, metric) with ``sample_key -> (output, score)``.

    Every other scenario and metric in the file is kept as it was. Returns the new store.
    """
    entry = StoredMetric(
        tier=tier,
        judge=judge,
        samples={k: StoredScore(output=o, score=float(s)) for k, (o, s) in scores.items()},
    )
    return merge_scores(path, lambda store: with_metric(store, scenario, metric, entry))
