"""What metering costs per request, as a user's test sees it: ``--ragcost`` on against off.

    python benchmarks/bench_request_overhead.py [--rounds 7] [--requests 2000]
                                                [--before REF] [--no-burner]

An inner ``pytest`` run (a fresh process, the plugin loaded as users load it) runs one test
of ``--requests`` requests, each of two stages of half a millisecond of work (a stand-in
for a pipeline's steps: by default a sleep, as when waiting on a remote model; ``--work
spin`` busy-waits instead), and times its own loop: the in-test time, without
pytest's start-up or the end-of-run reports. Each round runs the test with ``--ragcost``
and without, in alternating order, so drift hits both; the overhead of a round is the
difference per request, and the figures are medians over the rounds.

The same rounds run the code of ``--before`` (default: the 0.1.0 commit, when this is a
git checkout that has it) beside today's, interleaved, for the before figure; then
everything again beside a CPU burner (a busy Python process this script starts and
stops), since CI machines are rarely quiet. The target: at most 20 us per request of two
stages, quiet and loaded.

``--work spin`` is a busy wait on the wall clock: it takes the same wall time whether or
not the process is preempted during it, so beside a burner it charges to metering every
preemption that lands in metering code. Reading the process's CPU clock (a stage's
``cpu_ms``) enters the kernel, whose scheduler then ends a used-up time slice right there
rather than at its next tick, inside the metering code: under contention that figure is
dominated by the burner's time slices, for any version that reads CPU time per stage.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
#: the commit whose CHANGELOG closed 0.1.0 (no tag was made for it)
V010 = "5dc9895"
TARGET_US = 20.0

TEST_FILE = '''
import json
import os
import time


def spin(seconds):
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


work = time.sleep if os.environ["BENCH_WORK"] == "sleep" else spin


def test_overhead(ragcost):
    n = int(os.environ["BENCH_REQUESTS"])
    half_s = float(os.environ["BENCH_WORK_MS"]) / 2000
    c0 = time.process_time_ns()
    t0 = time.perf_counter_ns()
    for _ in ragcost.requests(range(n)):
        with ragcost.stage("retrieve") as st:
            work(half_s)
            st.count(chunks=8)
        with ragcost.stage("generate") as st:
            work(half_s)
            st.tokens(prompt=412, completion=38)
    t1 = time.perf_counter_ns()
    c1 = time.process_time_ns()
    with open(os.environ["BENCH_OUT"], "w") as out:
        json.dump({"ns": t1 - t0, "cpu_ns": c1 - c0, "n": n}, out)
'''


BURNER = """
import os, sys
parent = int(sys.argv[1])
while os.getppid() == parent:
    for _ in range(100_000):
        pass
"""


@dataclass(frozen=True)
class Variant:
    name: str
    pythonpath: Path


def export_ref(ref: str, into: Path) -> Path | None:
    """The package as it was at ``ref`` (``git archive``), or None when it is not here."""
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", "--format=tar", ref, "pytest_ragcost"],
        capture_output=True, check=False,
    )
    if archive.returncode != 0:
        return None
    into.mkdir(parents=True)
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive.stdout, check=True)
    return into


def run_once(variant: Variant, metered: bool, project: Path, requests: int,
             work_ms: float, work: str) -> tuple[float, float]:
    """In-test wall and CPU nanoseconds per request of one inner pytest run."""
    out = project / "figure.json"
    env = {
        **os.environ,
        "PYTHONPATH": str(variant.pythonpath),
        "BENCH_REQUESTS": str(requests),
        "BENCH_WORK_MS": str(work_ms),
        "BENCH_WORK": work,
        "BENCH_OUT": str(out),
    }
    for name in ("PYTEST_ADDOPTS", "PYTEST_XDIST_WORKER", "PYTEST_XDIST_WORKER_COUNT", "CI",
                 "GITHUB_STEP_SUMMARY"):
        env.pop(name, None)
    args = [sys.executable, "-m", "pytest", "test_overhead.py", "-p", "no:randomly",
            "-p", "no:cacheprovider"]
    if metered:
        args.append("--ragcost")
    done = subprocess.run(args, cwd=project, env=env, capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        sys.exit(f"the inner run of {variant.name} (--ragcost {'on' if metered else 'off'}) "
                 f"failed with exit {done.returncode}:\n{done.stdout[-3000:]}{done.stderr}")
    figure = json.loads(out.read_text())
    n = float(figure["n"])
    return float(figure["ns"]) / n, float(figure["cpu_ns"]) / n


@contextmanager
def burner(on: bool) -> Iterator[None]:
    """A busy Python process beside the runs, stopped on the way out."""
    if not on:
        yield
        return
    # it stops by itself when this script is gone, however this script ends
    proc = subprocess.Popen([sys.executable, "-c", BURNER, str(os.getpid())])
    try:
        yield
    finally:
        proc.kill()
        proc.wait()


@dataclass(frozen=True)
class Row:
    variant: str
    off_us: float
    on_us: float
    overhead_us: float
    overhead_min_us: float
    overhead_max_us: float
    ratio: float
    cpu_added_us: float


def measure(variants: Sequence[Variant], project: Path, rounds: int, requests: int,
            work_ms: float, work: str) -> list[Row]:
    per: dict[str, dict[str, list[float]]] = {
        v.name: {"off": [], "on": [], "cpu_off": [], "cpu_on": []} for v in variants
    }
    for r in range(rounds):
        for variant in variants:
            order = (False, True) if r % 2 == 0 else (True, False)
            for metered in order:
                ns, cpu_ns = run_once(variant, metered, project, requests, work_ms, work)
                per[variant.name]["on" if metered else "off"].append(ns / 1000)
                per[variant.name]["cpu_on" if metered else "cpu_off"].append(cpu_ns / 1000)
        print(f"  round {r + 1}/{rounds} done", file=sys.stderr)
    rows = []
    for variant in variants:
        off, on = per[variant.name]["off"], per[variant.name]["on"]
        diffs = [b - a for a, b in zip(off, on, strict=True)]
        ratios = [b / a for a, b in zip(off, on, strict=True)]
        cpu = [b - a for a, b in zip(per[variant.name]["cpu_off"], per[variant.name]["cpu_on"],
                                     strict=True)]
        rows.append(Row(variant.name, statistics.median(off), statistics.median(on),
                        statistics.median(diffs), min(diffs), max(diffs),
                        statistics.median(ratios), statistics.median(cpu)))
    return rows


def table(title: str, rows: Sequence[Row]) -> str:
    lines = [title, ""]
    head = (f"{'code':<10}{'off us/req':>12}{'on us/req':>12}{'added us/req':>14}"
            f"{'range':>18}{'ratio on/off':>14}{'target':>10}{'CPU added us/req':>18}")
    lines.append(head)
    for row in rows:
        spread = f"{row.overhead_min_us:.1f} .. {row.overhead_max_us:.1f}"
        verdict = "met" if row.overhead_us <= TARGET_US else "MISSED"
        lines.append(f"{row.variant:<10}{row.off_us:>12.1f}{row.on_us:>12.1f}"
                     f"{row.overhead_us:>14.1f}{spread:>18}{row.ratio:>14.4f}{verdict:>10}"
                     f"{row.cpu_added_us:>18.1f}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--work-ms", type=float, default=1.0,
                        help="busy work per request, split over its two stages")
    parser.add_argument("--work", choices=("sleep", "spin"), default="sleep",
                        help="the stages' work: sleep (waiting on a remote model, the default) "
                             "or spin (busy on the CPU until the wall clock says done)")
    parser.add_argument("--before", default=V010,
                        help="a git ref to measure beside today's code ('none': skip)")
    parser.add_argument("--no-burner", action="store_true",
                        help="measure on the quiet machine only")
    opts = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ragcost-overhead-") as tmp:
        base = Path(tmp)
        project = base / "project"
        project.mkdir()
        (project / "test_overhead.py").write_text(TEST_FILE)
        (project / "pytest.ini").write_text("[pytest]\n")
        variants = [Variant("today", ROOT)]
        if opts.before != "none":
            old = export_ref(opts.before, base / "before")
            if old is None:
                print(f"note: {opts.before} is not reachable here; measuring today's code "
                      "only", file=sys.stderr)
            else:
                variants.append(Variant(opts.before, old))
        # one unmeasured run per variant: the page cache and .pyc files, not metering
        for variant in variants:
            run_once(variant, True, project, 50, opts.work_ms, opts.work)
        print(f"# metering overhead: {opts.requests} requests of two stages, "
              f"{opts.work_ms:g} ms of work ({opts.work}) each, {opts.rounds} rounds, on/off "
              f"alternated, {os.cpu_count()} cores\n")
        conditions = [("quiet", False)] + ([] if opts.no_burner else [("CPU burner", True)])
        for title, load in conditions:
            print(f"measuring: {title}", file=sys.stderr)
            with burner(load):
                rows = measure(variants, project, opts.rounds, opts.requests, opts.work_ms,
                               opts.work)
            print(table(f"## {title}", rows))
            print()
        shutil.rmtree(project / ".ragcost", ignore_errors=True)
    print("added us/req: median over rounds of (on - off) in-test time per request; range:"
          " its smallest and largest round; target: added at most "
          f"{TARGET_US:g} us per request. CPU added: the same for the process's CPU time "
          "in the test, which preemption by other processes does not inflate")
    return 0


if __name__ == "__main__":
    sys.exit(main())
