"""The load driver against Locust, on a Python function: which one loads it honestly?

The stand-in for a pipeline step: about ``--ms`` milliseconds of hashing with hashlib,
C code that releases the GIL, as llama.cpp, torch, numpy and database drivers do, so
threads overlap it on the machine's cores.

It runs at 1 and 4 closed-loop users for ``--seconds``, under ``ragcost.load()`` (a
thread pool, in this process) and under Locust (a subprocess: importing Locust
monkey-patches the standard library through gevent, so it never runs in a pytest
process), and the table gives requests per second and median latency of each. Plus the
driver's own cost per request on an empty function.

    python benchmarks/bench_load_driver.py [--locust-python PATH] [--ms 20] [--seconds 4]
    python -m pytest benchmarks/bench_load_driver.py -p no:ragcost --benchmark-only

Expected, and why it matters: on C work that releases the GIL, 4 Locust users finish
about as many requests per second as 1 (a greenlet blocked in C blocks the one gevent
loop), so Locust reports a pipeline under "4 users" that never had two requests in
flight; the thread driver overlaps them as the service's own worker threads would.
(Waits that gevent patches, such as ``time.sleep`` and sockets, do overlap under Locust;
that is the HTTP case Locust is built for.)
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from pytest_ragcost.record.recorder import Recorder

BLOCK = b"x" * (1 << 20)


def calibrate(ms: float) -> int:
    """How many 1 MiB hashlib passes take about ``ms`` milliseconds here (the fastest of
    several timings: a shared machine only ever makes one slower)."""
    timings = []
    for _ in range(7):
        t0 = time.perf_counter()
        for _ in range(5):
            hashlib.sha256(BLOCK).digest()
        timings.append((time.perf_counter() - t0) / 5)
    return max(1, round(ms / 1000 / min(timings)))


LOCUSTFILE = '''
import hashlib
import time

from locust import User, constant, events, task

BLOCK = b"x" * (1 << 20)
ROUNDS = {rounds}


def work():
    for _ in range(ROUNDS):
        hashlib.sha256(BLOCK).digest()


class FunctionUser(User):
    wait_time = constant(0)

    @task
    def call(self):
        t0 = time.perf_counter()
        exc = None
        try:
            work()
        except Exception as e:
            exc = e
        self.environment.events.request.fire(
            request_type="call", name="c", response_time=(time.perf_counter() - t0) * 1000,
            response_length=0, exception=exc, context={{}},
        )
'''


def ours(fn: Callable[[int], object], users: int, seconds: float) -> tuple[float, float]:
    rec = Recorder(scenario="bench", nodeid="bench", metering=True, meters=None, counter=None)
    report = rec.load(fn, [0], users=users, duration_s=seconds)
    run = rec.finish()
    walls = [r.metrics["wall_ms"] for r in run.requests]
    return report.throughput_rps, statistics.median(walls)


def locust(python: str, rounds: int, users: int, seconds: float) -> tuple[float, float] | None:
    with tempfile.TemporaryDirectory() as tmp:
        lf = Path(tmp) / "locustfile.py"
        lf.write_text(LOCUSTFILE.format(rounds=rounds))
        prefix = Path(tmp) / "out"
        cmd = [
            python, "-m", "locust", "-f", str(lf), "--headless", "-u", str(users),
            "-r", str(users), "-t", f"{seconds:g}s", "--csv", str(prefix), "--only-summary",
            "--loglevel", "ERROR",
        ]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
        stats = prefix.with_name("out_stats.csv")
        if not stats.exists():
            print(f"locust did not run ({done.returncode}): {done.stderr[-400:]}", file=sys.stderr)
            return None
        with stats.open() as fh:
            for row in csv.DictReader(fh):
                if row["Name"] == "Aggregated":
                    return float(row["Requests/s"]), float(row["Median Response Time"])
    return None


def driver_overhead_us(requests: int = 3000) -> float:
    """Per request: the driver's threads, clocks and a child recorder, on an empty call."""
    rec = Recorder(scenario="bench", nodeid="bench", metering=True, meters=None, counter=None)
    t0 = time.perf_counter()
    rec.load(lambda _: None, [0], users=1, requests=requests)
    return (time.perf_counter() - t0) / requests * 1e6


def table(python: str | None, ms: float, seconds: float) -> list[list[str]]:
    rounds = calibrate(ms)

    def c_call(_: int) -> None:
        for _ in range(rounds):
            hashlib.sha256(BLOCK).digest()

    rows = []
    for users in (1, 2, 4):
        rps, p50 = ours(c_call, users, seconds)
        row = [str(users), f"{rps:.1f}", f"{p50:.1f}"]
        got = locust(python, rounds, users, seconds) if python else None
        row += [f"{got[0]:.1f}", f"{got[1]:.0f}"] if got else ["-", "-"]
        rows.append(row)
    return rows


def _locust_python(given: str | None) -> str | None:
    for candidate in (given, os.environ.get("LOCUST_PYTHON"), sys.executable):
        if not candidate:
            continue
        probe = subprocess.run(
            [candidate, "-c", "import locust"], capture_output=True, timeout=60
        )
        if probe.returncode == 0:
            return candidate
    return None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--locust-python", help="a Python with locust installed")
    parser.add_argument("--ms", type=float, default=20.0)
    parser.add_argument("--seconds", type=float, default=4.0)
    args = parser.parse_args(argv)
    python = _locust_python(args.locust_python)
    if python is None:
        print("locust not found: pip install locust, or --locust-python PATH (columns left empty)")
    print(f"cores: {os.cpu_count()}, work per call ~{args.ms:g} ms, {args.seconds:g} s per cell")
    print(f"driver overhead: {driver_overhead_us():.0f} us per request (empty call, 1 user)")
    print()
    print("| users | ragcost.load req/s | p50 ms | Locust req/s | p50 ms |")
    print("|---|---|---|---|---|")
    for row in table(python, args.ms, args.seconds):
        print("| " + " | ".join(row) + " |")


def test_driver_overhead(benchmark: Any, figure: Callable[..., None]) -> None:
    per_us = benchmark.pedantic(driver_overhead_us, args=(500,), rounds=3, iterations=1)
    figure("load driver, per request (empty call)", f"{per_us:.0f} us", "< 200 us", per_us < 200)


def test_threads_overlap_c_work(figure: Callable[..., None]) -> None:
    rounds = calibrate(10)

    def c_call(_: int) -> None:
        for _ in range(rounds):
            hashlib.sha256(BLOCK).digest()

    one, _ = ours(c_call, 1, 1.5)
    four, _ = ours(c_call, 4, 1.5)
    cores = min(os.cpu_count() or 1, 4)
    figure(
        "load driver, 4 users / 1 user on GIL-free C work", f"{four / one:.2f}x",
        f"> 1.3x on {cores} cores" if cores > 1 else "-", four / one > 1.3 if cores > 1 else None,
    )


if __name__ == "__main__":
    main()
