"""Load profiles: ``ragcost.load()`` drives a function under concurrency, ``ragcost.queue()``
measures the app's own pool, and ragcost.yaml gates each load level.

The oracles are queueing facts worked out here, not figures read back from the plugin:

* a closed loop of N users on a service of capacity c and service time S keeps every
  user in the system, so N - c wait at every instant: the time-averaged queue depth is
  N - c, the throughput c / S and the wait before start (N - c) S / c;
* Little's law, L = lambda W, ties the queue depth the gauge integrates over time to the
  throughput and the mean wait, which are measured on other clocks (the driver's);
* an open loop offered twice the capacity builds a backlog: request i (arriving at
  i / rate) finishes at about (i + 1) S, so its latency from its intended start is
  (i + 1) S - i / rate, which a closed loop would hide (coordinated omission).
"""

from __future__ import annotations

import statistics
from pathlib import Path

import pytest
from conftest import read_json, scenario_of

SERVICE = '''
import os
import threading
import time

import pytest

SERVICE_S = float(os.environ.get("SERVICE_S", "0.05"))


class Service:
    """Capacity {capacity}: the app bounds its concurrency with a semaphore."""

    def __init__(self, ragcost):
        self.slots = ragcost.queue(threading.BoundedSemaphore({capacity}), name="service")

    def answer(self, question):
        with self.slots:
            time.sleep(SERVICE_S)
        return question.upper()
'''

CLOSED = SERVICE + '''

@pytest.mark.ragcost(scenario="svc-u{{users}}", load={{"users": "{{users}}"}}, warmup=1)
@pytest.mark.parametrize("users", {levels})
def test_load(ragcost, users):
    service = Service(ragcost)

    def one(question):
        with ragcost.stage("answer") as st:
            text = service.answer(question)
            st.tokens(prompt=question, completion=text, model="gpt-4o-mini")

    report = ragcost.load(one, ["how?", "why?", "when?"], duration_s={duration})
    assert report.throughput_rps > 0
'''


def closed_loop(capacity: int, levels: list[int], duration: float) -> str:
    return CLOSED.format(capacity=capacity, levels=levels, duration=duration)


def test_little_law_and_the_capacity_oracle(rag_project: pytest.Pytester) -> None:
    """Semaphore of 2, 50 ms per request, 8 users: 6 wait at every instant."""
    rag_project.makepyfile(test_load=closed_loop(2, [8], 2.5))
    result = rag_project.runpytest("--ragcost", "--ragcost-json=out.json")
    result.assert_outcomes(passed=1)
    scenario = scenario_of(read_json(rag_project.path / "out.json"), "svc-u8")
    load = scenario["load"]
    waits_ms = [r["metrics"]["wait_ms"] for r in scenario["requests"]]
    throughput = load["throughput_rps"]
    depth = load["queue_depth_mean"]
    # the service time the semaphore's holders saw: wall minus the wait (sleep() overshoots
    # on a busy machine, so the oracles below use it rather than the nominal 50 ms)
    service_ms = statistics.mean(
        r["metrics"]["wall_ms"] - r["metrics"]["wait_ms"] for r in scenario["requests"]
    )
    assert 50.0 <= service_ms < 100.0
    # Little's law (L = lambda W) within 10%: the gauge's time integral against the
    # driver's throughput and the requests' own waits
    assert depth == pytest.approx(throughput * statistics.mean(waits_ms) / 1000, rel=0.10)
    # the closed-loop oracle: N - c = 6 waiting (15%: a user is briefly out of the queue
    # between its return and its next request)
    assert depth == pytest.approx(6.0, rel=0.15)
    # at saturation both slots are always busy: throughput c / S (the utilization law)
    assert throughput == pytest.approx(2 / (service_ms / 1000), rel=0.10)
    # the mean wait before start is (N - c) S / c (not the median: a semaphore is not
    # fair, a releasing user often takes its slot straight back, so waits are bimodal)
    assert statistics.mean(waits_ms) == pytest.approx(6 * service_ms / 2, rel=0.15)
    # every request found the pool full: 2 busy workers
    assert statistics.median(r["metrics"]["active_workers"] for r in scenario["requests"]) == 2
    assert load["queues"][0]["name"] == "service"
    assert load["queues"][0]["queue_depth_max"] <= 6 + 1
    # cost per answer still comes from the stages' tokens
    assert all("cost_usd" in r["metrics"] for r in scenario["requests"])


def test_open_loop_counts_latency_from_the_intended_start(rag_project: pytest.Pytester) -> None:
    """Capacity 1, 50 ms, offered 40 req/s evenly for 30 requests. The service completes
    one request every S whatever the order it picks them in, so the k-th completion is at
    k S and the latencies sum to S (1 + ... + 30) - (0 + ... + 29) / rate."""
    rag_project.makepyfile(
        test_open=SERVICE.format(capacity=1)
        + '''

@pytest.mark.ragcost(scenario="svc-open", load={"rate": 40, "arrival": "uniform", "workers": 8})
def test_open(ragcost):
    service = Service(ragcost)
    ragcost.load(service.answer, ["q"], requests=30)
'''
    )
    result = rag_project.runpytest("--ragcost", "--ragcost-json=out.json")
    result.assert_outcomes(passed=1)
    scenario = scenario_of(read_json(rag_project.path / "out.json"), "svc-open")
    walls = [r["metrics"]["wall_ms"] for r in scenario["requests"]]
    service_ms = 50.0
    expected_mean = (service_ms * sum(range(1, 31)) - 25.0 * sum(range(30))) / 30  # 412.5
    # at least that (a busy machine only slows the service down), and not wildly more
    assert 0.9 * expected_mean <= statistics.mean(walls) <= 2.0 * expected_mean
    assert max(walls) > 10 * service_ms  # a closed loop would report ~50 ms for every request
    assert 10.0 <= scenario["load"]["throughput_rps"] <= 20.5  # one slot of 50 ms
    assert scenario["load"]["offered_rps"] == 40


def test_levels_are_gated_and_shown_against_load(
    rag_project: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 1.5 s a level: enough completions that a 5x slower service is evidence even on the
    # 25% between-run prior that every noisy metric carries
    rag_project.makepyfile(test_load=closed_loop(2, [1, 4], 1.5))
    blessed = rag_project.runpytest("--ragcost", "--ragcost-update")
    blessed.assert_outcomes(passed=2)
    yaml_text = (rag_project.path / "ragcost.yaml").read_text()
    for key in ("svc-u1:", "svc-u4:", "throughput_rps:", "wait_ms:", "timeouts:", "queue_depth:"):
        assert key in yaml_text
    clean = rag_project.runpytest("--ragcost")
    clean.assert_outcomes(passed=2)
    clean.stdout.fnmatch_lines([
        "load profile (wall_ms from each request's intended start*",
        "*scenario*level*n*wall_ms p50/p95*wait_ms p50/p95*queue*req/s*cost_usd/answer*",
        "*svc-u1*u1*",
        "*svc-u4*u4*",
    ])
    # the service slows down five times over: throughput under load falls, which fails
    monkeypatch.setenv("SERVICE_S", "0.25")
    slow = rag_project.runpytest("--ragcost")
    assert slow.ret == 1
    slow.stdout.fnmatch_lines(["*throughput_rps: * req/s vs baseline * fell by more than*"])


def test_a_throughput_budget_is_a_floor(rag_project: pytest.Pytester) -> None:
    """Capacity 1 at 50 ms serves at most 20 req/s: a floor of 5 holds, one of 60 fails."""
    rag_project.makepyfile(test_load=closed_loop(1, [1, 2], 0.5))
    rag_project.makefile(
        ".yaml",
        ragcost="version: 1\nscenarios:\n"
        "  svc-u1:\n    throughput_rps: {budget: 5}\n"
        "  svc-u2:\n    throughput_rps: {budget: 60}\n",
    )
    result = rag_project.runpytest("--ragcost")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*throughput_rps: * req/s below the floor 60 req/s*"])
    result.stdout.no_fnmatch_line("*svc-u1*FAIL*")


def test_errors_and_timeouts_are_counted_per_level(rag_project: pytest.Pytester) -> None:
    rag_project.makepyfile(
        test_flaky='''
import time
import pytest

@pytest.mark.ragcost(scenario="flaky", load={"users": 2, "timeout_s": 0.03})
def test_flaky(ragcost):
    def one(i):
        if i % 4 == 0:
            raise ConnectionError("upstream closed")
        time.sleep(0.05 if i % 4 == 1 else 0.001)

    report = ragcost.load(one, list(range(8)))
    # the two slow calls ran past timeout_s: abandoned, so errors as well as timeouts
    assert report["errors"] == 4 and report["timeouts"] == 2
'''
    )
    rag_project.makefile(
        ".yaml", ragcost="version: 1\nscenarios:\n  flaky:\n    errors: {budget: 0, stat: total}\n"
    )
    result = rag_project.runpytest("--ragcost", "--ragcost-json=out.json")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*errors (total): 4*over budget 0*"])
    scenario = scenario_of(read_json(rag_project.path / "out.json"), "flaky")
    assert sum(r["metrics"]["timeouts"] for r in scenario["requests"]) == 2
    assert scenario["load"]["first_errors"][0] == "ConnectionError: upstream closed"


def test_without_ragcost_the_load_still_runs(rag_project: pytest.Pytester) -> None:
    rag_project.makepyfile(test_load=closed_loop(2, [2], 0.3))
    rag_project.runpytest().assert_outcomes(passed=1)


def test_a_bad_load_marker_stops_the_run_and_says_what_to_write(
    rag_project: pytest.Pytester,
) -> None:
    rag_project.makepyfile(
        test_bad='''
import pytest

@pytest.mark.ragcost(scenario="bad", load={"users": 2, "rate": 1.0})
def test_bad(ragcost):
    ragcost.load(print, [1])
'''
    )
    result = rag_project.runpytest("--ragcost")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([
        "*test_bad.py::test_bad: @pytest.mark.ragcost: load: give exactly one of users=N "
        "(closed loop: N concurrent users) or rate=R (open loop: R requests per second)*"
    ])
    result.stderr.no_fnmatch_line("*Traceback*")


@pytest.mark.parametrize(
    ("level", "message"),
    [
        ({"user": 2}, "load: unknown key 'user'; valid keys: users, rate, requests,"),
        ({"users": 0}, "load: users must be a whole number >= 1 (got 0)"),
        ({"rate": float("nan")}, "load: rate must be a number > 0 (got nan)"),
        ({"users": 2, "workers": 4}, "load: workers caps an open loop's requests in flight"),
        ({"rate": 1, "arrival": "bursty"}, "load: arrival must be one of poisson, uniform"),
    ],
)
def test_load_levels_are_checked(level: dict[str, object], message: str) -> None:
    from pytest_ragcost.load import LoadSpecError, parse

    with pytest.raises(LoadSpecError) as info:
        parse(level)
    assert str(info.value).startswith(message)


def test_misuse_of_load_and_queue_is_explained(rag_project: pytest.Pytester) -> None:
    rag_project.makepyfile(
        test_misuse='''
import pytest

@pytest.mark.ragcost(scenario="twice")
def test_twice(ragcost):
    ragcost.load(print, [1], users=1)
    ragcost.load(print, [1], users=2)

@pytest.mark.ragcost(scenario="pool")
def test_pool(ragcost):
    ragcost.queue(object())

@pytest.mark.ragcost(scenario="nested")
def test_nested(ragcost):
    def one(item):
        for _ in ragcost.requests([item]):
            pass
    ragcost.load(one, [1], users=1)
'''
    )
    result = rag_project.runpytest("--ragcost")
    result.assert_outcomes(failed=3)
    result.stdout.fnmatch_lines([
        "*ragcost.load() runs one load level per test*",
        "*ragcost.queue() measures a concurrent.futures.Executor or a threading.Semaphore*",
        "*ragcost.requests() cannot be used in a test that calls ragcost.load()*",
    ])


def test_an_executor_pool_records_the_wait_of_each_request(tmp_path: Path) -> None:
    """Two pool threads, each request fans out four 20 ms tasks: with two users the pool
    holds up to eight tasks, and tasks past the first two wait."""
    import time
    from concurrent.futures import ThreadPoolExecutor

    from pytest_ragcost.record.recorder import Recorder

    rec = Recorder(scenario="fan", nodeid="fan", metering=True)
    with ThreadPoolExecutor(max_workers=2) as inner:
        pool = rec.queue(inner, name="embed-pool")

        def one(_: int) -> None:
            futures = [pool.submit(time.sleep, 0.02) for _ in range(4)]
            for f in futures:
                f.result()

        report = rec.load(one, [0, 1, 2, 3], users=2, requests=6)
    run = rec.finish()
    assert len(run.requests) == 6
    assert all(r.metrics["wait_ms"] > 0 for r in run.requests)
    assert max(r.metrics["queue_depth"] for r in run.requests) >= 3
    queue = report["queues"][0]
    assert queue["name"] == "embed-pool"
    assert queue["entered"] == 24
    assert queue["active_workers_mean"] <= 2.0 + 1e-6
    # Little's law over the pool: depth = task arrival rate x mean wait of a task
    rate = 24 / report["elapsed_s"]
    assert queue["queue_depth_mean"] == pytest.approx(rate * queue["wait_ms_mean"] / 1000, rel=0.15)


def test_no_more_threads_start_than_requests_are_asked_for(rag_project: pytest.Pytester) -> None:
    rag_project.makepyfile(
        test_many='''
import threading
import pytest

@pytest.mark.ragcost(scenario="many-{users}")
@pytest.mark.parametrize("users", [10**5, 10**9])
def test_many(ragcost, users, monkeypatch):
    started = []
    start = threading.Thread.start

    def counted(thread):
        started.append(thread.name)
        start(thread)

    monkeypatch.setattr(threading.Thread, "start", counted)
    report = ragcost.load(lambda i: None, [1, 2, 3], users=users, requests=5)
    assert report["requests"] == 5
    assert len(started) <= 5, len(started)
'''
    )
    result = rag_project.runpytest_subprocess("--ragcost", "-p", "no:randomly", timeout=120)
    result.assert_outcomes(passed=2)


def test_a_level_past_the_thread_cap_is_a_usage_error(rag_project: pytest.Pytester) -> None:
    rag_project.makepyfile(
        test_cap='''
import pytest

@pytest.mark.ragcost(scenario="crowd")
def test_crowd(ragcost):
    ragcost.load(lambda i: None, [1], users=5000, duration_s=0.5)

@pytest.mark.ragcost(scenario="flood")
def test_flood(ragcost):
    ragcost.load(lambda i: None, [1], rate=1e9, duration_s=10, workers=2)
'''
    )
    result = rag_project.runpytest_subprocess("--ragcost", timeout=120)
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines([
        "*ragcost.load(): users=5000 would start 5,000 driver threads; at most 1,024 are "
        "allowed*",
        "*ragcost.load(): rate=1e+09 for duration_s=10 plans 10,000,000,000 requests; at "
        "most 1,000,000 are allowed*",
    ])
    result.stdout.no_fnmatch_line("*Traceback*")


def test_a_hung_call_is_abandoned_at_its_timeout(rag_project: pytest.Pytester) -> None:
    rag_project.makepyfile(
        test_hung='''
import threading
import time
import pytest

NEVER = threading.Event()

@pytest.mark.ragcost(scenario="hung", load={"users": 2, "timeout_s": 0.2})
def test_hung(ragcost):
    def one(i):
        with ragcost.stage("call"):
            if i == 1:
                NEVER.wait(600)
            else:
                time.sleep(0.01)
        ragcost.sample(question=str(i), answer="a")

    t0 = time.monotonic()
    report = ragcost.load(one, [0, 1, 2, 3], requests=6)
    assert time.monotonic() - t0 < 10
    assert report["requests"] == 6
    assert report["timeouts"] == 2 and report["errors"] == 2
'''
    )
    result = rag_project.runpytest_subprocess("--ragcost", "--ragcost-json=out.json",
                                              timeout=90)
    result.assert_outcomes(passed=1)
    scenario = scenario_of(read_json(rag_project.path / "out.json"), "hung")
    requests = scenario["requests"]
    assert len(requests) == 6
    hung = [r for r in requests if r["metrics"]["timeouts"] == 1]
    assert len(hung) == 2
    for r in hung:
        assert r["error"].startswith("TimeoutError: the call ran past timeout_s=0.2 s")
        assert r["metrics"]["errors"] == 1
        assert 180 <= r["metrics"]["wall_ms"] < 5000
        assert r["stages"] == []  # its stage never closed
    done = [r for r in requests if r["metrics"]["timeouts"] == 0]
    assert all(r["stages"][0]["name"] == "call" and "error" not in r for r in done)
    # the abandoned calls never reached their sample; the others did, on their own trace
    assert sorted(s["question"] for s in scenario["samples"]) == ["0", "0", "2", "3"]
    assert {s["trace_id"] for s in scenario["samples"]} <= {r["trace_id"] for r in done}
