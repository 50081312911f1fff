"""The ``ragcost`` fixture from inside a user's test: requests and their caps, warm-up,
trace ids, stages and what they record, errors, and the inert mode without ``--ragcost``."""

from __future__ import annotations

from typing import Any

import pytest
from conftest import TRACE_ID, count_tokens, read_json, scenario_of, scenario_source

LOOP = """
from pathlib import Path

import pytest

BODY = []
ITEMS = ["a", "b", "c", "d", "e", "f"]


@pytest.mark.ragcost({marker})
def test_loop(ragcost):
    for item in ragcost.requests(ITEMS{n}):
        BODY.append(item)
        with ragcost.stage("work") as st:
            st.count(items=1)
        ragcost.sample(question=item)
    Path("body.txt").write_text(",".join(BODY))
"""


def _run_loop(
    project: pytest.Pytester, marker: str, n: str = "", *args: str
) -> tuple[list[str], dict[str, Any]]:
    """Run the loop scenario; return the items the body saw and the scenario's JSON."""
    project.makepyfile(test_loop=LOOP.format(marker=marker, n=n))
    result = project.runpytest("--ragcost", "--ragcost-json=run.json", *args)
    result.assert_outcomes(passed=1)
    body = (project.path / "body.txt").read_text().split(",")
    doc = read_json(project.path / "run.json")
    return body, scenario_of(doc, "loop")


def test_marker_requests_caps_the_items(rag_project: pytest.Pytester) -> None:
    body, scenario = _run_loop(rag_project, 'scenario="loop", requests=3')
    assert body == ["a", "b", "c"]
    assert scenario["n_requests"] == 3
    assert [s["question"] for s in scenario["samples"]] == ["a", "b", "c"]


def test_n_argument_caps_the_items(rag_project: pytest.Pytester) -> None:
    body, scenario = _run_loop(rag_project, 'scenario="loop"', ", n=2")
    assert body == ["a", "b"]
    assert scenario["n_requests"] == 2


def test_command_line_lowers_the_marker_requests(rag_project: pytest.Pytester) -> None:
    body, scenario = _run_loop(rag_project, 'scenario="loop", requests=4', "",
                               "--ragcost-requests=2")
    assert body == ["a", "b"]
    assert scenario["n_requests"] == 2


def test_command_line_never_raises_the_marker_requests(rag_project: pytest.Pytester) -> None:
    body, scenario = _run_loop(rag_project, 'scenario="loop", requests=2', "",
                               "--ragcost-requests=5")
    assert body == ["a", "b"]
    assert scenario["n_requests"] == 2


def test_warmup_requests_run_but_are_not_recorded(rag_project: pytest.Pytester) -> None:
    body, scenario = _run_loop(rag_project, 'scenario="loop", requests=3, warmup=2')
    # two warm-up passes, then three measured requests
    assert len(body) == 5
    assert scenario["n_requests"] == 3
    assert scenario["warmup"] == 2
    assert [r["index"] for r in scenario["requests"]] == [0, 1, 2]
    assert len(scenario["samples"]) == 3
    for record in scenario["requests"]:
        assert record["metrics"]["count_items"] == 1


def test_every_request_has_its_own_trace_id(rag_project: pytest.Pytester) -> None:
    _, scenario = _run_loop(rag_project, 'scenario="loop", requests=6')
    ids = [r["trace_id"] for r in scenario["requests"]]
    assert len(ids) == 6
    assert all(TRACE_ID.match(t) for t in ids), ids
    assert len(set(ids)) == 6
    assert [s["trace_id"] for s in scenario["samples"]] == ids


def test_without_the_flag_the_code_runs_unmetered_and_heavy_modules_stay_out(
    rag_project: pytest.Pytester,
) -> None:
    rag_project.makepyfile(
        test_inert="""
        import sys
        import pytest

        HEAVY = ("tiktoken", "pytest_ragcost.record.tokens", "pynvml", "ragas",
                 "pytest_ragcost.session", "pytest_ragcost.meters.nvml")


        @pytest.mark.ragcost(scenario="inert", warmup=2)
        def test_inert(ragcost):
            seen = []
            for q in ragcost.requests(["q1", "q2", "q3", "q4"]):
                with ragcost.stage("generate") as st:
                    st.tokens(prompt="some words to count", completion=3, model="gpt-4o-mini")
                    st.usage({"prompt_tokens": 5, "completion_tokens": 2, "total_tokens": 7})
                    st.count(candidates=2)
                    st.first_token()
                ragcost.sample(question=q, answer="a", contexts=["c"])
                seen.append(q)
            assert seen == ["q1", "q2", "q3", "q4"]
            assert ragcost.recorded == 0
            loaded = [m for m in HEAVY if m in sys.modules]
            assert loaded == []
        """
    )
    result = rag_project.runpytest_subprocess("--ragcost-json=run.json", "-p", "no:cacheprovider")
    result.assert_outcomes(passed=1)
    result.stdout.no_fnmatch_line("*= ragcost =*")
    result.stdout.no_fnmatch_line("ragcost:*")
    assert not (rag_project.path / "run.json").exists()


def test_exception_in_a_stage_is_recorded_and_reraised(rag_project: pytest.Pytester) -> None:
    rag_project.makepyfile(
        test_boom="""
        import pytest

        @pytest.mark.ragcost(scenario="boom")
        def test_boom(ragcost):
            for i in ragcost.requests([0, 1, 2]):
                with ragcost.stage("search"):
                    pass
                with ragcost.stage("generate"):
                    if i == 1:
                        raise ValueError("generator fell over at 1")
        """
    )
    result = rag_project.runpytest("--ragcost", "--ragcost-json=run.json")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["E *ValueError: generator fell over at 1"])
    scenario = scenario_of(read_json(rag_project.path / "run.json"), "boom")
    records = scenario["requests"]
    assert len(records) == 2
    assert "error" not in records[0]
    assert records[0]["metrics"]["errors"] == 0
    failed = records[1]
    assert failed["error"]
    assert failed["metrics"]["errors"] == 1
    search, generate = failed["stages"]
    assert "error" not in search
    assert generate["error"] == "ValueError: generator fell over at 1"


def test_exception_caught_by_the_test_counts_as_a_request_error(
    rag_project: pytest.Pytester,
) -> None:
    rag_project.makepyfile(
        test_retry="""
        import pytest

        @pytest.mark.ragcost(scenario="retry")
        def test_retry(ragcost):
            for i in ragcost.requests([0, 1]):
                try:
                    with ragcost.stage("generate"):
                        if i == 0:
                            raise TimeoutError("slow provider")
                except TimeoutError:
                    pass
        """
    )
    result = rag_project.runpytest("--ragcost", "--ragcost-json=run.json")
    result.assert_outcomes(passed=1)
    records = scenario_of(read_json(rag_project.path / "run.json"), "retry")["requests"]
    assert [r["metrics"]["errors"] for r in records] == [1, 0]
    assert "generate" in records[0]["error"]
    assert "TimeoutError: slow provider" in records[0]["error"]
    assert records[0]["stages"][0]["error"] == "TimeoutError: slow provider"


STAGE_API = """
import pytest

PROMPT = "Answer from the context only. Question: what is stored?"
CONTEXT = ["The battery stores energy.", "Panels make current in daylight."]
ANSWER = "Energy is stored in the battery."
RERANK = ["candidate one", "candidate two", "candidate three"]


@pytest.mark.ragcost(scenario="api")
def test_api(ragcost):
    for _ in ragcost.requests([1, 2]):
        with ragcost.stage("rerank") as st:
            st.tokens(rerank_in=RERANK, model="gpt-4o-mini")
            st.count(candidates=3, kept=2)
        with ragcost.stage("generate") as st:
            st.first_token()
            st.tokens(prompt=PROMPT, context=CONTEXT, completion=ANSWER, model="gpt-4o-mini")
            st.tokens(query_rewrite="rewritten question text", model="gpt-4o-mini")
        with ragcost.stage("provider") as st:
            st.tokens(prompt=PROMPT, completion=ANSWER, context=CONTEXT, model="gpt-4o-mini")
            st.usage({"prompt_tokens": 321, "completion_tokens": 45, "total_tokens": 366})
        with ragcost.stage("given") as st:
            st.tokens(prompt=1000, completion=250)
        ragcost.sample(question="what is stored?", answer=ANSWER, contexts=CONTEXT,
                       reference="The battery.", reference_contexts=CONTEXT[:1])
"""


@pytest.fixture
def api_run(rag_project: pytest.Pytester) -> dict[str, Any]:
    rag_project.makepyfile(test_api=STAGE_API)
    # a fresh process, so the tokenizer loads inside the scenario (as in a user's first run)
    # whatever ran before in this one
    result = rag_project.runpytest_subprocess(
        "--ragcost", "--ragcost-json=run.json", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=1)
    return scenario_of(read_json(rag_project.path / "run.json"), "api")


PROMPT = "Answer from the context only. Question: what is stored?"
CONTEXT = ["The battery stores energy.", "Panels make current in daylight."]
ANSWER = "Energy is stored in the battery."
RERANK = ["candidate one", "candidate two", "candidate three"]


def _stage(record: dict[str, Any], name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in record["stages"] if s["name"] == name)
    return found


def test_tokens_counts_strings_and_lists_and_takes_integers(api_run: dict[str, Any]) -> None:
    record = api_run["requests"][0]
    generate = _stage(record, "generate")
    assert generate["metrics"]["tokens_prompt"] == count_tokens(PROMPT)
    assert generate["metrics"]["tokens_context"] == count_tokens(CONTEXT)
    assert generate["metrics"]["tokens_completion"] == count_tokens(ANSWER)
    assert generate["metrics"]["tokens_query_rewrite"] == count_tokens("rewritten question text")
    assert generate["sources"]["tokens_prompt"] == "counted"
    assert generate["sources"]["tokens_query_rewrite"] == "counted"
    # the context is part of the prompt: the billed total is prompt + completion
    assert generate["metrics"]["tokens_total"] == count_tokens(PROMPT) + count_tokens(ANSWER)

    rerank = _stage(record, "rerank")
    assert rerank["metrics"]["tokens_rerank_in"] == count_tokens(RERANK)

    given = _stage(record, "given")
    assert given["metrics"]["tokens_prompt"] == 1000
    assert given["metrics"]["tokens_completion"] == 250
    assert given["sources"]["tokens_prompt"] == "given"


def test_provider_usage_wins_over_counted_tokens_and_keeps_its_source(
    api_run: dict[str, Any],
) -> None:
    provider = _stage(api_run["requests"][0], "provider")
    assert provider["metrics"]["tokens_prompt"] == 321
    assert provider["metrics"]["tokens_completion"] == 45
    assert provider["metrics"]["tokens_total"] == 366
    assert provider["sources"]["tokens_prompt"].startswith("provider")
    assert provider["sources"]["tokens_completion"].startswith("provider")
    # the provider says nothing about the context: that stays counted
    assert provider["metrics"]["tokens_context"] == count_tokens(CONTEXT)
    assert provider["sources"]["tokens_context"] == "counted"


def test_request_totals_add_the_stages(api_run: dict[str, Any]) -> None:
    for record in api_run["requests"]:
        prompts = sum(s["metrics"].get("tokens_prompt", 0) for s in record["stages"])
        assert record["metrics"]["tokens_prompt"] == prompts
        assert prompts == count_tokens(PROMPT) + 321 + 1000
        assert record["metrics"]["count_candidates"] == 3
        assert record["metrics"]["count_kept"] == 2
        assert record["sources"]["count_candidates"] == "given"


def test_first_token_gives_ttft_within_the_stage(api_run: dict[str, Any]) -> None:
    for record in api_run["requests"]:
        generate = _stage(record, "generate")
        ttft = generate["metrics"]["ttft_ms"]
        assert 0 < ttft <= generate["metrics"]["wall_ms"]
        assert generate["sources"]["ttft_ms"] == "timer"
        # measured from the request's start, so after the rerank stage
        assert record["metrics"]["ttft_ms"] >= ttft
        assert record["metrics"]["ttft_ms"] <= record["metrics"]["wall_ms"]
        assert "ttft_ms" not in _stage(record, "rerank")["metrics"]


def test_samples_land_in_the_json(api_run: dict[str, Any]) -> None:
    samples = api_run["samples"]
    assert len(samples) == 2
    first = samples[0]
    assert first["question"] == "what is stored?"
    assert first["answer"] == ANSWER
    assert first["contexts"] == CONTEXT
    assert first["reference"] == "The battery."
    assert first["reference_contexts"] == CONTEXT[:1]
    assert [s["trace_id"] for s in samples] == [r["trace_id"] for r in api_run["requests"]]


def test_scenario_defaults_to_the_node_id(rag_project: pytest.Pytester) -> None:
    rag_project.makepyfile(
        test_plain="""
        def test_unmarked(ragcost):
            for _ in ragcost.requests(range(2)):
                with ragcost.stage("only"):
                    pass
        """
    )
    result = rag_project.runpytest("--ragcost", "--ragcost-json=run.json")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(
        ["scenario test_plain.py::test_unmarked (test_plain.py::test_unmarked): 2 requests"]
    )
    doc = read_json(rag_project.path / "run.json")
    assert scenario_of(doc, "test_plain.py::test_unmarked")["n_requests"] == 2


def test_first_request_is_not_charged_for_loading_the_tokenizer(
    rag_project: pytest.Pytester,
) -> None:
    # a fresh process: the tokenizer is loaded for the first time inside the scenario
    rag_project.makepyfile(test_scenario=scenario_source("qa-fresh", requests=4))
    result = rag_project.runpytest_subprocess(
        "--ragcost", "--ragcost-json=run.json", "-p", "no:cacheprovider"
    )
    result.assert_outcomes(passed=1)
    records = scenario_of(read_json(rag_project.path / "run.json"), "qa-fresh")["requests"]
    cpu = [_stage(r, "generate")["metrics"]["cpu_ms"] for r in records]
    # each request counts about a hundred tokens of cached work; a one-off tokenizer load
    # (tens to hundreds of ms) charged to request 0 would distort every statistic
    assert cpu[0] < 20 * max(cpu[1:]) + 5.0, cpu
