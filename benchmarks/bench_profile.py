"""Stage profiles: which sampler, at what cost, and does it find a 3 ms function inside a
10 ms stage?

Run:  python benchmarks/bench_profile.py            (about a minute on 2 cores)
      python benchmarks/bench_profile.py --quick    (a smoke run)
      python -m pytest -p no:ragcost benchmarks/bench_profile.py   (the quick run, with
                                                    its figures in the benchmark table)

The workload: requests of one ``retrieve`` stage doing a fixed amount of CPU work (not a
fixed time, so any overhead shows as a longer run): ``other()`` about 7 ms, then
``hot()`` about 3 ms, sized on this machine first. The true share of ``hot`` is measured
with clocks around its calls in the unprofiled arm.

Arms, alternating within each round so the shared machine's load falls on all alike:

- **none**: the recorder with no sampler;
- **thread** at 1 ms, 2 ms and 5 ms (the default): pytest-ragcost's sampler (a thread
  reading ``sys._current_frames()``, jittered, samples weighted by wall time);
- **setitimer** at 1 ms: a ``SIGPROF`` handler (process CPU time) recording the main
  thread's stack, the in-process alternative;
- **py-spy** at 1000 Hz, when ``py-spy`` is on PATH: the same workload in a subprocess
  sampled from outside, against the same subprocess unprofiled, alternating (it needs
  ptrace: the line above the table says whether it could attach here).

Per arm: the overhead (median over rounds of its run time over the unprofiled run time
of the same round; in wall time, and in the process's CPU time, the sampler's own work
included: the steadier figure on a busy shared machine), the samples per second of
stage time, and ``hot``'s share of the stage's sampled time against its share by clocks
in the same runs.
"""

from __future__ import annotations

import argparse
import collections
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pytest_ragcost.profile import Sampler  # noqa: E402
from pytest_ragcost.record.recorder import Recorder  # noqa: E402

HOT_MS, OTHER_MS = 3.0, 7.0


def burn(units: int) -> int:
    x = 0
    for i in range(units):
        x = (x * 31 + i) % 1000003
    return x


def units_per_ms() -> float:
    """burn() units per millisecond here (the fastest of several tries: the least
    disturbed by the neighbours)."""
    best = float("inf")
    for _ in range(7):
        t0 = time.perf_counter()
        burn(200_000)
        best = min(best, time.perf_counter() - t0)
    return 200_000 / (best * 1000)


@dataclass
class Work:
    hot_units: int
    other_units: int
    hot_ns: int = 0

    def other(self) -> None:
        burn(self.other_units)

    def hot(self) -> None:
        t0 = time.perf_counter_ns()
        burn(self.hot_units)
        self.hot_ns += time.perf_counter_ns() - t0

    def retrieve(self) -> None:
        self.other()
        self.hot()


#: process CPU seconds of the last run_requests() call (the sampler thread's included)
LAST_CPU_S = [0.0]


def run_requests(work: Work, n: int) -> tuple[float, float]:
    """Wall seconds of ``n`` recorded requests, and the stage's total wall ms."""
    work.hot_ns = 0
    rec = Recorder(scenario="bench", nodeid="bench", metering=True)
    t0, c0 = time.perf_counter(), time.process_time()
    for _ in rec.requests(range(n)):
        with rec.stage("retrieve"):
            work.retrieve()
    took = time.perf_counter() - t0
    LAST_CPU_S[0] = time.process_time() - c0
    run = rec.finish()
    stage_ms = sum(st.metrics.get("wall_ms", 0.0) for r in run.requests for st in r.stages)
    return took, stage_ms


@dataclass
class Detection:
    samples: int
    hot_weight: float  # share of the stage's sampled time in hot()
    true: float = 0.0  # hot()'s share of the stage's wall time in the same run, by clocks


def thread_arm(interval_ms: float) -> Callable[[Work, int], tuple[float, Detection]]:
    def arm(work: Work, n: int) -> tuple[float, Detection]:
        sampler = Sampler("bench", interval_ms).start()
        took, stage_ms = run_requests(work, n)
        prof = sampler.stop(n)
        true = work.hot_ns / 1e6 / stage_ms
        sp = prof.stages.get("retrieve")
        if sp is None:
            return took, Detection(0, 0.0, true)
        total = sp.total_ms or 1.0
        hot = sum(ms for stack, ms in sp.stacks.items() if any(f.function.endswith("hot")
                                                                for f in stack))
        return took, Detection(sp.samples, hot / total, true)

    return arm


def itimer_arm(work: Work, n: int) -> tuple[float, Detection]:
    counts: collections.Counter[str] = collections.Counter()

    def handler(signum: int, frame: FrameType | None) -> None:
        f = frame
        names = set()
        while f is not None:
            names.add(f.f_code.co_name)
            f = f.f_back
        if "retrieve" in names:
            counts["hot" if "hot" in names else "stage"] += 1

    old = signal.signal(signal.SIGPROF, handler)
    signal.setitimer(signal.ITIMER_PROF, 0.001, 0.001)
    try:
        took, stage_ms = run_requests(work, n)
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0, 0)
        signal.signal(signal.SIGPROF, old)
    total = sum(counts.values()) or 1
    return took, Detection(sum(counts.values()), counts["hot"] / total,
                           work.hot_ns / 1e6 / stage_ms)


PYSPY_WORKLOAD = '''
import sys, time
sys.path.insert(0, {root!r})
sys.path.insert(0, {bench!r})
from bench_profile import Work, run_requests
work = Work({hot}, {other})
took, _ = run_requests(work, {n})
print(took)
'''


def pyspy_arm(work: Work, n: int, tmp: Path, rounds: int) -> tuple[float | None, float | None,
                                                        Detection | None, str]:
    """(unprofiled s, profiled s, detection, note) of the workload in a subprocess."""
    exe = shutil.which("py-spy")
    if exe is None:
        return None, None, None, "py-spy is not on PATH (pip install py-spy)"
    script = tmp / "workload.py"
    script.write_text(textwrap.dedent(PYSPY_WORKLOAD.format(
        root=str(ROOT), bench=str(Path(__file__).parent), hot=work.hot_units,
        other=work.other_units, n=n)))
    def took(stdout: str) -> float:
        return float(next(line for line in stdout.splitlines()
                          if line.strip() and not line.startswith("py-spy>")))

    out = tmp / "raw.txt"
    plains, profiled = [], []
    stage = hot = 0
    for _ in range(rounds):
        plain = subprocess.run([sys.executable, str(script)], capture_output=True, text=True,
                               check=False)
        plains.append(took(plain.stdout))
        done = subprocess.run([exe, "record", "-r", "1000", "-f", "raw", "-o", str(out), "--",
                               sys.executable, str(script)], capture_output=True, text=True,
                              check=False)
        if done.returncode != 0 or not out.exists():
            why = (done.stderr.strip().splitlines() or ["no output"])[-1]
            return None, None, None, f"py-spy could not sample here: {why}"
        profiled.append(took(done.stdout))
        for line in out.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            if "retrieve (" in stack:
                stage += int(count)
                if "hot (" in stack:
                    hot += int(count)
    share = hot / stage if stage else 0.0
    return (statistics.median(plains), statistics.median(profiled),
            Detection(stage // rounds, share),
            "it could attach here (root with CAP_SYS_PTRACE; a container without that "
            "capability refuses it)")


def study(rounds: int, n: int) -> tuple[list[list[str]], dict[str, Any]]:
    rate = units_per_ms()
    work = Work(int(HOT_MS * rate), int(OTHER_MS * rate))
    arms: dict[str, Callable[[Work, int], tuple[float, Detection]]] = {
        "thread, 1 ms": thread_arm(1.0),
        "thread, 2 ms": thread_arm(2.0),
        "thread, 5 ms (default)": thread_arm(5.0),
        "setitimer SIGPROF, 1 ms": itimer_arm,
    }
    ratios: dict[str, list[float]] = {k: [] for k in arms}
    cpu_ratios: dict[str, list[float]] = {k: [] for k in arms}
    found: dict[str, list[Detection]] = {k: [] for k in arms}
    stage_s: list[float] = []
    true_share: list[float] = []
    for rnd in range(rounds):
        order = list(arms)
        if rnd % 2:
            order.reverse()
        base, stage_ms = run_requests(work, n)
        base_cpu = LAST_CPU_S[0]
        true_share.append(work.hot_ns / 1e6 / stage_ms)
        stage_s.append(stage_ms / 1000)
        for name in order:
            took, det = arms[name](work, n)
            ratios[name].append(took / base)
            cpu_ratios[name].append(LAST_CPU_S[0] / base_cpu)
            found[name].append(det)
    rows = []
    for name in arms:
        dets = found[name]
        rows.append([
            name, f"{(statistics.median(ratios[name]) - 1) * 100:+.1f}%",
            f"{(statistics.median(cpu_ratios[name]) - 1) * 100:+.1f}%",
            f"{statistics.median(d.samples for d in dets) / statistics.median(stage_s):.0f}",
            f"{statistics.median(d.hot_weight for d in dets) * 100:.1f}%",
            f"{statistics.median(d.true for d in dets) * 100:.1f}%",
            f"{statistics.median(abs(d.hot_weight - d.true) for d in dets) * 100:.1f}",
        ])
    with tempfile.TemporaryDirectory() as tmp:
        plain, profiled, det, note = pyspy_arm(work, n, Path(tmp), rounds)
    if det is not None and plain and profiled:
        rows.append(["py-spy record, 1000 Hz (subprocess)", f"{(profiled / plain - 1) * 100:+.1f}%",
                     "(outside)",
                     f"{det.samples / statistics.median(stage_s):.0f}",
                     f"{det.hot_weight * 100:.1f}%", "-", "(pooled)"])
    figures = {
        "true_share": statistics.median(true_share),
        "overhead_default": statistics.median(ratios["thread, 5 ms (default)"]) - 1,
        "cpu_overhead_default": statistics.median(cpu_ratios["thread, 5 ms (default)"]) - 1,
        "share_default": statistics.median(d.hot_weight for d in found["thread, 5 ms (default)"]),
        "true_default": statistics.median(d.true for d in found["thread, 5 ms (default)"]),
        "pyspy": note,
    }
    return rows, figures


def report(rounds: int, n: int) -> dict[str, Any]:
    from tabulate import tabulate

    t0 = time.perf_counter()
    rows, figures = study(rounds, n)
    print("# Stage profiles: overhead and detection of a 3 ms function in a 10 ms stage\n")
    print(f"{rounds} rounds of {n} requests per arm, arms alternating; hot()'s share of the "
          f"stage by clocks around its calls, unprofiled: {figures['true_share'] * 100:.1f}%. "
          f"py-spy: {figures['pyspy']}. Python {sys.version.split()[0]}, "
          f"{os.cpu_count()} CPUs.\n")
    print(tabulate(rows, headers=["sampler", "wall overhead", "CPU overhead",
                                  "samples per s of stage",
                                  "hot() share sampled", "true (same runs)",
                                  "median error, points"], tablefmt="github"))
    print(f"\n(took {time.perf_counter() - t0:.0f} s)")
    return figures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args(argv)
    report(3 if args.quick else 9, 60 if args.quick else 150)
    return 0


def test_profile_overhead_and_detection(benchmark: Any, figure: Any) -> None:
    figures = benchmark.pedantic(lambda: report(3, 60), rounds=1, iterations=1)
    over, cpu = figures["overhead_default"], figures["cpu_overhead_default"]
    figure("profile: thread sampler overhead at 5 ms", f"wall {over * 100:+.1f}%, CPU "
           f"{cpu * 100:+.1f}%", "<= 5%", cpu <= 0.05)
    share, true = figures["share_default"], figures["true_default"]
    figure("profile: share of a 3 ms function in a 10 ms stage", f"{share * 100:.0f}% "
           f"(true {true * 100:.0f}%)", "found, within 10 points", abs(share - true) <= 0.10)


if __name__ == "__main__":
    raise SystemExit(main())
