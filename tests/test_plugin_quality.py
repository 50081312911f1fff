"""The quality gate through the plugin, as a user meets it: samples recorded by the
fixture, scored, blessed into ragcost.yaml and ragcost.scores.json, then gated."""

from __future__ import annotations

import json
import textwrap

import pytest

SCENARIO = textwrap.dedent(
    """
    import os
    import pytest

    N = 40
    DOCS = {{f"q{{i}}": [f"q{{i}}-c{{j}}" for j in range(4)] for i in range(N)}}
    # the regression: for every 5th question the retriever loses one relevant chunk
    DROP = os.environ.get("RAGCOST_TEST_DROP") == "1"

    def retrieve(qid):
        hits = list(DOCS[qid])
        if DROP and int(qid[1:]) % 5 == 0:
            hits[-1] = "unrelated"
        return hits

    @pytest.mark.ragcost(scenario="{scenario}")
    def test_qa(ragcost):
        for qid in ragcost.requests(list(DOCS)):
            with ragcost.stage("search") as st:
                hits = retrieve(qid)
                st.count(candidates=len(hits))
            ragcost.sample(question=f"question {{qid}}", answer="answer",
                           contexts=[f"text of {{h}}" for h in hits],
                           context_ids=hits, reference_ids=DOCS[qid])
    """
)


@pytest.fixture
def quality_project(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_qa=SCENARIO.format(scenario="qa-quality"))
    return pytester


def test_retrieval_metrics_are_blessed_then_a_recall_drop_fails_the_test(
    quality_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RAGCOST_TEST_DROP", raising=False)
    # gate errors and quality only: microsecond timings of this toy retriever are noise
    (quality_project.path / "ragcost.yaml").write_text(
        "version: 1\nscenarios:\n  qa-quality:\n    errors: {baseline: 0}\n", encoding="utf-8"
    )
    blessed = quality_project.runpytest("--ragcost", "--ragcost-update")
    blessed.assert_outcomes(passed=1)
    blessed.stdout.fnmatch_lines(
        ["ragcost: stored per-sample baseline scores of 4 quality metric(s)*qa-quality.mrr*"]
    )
    yaml_text = (quality_project.path / "ragcost.yaml").read_text(encoding="utf-8")
    assert "context_recall: {baseline: 1.0}" in yaml_text
    scores = json.loads((quality_project.path / "ragcost.scores.json").read_text())
    recall = scores["scenarios"]["qa-quality"]["context_recall"]
    assert len(recall["samples"]) == 40
    assert recall["tier"] == "deterministic"

    same = quality_project.runpytest("--ragcost")
    same.assert_outcomes(passed=1)

    # 8 of 40 samples lose 1 of 4 relevant chunks: mean recall 1.0 -> 0.95 (5% drop)
    monkeypatch.setenv("RAGCOST_TEST_DROP", "1")
    worse = quality_project.runpytest("--ragcost")
    worse.assert_outcomes(failed=1)
    out = worse.stdout.str()
    line = next(ln for ln in out.splitlines() if ln.strip().startswith("context_recall:"))
    assert "0.95" in line  # current
    assert "1" in line  # baseline
    assert "n=40" in line
    assert "bound" in line or "CI" in line or "confidence" in line, line
    worse.stdout.fnmatch_lines(["*QUALITY DROP*test_qa*"])


def test_quality_is_not_scored_without_references(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(
        test_plain="""
        import pytest

        @pytest.mark.ragcost(scenario="plain")
        def test_plain(ragcost):
            for q in ragcost.requests(["a", "b"]):
                ragcost.sample(question=q, answer=q)
        """
    )
    result = pytester.runpytest("--ragcost", "--ragcost-update")
    result.assert_outcomes(passed=1)
    assert not (pytester.path / "ragcost.scores.json").exists()
    assert "context_recall" not in (pytester.path / "ragcost.yaml").read_text()


def test_a_judged_metric_replays_with_zero_calls_and_names_a_changed_sample(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("ragas", reason="needs pip install 'pytest-ragcost[ragas]'")
    import threading
    from http.server import ThreadingHTTPServer

    from test_quality_judge import FakeJudge, _make_handler  # the real HTTP fake judge

    state = FakeJudge()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(state))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/v1"
    try:
        pytester.makepyfile(
            test_judged="""
            import os
            import pytest

            PARIS = "Paris is the capital and largest city of France, on the river Seine."
            SEINE = "The Seine flows through Paris before reaching the English Channel."
            ITEMS = [
                ("What is the capital of France?", "Paris.", [PARIS],
                 "Paris is the capital of France."),
                ("Which river flows through Paris?", "The Seine.", [SEINE, PARIS],
                 "The Seine flows through Paris."),
            ]

            @pytest.mark.ragcost(scenario="judged")
            def test_judged(ragcost):
                for q, answer, contexts, reference in ragcost.requests(ITEMS):
                    if os.environ.get("RAGCOST_TEST_CHANGE") and q.startswith("Which"):
                        answer = "The Loire."
                    ragcost.sample(question=q, answer=answer, contexts=contexts,
                                   reference=reference)
            """
        )
        (pytester.path / "ragcost.yaml").write_text(
            "version: 1\n"
            f"judge: {{model: fake-judge-1, base_url: '{url}', retries: 0}}\n"
            "scenarios:\n"
            "  judged:\n"
            "    ragas_context_recall: {severity: fail}\n",
            encoding="utf-8",
        )
        monkeypatch.delenv("RAGCOST_TEST_CHANGE", raising=False)
        recorded = pytester.runpytest("--ragcost", "--ragcost-record-judge", "--ragcost-update")
        recorded.assert_outcomes(passed=1)
        assert state.calls == 2
        assert (pytester.path / "ragcost.judge.json").exists()

        calls = state.calls
        again = pytester.runpytest("--ragcost")
        again.assert_outcomes(passed=1)
        assert state.calls == calls, "an unchanged pipeline must not call the judge"

        monkeypatch.setenv("RAGCOST_TEST_CHANGE", "1")
        changed = pytester.runpytest("--ragcost")
        changed.assert_outcomes(failed=1)
        changed.stdout.fnmatch_lines(["*ragas_context_recall*Which river flows through Paris*"])
        assert state.calls == calls, "replay must not reach the judge either"
    finally:
        server.shutdown()
        server.server_close()
