"""The pre-flight estimate as a user meets it: ``ragcost estimate [--json] -- PYTEST ARGS``
after a bless, then the run it predicted; and ``--ragcost-max-usd`` refusing a run."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import read_json, scenario_of, scenario_source

from pytest_ragcost.budget.items import ItemStore, ScenarioItems
from pytest_ragcost.estimate import Planned, Sources, call_site, estimate, money, over_cap, text_of
from pytest_ragcost.history import LatestRun
from pytest_ragcost.record.item_id import content_id

#: the tiny project's scenario with its items from a fixture: unknown before it runs
FIXTURE_ITEMS = '''
import pytest
from ragkit import QUESTIONS, Retriever, generate, prompt_for


@pytest.fixture
def questions():
    return list(QUESTIONS)


@pytest.mark.ragcost(scenario="qa-fixture", requests=4)
def test_fixture_items(ragcost, questions):
    rag = Retriever()
    for q in ragcost.requests(questions):
        with ragcost.stage("generate") as st:
            hits = rag.search(q, top_k=3)
            prompt = prompt_for(q, hits)
            answer = generate(prompt)
            st.tokens(prompt=prompt, context=hits, completion=answer, model="gpt-4o-mini")
'''

#: a scenario never measured, whose number of requests only its items say
UNMARKED = '''
def test_unmarked(ragcost):
    for q in ragcost.requests(["one", "two"]):
        pass
'''


def _cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """``ragcost ARGS`` as a user runs it, in its own process."""
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[1])}
    env.pop("PYTEST_ADDOPTS", None)
    return subprocess.run(
        [sys.executable, "-c", "import sys; from pytest_ragcost.cli import main; "
         "sys.exit(main())", *args],
        cwd=cwd, capture_output=True, text=True, env=env, timeout=300, check=False,
    )


def _estimate(cwd: Path, *pytest_args: str) -> dict[str, Any]:
    done = _cli(cwd, "estimate", "--json", "--", *pytest_args)
    assert done.returncode == 0, done.stderr
    doc: dict[str, Any] = json.loads(done.stdout)
    return doc


def _scenario(doc: dict[str, Any], name: str) -> dict[str, Any]:
    found = [s for s in doc["scenarios"] if s["scenario"] == name]
    assert found, doc
    return found[0]


def _spent(run: dict[str, Any], key: str) -> float:
    return sum(r["metrics"].get(key, 0.0) for r in run["requests"])


@pytest.fixture
def blessed_half(rag_project: pytest.Pytester) -> pytest.Pytester:
    """qa-tiny (6 requests over a module-level list) blessed on its first 3 items."""
    rag_project.makepyfile(test_qa=scenario_source("qa-tiny", requests=6))
    result = rag_project.runpytest("--ragcost", "--ragcost-update", "--ragcost-requests=3")
    result.assert_outcomes(passed=1)
    return rag_project


def test_estimate_predicts_the_runs_tokens_and_dollars_within_5_percent(
    blessed_half: pytest.Pytester,
) -> None:
    root = blessed_half.path
    items = read_json(root / "ragcost.items.json")["scenarios"]["qa-tiny"]["items"]

    # at the bless's own size every request is an item measured before: its own figures
    same = _scenario(_estimate(root, "--ragcost-requests=3"), "qa-tiny")
    assert (same["requests"], same["measured_requests"], same["unknown_requests"]) == (3, 3, 0)
    assert same["tokens_total"] == sum(i["metrics"]["tokens_total"] for i in items.values())
    assert same["cost_usd"] == pytest.approx(
        sum(i["metrics"]["cost_usd"] for i in items.values()), rel=1e-9)

    # the whole run: 3 items measured, 3 never measured but named by the test's list
    doc = _estimate(root)
    est = _scenario(doc, "qa-tiny")
    assert (est["requests"], est["measured_requests"], est["counted_requests"],
            est["unknown_requests"]) == (6, 3, 3, 0)
    assert "offline token count" in est["sources"]
    assert doc["total"]["complete"] is True
    assert doc["total"]["cost_usd"] == est["cost_usd"]

    result = blessed_half.runpytest("--ragcost", "--ragcost-json=run.json")
    assert result.ret in (0, 1), result.stdout.str()
    run = scenario_of(read_json(root / "run.json"), "qa-tiny")
    assert len(run["requests"]) == est["requests"]
    tokens, dollars = _spent(run, "tokens_total"), _spent(run, "cost_usd")
    assert tokens > 0
    assert dollars > 0
    assert abs(est["tokens_total"] - tokens) <= 0.05 * tokens, (est, tokens)
    assert abs(est["cost_usd"] - dollars) <= 0.05 * dollars, (est, dollars)
    assert est["cpu_s"] > 0
    assert est["wall_min"] > 0
    assert est["gpu_s"] is None


def test_estimate_prints_a_table_with_a_total_row(blessed_half: pytest.Pytester) -> None:
    done = _cli(blessed_half.path, "estimate")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].split() == ["scenario", "requests", "unknown", "tokens_total", "cost_usd",
                                "cpu_s", "gpu_s", "wall_min", "from"]
    row = _scenario(_estimate(blessed_half.path), "qa-tiny")
    assert lines[2].split()[:5] == ["qa-tiny", "6", "0", f"{row['tokens_total']:,.0f}",
                                    money(row["cost_usd"])]
    assert lines[3].split()[:3] == ["total", "6", "0"]


def test_items_the_estimate_cannot_see_are_unknown_and_the_total_says_how_many(
    rag_project: pytest.Pytester,
) -> None:
    rag_project.makepyfile(test_fixture=FIXTURE_ITEMS)
    rag_project.runpytest("--ragcost", "--ragcost-update",
                          "--ragcost-requests=2").assert_outcomes(passed=1)
    rag_project.makepyfile(test_unmarked=UNMARKED)
    doc = _estimate(rag_project.path)
    known = _scenario(doc, "qa-fixture")
    assert (known["requests"], known["measured_requests"], known["unknown_requests"]) == (4, 2, 2)
    assert known["notes"] == ["2 of its 4 requests go beyond the 2 items ever measured, and "
                              "its items are not known before it runs"]
    never = _scenario(doc, "test_unmarked.py::test_unmarked")
    assert never["requests"] is None
    assert never["unknown_requests"] is None
    assert never["cost_usd"] is None
    total = doc["total"]
    assert (total["unknown_requests"], total["unknown_scenarios"], total["complete"]) == (
        2, 1, False)
    assert total["cost_usd"] == pytest.approx(known["cost_usd"])
    assert total["cost_usd_extrapolated"] is None  # the unmarked one cannot be extrapolated

    done = _cli(rag_project.path, "estimate", "--", "test_fixture.py")
    assert done.returncode == 0, done.stderr
    assert "unknown: 2 request(s) never measured: the totals leave them out (at their " \
        "scenarios' mean: $" in done.stdout


def test_max_usd_refuses_a_run_over_the_cap_and_runs_one_under_it(
    blessed_half: pytest.Pytester,
) -> None:
    root = blessed_half.path
    history = root / ".ragcost" / "history.sqlite3"
    before = history.stat().st_size, history.stat().st_mtime_ns
    estimated = _estimate(root)["total"]["cost_usd"]
    result = blessed_half.runpytest("--ragcost", "--ragcost-max-usd=0.00001",
                                    "--ragcost-json=run.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        f"ERROR: pytest-ragcost: the run is estimated at {money(estimated)}, over "
        "--ragcost-max-usd=$0.00001 (6 requests, * tokens); run fewer requests*",
    ])
    assert not (root / "run.json").exists()
    assert (history.stat().st_size, history.stat().st_mtime_ns) == before
    assert "passed" not in result.stdout.str()

    # the same cap from the ini file; a cap above the estimate lets the run start
    blessed_half.makeini("[pytest]\nragcost_max_usd = 0.00001\n")
    assert blessed_half.runpytest("--ragcost").ret == pytest.ExitCode.USAGE_ERROR
    result = blessed_half.runpytest("--ragcost", f"--ragcost-max-usd={estimated * 1.1}")
    result.assert_outcomes(passed=1)


def test_max_usd_refuses_a_run_it_cannot_price_and_says_why(
    rag_project: pytest.Pytester,
) -> None:
    rag_project.makepyfile(test_fixture=FIXTURE_ITEMS)
    rag_project.runpytest("--ragcost", "--ragcost-update",
                          "--ragcost-requests=2").assert_outcomes(passed=1)
    result = rag_project.runpytest("--ragcost-max-usd=5")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        "ERROR: pytest-ragcost: the run's estimate is incomplete: $* known, plus 2 "
        "request(s) of unknown cost (never measured); at their scenarios' measured mean "
        "the run would cost about $*; --ragcost-max-usd=$5.00 cannot be checked.*",
    ])


@pytest.mark.parametrize(
    ("value", "said"),
    [("ten", "'ten'"), ("-1", "'-1'"), ("nan", "'nan'")],
)
def test_a_bad_max_usd_is_a_usage_error(
    rag_project: pytest.Pytester, value: str, said: str
) -> None:
    rag_project.makepyfile(test_qa=scenario_source())
    result = rag_project.runpytest(f"--ragcost-max-usd={value}")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        f"ERROR: pytest-ragcost: --ragcost-max-usd must be a number of dollars >= 0 "
        f"(got {said}), e.g. --ragcost-max-usd=2.50",
    ])


def test_max_usd_under_xdist_is_checked_before_the_workers_start(
    blessed_half: pytest.Pytester,
) -> None:
    pytest.importorskip("xdist")
    result = blessed_half.runpytest_subprocess("--ragcost", "-n", "2",
                                               "--ragcost-max-usd=0.00001")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["ERROR: pytest-ragcost: the run is estimated at $*, over "
                                 "--ragcost-max-usd=$0.00001 (6 requests*"])
    assert "gw0" not in result.stdout.str()


def test_bad_arguments_and_broken_files_exit_2_with_a_clear_message(
    blessed_half: pytest.Pytester,
) -> None:
    root = blessed_half.path
    done = _cli(root, "estimate", "--bogus")
    assert done.returncode == 2
    assert "unrecognized arguments: --bogus" in done.stderr
    done = _cli(root, "estimate", "--", "--no-such-pytest-option")
    assert done.returncode == 2
    assert done.stderr.startswith("ragcost: estimate: collecting the tests failed (pytest "
                                  "exit code 4):")
    assert "unrecognized arguments: --no-such-pytest-option" in done.stderr
    assert done.stdout == ""

    (root / "ragcost.items.json").write_text('{"version": 1, "scenarios": {"qa-tiny": 3}}')
    done = _cli(root, "estimate", "--json")
    assert done.returncode == 2
    assert "ragcost.items.json" in done.stderr
    assert "scenarios.qa-tiny.items" in done.stderr
    assert "Traceback" not in done.stderr

    blessed_half.makepyfile(test_qa=scenario_source().replace(
        'scenario="qa-tiny"', 'scenario="qa-tiny", request=3'))
    done = _cli(root, "estimate")
    assert done.returncode == 2
    assert "got unknown argument 'request'; valid arguments: scenario, requests" in done.stderr


# -- the pure parts ---------------------------------------------------------------------------

QUESTIONS = ["What is HyDE?", "Which index?"]


def _module_items(ragcost: Any) -> None:
    for _ in ragcost.requests(QUESTIONS, n=1):
        pass


def _fixture_items(ragcost: Any, QUESTIONS: list[str]) -> None:
    for _ in ragcost.requests(QUESTIONS):
        pass


def _with_ids(ragcost: Any) -> None:
    for _ in ragcost.requests(QUESTIONS, id=len):
        pass


def _two_loops(ragcost: Any) -> None:
    for _ in ragcost.requests(QUESTIONS):
        pass
    for _ in ragcost.requests(QUESTIONS):
        pass


def test_the_call_site_names_module_level_items_only() -> None:
    site = call_site(_module_items)
    assert site.items == tuple(QUESTIONS)
    assert site.n == 1
    assert call_site(_fixture_items).items is None  # a parameter, not the module's list
    assert call_site(_with_ids).items is None  # ids from a function: not matched offline
    assert call_site(_two_loops).items is None


def test_an_items_text_and_dollars_as_written() -> None:
    assert text_of("q") == "q"
    assert text_of(("q", "ref")) == "q"
    assert text_of({"question": "q", "id": 3}) == "q"
    assert text_of(7) is None
    assert [money(v) for v in (0, 1e-5, 8.115e-05, 0.5, 1234.5)] == [
        "$0", "$0.00001", "$0.0000811", "$0.50", "$1,234.50"]


def test_the_cap_passes_a_complete_estimate_under_it() -> None:
    total = {"cost_usd": 0.5, "complete": True, "requests": 10, "tokens_total": 100.0}
    assert over_cap(total, 0.5) is None
    assert over_cap(total, 0.49) is not None
    assert over_cap({**total, "complete": False, "unknown_requests": 1}, 5.0) is not None


def _words(text: str, model: str | None) -> int:
    return len(text.split())


def test_an_unmeasured_item_costs_its_words_plus_what_measured_items_spend_beyond_theirs(
) -> None:
    measured = {"tokens_total": 10.0, "cost_usd": 0.001, "cpu_ms": 4.0, "wall_ms": 6.0}
    items = ItemStore({"s": ScenarioItems({content_id("a"): "a"},
                                          {content_id("a"): measured})})
    plan = Planned("s", "t.py::t", requests=None, items=("a", "b b b", 7))
    est = estimate([plan], Sources(items=items), count_tokens=_words).scenarios[0]
    assert (est.requests, est.measured, est.counted, est.unknown) == (3, 1, 1, 1)
    assert est.tokens_total == 10 + (3 + 9)  # "b b b": 3 words + the 9 beyond "a"'s one
    assert est.cost_usd == pytest.approx(0.001 + 0.0001 * 12)  # dollars per token, as measured
    assert est.cpu_s == pytest.approx(0.008)
    assert est.cost_usd_unknown_at_mean == pytest.approx(est.cost_usd / 2)


def test_known_items_without_per_item_baselines_take_the_histories_mean() -> None:
    from datetime import UTC, datetime

    latest = {"s": LatestRun("r1", datetime.now(UTC), 5,
                             {"tokens_total": 100.0, "cost_usd": 0.01, "gpu_ms": 30.0})}
    plan = Planned("s", "t.py::t", requests=None, warmup=1, items=("a", "b"))
    est = estimate([plan], Sources(latest=latest), count_tokens=_words).scenarios[0]
    assert (est.requests, est.warmup, est.measured, est.unknown) == (2, 1, 3, 0)
    assert est.tokens_total == 300
    assert est.gpu_s == pytest.approx(0.09)
    assert est.sources == ("history",)
    unmetered = estimate([plan], Sources(latest=latest), metering=False,
                         count_tokens=_words).scenarios[0]
    assert unmetered.tokens_total == 200  # no warm-up without metering


def test_estimate_of_a_shard_covers_that_slice_only(rag_project: pytest.Pytester) -> None:
    rag_project.makepyfile(test_a=scenario_source("qa-a", func="a"),
                           test_b=scenario_source("qa-b", func="b"))
    first = _estimate(rag_project.path, "--ragcost", "--ragcost-shard=1/2")
    second = _estimate(rag_project.path, "--ragcost", "--ragcost-shard=2/2")
    assert [s["scenario"] for s in first["scenarios"]] == ["qa-a"]
    assert [s["scenario"] for s in second["scenarios"]] == ["qa-b"]
