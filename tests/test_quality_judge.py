"""The LLM-judge tiers against a real HTTP server: record, replay, misses, failures.

The judge is a tiny OpenAI-compatible server on 127.0.0.1 that really reads ragas's
context-recall prompt and answers by word overlap, so the scores mean something and
the real openai client, instructor and ragas parsing all run.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ragas", reason="needs the ragas extra: pip install 'pytest-ragcost[ragas]'")

from pytest_ragcost.quality import (
    JudgeConfigError,
    JudgeRecord,
    JudgeSettings,
    JudgeSetup,
    content_hash,
    quality_verdict,
    score_metric,
    stored_from,
)
from pytest_ragcost.report.verdicts import sentence
from pytest_ragcost.run import Sample, Tolerance

METRIC = "ragas_context_recall"
_WORD = re.compile(r"[a-z0-9]+")


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) > 3}


def _judge_recall(question: str, context: str, answer: str) -> dict[str, Any]:
    """Attribute each answer sentence when most of its words are in the context."""
    ctx = _words(context)
    out = []
    for sent in [s.strip() for s in re.split(r"(?<=\.)\s+", answer) if s.strip()]:
        w = _words(sent)
        hit = len(w & ctx) / len(w) if w else 0.0
        out.append(
            {"statement": sent, "reason": f"overlap {hit:.2f}", "attributed": int(hit >= 0.6)}
        )
    return {"classifications": out}


@dataclass
class FakeJudge:
    """State of the fake server, visible to the test."""

    behaviour: str = "ok"  # ok | garbage | error | slow
    calls: int = 0
    in_flight: int = 0
    max_in_flight: int = 0
    delay_s: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)
    bodies: list[dict[str, Any]] = field(default_factory=list)


def _make_handler(state: FakeJudge) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", 0))
            body = json.loads(self.rfile.read(length))
            with state.lock:
                state.calls += 1
                state.in_flight += 1
                state.max_in_flight = max(state.max_in_flight, state.in_flight)
                state.bodies.append(body)
            try:
                if state.delay_s:
                    time.sleep(state.delay_s)
                if state.behaviour == "error":
                    self._send(500, {"error": {"message": "judge exploded"}})
                    return
                # the first user message holds ragas's prompt (a re-ask appends more)
                prompt = next(m["content"] for m in body["messages"] if "input: " in m["content"])
                block = prompt.rsplit("input: ", 1)[1].rsplit("Output:", 1)[0]
                data = json.loads(block)
                if state.behaviour == "garbage":
                    content = "I think it is fine, really."
                else:
                    content = json.dumps(
                        _judge_recall(data["question"], data["context"], data["answer"])
                    )
                self._send(
                    200,
                    {
                        "id": "fake-1",
                        "object": "chat.completion",
                        "created": 0,
                        "model": body["model"],
                        "choices": [
                            {
                                "index": 0,
                                "message": {"role": "assistant", "content": content},
                                "finish_reason": "stop",
                            }
                        ],
                        "usage": {
                            "prompt_tokens": 900,
                            "completion_tokens": 40,
                            "total_tokens": 940,
                        },
                    },
                )
            finally:
                with state.lock:
                    state.in_flight -= 1

        def _send(self, status: int, payload: dict[str, Any]) -> None:
            raw = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    return Handler


@pytest.fixture
def fake_judge() -> Iterator[tuple[FakeJudge, str]]:
    state = FakeJudge()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(state))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state, f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


PARIS = "Paris is the capital and largest city of France, on the river Seine."
SEINE = "The Seine flows through Paris before reaching the English Channel."
TOKYO = "Tokyo is the capital of Japan and its most populous prefecture."


def _samples() -> list[Sample]:
    return [
        Sample(
            question="What is the capital of France?",
            answer="Paris.",
            contexts=(PARIS,),
            reference="Paris is the capital of France.",
        ),
        Sample(
            question="Which river flows through Paris?",
            answer="The Seine.",
            contexts=(SEINE, PARIS),
            reference="The Seine flows through Paris. It reaches the English Channel.",
        ),
        Sample(
            question="What is the capital of Japan?",
            answer="Tokyo.",
            contexts=(PARIS,),  # retrieval missed: recall must be 0
            reference="Tokyo is the capital of Japan.",
        ),
    ]


def _settings(base_url: str, **kw: Any) -> JudgeSettings:
    return JudgeSettings(model="fake-judge-1", base_url=base_url, timeout_s=10, retries=0, **kw)


def _record(tmp_path: Path, base_url: str, samples: list[Sample]) -> Path:
    record = JudgeRecord()
    setup = JudgeSetup(_settings(base_url), mode="record", record=record)
    scores = score_metric(METRIC, samples, judge=setup)
    assert [s.value for s in scores.samples] == [1.0, 1.0, 0.0]
    path = tmp_path / "judge" / "qa.json"
    record.save(path)
    return path


def test_record_writes_a_readable_record_keyed_by_judge_metric_prompt_and_sample(
    fake_judge: tuple[FakeJudge, str], tmp_path: Path
) -> None:
    state, url = fake_judge
    samples = _samples()
    path = _record(tmp_path, url, samples)
    assert state.calls == 3
    data = json.loads(path.read_text())
    assert data["version"] == 1
    answers = data["answers"]
    assert len(answers) == 3
    assert {a["sample"] for a in answers} == {content_hash(s) for s in samples}
    for a in answers:
        assert a["judge_model"] == "fake-judge-1"
        assert a["metric"] == METRIC
        assert re.fullmatch(r"[0-9a-f]{64}", a["prompt_sha256"])
        assert a["usage"] == {"prompt_tokens": 900, "completion_tokens": 40}
        assert "classifications" in json.loads(a["response"])
    # indented for review, one key per line
    assert '\n  "answers": [\n' in path.read_text()


def test_replay_gives_the_recorded_scores_without_calling_the_judge(
    fake_judge: tuple[FakeJudge, str], tmp_path: Path
) -> None:
    state, url = fake_judge
    samples = _samples()
    path = _record(tmp_path, url, samples)
    calls_after_record = state.calls
    # point the replay at a port where nothing listens: replay must not need the network
    setup = JudgeSetup(_settings("http://127.0.0.1:9/v1"), "replay", JudgeRecord.load(path))
    scores = score_metric(METRIC, samples, judge=setup)
    assert [s.value for s in scores.samples] == [1.0, 1.0, 0.0]
    assert scores.tier == "judged-replayed"
    assert scores.judge_replayed_calls == 3
    assert scores.judge_live_calls == 0
    assert state.calls == calls_after_record


def test_unchanged_outputs_reuse_the_baseline_with_zero_judge_calls(
    fake_judge: tuple[FakeJudge, str], tmp_path: Path
) -> None:
    state, url = fake_judge
    samples = _samples()
    setup = JudgeSetup(_settings(url), mode="live")
    first = score_metric(METRIC, samples, judge=setup)
    baseline = stored_from(first)
    calls = state.calls
    again = score_metric(METRIC, samples, baseline=baseline, judge=setup)
    assert state.calls == calls
    assert again.judge_live_calls == 0
    assert again.reused_count() == 3
    verdict = quality_verdict("qa", again, baseline, Tolerance(0.01, True))
    assert verdict.status == "PASS"
    assert "3 unchanged sample(s) kept their baseline score" in sentence(verdict)


def test_a_changed_sample_without_a_record_is_named_and_fails(
    fake_judge: tuple[FakeJudge, str], tmp_path: Path
) -> None:
    state, url = fake_judge
    samples = _samples()
    path = _record(tmp_path, url, samples)
    baseline_scores = score_metric(
        METRIC, samples, judge=JudgeSetup(_settings(url), "replay", JudgeRecord.load(path))
    )
    baseline = stored_from(baseline_scores)
    changed = list(samples)
    changed[1] = Sample(
        question=samples[1].question,
        answer="The Loire.",
        contexts=(TOKYO,),
        reference=samples[1].reference,
    )
    calls = state.calls
    setup = JudgeSetup(_settings(url), "replay", JudgeRecord.load(path))
    scores = score_metric(METRIC, changed, baseline=baseline, judge=setup)
    assert state.calls == calls
    assert [s.miss for s in scores.samples] == [False, True, False]
    assert scores.samples[1].value is None
    verdict = quality_verdict("qa", scores, baseline, Tolerance(0.01, True))
    assert verdict.status == "FAIL"
    assert "1 sample(s) changed since the judge record" in sentence(verdict)
    assert "sample 1 'Which river flows through Paris?'" in sentence(verdict)
    skipped = quality_verdict("qa", scores, baseline, Tolerance(0.01, True), on_judge_miss="skip")
    assert skipped.status == "PASS"
    assert "skipped 1 unjudged sample(s): sample 1 'Which river" in sentence(skipped)
    assert skipped.n == 2


def test_a_changed_prompt_is_a_miss_not_a_score(
    fake_judge: tuple[FakeJudge, str], tmp_path: Path
) -> None:
    _, url = fake_judge
    samples = _samples()
    path = _record(tmp_path, url, samples)
    data = json.loads(path.read_text())
    data["answers"][0]["prompt_sha256"] = "0" * 64
    path.write_text(json.dumps(data))
    setup = JudgeSetup(_settings(url), "replay", JudgeRecord.load(path))
    scores = score_metric(METRIC, samples, judge=setup)
    missed = scores.misses()
    assert len(missed) == 1
    assert missed[0].reason is not None
    assert "prompt differs from the recorded one" in missed[0].reason


@pytest.mark.parametrize("behaviour", ["garbage", "error"])
def test_a_failed_judgement_is_quality_unknown_and_fails(
    fake_judge: tuple[FakeJudge, str], behaviour: str
) -> None:
    state, url = fake_judge
    state.behaviour = behaviour
    samples = _samples()
    scores = score_metric(METRIC, samples, judge=JudgeSetup(_settings(url), mode="live"))
    assert all(s.value is None for s in scores.samples), "never a silent zero"
    assert all(s.reason for s in scores.samples)
    verdict = quality_verdict("qa", scores, None, Tolerance(0.01, True))
    assert verdict.status == "FAIL"
    assert "quality unknown for 3 sample(s)" in sentence(verdict)


def test_a_slow_judge_times_out_as_quality_unknown(fake_judge: tuple[FakeJudge, str]) -> None:
    state, url = fake_judge
    state.delay_s = 1.5
    settings = JudgeSettings(model="fake-judge-1", base_url=url, timeout_s=0.3, retries=0)
    scores = score_metric(METRIC, _samples()[:1], judge=JudgeSetup(settings, mode="live"))
    assert scores.samples[0].value is None
    assert scores.samples[0].reason is not None
    # a read timeout says so; on a loaded machine the 0.3 s can already run out while
    # connecting, which the openai client reports as a connection error
    reason = scores.samples[0].reason
    assert any(word in reason for word in ("Timeout", "timed out", "Connection error")), reason


def test_concurrency_is_bounded(fake_judge: tuple[FakeJudge, str]) -> None:
    state, url = fake_judge
    state.delay_s = 0.2
    samples = [
        Sample(
            question=f"What is the capital of France? ({i})",
            answer="Paris.",
            contexts=(PARIS,),
            reference="Paris is the capital of France.",
        )
        for i in range(6)
    ]
    settings = _settings(url, concurrency=2)
    scores = score_metric(METRIC, samples, judge=JudgeSetup(settings, mode="live"))
    assert [s.value for s in scores.samples] == [1.0] * 6
    assert state.max_in_flight == 2


def test_the_key_comes_from_the_named_environment_variable(
    fake_judge: tuple[FakeJudge, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    state, url = fake_judge
    monkeypatch.delenv("RAGCOST_TEST_JUDGE_KEY", raising=False)
    settings = _settings(url, api_key_env="RAGCOST_TEST_JUDGE_KEY")
    with pytest.raises(JudgeConfigError, match="RAGCOST_TEST_JUDGE_KEY"):
        score_metric(METRIC, _samples()[:1], judge=JudgeSetup(settings, mode="live"))
    monkeypatch.setenv("RAGCOST_TEST_JUDGE_KEY", "sk-test-123")
    scores = score_metric(METRIC, _samples()[:1], judge=JudgeSetup(settings, mode="live"))
    assert scores.samples[0].value == 1.0
    assert state.calls == 1


def test_record_mode_drops_answers_of_samples_no_longer_produced(
    fake_judge: tuple[FakeJudge, str], tmp_path: Path
) -> None:
    _, url = fake_judge
    samples = _samples()
    path = _record(tmp_path, url, samples)
    record = JudgeRecord.load(path)
    score_metric(METRIC, samples[:2], judge=JudgeSetup(_settings(url), "record", record))
    assert {a.sample for a in record.answers()} == {content_hash(s) for s in samples[:2]}


def test_a_judged_metric_without_a_judge_says_how_to_configure_one() -> None:
    with pytest.raises(ValueError, match="no judge is configured"):
        score_metric(METRIC, _samples())


@pytest.mark.parametrize("retries", [0, 2])
def test_retries_are_bounded(fake_judge: tuple[FakeJudge, str], retries: int) -> None:
    state, url = fake_judge
    state.behaviour = "error"
    settings = JudgeSettings(model="fake-judge-1", base_url=url, timeout_s=5, retries=retries)
    scores = score_metric(METRIC, _samples()[:1], judge=JudgeSetup(settings, mode="live"))
    assert scores.samples[0].value is None
    assert state.calls == retries + 1


def test_a_baseline_from_another_judge_is_incomparable(fake_judge: tuple[FakeJudge, str]) -> None:
    _, url = fake_judge
    samples = _samples()
    first = score_metric(METRIC, samples, judge=JudgeSetup(_settings(url), mode="live"))
    other = JudgeSettings(model="fake-judge-2", base_url=url, timeout_s=10, retries=0)
    second = score_metric(
        METRIC, samples, baseline=stored_from(first), judge=JudgeSetup(other, mode="live")
    )
    assert second.reused_count() == 0, "another judge's scores are not reused"
    v = quality_verdict("qa", second, stored_from(first), Tolerance(0.01, True))
    assert v.status == "INCOMPARABLE"
    assert "'fake-judge-1'" in sentence(v)
    assert "'fake-judge-2'" in sentence(v)
