"""The real RAG example (examples/rag) under the gate, through an inner pytest session:
its committed baselines pass, and a deliberate regression (top_k raised) fails on
the generate stage's context tokens.

Needs the example's heavy dependencies (``pip install -r examples/rag/requirements.txt``);
skipped with that hint where they are missing. The models and index are built once into
the example's own cache directory and reused.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
from pathlib import Path

import pytest
from openai_standin import StandIn

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "rag"
NEEDS = ("llama_cpp", "pymilvus", "milvus_lite", "sentence_transformers", "pypdf", "fpdf")
missing = [name for name in NEEDS if importlib.util.find_spec(name) is None]
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not EXAMPLE.is_dir(), reason="examples/ is not in this tree (an sdist)"),
    pytest.mark.skipif(
        bool(missing),
        reason=f"needs {', '.join(missing)}: pip install -r examples/rag/requirements.txt",
    ),
]


@pytest.fixture
def example(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for item in EXAMPLE.iterdir():
        if item.name in (".cache", "__pycache__", "data"):
            continue
        target = pytester.path / item.name
        if item.is_dir():
            shutil.copytree(item, target, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(item, target)
    # reuse the example's model and index cache (building it takes minutes)
    cache = Path(os.environ.get("RAG_CACHE_DIR", EXAMPLE / ".cache"))
    monkeypatch.setenv("RAG_CACHE_DIR", str(cache))
    return pytester


def run_qa_typical(
    example: pytest.Pytester, select: str = "qa_typical and not under_load"
) -> pytest.RunResult:
    return example.runpytest_subprocess(
        "--ragcost", "--ragcost-requests=5", "-k", select, "-p", "no:randomly",
        "tests/test_scenarios.py", timeout=1200,
    )


def test_the_committed_baselines_pass(example: pytest.Pytester) -> None:
    result = run_qa_typical(example)
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["scenario qa-typical *: 5 requests, 1 warm-up"])
    # the verdict table fits 80 columns: a long metric name may wrap onto a second line
    row = re.compile(r"^generate\.tokens_(?:context .*PASS|\S* .*PASS\ncontext)$", re.M)
    assert row.search(result.stdout.str()), result.stdout.str()


def test_raising_top_k_fails_on_the_generate_stage_context_tokens(
    example: pytest.Pytester,
) -> None:
    toml = example.path / "rag.toml"
    text = toml.read_text(encoding="utf-8")
    profile = text.index("[profiles.qa-typical]")
    head, tail = text[:profile], text[profile:]
    assert "top_k = 8" in tail.split("\n\n")[0]
    toml.write_text(head + tail.replace("top_k = 8", "top_k = 12", 1), encoding="utf-8")
    result = run_qa_typical(example)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*OVER BUDGET*test_qa_typical*"])
    out = result.stdout.str()
    assert "generate.tokens_context: " in out
    assert "vs baseline" in out
    assert "where the time went: generate " in out


def test_the_load_profile_passes_under_the_gate(example: pytest.Pytester) -> None:
    """qa-typical at 1, 2 and 4 users, at the pull request's size, against its baselines:
    the wait before start grows with the users in front of the one llama.cpp context."""
    result = run_qa_typical(example, "under_load")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines([
        "load profile (wall_ms from each request's intended start*",
        "*scenario*level*wall_ms p50/p95*wait_ms p50/p95*queue*req/s*",
        "*qa-typical-u1*u1*5*",
        "*qa-typical-u2*u2*5*",
        "*qa-typical-u4*u4*5*",
    ])
    result.stdout.no_fnmatch_line("*qa-typical-u* FAIL*")


DRILL_DOWN = ("--ragcost-profile=all", "--ragcost-system",
              "--ragcost-json=run.json", "--ragcost-html=report.html")


def test_the_drill_down_shows_generate_profile_ingest_disk_and_no_hidden_endpoints(
    example: pytest.Pytester,
) -> None:
    """The README's drill-down command: a flame graph of generate (llama.cpp's decode on
    top), the bytes ingest writes into the Milvus Lite file, and an honest note that no
    endpoint was seen (the model runs in process; Milvus Lite's gRPC is C sockets)."""
    result = example.runpytest_subprocess(
        "--ragcost", "--ragcost-requests=2", "-p", "no:randomly", *DRILL_DOWN,
        "-k", "qa_typical and not under_load or ingest_burst", "tests/test_scenarios.py",
        timeout=1200,
    )
    result.assert_outcomes(passed=2)
    result.stdout.fnmatch_lines([
        "system per request (mean): disk bytes, peak RSS growth, calls per endpoint",
        "  index_write: disk * read, * KiB written*",
        "  network: no network call was seen at the socket layer*",
    ])
    run = json.loads((example.path / "run.json").read_text(encoding="utf-8"))
    scenarios = {s["scenario"]: s for s in run["scenarios"]}
    for req in scenarios["ingest-burst"]["requests"]:
        written = {st["name"]: st["metrics"]["disk_write_bytes"] for st in req["stages"]}
        # each request inserts ~100 chunks with 384-float vectors: far more than a page
        assert written["index_write"] > 64 * 1024, written
    for req in scenarios["qa-typical"]["requests"]:
        for st in req["stages"]:
            assert "endpoints" not in st or not st["endpoints"], st
    html = (example.path / "report.html").read_text(encoding="utf-8")
    generate = html.index("<h3>Profile of stage generate</h3>")
    hot = html[generate:html.index("</table>", generate)]
    assert "<svg" in hot
    assert "LlamaContext.decode" in hot  # llama.cpp's forward pass, where generate's time goes
    assert "None seen: no network call was seen at the socket layer" in html
    collapsed = example.path / "run.profiles" / "qa-typical.generate.collapsed"
    assert "LlamaCppGenerator.generate" in collapsed.read_text(encoding="utf-8")


def test_the_drill_down_shows_a_served_model_endpoint(
    example: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With LLM_URL the generate stage calls a server: its host:port, calls, bytes and
    round trip show in the JSON and the HTML table (a loopback OpenAI-compatible stand-in
    here; the baselines are the local model's, so this run is not gated)."""
    (example.path / "ragcost.yaml").write_text("version: 1\n", encoding="utf-8")
    with StandIn(delay_s=0.02) as server:
        monkeypatch.setenv("LLM_URL", server.base_url)
        result = example.runpytest_subprocess(
            "--ragcost", "--ragcost-requests=2", "-p", "no:randomly", *DRILL_DOWN,
            "-k", "qa_typical and not under_load", "tests/test_scenarios.py", timeout=1200,
        )
        endpoint = server.base_url.split("/")[2]
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([f"  generate: {endpoint} 1 call, * out, * in, rtt * ms"])
    run = json.loads((example.path / "run.json").read_text(encoding="utf-8"))
    (scenario,) = run["scenarios"]
    for req in scenario["requests"]:
        (generate,) = [st for st in req["stages"] if st["name"] == "generate"]
        (used,) = generate["endpoints"]
        assert used["endpoint"] == endpoint
        assert used["calls"] == 1
        assert used["sent_bytes"] > 1000
        assert used["rtt_ms"] >= 20  # the stand-in waits 20 ms before its first byte
    html = (example.path / "report.html").read_text(encoding="utf-8")
    table = html[html.index("<h3>Network calls per stage and endpoint</h3>"):]
    assert f"<td>{endpoint}</td>" in table[:table.index("</table>")]
