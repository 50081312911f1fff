"""Change points over run histories: ruptures against Apache Otava (and the hand-written
rule they replace), on series with known shifts and this machine's run-to-run noise.

Run:  python benchmarks/study_change_points.py            (about two minutes on 2 cores)
      python benchmarks/study_change_points.py --quick    (a smoke run)

What a history series looks like: one value per run, oldest first. The series here:

- **time** (``wall_ms``, noisy): this machine's own run-to-run noise, measured first. The
  study runs a fixed CPU workload as 250 "runs" of 10 requests each (about 10 ms a
  request) and keeps each run's mean: real scheduler, frequency and neighbour noise of
  the shared machine, with its bursts and its autocorrelation. A series is a contiguous
  block of those run means, scaled to 100 ms; a shift multiplies the runs from a random
  position on (10%, 20%, 50%), or goes up 20% and back down later (two changes).
- **quality** (a RAGAS-like score, noisy): the mean over 40 questions of per-question
  scores (each question a fixed Beta-distributed quality plus a judge's noise, sd 0.1),
  dropping by 0.03 or 0.05 from a random position on.
- **tokens** and **dollars** (exact): the same count every run (3104 context tokens;
  dollars priced from them), rising 8% from a random position on.

Per candidate and series kind: how often the true change was found (within one run for
noisy series, exactly for exact ones), the false alarms per series (change points that
are not a true change), the share of unchanged series with any false alarm, and the
time per series. Candidates: the shipped rule (ruptures PELT, L2 cost, penalty
``PENALTY_PER_LOG_N * log n`` in noise units) and other penalties, ruptures' binary
segmentation with the same penalty, Apache Otava's ``compute_change_points`` (its
default ``max_pvalue`` 0.001, and 0.01), and the hand-written binary segmentation that
report/trends.py had. A candidate whose package is missing is skipped with a line
saying so (``pip install ruptures apache-otava`` for all).
"""

from __future__ import annotations

import argparse
import math
import random
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pytest_ragcost.history import changepoints  # noqa: E402

Detector = Callable[[Sequence[float]], list[int]]


# --------------------------------------------------------------------------- the machine


def burn(units: int) -> int:
    x = 0
    for i in range(units):
        x = (x * 31 + i) % 1000003
    return x


def machine_runs(runs: int, requests: int = 10) -> list[float]:
    """Mean wall time of ``requests`` fixed-work requests, per run, measured here."""
    units = 1
    while True:  # size the work to about 10 ms a request on this machine
        t0 = time.perf_counter()
        burn(units)
        if time.perf_counter() - t0 > 0.010:
            break
        units *= 2
    out = []
    for _ in range(runs):
        walls = []
        for _ in range(requests):
            t0 = time.perf_counter_ns()
            burn(units)
            walls.append((time.perf_counter_ns() - t0) / 1e6)
        out.append(statistics.fmean(walls))
        time.sleep(0.01)  # a gap between runs, as between CI jobs
    return out


# --------------------------------------------------------------------------- series


@dataclass(frozen=True)
class Case:
    kind: str
    shift: str
    n: int
    make: Callable[[random.Random], tuple[list[float], list[int]]]
    exact: bool = False


def time_case(noise: Sequence[float], n: int, factors: Sequence[float],
              ordered: bool = False) -> Case:
    med = statistics.median(noise)

    def make(rng: random.Random) -> tuple[list[float], list[int]]:
        if ordered:
            start = rng.randrange(0, len(noise) - n)
            drawn = list(noise[start:start + n])
        else:
            drawn = rng.sample(list(noise), n)
        base = [100.0 * v / med for v in drawn]
        truth: list[int] = []
        if len(factors) == 1 and factors[0] != 1.0:
            at = rng.randrange(n // 4, 3 * n // 4)
            base = [v * (factors[0] if i >= at else 1.0) for i, v in enumerate(base)]
            truth = [at]
        elif len(factors) == 2:  # up, then back down
            a = rng.randrange(n // 5, 2 * n // 5)
            b = rng.randrange(3 * n // 5, 4 * n // 5)
            base = [v * (factors[0] if a <= i < b else 1.0) for i, v in enumerate(base)]
            truth = [a, b]
        return base, truth

    shift = ("none" if factors == (1.0,) else
             f"+{(factors[0] - 1) * 100:.0f}% then back" if len(factors) == 2 else
             f"+{(factors[0] - 1) * 100:.0f}%")
    kind = "time (wall_ms), in measured order" if ordered else "time (wall_ms)"
    return Case(kind, shift, n, make)


def quality_case(n: int, drop: float) -> Case:
    def make(rng: random.Random) -> tuple[list[float], list[int]]:
        questions = [rng.betavariate(8, 2) for _ in range(40)]
        at = rng.randrange(n // 4, 3 * n // 4) if drop else n
        values = []
        for i in range(n):
            lowered = drop if i >= at else 0.0
            scores = [min(1.0, max(0.0, q - lowered + rng.gauss(0.0, 0.1))) for q in questions]
            values.append(statistics.fmean(scores))
        return values, ([at] if drop else [])

    return Case("quality (score)", f"-{drop:.2f}" if drop else "none", n, make)


def exact_case(kind: str, n: int, level: float, rise: float) -> Case:
    def make(rng: random.Random) -> tuple[list[float], list[int]]:
        at = rng.randrange(n // 4, 3 * n // 4) if rise else n
        return [level * (1 + rise) if i >= at else level for i in range(n)], (
            [at] if rise else [])

    return Case(kind, f"+{rise * 100:.0f}%" if rise else "none", n, make, exact=True)


# --------------------------------------------------------------------------- candidates


def old_binseg(values: Sequence[float], min_size: int = 2) -> list[int]:
    """The rule report/trends.py had: binary segmentation on the mean, a BIC-style
    penalty 2 sigma^2 log n, sigma from successive differences."""
    n = len(values)
    if n < 2 * min_size:
        return []
    sigma = changepoints.noise_sd(values)
    sigma = max(sigma, (max(abs(v) for v in values) or 1.0) * 1e-9)
    penalty = 2.0 * sigma * sigma * math.log(n)

    def sse(xs: Sequence[float]) -> float:
        m = math.fsum(xs) / len(xs)
        return math.fsum((x - m) ** 2 for x in xs)

    found: list[int] = []

    def split(lo: int, hi: int) -> None:
        seg = values[lo:hi]
        if len(seg) < 2 * min_size:
            return
        whole = sse(seg)
        best, gain = None, 0.0
        for i in range(min_size, len(seg) - min_size + 1):
            g = whole - sse(seg[:i]) - sse(seg[i:])
            if g > gain:
                best, gain = i, g
        if best is not None and gain > penalty:
            found.append(lo + best)
            split(lo, lo + best)
            split(lo + best, hi)

    split(0, n)
    return sorted(found)


def shipped(penalty: float, clip: float | None = changepoints.CLIP_SD) -> Detector:
    return lambda values: changepoints.breakpoints(values, penalty=penalty, clip=clip)


def ruptures_l1_log(penalty: float) -> Detector:
    """ruptures' Python PELT on the median (L1 cost) of log values: robust to outliers."""
    import numpy as np
    import ruptures

    def detect(values: Sequence[float]) -> list[int]:
        n = len(values)
        sd = changepoints.noise_sd(values)
        if sd <= (max(abs(v) for v in values) or 1.0) * 1e-9 or min(values) <= 0:
            return changepoints.breakpoints(values)
        logs = [math.log(v) for v in values]
        lsd = changepoints.noise_sd(logs)
        centre = statistics.median(logs)
        signal = np.asarray([(v - centre) / lsd for v in logs]).reshape(-1, 1)
        ends = ruptures.Pelt(model="l1", min_size=2, jump=1).fit(signal).predict(
            pen=penalty * math.log(n))
        return [int(e) for e in ends if 0 < e < n]

    return detect


def otava_detector(max_pvalue: float) -> Detector:
    from otava.analysis import compute_change_points

    def detect(values: Sequence[float]) -> list[int]:
        cps, _ = compute_change_points(list(values), max_pvalue=max_pvalue)
        return sorted(int(c.index) for c in cps)

    return detect


def candidates() -> tuple[list[tuple[str, Detector]], list[str]]:
    out: list[tuple[str, Detector]] = []
    missing = []
    try:
        import ruptures  # noqa: F401

        pen = changepoints.PENALTY_PER_LOG_N
        out.append((f"ruptures KernelCPD linear (L2), pen {pen:g} log n, clip "
                    f"{changepoints.CLIP_SD:g} (shipped)", shipped(pen)))
        for other in (3.0, 10.0):
            out.append((f"ruptures KernelCPD linear (L2), pen {other:g} log n, clip "
                        f"{changepoints.CLIP_SD:g}", shipped(other)))
        out.append((f"ruptures KernelCPD linear (L2), pen {pen:g} log n, no clip",
                    shipped(pen, None)))
        out.append(("ruptures Pelt l1 on log values, pen 3 log n", ruptures_l1_log(3.0)))
    except ImportError:
        missing.append("ruptures")
    try:
        import otava.analysis  # noqa: F401

        out.append(("otava, max_pvalue 0.001 (default)", otava_detector(0.001)))
        out.append(("otava, max_pvalue 0.01", otava_detector(0.01)))
    except ImportError:
        missing.append("apache-otava")
    out.append(("hand-written binseg (before)", old_binseg))
    return out, missing


# --------------------------------------------------------------------------- scoring


@dataclass
class Score:
    series: int = 0
    truths: int = 0
    found: int = 0
    false_alarms: int = 0
    series_with_alarm: int = 0
    seconds: float = 0.0


def score(detector: Detector, case: Case, reps: int, seed: int) -> Score:
    rng = random.Random(seed)
    s = Score()
    slack = 0 if case.exact else 1
    for _ in range(reps):
        values, truth = case.make(rng)
        t0 = time.perf_counter()
        got = detector(values)
        s.seconds += time.perf_counter() - t0
        s.series += 1
        s.truths += len(truth)
        matched: set[int] = set()
        for t in truth:
            hit = next((g for g in got if abs(g - t) <= slack and g not in matched), None)
            if hit is not None:
                matched.add(hit)
                s.found += 1
        alarms = len([g for g in got if g not in matched])
        s.false_alarms += alarms
        s.series_with_alarm += alarms > 0
    return s


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument("--reps", type=int, default=None, help="series per cell")
    args = parser.parse_args(argv)
    reps = args.reps or (20 if args.quick else 200)
    t0 = time.perf_counter()
    noise = machine_runs(120 if args.quick else 250)
    cv = statistics.stdev(noise) / statistics.fmean(noise)
    lag1 = statistics.correlation(noise[:-1], noise[1:])
    print("# Change points over run histories: ruptures, Apache Otava, the hand-written rule\n")
    print(f"This machine's run-to-run noise: {len(noise)} runs of 10 requests "
          f"(about 10 ms each), measured in {time.perf_counter() - t0:.0f} s: CV of the run "
          f"means {cv * 100:.1f}%, lag-1 autocorrelation {lag1:.2f}, max/median "
          f"{max(noise) / statistics.median(noise):.2f}.\n")
    cases: list[Case] = []
    for n in (30, 60):
        for factors in ((1.0,), (1.1,), (1.2,), (1.5,), (1.2, 1.2)):
            cases.append(time_case(noise, n, factors))
        cases.append(time_case(noise, n, (1.0,), ordered=True))
    for drop in (0.0, 0.03, 0.05):
        cases.append(quality_case(40, drop))
    for kind, level in (("tokens (exact)", 3104.0), ("dollars (exact)", 3104 * 0.15e-6)):
        for rise in (0.0, 0.08):
            cases.append(exact_case(kind, 40, level, rise))
    dets, missing = candidates()
    for name in missing:
        print(f"(skipped: {name} is not installed)")
    print(f"{reps} series per row; found = true changes located (within one run; exactly "
          "for exact series); alarms = change points that are no true change, per series; "
          "'any alarm' = share of series with at least one.\n")
    header = ("| series | shift | runs | candidate | found % | alarms / series | any alarm % "
              "| ms / series |")
    print(header)
    print("|" + "---|" * 8)
    totals: dict[str, Score] = {}
    for ci, case in enumerate(cases):
        for name, det in dets:
            s = score(det, case, reps, seed=1000 + ci)
            found = f"{s.found / s.truths * 100:.0f}" if s.truths else "-"
            print(f"| {case.kind} | {case.shift} | {case.n} | {name} | {found} | "
                  f"{s.false_alarms / s.series:.2f} | {s.series_with_alarm / s.series * 100:.0f} "
                  f"| {s.seconds / s.series * 1000:.2f} |")
            t = totals.setdefault(name, Score())
            t.series += s.series
            t.truths += s.truths
            t.found += s.found
            t.false_alarms += s.false_alarms
            t.seconds += s.seconds
            if case.shift == "none":
                t.series_with_alarm += s.series_with_alarm
    unchanged = sum(1 for c in cases if c.shift == "none") * reps
    print("\n## Over all series\n")
    print("| candidate | found % | alarms / series | unchanged series with an alarm % "
          "| ms / series |")
    print("|---|---|---|---|---|")
    for name, t in totals.items():
        print(f"| {name} | {t.found / t.truths * 100:.1f} | {t.false_alarms / t.series:.3f} | "
              f"{t.series_with_alarm / unchanged * 100:.1f} | "
              f"{t.seconds / t.series * 1000:.2f} |")
    print(f"\n(study took {time.perf_counter() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
