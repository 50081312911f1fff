"""Verdicts on a real shared machine: unchanged runs under a bursty background load, and
injected CPU regressions, through four rules side by side on the same runs.

Run:  python benchmarks/study_noise.py             (about 10 minutes on 2 shared cores)
      python benchmarks/study_noise.py --quick     (a smoke run: 6 unchanged, 3 per factor)

What happens, all on this machine, nothing simulated:

1. A small scenario project is written to a temporary directory: each request runs a
   ``retrieve`` and a ``generate`` stage that burn a fixed amount of CPU work (not a fixed
   time, so a busy or slower machine shows up as it would in a real pipeline). An
   environment variable multiplies the ``generate`` stage's work: 1.5x, 2x, 10x.
2. A background process competes for the CPU in bursts (busy 0.2-1.5 s, idle 0.2-1.5 s).
3. The scenario is blessed once at 12 requests (``pytest --ragcost --ragcost-update``),
   then run as a pull request would be, at 6 requests (``--ragcost-requests=6``), each run
   its own ``pytest --ragcost`` process: ``--runs`` unchanged runs (A/A), then runs with
   each injected regression. Every run writes the run history (SQLite) and JSON.
4. Each run is judged by four rules:
   - **baseline file**: the shipped gate against ragcost.yaml alone, with the between-run
     prior (what ``--ragcost-history=none`` does);
   - **history**: the shipped gate with the run history of the earlier unchanged runs
     (the exit code of the real ``pytest --ragcost`` run is checked against it);
   - **A/B**: in the same job (the same process), every round (request) runs the base's
     ``generate`` work (factor 1) and the head's, measured alike, in alternating order;
     the head/base ratio of their CPU times is tested paired by round: FAIL when the
     mean log ratio's 90% interval lies above the 5% tolerance and its one-sided 99.5%
     bound above zero (the gate's own evidence rule). The base arm runs in the bless too,
     so the request totals of every run carry the same work;
   - **pytest-benchmark** ``--benchmark-compare-fail=mean:5%``: the mean over the run
     above the blessed mean by more than 5%.
   A run "fails" under a rule when any noisy metric of the scenario FAILs (request and
   stage times, CPU and energy); the false-failure rate is over the unchanged runs, the
   share caught over the regressed ones.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from pytest_ragcost.compare.evaluate import evaluate  # noqa: E402
from pytest_ragcost.compare.evidence import Evidence, paired  # noqa: E402
from pytest_ragcost.compare.gate import load_gate  # noqa: E402
from pytest_ragcost.compare.noise import NoiseBook  # noqa: E402
from pytest_ragcost.compare.rules import Rule, judge  # noqa: E402
from pytest_ragcost.config import Settings  # noqa: E402
from pytest_ragcost.history import open_store  # noqa: E402
from pytest_ragcost.report.verdicts import sentence  # noqa: E402
from pytest_ragcost.run import (  # noqa: E402
    ScenarioRun,
    Tolerance,
    Verdict,
    metric_class,
    split_key,
)

FACTORS = (1.5, 2.0, 10.0)
BLESS_REQUESTS = 12
PR_REQUESTS = 6
TOLERANCE = 0.05

PROJECT_TEST = '''
import json, os, time
import pytest

WORK = int(os.environ.get("STUDY_WORK", "60000"))
FACTOR = float(os.environ.get("STUDY_FACTOR", "1"))
AB_OUT = os.environ.get("STUDY_AB_OUT")


def burn(units):
    x = 0
    for i in range(units):
        x = (x * 31 + i) % 1000003
    return x


def cpu_ms(fn, *args):
    t0 = time.process_time_ns()
    fn(*args)
    return (time.process_time_ns() - t0) / 1e6


@pytest.mark.ragcost(scenario="study", requests=12)
def test_study(ragcost):
    pairs = []
    questions = [f"question {i}" for i in range(12)]
    for i, _question in enumerate(ragcost.requests(questions)):
        with ragcost.stage("retrieve") as st:
            burn(WORK // 2)
            st.tokens(context=120 + i)
        with ragcost.stage("generate") as st:
            burn(int(WORK * FACTOR))
            st.tokens(prompt=150 + i, completion=12)
        # the same job's A/B: base and head arms measured alike, alternating which goes
        # first (the bless runs them too, so request totals compare like with like)
        arms = [("base", WORK), ("head", int(WORK * FACTOR))]
        got = dict((name, cpu_ms(burn, units)) for name, units in arms[:: 1 if i % 2 else -1])
        pairs.append((got["base"], got["head"]))
    if AB_OUT:
        with open(AB_OUT, "w", encoding="utf-8") as fh:
            json.dump(pairs, fh)
'''

CONFIG = """version: 1
defaults:
  tolerance: 5%
scenarios:
  study:
    wall_ms: {baseline: 0, stat: median}
    cpu_ms: {baseline: 0}
    energy_j: {baseline: 0}
    retrieve.wall_ms: {baseline: 0, stat: median}
    retrieve.cpu_ms: {baseline: 0}
    generate.wall_ms: {baseline: 0, stat: median}
    generate.cpu_ms: {baseline: 0}
    tokens_context: {baseline: 0}
    tokens_total: {baseline: 0}
"""


def _burner(stop: Any, seed: int) -> None:
    rng = random.Random(seed)
    while not stop.is_set():
        end = time.perf_counter() + rng.uniform(0.2, 1.5)
        x = 0
        while time.perf_counter() < end:
            x = (x * 7 + 1) % 65521
        stop.wait(rng.uniform(0.2, 1.5))


class Burner:
    """A bursty background process competing for the CPU."""

    def __init__(self, seed: int = 7) -> None:
        self._stop = multiprocessing.Event()
        self._proc = multiprocessing.Process(target=_burner, args=(self._stop, seed), daemon=True)

    def __enter__(self) -> Burner:
        self._proc.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._proc.join(timeout=5)
        if self._proc.is_alive():
            self._proc.kill()


def _pytest(project: Path, *args: str, factor: float = 1.0, ab_out: Path | None = None,
            json_out: Path | None = None, history: Path | None = None) -> int:
    # only this plugin: the other installed plugins' imports would dwarf the scenario
    env = {**os.environ, "PYTHONPATH": str(ROOT), "STUDY_FACTOR": str(factor),
           "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    env.pop("PYTEST_ADDOPTS", None)
    if ab_out is not None:
        env["STUDY_AB_OUT"] = str(ab_out)
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p",
           "pytest_ragcost.plugin",
           "--ragcost", f"--ragcost-history={history or project / 'history.sqlite3'}",
           "--ragcost-meter=process,estimate", *args]
    if json_out is not None:
        cmd.append(f"--ragcost-json={json_out}")
    done = subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True,
                          timeout=600, check=False)
    if done.returncode not in (0, 1):
        sys.stderr.write(done.stdout[-3000:] + done.stderr[-3000:])
        msg = f"pytest exited {done.returncode}"
        raise RuntimeError(msg)
    return done.returncode


def _run_of(json_path: Path) -> ScenarioRun:
    from pytest_ragcost.run.codec import read_run

    (outcome,) = [o for o in read_run(json_path).outcomes if o.run.scenario == "study"]
    return outcome.run


def _noisy_fail(verdicts: Sequence[Verdict]) -> bool:
    return any(
        v.status == "FAIL" and metric_class(split_key(v.key)[1]) == "noisy" for v in verdicts
    )


def _pb_fail(run: ScenarioRun, blessed: ScenarioRun, keys: Sequence[str]) -> bool:
    """pytest-benchmark's mean:5%: the mean above the reference mean by more than 5%."""
    now, ref = run.series(), blessed.series()
    return any(
        statistics.fmean(now[k]) / statistics.fmean(ref[k]) * 100 - 100 > TOLERANCE * 100
        for k in keys if k in now and k in ref
    )


def _ab_fail(pairs: Sequence[tuple[float, float]]) -> tuple[bool, float]:
    """Paired by round: FAIL when the mean log(head/base) is above log(1.05) with the
    gate's evidence (90% interval above the tolerance and a 99.5% bound above zero)."""
    logs = [math.log(h / b) for b, h in pairs if b > 0 and h > 0]
    change = paired(logs, "log")
    assert change is not None
    verdict = judge(
        Evidence("study", "wall_ms", current=math.exp(change.estimate), n=len(logs),
                 baseline=1.0, baseline_n=len(logs), change=change, basis="rounds",
                 rounds=len(logs)),
        Rule(kind="noisy", tolerance=Tolerance(TOLERANCE, relative=True)),
    )
    return verdict.status == "FAIL", math.exp(change.estimate)


def study(runs: int, per_factor: int, work: int) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="ragcost-study-"))
    project = tmp / "project"
    project.mkdir()
    (project / "test_study.py").write_text(textwrap.dedent(PROJECT_TEST))
    (project / "ragcost.yaml").write_text(CONFIG)
    (project / "pytest.ini").write_text("[pytest]\n")
    os.environ["STUDY_WORK"] = str(work)
    results: list[dict[str, Any]] = []
    with Burner():
        bless_json = tmp / "bless.json"
        _pytest(project, "--ragcost-update", json_out=bless_json, ab_out=tmp / "ab-bless.json")
        blessed = _run_of(bless_json)
        plan = [1.0] * runs + [f for f in FACTORS for _ in range(per_factor)]
        for i, factor in enumerate(plan):
            out, ab = tmp / f"run{i}.json", tmp / f"ab{i}.json"
            history = None
            if factor != 1.0:
                # a pull request's run sees main's history (the unchanged runs), not the
                # other regressed runs
                history = tmp / f"history{i}.sqlite3"
                shutil.copyfile(project / "history.sqlite3", history)
            started = time.perf_counter()
            code = _pytest(project, f"--ragcost-requests={PR_REQUESTS}", factor=factor,
                           ab_out=ab, json_out=out, history=history)
            results.append({"factor": factor, "exit": code, "json": out, "ab": ab,
                            "seconds": time.perf_counter() - started})
            print(f"  run {i + 1}/{len(plan)} factor {factor:g}: exit {code}", file=sys.stderr)
    # judge every run by every rule, offline, with the shipped library
    # the project's name in the history: the rootdir's, as the runs recorded it
    store = open_store(str(project / "history.sqlite3"), project / "history.sqlite3",
                       project=project.name)
    all_hist = store.summaries(next(iter(_envs(store))), project=project.name)
    store.close()
    environment = json.loads(bless_json.read_text())["environment"]
    gate = load_gate(Settings(enabled=True, config_path=project / "ragcost.yaml"), environment)
    assert gate is not None
    noisy_keys = [k for k in gate.budget.scenarios["study"].entries
                  if metric_class(split_key(k)[1]) == "noisy"]
    hist = all_hist.get("study", {})
    # the history's runs, oldest first: the bless, then run 0, 1, ... (each sees the earlier)
    ordered = {k: {s: list(reversed(v)) for s, v in by.items()} for k, by in hist.items()}
    rows = []
    for i, res in enumerate(results):
        run = _run_of(res["json"])
        pairs = [tuple(p) for p in json.loads(res["ab"].read_text())]
        earlier = min(i, runs) + 1  # the bless and the unchanged runs before this one
        h = {k: {s: v[:earlier] for s, v in by.items()} for k, by in ordered.items()}
        base_file = evaluate(run, gate).verdicts
        with_hist = evaluate(run, gate, noise=NoiseBook(h)).verdicts
        ab_fail, ab_ratio = _ab_fail(pairs)
        rows.append({
            "factor": res["factor"],
            "baseline file": _noisy_fail(base_file),
            "history": _noisy_fail(with_hist),
            "history (exit code)": res["exit"] == 1,
            "A/B": ab_fail,
            "pytest-benchmark mean:5%": _pb_fail(run, blessed, noisy_keys),
            "ab_ratio": ab_ratio,
            "gen_cpu_ratio": statistics.fmean(run.series()["generate.cpu_ms"])
            / statistics.fmean(blessed.series()["generate.cpu_ms"]),
            "run_cpu_ratio": statistics.fmean(run.series()["cpu_ms"])
            / statistics.fmean(blessed.series()["cpu_ms"]),
            "noise": next((sentence(v).split("incl. ", 1)[1].split(")", 1)[0] + ")"
                           for v in with_hist if "incl. " in sentence(v)), ""),
            "seconds": res["seconds"],
        })
    return {"rows": rows, "runs": runs, "per_factor": per_factor, "dir": str(tmp)}


def _envs(store: Any) -> list[str]:
    return sorted({r.env_id for r in store.runs() if r.env_id})


MODES = ("baseline file", "history", "history (exit code)", "A/B", "pytest-benchmark mean:5%")


def report(data: dict[str, Any]) -> str:
    rows = data["rows"]
    out = ["# pytest-ragcost on a shared machine: unchanged runs and injected regressions", ""]
    out.append(
        f"{data['runs']} unchanged runs and {data['per_factor']} per regression, "
        f"each its own `pytest --ragcost --ragcost-requests={PR_REQUESTS}` process, blessed "
        f"once at {BLESS_REQUESTS} requests, a bursty CPU burner in the background, "
        f"{os.cpu_count()} cores. A run fails under a rule when any noisy metric FAILs."
    )
    out.append("")
    head = "| rule | false failures (A/A) | " + " | ".join(
        f"caught {f:g}x" for f in FACTORS) + " |"
    out += [head, "|" + "---|" * (2 + len(FACTORS))]
    aa = [r for r in rows if r["factor"] == 1.0]
    for mode in MODES:
        cells = [f"{sum(r[mode] for r in aa)}/{len(aa)}"]
        for f in FACTORS:
            reg = [r for r in rows if r["factor"] == f]
            cells.append(f"{sum(r[mode] for r in reg)}/{len(reg)}")
        out.append(f"| {mode} | " + " | ".join(cells) + " |")
    out.append("")
    ratios = [r["run_cpu_ratio"] for r in aa]
    gen = [r["gen_cpu_ratio"] for r in aa]
    abr = [r["ab_ratio"] for r in aa]
    out.append("Spread of the unchanged runs against the bless (ratio of means):")
    out.append("")
    out.append("| figure | min | median | max | between-run CV |")
    out.append("|---|---|---|---|---|")
    for name, xs in (("request cpu_ms", ratios), ("generate.cpu_ms", gen),
                     ("A/B head/base, same job", abr)):
        logs = [math.log(x) for x in xs]
        cv = statistics.stdev(logs) if len(logs) > 1 else float("nan")
        out.append(f"| {name} | {min(xs):.3f} | {statistics.median(xs):.3f} | "
                   f"{max(xs):.3f} | {cv * 100:.1f}% |")
    out.append("")
    last = [r["noise"] for r in aa if r["noise"]]
    if last:
        out.append(f"History mode's noise at the last unchanged run: {last[-1]}.")
    for f in FACTORS:
        reg = [r for r in rows if r["factor"] == f]
        if reg:
            run_x = statistics.median(r["run_cpu_ratio"] for r in reg)
            ab_x = statistics.median(r["ab_ratio"] for r in reg)
            out.append(
                f"- {f:g}x in `generate`: request cpu_ms x{run_x:.2f}, "
                f"A/B ratio x{ab_x:.2f} (medians)"
            )
    return "\n".join(out) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="6 unchanged runs, 3 per factor")
    parser.add_argument("--runs", type=int, default=30, help="unchanged runs (default 30)")
    parser.add_argument("--per-factor", type=int, default=12,
                        help="runs per injected regression (default 12)")
    parser.add_argument("--work", type=int, default=60000,
                        help="CPU work units of the generate stage per request")
    parser.add_argument("--save", type=Path, help="also write the rows as JSON here")
    args = parser.parse_args(argv)
    runs, per = (6, 3) if args.quick else (args.runs, args.per_factor)
    data = study(runs, per, args.work)
    text = report(data)
    print(text)
    if args.save:
        args.save.write_text(json.dumps(data["rows"], indent=1, default=str))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
