"""The paired gate: sample identity, Student's t, the verdict rule and its power."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from random import Random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from pytest_ragcost.quality import (
    MetricScores,
    SampleScore,
    StoredMetric,
    StoredScore,
    content_hash,
    detectable_drop,
    output_hash,
    paired_verdict,
    quality_verdict,
    sample_key,
    sample_keys,
    score_metric,
    stored_from,
)
from pytest_ragcost.report.verdicts import sentence
from pytest_ragcost.run import Sample, Tolerance

ONE_PCT = Tolerance(0.01, relative=True)

# --------------------------------------------------------------------- identity


def test_sample_key_is_the_question_and_output_hash_is_the_answer() -> None:
    a = Sample(question="Q?", answer="A1", contexts=("c1",), reference="R", trace_id="t1")
    b = Sample(question="Q?", answer="A2", contexts=("c2",), reference="R", trace_id="t2")
    assert sample_key(a) == sample_key(b)  # same question: pairs with the baseline
    assert output_hash(a) != output_hash(b)  # different output: not reused
    assert content_hash(a) != content_hash(b)
    assert sample_key(a) != sample_key(Sample(question="Q?", answer="A1", reference="R2"))
    # trace ids differ every run and must not matter
    assert output_hash(a) == output_hash(
        Sample(question="Q?", answer="A1", contexts=("c1",), reference="R", trace_id="x")
    )


def test_sample_key_is_stable_across_processes() -> None:
    code = (
        "from pytest_ragcost.run import Sample;"
        "from pytest_ragcost.quality import sample_key, output_hash;"
        "s = Sample(question='Wie heißt die Hauptstadt?', answer='Berlin', contexts=('x',));"
        "print(sample_key(s), output_hash(s))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        env={"PYTHONHASHSEED": "123", "PATH": ""},
        cwd=str(__import__("pathlib").Path(__file__).parent.parent),
    ).stdout.split()
    s = Sample(question="Wie heißt die Hauptstadt?", answer="Berlin", contexts=("x",))
    assert out == [sample_key(s), output_hash(s)]
    assert re.fullmatch(r"[0-9a-f]{16}", out[0])


def test_repeated_questions_get_distinct_keys_in_order() -> None:
    s = Sample(question="Same?")
    keys = sample_keys([s, Sample(question="Other?"), s, s])
    assert keys[0] == sample_key(s)
    assert keys[2:] == [f"{keys[0]}#2", f"{keys[0]}#3"]
    assert len(set(keys)) == 4


# --------------------------------------------------------------------- verdicts


def _scores(values: list[float]) -> dict[str, float]:
    return {f"s{i:03d}": v for i, v in enumerate(values)}


def test_a_clear_drop_fails_with_the_numbers() -> None:
    base = _scores([0.9] * 30)
    cur = _scores([0.85 + 0.002 * (i % 5) for i in range(30)])
    v = paired_verdict("qa", "ragas_faithfulness", base, cur, ONE_PCT, "fail")
    assert v.status == "FAIL"
    assert v.n == 30
    assert v.baseline == pytest.approx(0.9)
    assert v.current == pytest.approx(sum(cur.values()) / 30)
    assert v.interval is not None
    assert v.interval[1] < -0.009
    for part in (
        "ragas_faithfulness",
        "baseline 0.9000",
        "current 0.8540",
        "95% upper bound",
        "allowed drop 1% = 0.0090",
        "n=30",
    ):
        assert part in sentence(v)


def test_a_noisy_drop_is_inconclusive_and_warn_severity_warns() -> None:
    base = _scores([0.8] * 12)
    # the mean drops 2.5% (past the 1% allowed) but single samples swing by +-0.2
    cur = {k: 0.78 + (0.2 if i % 2 else -0.2) for i, k in enumerate(base)}
    v = paired_verdict("qa", "m", base, cur, ONE_PCT, "fail")
    assert v.current == pytest.approx(0.78)
    assert v.status == "INCONCLUSIVE"
    assert "too noisy to tell" in sentence(v)
    w = paired_verdict("qa", "m", _scores([0.9] * 10), _scores([0.5] * 10), ONE_PCT, "warn")
    assert (w.status, w.severity) == ("WARN", "warn")
    noisy = quality_verdict(
        "qa",
        MetricScores(
            "m", "deterministic", tuple(SampleScore(k, "o", k, v) for k, v in cur.items())
        ),
        StoredMetric("deterministic", None, {k: StoredScore("x", v) for k, v in base.items()}),
        ONE_PCT,
    )
    assert noisy.status == "INCONCLUSIVE"
    assert "gate under-powered: n=12 detects drops of" in sentence(noisy)


def test_the_boundary_of_the_allowed_drop() -> None:
    base = _scores([0.8] * 10)
    at_limit = _scores([0.8 * 0.99] * 10)  # exactly 1% down, no noise: allowed
    assert paired_verdict("qa", "m", base, at_limit, ONE_PCT).status == "PASS"
    past = _scores([0.8 * 0.99 - 1e-6] * 10)
    assert paired_verdict("qa", "m", base, past, ONE_PCT).status == "FAIL"
    absolute = Tolerance(0.05, relative=False)
    assert paired_verdict("qa", "m", base, _scores([0.76] * 10), absolute).status == "PASS"
    assert paired_verdict("qa", "m", base, _scores([0.74] * 10), absolute).status == "FAIL"


def test_improvement_passes_and_is_flagged() -> None:
    v = paired_verdict("qa", "m", _scores([0.5] * 10), _scores([0.7] * 10), ONE_PCT)
    assert v.status == "PASS"
    assert v.improved


def test_pairs_only_matching_keys_and_says_what_was_left_out() -> None:
    base = {"a": 0.9, "b": 0.9, "gone": 0.1}
    cur = {"a": 0.9, "b": 0.9, "new": 0.0}
    v = paired_verdict("qa", "m", base, cur, ONE_PCT)
    assert v.status == "PASS"
    assert v.n == 2
    assert "1 sample(s) not in the baseline" in sentence(v)
    assert "1 baseline sample(s) not produced this run" in sentence(v)
    assert paired_verdict("qa", "m", {}, cur, ONE_PCT).status == "NEW"


def test_one_pair_cannot_fail() -> None:
    v = paired_verdict("qa", "m", {"a": 0.9}, {"a": 0.1}, ONE_PCT)
    assert v.status == "INCONCLUSIVE"
    assert "no confidence bound with n=1" in sentence(v)


def test_nan_is_refused() -> None:
    with pytest.raises(ValueError, match="quality unknown"):
        paired_verdict("qa", "m", {"a": 0.9}, {"a": math.nan}, ONE_PCT)


@given(st.lists(st.floats(0, 1), min_size=2, max_size=40))
def test_identical_scores_always_pass(values: list[float]) -> None:
    s = _scores(values)
    v = paired_verdict("qa", "m", s, dict(s), ONE_PCT)
    assert v.status == "PASS"
    assert v.interval == (0.0, 0.0)


# --------------------------------------------------------------------- power


def test_detectable_drop_formula() -> None:
    stats = pytest.importorskip("scipy.stats")
    for n in (20, 50, 100):
        want = (stats.t.ppf(0.95, n - 1) + stats.t.ppf(0.8, n - 1)) * 0.05 / math.sqrt(n)
        assert detectable_drop(0.05, n) == pytest.approx(want, rel=1e-9)
    assert detectable_drop(0.05, 20) > detectable_drop(0.05, 50) > detectable_drop(0.05, 100)
    assert detectable_drop(0.05, 1) == math.inf


def test_an_under_powered_gate_says_what_it_can_see_and_what_n_would_do() -> None:
    rng = Random(7)
    base = _scores([0.8] * 20)
    cur = {k: 0.8 + rng.gauss(0.0, 0.05) for k in base}
    v = quality_verdict(
        "qa",
        MetricScores(
            "ragas_faithfulness", "deterministic",
            tuple(SampleScore(k, "o", k, x) for k, x in cur.items()),
        ),
        StoredMetric("deterministic", None, {k: StoredScore("x", x) for k, x in base.items()}),
        ONE_PCT,
    )
    assert v.status in ("PASS", "INCONCLUSIVE")
    text = sentence(v)
    assert re.search(r"gate under-powered: n=20 detects drops of \d+\.\d% or more", text)
    need = int(v.figures["needed_n"])
    assert detectable_drop(v.figures["sd_change"], need) <= v.figures["allowed"]
    assert detectable_drop(v.figures["sd_change"], need - 1) > v.figures["allowed"]
    assert f"about {need:,} samples would detect the allowed drop" in text
    quiet = {k: 0.8 + 0.0001 * (i % 2) for i, k in enumerate(base)}
    calm = quality_verdict(
        "qa", MetricScores("m", "deterministic",
                           tuple(SampleScore(k, "o", k, x) for k, x in quiet.items())),
        StoredMetric("deterministic", None, {k: StoredScore("x", x) for k, x in base.items()}),
        ONE_PCT,
    )
    assert "under-powered" not in sentence(calm)


# --------------------------------------------------------------------- a real retrieval change

NOUNS = [
    "anchor",
    "basalt",
    "canyon",
    "dolphin",
    "eclipse",
    "falcon",
    "glacier",
    "harbor",
    "iceberg",
    "jasmine",
    "kelp",
    "lantern",
    "meadow",
    "nebula",
    "orchid",
    "pelican",
    "quartz",
    "reef",
    "saffron",
    "tundra",
    "umber",
    "volcano",
    "walrus",
    "yarrow",
    "zephyr",
    "acorn",
    "beacon",
    "cobalt",
    "delta",
    "ember",
    "fjord",
    "geyser",
    "heron",
    "ivy",
    "juniper",
    "kiwi",
    "lagoon",
    "maple",
    "nectar",
]
FILLER = [
    "the",
    "of",
    "and",
    "with",
    "during",
    "several",
    "notable",
    "many",
    "ancient",
    "modern",
    "local",
    "regional",
    "rare",
]


def _corpus() -> dict[str, str]:
    rng = Random(7)
    docs = {}
    for noun in NOUNS:
        for j in range(5):
            words = [rng.choice(FILLER) for _ in range(rng.randint(4, 30))]
            docs[f"{noun}-{j}"] = f"{noun.capitalize()} note {j}: " + " ".join(words) + "."
    return docs


def _retrieve(docs: dict[str, str], question: str, max_chars: int | None) -> list[str]:
    """Word-overlap ranking, top 5, optionally cut to a context character budget."""
    qw = set(re.findall(r"[a-z]+", question.lower()))

    def score(d: str) -> tuple[int, str]:
        return (-len(qw & set(re.findall(r"[a-z]+", docs[d].lower()))), d)

    out: list[str] = []
    used = 0
    for d in sorted(docs, key=score)[:5]:
        if max_chars is not None and used + len(docs[d]) > max_chars:
            break
        out.append(d)
        used += len(docs[d])
    return out


def _run(max_chars: int | None) -> list[Sample]:
    docs = _corpus()
    samples = []
    for noun in NOUNS:
        q = f"What do the notes say about {noun}?"
        got = _retrieve(docs, q, max_chars)
        samples.append(
            Sample(
                question=q,
                contexts=tuple(docs[i] for i in got),
                reference_contexts=tuple(docs[f"{noun}-{j}"] for j in range(5)),
            )
        )
    return samples


def test_a_retrieval_change_that_lowers_recall_by_5pct_fails_with_the_numbers() -> None:
    before = score_metric("context_recall", _run(max_chars=None))
    baseline = stored_from(before)
    after = score_metric("context_recall", _run(max_chars=590))  # the change: a context budget
    assert after.tier == "deterministic"
    b, c = before.mean(), after.mean()
    assert b is not None
    assert c is not None
    drop_pct = (b - c) / b * 100
    assert drop_pct >= 5.0, "the change must cost at least 5% of recall"
    v = quality_verdict("retrieval", after, baseline, ONE_PCT)
    assert v.status == "FAIL"
    assert v.baseline == pytest.approx(b)
    assert v.current == pytest.approx(c)
    assert v.change_pct == pytest.approx(-drop_pct)
    assert f"baseline {b:.4f}, current {c:.4f}" in sentence(v)
    assert f"{-drop_pct:+.2f}%" in sentence(v)
    assert f"n={len(NOUNS)}" in sentence(v)
    assert v.source == "deterministic"
    # and the unchanged pipeline passes against the same baseline
    again = quality_verdict(
        "retrieval", score_metric("context_recall", _run(None)), baseline, ONE_PCT
    )
    assert again.status == "PASS"
