"""One run, one verdict: the plugin, ``ragcost compare`` of its JSON and, where it applies,
the A/B evaluation reach the same verdict for every (scenario, metric) and the same exit
code.

Each case runs a real inner pytest session with ``--ragcost-json``, then the ``ragcost
compare`` command on that JSON against the same ragcost.yaml (its verdicts read back from
``--json``), and compares every (scenario, key, status) and the exit code. Where a case
compares two runs of the code (a token change), the A/B evaluation of the blessed run
(base) against this one (head) is compared too.
"""

from __future__ import annotations

import json
import os
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import read_json

from pytest_ragcost.ab import compare as ab_compare
from pytest_ragcost.ab import load_side
from pytest_ragcost.budget import load as load_budget
from pytest_ragcost.cli import main

SCENARIO = textwrap.dedent(
    """
    import os
    import time
    import pytest

    ITEMS = [f"q{i:02d}" for i in range(12)]
    DOCS = {q: [f"{q}-c{j}" for j in range(4)] for q in ITEMS}
    DROP = os.environ.get("RAGCOST_TEST_DROP") == "1"
    MODEL = os.environ.get("RAGCOST_TEST_MODEL", "gpt-4o-mini")
    EXTRA = int(os.environ.get("RAGCOST_TEST_EXTRA", "0"))
    SLOW = float(os.environ.get("RAGCOST_TEST_SLOW", "1"))

    def retrieve(q):
        hits = list(DOCS[q])
        if DROP and int(q[1:]) % 3 == 0:
            hits[-1] = "unrelated"
        return hits

    @pytest.mark.ragcost(scenario="qa")
    def test_qa(ragcost):
        for q in ragcost.requests(ITEMS, id=lambda q: q):
            with ragcost.stage("retrieve") as st:
                time.sleep(0.01 * SLOW)
                hits = retrieve(q)
                st.count(hits=len(hits))
            with ragcost.stage("generate") as st:
                st.tokens(prompt=100 + int(q[1:]), context=400 + EXTRA + 3 * int(q[1:]),
                          completion=50, model=MODEL)
            ragcost.sample(question=f"question {q}", answer="answer",
                           contexts=[f"text of {h}" for h in hits],
                           context_ids=hits, reference_ids=DOCS[q])
    """
)

TWO = textwrap.dedent(
    """
    import pytest

    @pytest.mark.ragcost(scenario="other")
    def test_other(ragcost):
        for q in ragcost.requests(["a", "b", "c", "d"], id=lambda q: q):
            with ragcost.stage("generate") as st:
                st.tokens(prompt=10, context=20, completion=5, model="gpt-4o-mini")
    """
)

Statuses = dict[tuple[str, str], str]


def _statuses(doc: dict[str, Any]) -> Statuses:
    return {
        (v["scenario"], v["key"]): v["status"]
        for sc in doc["scenarios"]
        for v in sc["verdicts"]
    }


@pytest.fixture
def project(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    for name in ("RAGCOST_TEST_DROP", "RAGCOST_TEST_MODEL", "RAGCOST_TEST_EXTRA",
                 "RAGCOST_TEST_SLOW", "GITHUB_STEP_SUMMARY", "PYTEST_XDIST_WORKER",
                 "RAGCOST_AB_SIDE"):
        monkeypatch.delenv(name, raising=False)
    pytester.makepyfile(test_qa=SCENARIO)
    return pytester


class Parity:
    """What one case found on each path."""

    def __init__(self, project: pytest.Pytester, capsys: pytest.CaptureFixture[str]) -> None:
        self.project = project
        self.capsys = capsys

    def bless(self, *flags: str) -> None:
        result = self.project.runpytest("--ragcost", "--ragcost-update",
                                        "--ragcost-json=base.json", *flags)
        assert result.ret == 0, result.stdout.str()

    def run(self, *flags: str, cli: tuple[str, ...] = ()) -> tuple[int, Statuses, int, Statuses]:
        """The plugin's exit code and verdicts, and the command line's on its JSON."""
        result = self.project.runpytest("--ragcost", "--ragcost-json=run.json", *flags)
        plugin = _statuses(read_json(self.project.path / "run.json"))
        self.capsys.readouterr()
        strict = ["--strict"] if "--ragcost-strict" in flags else []
        code = main(["compare", str(self.project.path / "run.json"), "--json",
                     str(self.project.path / "cli.json"), *strict, *cli])
        self.capsys.readouterr()
        return int(result.ret), plugin, code, _statuses(read_json(self.project.path / "cli.json"))

    def ab(self) -> Statuses:
        """The A/B evaluation of the blessed run (base) against the last run (head)."""
        base = load_side(self.project.path / "base.json", "base", 1)
        head = load_side(self.project.path / "run.json", "head", 1)
        budget = load_budget(self.project.path / "ragcost.yaml")
        return {(v.scenario, v.key): v.status
                for vs in ab_compare([base, head], budget).values() for v in vs}


@pytest.fixture
def parity(project: pytest.Pytester, capsys: pytest.CaptureFixture[str]) -> Iterator[Parity]:
    cwd = Path.cwd()
    os.chdir(project.path)  # the command line reads ./ragcost.yaml, as the plugin does
    try:
        yield Parity(project, capsys)
    finally:
        os.chdir(cwd)


def _agree(found: tuple[int, Statuses, int, Statuses]) -> tuple[int, Statuses]:
    plugin_exit, plugin, cli_exit, cli = found
    assert cli == plugin, {k: (plugin.get(k), cli.get(k)) for k in plugin.keys() | cli.keys()
                           if plugin.get(k) != cli.get(k)}
    assert cli_exit == plugin_exit
    return plugin_exit, plugin


EXACT = ("tokens_context", "tokens_prompt", "tokens_total", "generate.tokens_total")


@pytest.mark.parametrize("requests", [None, "6"])
@pytest.mark.parametrize("changed", [False, True])
def test_exact_metrics_at_the_full_and_a_subset_request_count(
    parity: Parity, monkeypatch: pytest.MonkeyPatch, requests: str | None, changed: bool
) -> None:
    parity.bless()
    assert (parity.project.path / "ragcost.items.json").exists()
    if changed:
        monkeypatch.setenv("RAGCOST_TEST_EXTRA", "80")
    flags = (f"--ragcost-requests={requests}",) if requests else ()
    code, found = _agree(parity.run(*flags))
    want = "FAIL" if changed else "PASS"
    assert found[("qa", "tokens_context")] == want
    assert found[("qa", "tokens_prompt")] == "PASS"
    assert code == (1 if changed else 0)
    # the A/B evaluation of the same two runs says the same of every exact metric
    ab = parity.ab()
    for key in EXACT:
        if ("qa", key) in ab:
            assert ab[("qa", key)] == found[("qa", key)], key


def test_a_subset_without_per_item_baselines_is_incomparable_everywhere(
    parity: Parity,
) -> None:
    parity.bless()
    (parity.project.path / "ragcost.items.json").unlink()
    code, found = _agree(parity.run("--ragcost-requests=6"))
    assert found[("qa", "tokens_context")] == "INCOMPARABLE"
    assert code == 0
    strict_code, _ = _agree(parity.run("--ragcost-requests=6", "--ragcost-strict"))
    assert strict_code == 1


def test_noisy_metrics_on_the_prior(parity: Parity, monkeypatch: pytest.MonkeyPatch) -> None:
    parity.bless("--ragcost-history=none")
    monkeypatch.setenv("RAGCOST_TEST_SLOW", "2")
    _code, found = _agree(parity.run("--ragcost-history=none"))
    assert found[("qa", "retrieve.wall_ms")] in ("INCONCLUSIVE", "WARN", "FAIL")


def test_noisy_metrics_with_a_history_fail_alike_and_the_cli_reads_the_store(
    parity: Parity, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 2x rise of a stage's time: the prior alone cannot tell it from a busy machine,
    twelve quiet earlier runs of the code can (written into the store from the blessed
    run, each within 1% of it, so the test does not depend on this machine's load); the
    command line reaches the plugin's FAIL
    from the noise the run recorded, from the store itself, and (an older run file
    without recorded noise) from the store it finds beside the config."""
    parity.bless()
    _quiet_history(parity.project.path, runs=12)
    monkeypatch.setenv("RAGCOST_TEST_SLOW", "2")
    code, found = _agree(parity.run())
    assert found[("qa", "retrieve.wall_ms")] == "FAIL", _message(parity, "retrieve.wall_ms")
    assert code == 1
    history = str(parity.project.path / ".ragcost" / "history.sqlite3")
    assert main(["compare", "run.json", "--history", history, "--json", "h.json"]) == 1
    assert _statuses(read_json(parity.project.path / "h.json"))[("qa", "retrieve.wall_ms")] == (
        "FAIL")
    # without the history, the prior cannot tell
    main(["compare", "run.json", "--history", "none", "--json", "p.json"])
    assert _statuses(read_json(parity.project.path / "p.json"))[("qa", "retrieve.wall_ms")] != (
        "FAIL")
    # an older run file: no recorded noise, so the store beside the config is read
    doc = read_json(parity.project.path / "run.json")
    for sc in doc["scenarios"]:
        for v in sc["verdicts"]:
            v["noise"] = None
    (parity.project.path / "old.json").write_text(json.dumps(doc))
    assert main(["compare", "old.json", "--json", "o.json"]) == 1
    assert _statuses(read_json(parity.project.path / "o.json"))[("qa", "retrieve.wall_ms")] == (
        "FAIL")


def test_compare_reads_every_run_recorded_before_the_run_and_not_the_run_itself(
    parity: Parity, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``ragcost compare`` reads the history from before the run's ``created``: runs
    recorded earlier in the same second count, the run's own row does not. ``created``
    once had whole seconds, which left out the earlier runs of that second (a quick run's
    quiet history) and turned the plugin's FAIL into the command line's INCONCLUSIVE. The
    run ends at a fixed time here, half a second after two runs were recorded."""
    import datetime as real_dt
    import importlib
    import types

    from pytest_ragcost.history import RunMeta, open_store
    from pytest_ragcost.run.codec import read_run

    end = real_dt.datetime(2026, 1, 1, 0, 0, 5, 600_000, tzinfo=real_dt.UTC)

    class _Clock(real_dt.datetime):
        @classmethod
        def now(cls, tz: real_dt.tzinfo | None = None) -> _Clock:  # type: ignore[override]
            return cls.fromtimestamp(end.timestamp(), tz)

    # the module the inner session will import (an earlier inner session may have left a
    # stale copy as the package's attribute)
    outputs = importlib.import_module("pytest_ragcost.outputs")
    monkeypatch.setattr(outputs, "dt", types.SimpleNamespace(datetime=_Clock, UTC=real_dt.UTC))
    parity.bless()
    parity.run("--ragcost-history=none")
    saved = read_run(parity.project.path / "run.json")
    project = saved.settings.project or parity.project.path.name
    path = parity.project.path / ".ragcost" / "history.sqlite3"
    store = open_store(str(path), path, project=project)
    try:
        for offset_ms in (100, 300):  # in the run's last second, before it ended
            store.record(RunMeta(environment=saved.environment, ragcost_version="test",
                                 project=project,
                                 ts=end - real_dt.timedelta(milliseconds=500 - offset_ms)),
                         list(saved.outcomes))
        store.record(RunMeta(environment=saved.environment, ragcost_version="test",
                             project=project, ts=end + real_dt.timedelta(milliseconds=50)),
                     list(saved.outcomes))  # the run's own row, written after created
        before = store.summaries(str(saved.environment.get("id")), project=project,
                                 before=saved.created)
    finally:
        store.close()
    assert len(before["qa"]["retrieve.wall_ms"]["median"]) == 2, saved.created


def _quiet_history(root: Path, runs: int) -> None:
    """``runs`` earlier runs of this code in the default history: the blessed run, each
    request's figures scaled by a factor within 1%."""
    from dataclasses import replace

    from pytest_ragcost.history import RunMeta, open_store
    from pytest_ragcost.run.codec import read_run

    blessed = read_run(root / "base.json")
    store = open_store(str(root / ".ragcost" / "history.sqlite3"),
                       root / ".ragcost" / "history.sqlite3",
                       project=blessed.settings.project or root.name)
    try:
        for i in range(runs):
            factor = 1.0 + 0.01 * ((i % 5) - 2) / 2
            outcomes = [
                replace(o, run=replace(o.run, requests=tuple(
                    replace(r, metrics={k: v * factor for k, v in r.metrics.items()},
                            stages=tuple(replace(st, metrics={
                                k: v * factor for k, v in st.metrics.items()})
                                for st in r.stages))
                    for r in o.run.requests)))
                for o in blessed.outcomes
            ]
            store.record(RunMeta(environment=blessed.environment, ragcost_version="test",
                                 project=blessed.settings.project or root.name),
                         outcomes)
    finally:
        store.close()


def _message(parity: Parity, key: str) -> str:
    doc = read_json(parity.project.path / "run.json")
    return next(v["message"] for sc in doc["scenarios"] for v in sc["verdicts"]
                if v["key"] == key)


def test_paired_quality(parity: Parity, monkeypatch: pytest.MonkeyPatch) -> None:
    parity.bless()
    assert (parity.project.path / "ragcost.scores.json").exists()
    monkeypatch.setenv("RAGCOST_TEST_DROP", "1")
    code, found = _agree(parity.run())
    assert found[("qa", "context_recall")] == "FAIL"
    assert code == 1
    monkeypatch.setenv("RAGCOST_TEST_DROP", "0")
    code, found = _agree(parity.run("--ragcost-requests=6"))
    assert found[("qa", "context_recall")] == "PASS"


CONFIGS = {
    # name: (ragcost.yaml, env, flags, expected exit, an expected (scenario, key, status))
    "budget": ("  qa:\n    cost_usd: {budget: 0.00001}\n", {}, (), 1,
               ("qa", "cost_usd", "FAIL")),
    "unpriced model": ("  qa:\n    cost_usd: {budget: 0.01}\n",
                       {"RAGCOST_TEST_MODEL": "no-such-model-xyz"}, (), 1,
                       ("qa", "cost_usd", "FAIL")),
    "NEW": (None, {}, (), 0, ("qa", "tokens_context", "NEW")),
    "NEW, strict": (None, {}, ("--ragcost-strict",), 1, ("qa", "tokens_context", "NEW")),
    "STALE": ("  qa:\n    tokens_context: {baseline: 418.5}\n  gone:\n    errors: {baseline: 0}\n",
              {}, (), 0, ("gone", "*", "STALE")),
    "STALE, strict": ("  qa:\n    tokens_context: {baseline: 418.5}\n"
                      "  gone:\n    errors: {baseline: 0}\n", {}, ("--ragcost-strict",), 1,
                      ("gone", "*", "STALE")),
    "a vanished stage": ("  qa:\n    rerank.wall_ms: {baseline: 3}\n", {}, (), 0,
                         ("qa", "rerank.wall_ms", "STALE")),
    "another request count": ("  qa:\n    tokens_context: {baseline: 418.5, n: 100}\n", {}, (),
                              0, ("qa", "tokens_context", "INCOMPARABLE")),
}


@pytest.mark.parametrize("case", list(CONFIGS))
def test_hand_written_entries(
    parity: Parity, monkeypatch: pytest.MonkeyPatch, case: str
) -> None:
    text, env, flags, expected_exit, (scenario, key, status) = CONFIGS[case]
    if text is not None:
        (parity.project.path / "ragcost.yaml").write_text("version: 1\nscenarios:\n" + text)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    code, found = _agree(parity.run(*flags))
    assert found[(scenario, key)] == status
    assert code == expected_exit


def test_under_xdist(parity: Parity, monkeypatch: pytest.MonkeyPatch) -> None:
    parity.project.makepyfile(test_other=TWO)
    parity.bless("-n", "2")
    monkeypatch.setenv("RAGCOST_TEST_EXTRA", "80")
    code, found = _agree(parity.run("-n", "2"))
    assert found[("qa", "tokens_context")] == "FAIL"
    assert found[("other", "tokens_context")] == "PASS"
    assert code == 1
