"""Metering overhead on the real RAG example: the qa-typical test's call phase with
``--ragcost`` against the same test with metering off, alternated so drift hits both.

    python benchmarks/bench_rag_overhead.py [--requests 10] [--rounds 3]

Needs the example's dependencies (``pip install -r examples/rag/requirements.txt``). The
call phase excludes pytest's start-up and the session fixtures (model and index load),
so the ratio is what metering adds to the requests themselves. Prints one table.
"""

from __future__ import annotations

import argparse
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CALL = re.compile(r"^([0-9.]+)s call\s+.*test_qa_typical", re.MULTILINE)


def call_seconds(requests: int, metered: bool) -> float:
    args = [
        sys.executable, "-m", "pytest", "examples/rag", "-q", "-k", "qa_typical",
        f"--ragcost-requests={requests}", "--durations=0", "-p", "no:randomly",
    ]
    if metered:
        args.append("--ragcost")
    out = subprocess.run(args, cwd=ROOT, capture_output=True, text=True, check=False)
    found = CALL.search(out.stdout)
    if out.returncode != 0 or found is None:
        sys.exit(f"the example run failed (exit {out.returncode}):\n{out.stdout[-3000:]}")
    return float(found.group(1))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    opts = parser.parse_args()
    call_seconds(2, True)  # build the caches and warm the page cache once
    plain: list[float] = []
    metered: list[float] = []
    for _ in range(opts.rounds):
        plain.append(call_seconds(opts.requests, False))
        metered.append(call_seconds(opts.requests, True))
    ratios = [m / p for m, p in zip(metered, plain, strict=True)]
    print(f"qa-typical, {opts.requests} requests, {opts.rounds} alternated rounds")
    print(f"{'':24}{'median s':>10}{'min s':>10}{'max s':>10}")
    for name, xs in (("--ragcost off", plain), ("--ragcost on", metered)):
        print(f"{name:24}{statistics.median(xs):>10.2f}{min(xs):>10.2f}{max(xs):>10.2f}")
    print(f"ratio on/off (median of per-round ratios): {statistics.median(ratios):.4f}")
    print("includes token counting with the models' own tokenizers, excluded from the"
          " stage clocks but not from this test's wall time")


if __name__ == "__main__":
    main()
