"""One look against two looks for a gate against a stored baseline, on real runs of this
shared machine: how often unchanged code fails, how often a regression is caught, and what
the second look costs.

Run:  python benchmarks/study_second_look.py                  (30 unchanged, 12 per change)
      python benchmarks/study_second_look.py --unchanged 3 --changed 1     (a smoke run)

What happens, all real, nothing simulated:

1. The project of ``study_gate_cost.py`` is written to a temporary git repository (a
   ``search`` stage of fixed CPU work, ``search.cpu_ms`` gated at 10%, tokens exactly),
   with a head commit per case: a comment-only change, and the search work times 1.5, 2
   and 3.
2. The base is blessed (``pytest --ragcost --ragcost-update``) and run ``--warm`` more
   times, so the history knows this machine's between-run noise, as a project's main
   branch would.
3. For every case, the real ``pytest --ragcost`` runs repeatedly at its head commit, the
   cases taking turns, beside a bursty CPU burner (``--no-burner`` to leave it out). The
   second look is on (the default): the run file says what the first look found
   (``second_look.first``) and what the second did, so one run gives both rules'
   verdicts: one look fails when the first look failed; two looks when the test failed.
4. Per case: false failures (on the comment-only change) or catches (on a regression)
   under each rule, how often a second measurement was taken, and the run's seconds.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from study_gate_cost import CASES, ROOT, SCENARIO, WORK, _git  # sibling scripts
from study_noise import Burner

#: the A/B study's scenario over 12 items: a stored baseline has no rounds to pair, so its
#: interval rests on the requests of one run
ITEMS = 12
#: the gate of study_gate_cost.py, with baselines for the bless to fill in
BUDGET = """version: 1
scenarios:
  study:
    search.cpu_ms: {baseline: 1, tolerance: 10%}
    tokens_total: {baseline: 1, tolerance: 0}
"""


@dataclass
class Tally:
    """The runs of one case."""

    runs: int = 0
    one_look: int = 0
    two_looks: int = 0
    measured_again: int = 0
    seconds: list[float] = field(default_factory=list)


def _pytest(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # only this plugin: the environment's other plugins' imports would dwarf the scenario
    env = {**os.environ, "PYTHONPATH": str(ROOT), "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    env.pop("PYTEST_ADDOPTS", None)
    cmd = [sys.executable, "-m", "pytest", "-p", "pytest_ragcost.plugin", "--ragcost", *args]
    return subprocess.run(cmd, cwd=repo, env=env, capture_output=True, text=True, check=False)


def _scenario(work: int, comment: str) -> str:
    text = SCENARIO.format(work=work, comment=comment)
    return (text.replace("range(4)", f"range({ITEMS})")
            .replace("requests=4)", f"requests={ITEMS})"))


def _blessed_project(repo: Path) -> dict[str, str]:
    """The base, blessed and committed as a project's main branch would be, and one head
    commit per case on top of it; case -> its sha."""
    for var in ("AUTHOR", "COMMITTER"):
        os.environ[f"GIT_{var}_NAME"] = "study"
        os.environ[f"GIT_{var}_EMAIL"] = "study@example.com"
    _git(repo, "init", "-q")
    # the history and the run files are not part of the tree: runs stay clean
    (repo / ".git" / "info" / "exclude").write_text(".ragcost/\nout-*.json\n")
    (repo / "ragcost.yaml").write_text(BUDGET)
    (repo / "pytest.ini").write_text("[pytest]\naddopts = -p no:cacheprovider\n")
    (repo / "test_study.py").write_text(_scenario(WORK, ""))
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    blessed = _pytest(repo, "--ragcost-update")
    if blessed.returncode != 0:
        raise SystemExit(f"the bless failed:\n{blessed.stdout[-2000:]}")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "bless")
    _git(repo, "tag", "base")
    heads = {}
    for case, factor in CASES.items():
        _git(repo, "checkout", "-q", "--detach", "base")
        comment = "# a comment-only change\n" if factor == 1.0 else ""
        (repo / "test_study.py").write_text(
            _scenario(round(WORK * factor), comment))
        _git(repo, "commit", "-qam", case)
        heads[case] = _git(repo, "rev-parse", "HEAD")
    _git(repo, "checkout", "-q", "--detach", "base")
    return heads


def _run(repo: Path, sha: str, out: Path) -> tuple[bool, bool, bool, float]:
    """One real ``pytest --ragcost`` at ``sha``: failed at the first look, failed the
    test, measured again; seconds."""
    _git(repo, "checkout", "-q", "--detach", sha)
    t0 = time.perf_counter()
    done = _pytest(repo, f"--ragcost-json={out}")
    seconds = time.perf_counter() - t0
    if done.returncode not in (0, 1) or not out.exists():
        tail = "\n".join((done.stdout + done.stderr).splitlines()[-10:])
        msg = f"the run at {sha[:12]} ended with exit code {done.returncode}:\n{tail}"
        raise SystemExit(msg)
    verdicts = [v for sc in json.loads(out.read_text())["scenarios"] for v in sc["verdicts"]]
    first = any(v["status"] == "FAIL" or v.get("second_look", {}).get("result") == "cleared"
                for v in verdicts)
    again = any(v.get("second_look", {}).get("result") in ("confirmed", "cleared")
                for v in verdicts)
    return first, done.returncode == 1, again, seconds


def _stop_early(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--unchanged", type=int, default=30,
                        help="runs on the comment-only change (default 30)")
    parser.add_argument("--changed", type=int, default=12,
                        help="runs on each regression (default 12)")
    parser.add_argument("--warm", type=int, default=5,
                        help="runs of the base after the bless, for the history (default 5)")
    parser.add_argument("--no-burner", action="store_true",
                        help="no bursty background CPU load")
    args = parser.parse_args(argv)
    # SIGTERM stops early too, with the table: a job started in the background of a
    # non-interactive shell ignores SIGINT
    signal.signal(signal.SIGTERM, _stop_early)
    tallies: dict[str, Tally] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="ragcost-second-look-") as tmp:
        repo = Path(tmp) / "project"
        repo.mkdir()
        heads = _blessed_project(repo)
        for _ in range(args.warm):
            _pytest(repo)
        burner = Burner() if not args.no_burner else None
        if burner is not None:
            burner.__enter__()
        try:
            counts = {case: args.unchanged if case == "unchanged" else args.changed
                      for case in heads}
            for i in range(max(counts.values(), default=0)):
                for case, sha in heads.items():
                    if i >= counts[case]:
                        continue
                    first, failed, again, seconds = _run(repo, sha, repo / f"out-{case}-{i}.json")
                    t = tallies.setdefault(case, Tally())
                    t.runs += 1
                    t.one_look += first
                    t.two_looks += failed
                    t.measured_again += again
                    t.seconds.append(seconds)
                    print(f"{case:>9} run {i + 1}/{counts[case]}: first look "
                          f"{'FAIL' if first else 'pass'}, test {'FAIL' if failed else 'pass'}"
                          f"{', measured again' if again else ''}, {seconds:.1f} s", flush=True)
        except KeyboardInterrupt:  # stopped early: the table of the runs that finished
            print("stopped early: the table counts the runs that finished")
        finally:
            if burner is not None:
                burner.__exit__(None, None, None)
    _table(tallies, time.perf_counter() - started, not args.no_burner)
    return 0


def _table(tallies: dict[str, Tally], seconds: float, burner: bool) -> None:
    print()
    print(f"pytest --ragcost against a stored baseline, search.cpu_ms gated at 10%, "
          f"{'beside a bursty CPU burner' if burner else 'no burner'}; "
          f"{seconds / 60:.0f} min in all")
    print(f"{'case':>9} {'runs':>5} {'one look':>9} {'two looks':>10} {'again':>6} "
          f"{'seconds':>8}")
    for case, t in tallies.items():
        print(f"{case:>9} {t.runs:>5} {t.one_look:>9} {t.two_looks:>10} "
              f"{t.measured_again:>6} {sum(t.seconds) / len(t.seconds):>8.1f}")
    print("a fail on 'unchanged' is a false failure; on a regression, a catch; 'again': "
          "runs that measured the scenario a second time")


if __name__ == "__main__":
    sys.exit(main())
