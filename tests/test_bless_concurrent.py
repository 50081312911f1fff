"""Blesses at the same time keep everything: real ``pytest --ragcost --ragcost-update`` runs
started together with disjoint and overlapping ``-k`` selections, round after round, and
every scenario lands in ragcost.yaml, ragcost.items.json and ragcost.scores.json.

The default run does two rounds; ``pytest -m slow tests/test_bless_concurrent.py`` does
``RAGCOST_STRESS_ROUNDS`` (20 unless set)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pytest_ragcost.budget import load

SCENARIOS = ("alpha", "bravo", "charlie", "delta")

PROJECT = '''
import pytest

QUESTIONS = ["solar panels", "battery storage", "wind turbines"]


def _scenario(name):
    @pytest.mark.ragcost(scenario=name, requests=3)
    def test(ragcost):
        for q in ragcost.requests(QUESTIONS):
            with ragcost.stage("retrieve") as st:
                st.count(hits=len(q) % 3 + 1)
            with ragcost.stage("generate") as st:
                st.tokens(prompt=name + " " + q, completion=q)
            ragcost.sample(question=q, answer=q, contexts=[q], context_ids=[q[:3]],
                           reference_ids=[q[:3]])
    return test

'''

#: the selections started together in one round: disjoint (delta against the others) and
#: overlapping (bravo in two)
SELECTIONS = ("alpha or bravo", "charlie or bravo", "delta")


def _project(root: Path) -> None:
    body = PROJECT + "".join(
        f"test_{name} = _scenario({name!r})\n" for name in SCENARIOS
    )
    (root / "test_blessed.py").write_text(textwrap.dedent(body), encoding="utf-8")


def _clean(root: Path) -> None:
    for name in ("ragcost.yaml", "ragcost.items.json", "ragcost.scores.json"):
        (root / name).unlink(missing_ok=True)


def _round(root: Path) -> list[tuple[str, int, str]]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("GITHUB_STEP_SUMMARY", "PYTEST_XDIST_WORKER_COUNT", "PYTEST_ADDOPTS")}
    procs = [
        (selection, subprocess.Popen(
            [sys.executable, "-m", "pytest", "--ragcost", "--ragcost-update",
             "--ragcost-history=none", "--ragcost-meter=none", "-p", "no:cacheprovider",
             "-p", "no:randomly", "-q", "-k", selection],
            cwd=root, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True))
        for selection in SELECTIONS
    ]
    out = []
    for selection, proc in procs:
        text, _ = proc.communicate(timeout=300)
        out.append((selection, proc.returncode, text))
    return out


def _lost(root: Path) -> list[str]:
    """What the round lost: every scenario must be in each file."""
    lost = []
    budget = load(root / "ragcost.yaml")
    lost += [f"ragcost.yaml: {s}" for s in SCENARIOS if s not in budget.scenarios]
    items = json.loads((root / "ragcost.items.json").read_text(encoding="utf-8"))
    for s in SCENARIOS:
        got = items["scenarios"].get(s, {}).get("items", {})
        if len(got) != 3:
            lost.append(f"ragcost.items.json: {s} ({len(got)} items)")
    scores = json.loads((root / "ragcost.scores.json").read_text(encoding="utf-8"))
    lost += [f"ragcost.scores.json: {s}" for s in SCENARIOS
             if "hit_at_k" not in scores["scenarios"].get(s, {})]
    return lost


def _stress(root: Path, rounds: int) -> None:
    _project(root)
    failures = []
    for n in range(1, rounds + 1):
        _clean(root)
        for selection, code, text in _round(root):
            assert code == 0, f"round {n}, -k {selection!r} exited {code}:\n{text[-3000:]}"
        lost = _lost(root)
        if lost:
            failures.append(f"round {n}: lost {', '.join(lost)}")
    assert not failures, "\n".join(failures)


def test_concurrent_blesses_keep_every_scenario(tmp_path: Path) -> None:
    _stress(tmp_path, int(os.environ.get("RAGCOST_STRESS_QUICK_ROUNDS", "2")))


@pytest.mark.slow
def test_concurrent_blesses_keep_every_scenario_round_after_round(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if "slow" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("the long version: run it with -m slow")
    _stress(tmp_path, int(os.environ.get("RAGCOST_STRESS_ROUNDS", "20")))
