"""The gate's own cost: the same-job A/B with 6 fixed rounds against the sequential A/B
(stop when the verdicts decide, at most 12 rounds), on real runs of this shared machine.

Run:  python benchmarks/study_gate_cost.py                  (30 unchanged, 12 per change)
      python benchmarks/study_gate_cost.py --unchanged 2 --changed 1     (a smoke run)

What happens, all real, nothing simulated:

1. A small project is written to a temporary git repository: each request runs a
   ``search`` stage that burns a fixed amount of CPU work and a ``generate`` stage that
   counts tokens; ragcost.yaml gates ``search.cpu_ms`` at 10% and the tokens exactly.
   The base is committed, and each case commits a head on top of it: a comment-only
   change (unchanged), and the search stage's work times 1.5, 2 and 3.
2. A bursty background process competes for the CPU (``--no-burner`` to leave it out).
3. For every case, the real command ``python -m pytest --ragcost-ab=BASE`` runs
   repeatedly, alternately with ``--ragcost-ab-rounds=6`` (fixed) and without
   (sequential), each writing its A/B JSON; every A/B runs both sides as ``pytest
   --ragcost`` subprocesses, as in CI.
4. Per design: false failures (exit 1 on the comment-only change), catches (exit 1 on a
   regression), the mean rounds used, and the A/B's wall-clock minutes.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from study_noise import Burner  # a sibling script, not a package

ROOT = Path(__file__).resolve().parents[1]
WORK = 60_000
SCENARIO = '''
import pytest

WORK = {work}
QUESTIONS = [f"question number {{i}}" for i in range(4)]


def burn(n):
    x = 0
    for i in range(n):
        x += i * i
    return x
{comment}

@pytest.mark.ragcost(scenario="study", requests=4)
def test_study(ragcost):
    for q in ragcost.requests(QUESTIONS):
        with ragcost.stage("search"):
            burn(WORK)
        with ragcost.stage("generate") as st:
            st.tokens(prompt=q, completion="ok")
'''
BUDGET = """version: 1
scenarios:
  study:
    search.cpu_ms: {tolerance: 10%}
    tokens_total: {tolerance: 0}
"""
CASES = {"unchanged": 1.0, "1.5x": 1.5, "2x": 2.0, "3x": 3.0}


@dataclass
class Tally:
    """The A/B runs of one design on one case."""

    failed: int = 0
    runs: int = 0
    rounds: list[int] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    stopped: dict[str, int] = field(default_factory=dict)


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True,
                          text=True).stdout.strip()


def _project(repo: Path) -> dict[str, str]:
    """The base commit and one head commit per case; case -> its sha."""
    env = {"GIT_AUTHOR_NAME": "study", "GIT_AUTHOR_EMAIL": "study@example.com",
           "GIT_COMMITTER_NAME": "study", "GIT_COMMITTER_EMAIL": "study@example.com"}
    os.environ.update(env)
    _git(repo, "init", "-q")
    (repo / "ragcost.yaml").write_text(BUDGET)
    (repo / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    (repo / "test_study.py").write_text(SCENARIO.format(work=WORK, comment=""))
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    _git(repo, "tag", "base")
    heads = {}
    for case, factor in CASES.items():
        _git(repo, "checkout", "-q", "--detach", "base")
        comment = "# a comment-only change\n" if factor == 1.0 else ""
        (repo / "test_study.py").write_text(
            SCENARIO.format(work=round(WORK * factor), comment=comment))
        _git(repo, "commit", "-qam", case)
        heads[case] = _git(repo, "rev-parse", "HEAD")
    return heads


def _ab(repo: Path, sha: str, fixed: bool, out: Path) -> tuple[int, int, str, float]:
    """One real ``pytest --ragcost-ab=base`` at ``sha``: exit code, rounds, why it
    stopped, and seconds."""
    _git(repo, "checkout", "-q", "--detach", sha)
    # only this plugin: the environment's other plugins' imports would dwarf the scenario
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    env.pop("PYTEST_ADDOPTS", None)
    cmd = [sys.executable, "-m", "pytest", "-p", "pytest_ragcost.plugin",
           "--ragcost-ab=base", f"--ragcost-json={out}"]
    if fixed:
        cmd.append("--ragcost-ab-rounds=6")
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True,
                          check=False)
    seconds = time.perf_counter() - t0
    if done.returncode not in (0, 1) or not out.exists():
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-10:])
        msg = f"the A/B at {sha[:12]} ended with exit code {done.returncode}:\n{tail}"
        raise SystemExit(msg)
    doc = json.loads(out.read_text())
    return done.returncode, int(doc["rounds"]), str(doc["stopped"]), seconds


def _stop_early(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--unchanged", type=int, default=30,
                        help="A/B runs per design on the comment-only change (default 30)")
    parser.add_argument("--changed", type=int, default=12,
                        help="A/B runs per design on each regression (default 12)")
    parser.add_argument("--no-burner", action="store_true",
                        help="no bursty background CPU load")
    args = parser.parse_args(argv)
    # SIGTERM stops early too, with the table: a job started in the background of a
    # non-interactive shell ignores SIGINT
    signal.signal(signal.SIGTERM, _stop_early)
    tallies: dict[tuple[str, str], Tally] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ragcost-gate-cost-") as tmp:
        repo = Path(tmp) / "project"
        repo.mkdir()
        heads = _project(repo)
        burner = Burner() if not args.no_burner else None
        if burner is not None:
            burner.__enter__()
        try:
            counts = {case: args.unchanged if case == "unchanged" else args.changed
                      for case in heads}
            # the cases take turns, so drifting load (and a study stopped early) treats
            # every case alike
            for i in range(max(counts.values(), default=0)):
                for case, sha in heads.items():
                    n = counts[case]
                    if i >= n:
                        continue
                    # alternate which design goes first, so drifting load favours neither
                    designs = ("fixed", "sequential") if i % 2 == 0 else ("sequential", "fixed")
                    for design in designs:
                        code, rounds, stopped, seconds = _ab(
                            repo, sha, design == "fixed", Path(tmp) / f"{case}-{design}-{i}.json")
                        t = tallies.setdefault((case, design), Tally())
                        t.runs += 1
                        t.failed += code == 1
                        t.rounds.append(rounds)
                        t.seconds.append(seconds)
                        t.stopped[stopped] = t.stopped.get(stopped, 0) + 1
                        print(f"{case:>9} {design:>10} run {i + 1}/{n}: exit {code}, "
                              f"{rounds} rounds ({stopped}), {seconds:.0f} s", flush=True)
        except KeyboardInterrupt:  # stopped early: the table of the runs that finished
            print("stopped early: the table counts the runs that finished")
        finally:
            if burner is not None:
                burner.__exit__(None, None, None)
    _table(tallies, time.perf_counter() - started, not args.no_burner)
    return 0


def _table(tallies: dict[tuple[str, str], Tally], seconds: float, burner: bool) -> None:
    print()
    print(f"same-job A/B, search.cpu_ms gated at 10%, 4 requests per side, "
          f"{'beside a bursty CPU burner' if burner else 'no burner'}; "
          f"{seconds / 60:.0f} min in all")
    print(f"{'case':>9} {'design':>10} {'runs':>5} {'fail':>5} {'share':>6} "
          f"{'rounds':>7} {'minutes':>8}  stopped")
    for (case, design), t in tallies.items():
        share = t.failed / t.runs if t.runs else math.nan
        print(f"{case:>9} {design:>10} {t.runs:>5} {t.failed:>5} {share:>6.0%} "
              f"{sum(t.rounds) / len(t.rounds):>7.2f} {sum(t.seconds) / len(t.seconds) / 60:>8.2f}"
              f"  {', '.join(f'{k} {v}' for k, v in sorted(t.stopped.items()))}")
    fixed = [r for (_, d), t in tallies.items() if d == "fixed" for r in t.rounds]
    seq = [r for (_, d), t in tallies.items() if d == "sequential" for r in t.rounds]
    if fixed and seq:
        ratio = (sum(seq) / len(seq)) / (sum(fixed) / len(fixed))
        print(f"mean rounds over all cases: sequential {sum(seq) / len(seq):.2f}, "
              f"fixed {sum(fixed) / len(fixed):.2f} (ratio {ratio:.2f})")
    print("fail on 'unchanged' is a false failure; on a regression, a catch")


if __name__ == "__main__":
    sys.exit(main())
