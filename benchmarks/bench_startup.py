"""What ``--ragcost`` adds to a one-test run: start-up, the header, the end of the run.

    python benchmarks/bench_startup.py               # 15 alternated pairs
    python benchmarks/bench_startup.py --rounds 31 --importtime

A fresh project (one trivial test, a git repository with one commit, as a user's project
is) is run as ``pytest`` and ``pytest --ragcost``, alternated so that the machine's
drift hits both alike, each in a fresh interpreter at pytest's default verbosity (so the
header is written). Printed: the medians of the wall-clock times and of the CPU time
(pytest's and its children's, such as git: on a shared machine, other processes inflate
wall-clock time far more than CPU time), and the median of the paired differences. The
first ``--ragcost`` run creates the history file, so the measured runs open an existing
history, as every run after a user's first does. Compiled bytecode is cached (in a
temporary directory), as for an installed package. ``--importtime`` adds the modules
``--ragcost`` imports beyond the plain run, with their cumulative import times
(``python -X importtime``), the largest first.

Target: ``--ragcost`` adds at most 100 ms.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pytest

TARGET_MS = 100.0
TEST = "def test_one():\n    assert 1 + 1 == 2\n"


def make_project(root: Path, git: bool = True) -> Path:
    """A fresh project with one test (and a git repository when git is installed)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "test_one.py").write_text(TEST, encoding="utf-8")
    (root / "pytest.ini").write_text("[pytest]\n", encoding="utf-8")
    if git and shutil.which("git"):
        env = {**os.environ, "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "b@example.org",
               "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "b@example.org"}
        for args in (["init", "-q"], ["add", "test_one.py", "pytest.ini"],
                     ["commit", "-q", "-m", "one test"]):
            subprocess.run(["git", *args], cwd=root, env=env, check=True, capture_output=True)
        (root / ".gitignore").write_text(".ragcost/\n", encoding="utf-8")
    return root


#: where the runs keep their compiled bytecode (set by :func:`main`): an installed
#: package has its .pyc files, so the runs use a cache too (in a temporary directory, so
#: nothing is written into the source tree), even where PYTHONDONTWRITEBYTECODE is set
PYCACHE: dict[str, str] = {}


def _env() -> dict[str, str]:
    env = dict(os.environ)
    for name in ("PYTEST_ADDOPTS", "GITHUB_STEP_SUMMARY", "PYTEST_XDIST_WORKER_COUNT"):
        env.pop(name, None)
    if PYCACHE:
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env.update(PYCACHE)
    return env


@dataclass(frozen=True)
class Timing:
    """One run: wall-clock time, and the CPU time of pytest and what it started (git)."""

    wall_ms: float
    cpu_ms: float


def run_ms(project: Path, args: list[str]) -> Timing:
    """One ``python -m pytest ARGS`` in ``project``."""
    # default verbosity: the header is written, as in a user's run (-q skips it)
    cmd = [sys.executable, "-m", "pytest", "-p", "no:randomly", *args]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    done = subprocess.run(cmd, cwd=project, env=_env(), capture_output=True, text=True,
                          check=False)
    elapsed = (time.perf_counter() - t0) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        msg = f"{' '.join(cmd)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        raise RuntimeError(msg)
    cpu_s = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Timing(elapsed, cpu_s * 1000)


def alternate(project: Path, rounds: int, log: Callable[[str], None] = print
              ) -> tuple[list[Timing], list[Timing]]:
    """``rounds`` pairs of (plain, --ragcost) runs; which goes first alternates."""
    run_ms(project, [])
    run_ms(project, ["--ragcost"])  # creates the history: later runs open an existing one
    plain: list[Timing] = []
    metered: list[Timing] = []
    for i in range(rounds):
        order: list[tuple[list[Timing], list[str]]] = [(plain, []), (metered, ["--ragcost"])]
        if i % 2:
            order.reverse()
        for samples, args in order:
            samples.append(run_ms(project, args))
        log(f"  round {i + 1:2}/{rounds}: pytest {plain[-1].wall_ms:7.1f} ms "
            f"(cpu {plain[-1].cpu_ms:6.1f}), --ragcost {metered[-1].wall_ms:7.1f} ms "
            f"(cpu {metered[-1].cpu_ms:6.1f})")
    return plain, metered


def added_ms(plain: list[Timing], metered: list[Timing], what: str = "wall_ms"
             ) -> tuple[float, float, float]:
    """Medians of the plain and the --ragcost runs, and the median of the paired
    differences (each pair ran back to back, so it shares the machine's state)."""
    a = [getattr(t, what) for t in plain]
    b = [getattr(t, what) for t in metered]
    diff = statistics.median(y - x for x, y in zip(a, b, strict=True))
    return statistics.median(a), statistics.median(b), diff


def header(project: Path) -> list[str]:
    """The ``ragcost:`` lines of the --ragcost run's header."""
    done = subprocess.run([sys.executable, "-m", "pytest", "-p", "no:randomly", "--ragcost"],
                          cwd=project, env=_env(), capture_output=True, text=True, check=False)
    return [line for line in done.stdout.splitlines() if line.startswith("ragcost:")]


def _imports(project: Path, args: list[str]) -> dict[str, tuple[int, int]]:
    cmd = [sys.executable, "-X", "importtime", "-m", "pytest", "-p", "no:randomly", *args]
    done = subprocess.run(cmd, cwd=project, env=_env(), capture_output=True, text=True,
                          check=False)
    out: dict[str, tuple[int, int]] = {}
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        own, cumulative, name = line.split("|", 2)
        out[name.strip()] = (int(own.split(":", 1)[1]), int(cumulative))
    return out


def extra_imports(project: Path) -> list[tuple[str, float, float]]:
    """Modules imported by a --ragcost run and not by the plain one: (name, own ms,
    cumulative ms), the largest cumulative first."""
    plain = _imports(project, [])
    metered = _imports(project, ["--ragcost"])
    extra = [(name, own / 1000, cum / 1000) for name, (own, cum) in metered.items()
             if name not in plain]
    return sorted(extra, key=lambda row: -row[2])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=15, help="alternated pairs (default 15)")
    parser.add_argument("--importtime", action="store_true",
                        help="also list the modules --ragcost imports beyond the plain run")
    parser.add_argument("--no-git", action="store_true", help="the project is no git repository")
    parser.add_argument("--no-bytecode-cache", action="store_true",
                        help="compile every module on every run (as PYTHONDONTWRITEBYTECODE=1 "
                        "does for a source checkout)")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="ragcost-startup-") as tmp:
        if not args.no_bytecode_cache:
            PYCACHE["PYTHONPYCACHEPREFIX"] = str(Path(tmp) / "pycache")
        project = make_project(Path(tmp) / "project", git=not args.no_git)
        cache = "no bytecode cache" if args.no_bytecode_cache else "bytecode cached"
        print(f"# start-up of a one-test run, {args.rounds} alternated pairs, {cache} "
              f"({sys.executable})")
        plain, metered = alternate(project, args.rounds)
        print()
        for what, label in (("wall_ms", "wall-clock"), ("cpu_ms", "CPU time")):
            med_plain, med_metered, added = added_ms(plain, metered, what)
            print(f"{label}: pytest median {med_plain:.1f} ms, pytest --ragcost median "
                  f"{med_metered:.1f} ms; added by --ragcost {added:+.1f} ms (median of the "
                  f"paired differences), {med_metered - med_plain:+.1f} ms (difference of the "
                  f"medians), ratio {med_metered / med_plain:.3f}")
        added = added_ms(plain, metered)[2]
        verdict = "met" if added <= TARGET_MS else "MISSED"
        print(f"target: at most {TARGET_MS:.0f} ms added (wall-clock): {verdict}")
        print()
        print("header of the --ragcost run:")
        for line in header(project):
            print(f"  {line}")
        if args.importtime:
            print()
            print("modules --ragcost imports beyond the plain run (cumulative ms, -X importtime):")
            extra = extra_imports(project)
            print(f"  {len(extra)} modules, {sum(own for _, own, _ in extra):.1f} ms of their "
                  "own import time in all")
            for name, _, cumulative in extra[:25]:
                print(f"  {cumulative:8.1f}  {name}")
    return 0


def test_startup_added_by_ragcost(figure: Callable[..., None], tmp_path: Path,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """A short version of :func:`main` for ``python -m pytest benchmarks``."""
    project = make_project(tmp_path / "project")
    monkeypatch.setitem(PYCACHE, "PYTHONPYCACHEPREFIX", str(tmp_path / "pycache"))
    plain, metered = alternate(project, 7, log=lambda line: None)
    med_plain, _, added = added_ms(plain, metered)
    figure("one-test run: added by --ragcost (median of 7 alternated pairs)",
           f"{added:+.0f} ms (of {med_plain:.0f} ms)", f"<= {TARGET_MS:.0f} ms",
           added <= TARGET_MS)
    cpu_plain, _, cpu_added = added_ms(plain, metered, "cpu_ms")
    figure("one-test run: CPU time added by --ragcost", f"{cpu_added:+.0f} ms "
           f"(of {cpu_plain:.0f} ms)", "-", None)


if __name__ == "__main__":
    sys.exit(main())
