"""The gate as a library: a ScenarioRun against ragcost.yaml, without pytest in between."""

from __future__ import annotations

from pathlib import Path

import pytest

from pytest_ragcost.compare.bless import bless
from pytest_ragcost.compare.costing import add_costs
from pytest_ragcost.compare.evaluate import default_keys, evaluate, failure_word, stale_scenarios
from pytest_ragcost.compare.gate import Gate, GateError, load_gate
from pytest_ragcost.config import Settings
from pytest_ragcost.report.verdicts import sentence
from pytest_ragcost.run import Outcome, RequestRecord, ScenarioRun, StageRecord, Verdict
from pytest_ragcost.run.model import Finding

ENV = {"id": "aaaaaaaaaaaa", "comparable": {"cpu": "test cpu", "cpus": 2}}


def make_run(
    scenario: str = "qa",
    *,
    context: list[int] | None = None,
    wall: list[float] | None = None,
    energy_source: str = "estimated",
    model: str | None = None,
) -> ScenarioRun:
    context = context or [100, 100, 100, 100]
    wall = wall or [10.0, 11.0, 9.0, 10.5]
    requests = []
    for i, (ctx, ms) in enumerate(zip(context, wall, strict=True)):
        stage = StageRecord(
            "generate",
            {"wall_ms": ms, "tokens_context": float(ctx), "tokens_prompt": ctx + 20.0,
             "tokens_completion": 10.0},
            {"wall_ms": "timer", "tokens_context": "counted", "tokens_prompt": "counted",
             "tokens_completion": "counted"},
            model=model,
        )
        requests.append(
            RequestRecord(
                trace_id=f"{i:032x}",
                index=i,
                metrics={"wall_ms": ms, "energy_j": ms / 100, "tokens_context": float(ctx),
                         "errors": 0.0},
                sources={"wall_ms": "timer", "energy_j": energy_source,
                         "tokens_context": "counted", "errors": "given"},
                stages=(stage,),
            )
        )
    return ScenarioRun(scenario, f"test_x.py::{scenario}", tuple(requests))


def gate_for(tmp_path: Path, text: str | None, env: dict[str, object] | None = None) -> Gate:
    path = tmp_path / "ragcost.yaml"
    if text is not None:
        path.write_text(text, encoding="utf-8")
    gate = load_gate(Settings(enabled=True, config_path=path), env or ENV)
    assert gate is not None
    return gate


def by_key(verdicts):  # type: ignore[no-untyped-def]
    return {v.key: v for v in verdicts}


def test_missing_file_makes_every_default_key_new(tmp_path: Path) -> None:
    gate = gate_for(tmp_path, None)
    assert not gate.exists
    verdicts = evaluate(make_run(), gate).verdicts
    assert {v.status for v in verdicts} == {"NEW"}
    assert [v.key for v in verdicts] == default_keys(make_run())
    assert "generate.wall_ms" in by_key(verdicts)


def test_exact_metric_one_token_over_the_tolerance_fails(tmp_path: Path) -> None:
    # baseline 100, tolerance 5% -> 105 passes, 106 fails
    text = "version: 1\nscenarios:\n  qa:\n    generate.tokens_context: {baseline: 100}\n"
    gate = gate_for(tmp_path, text)
    key = "generate.tokens_context"
    at_limit = by_key(evaluate(make_run(context=[105] * 4), gate).verdicts)[key]
    assert at_limit.status == "PASS"
    failed = by_key(evaluate(make_run(context=[106] * 4), gate).verdicts)[key]
    assert failed.status == "FAIL"
    assert "generate.tokens_context" in sentence(failed)
    assert "100" in sentence(failed)


def test_noisy_metric_from_another_machine_is_incomparable(tmp_path: Path) -> None:
    text = (
        "version: 1\nscenarios:\n  qa:\n    wall_ms: {baseline: 5.0, n: 4, se: 0.1}\n"
        "environment:\n  id: bbbbbbbbbbbb\n"
    )
    gate = gate_for(tmp_path, text)
    assert not gate.environment_matches()
    assert by_key(evaluate(make_run(), gate).verdicts)["wall_ms"].status == "INCOMPARABLE"
    # the same file on the machine it was measured on compares: 10x the baseline fails even
    # on the between-run prior, 2x is within what whole runs shift by on a shared machine
    same = gate_for(tmp_path, text, {"id": "bbbbbbbbbbbb"})
    assert by_key(evaluate(make_run(wall=[50.0] * 4), same).verdicts)["wall_ms"].status == "FAIL"
    doubled = by_key(evaluate(make_run(wall=[10.0] * 4), same).verdicts)["wall_ms"]
    assert doubled.status == "INCONCLUSIVE"
    assert "between-run noise 25% (prior" in sentence(doubled)


def test_energy_measured_with_another_kind_of_meter_is_incomparable(tmp_path: Path) -> None:
    text = (
        "version: 1\nscenarios:\n  qa:\n"
        "    energy_j: {baseline: 0.1, n: 4, se: 0.001, source: measured}\n"
    )
    gate = gate_for(tmp_path, text)
    verdict = by_key(evaluate(make_run(energy_source="estimated"), gate).verdicts)["energy_j"]
    assert verdict.status == "INCOMPARABLE"


def test_scenarios_nobody_ran_are_stale(tmp_path: Path) -> None:
    text = (
        "version: 1\nscenarios:\n  qa:\n    errors: {baseline: 0}\n"
        "  gone:\n    errors: {baseline: 0}\n"
    )
    gate = gate_for(tmp_path, text)
    found = stale_scenarios(gate, {"qa"})
    assert [(v.scenario, v.status) for v in found] == [("gone", "STALE")]


def test_broken_file_is_a_gate_error_with_the_line(tmp_path: Path) -> None:
    text = "version: 1\nscenarios:\n  qa:\n    tokens_context: {baseline: lots}\n"
    with pytest.raises(GateError, match=r"ragcost.yaml:4"):
        gate_for(tmp_path, text)


def test_update_writes_baselines_with_evidence_for_noisy_metrics(tmp_path: Path) -> None:
    gate = gate_for(tmp_path, None)
    result = bless([Outcome(run=make_run())], gate, mode="all").update
    text = (tmp_path / "ragcost.yaml").read_text(encoding="utf-8")
    assert result.changes
    reloaded = gate_for(tmp_path, text)
    entries = reloaded.budget.scenarios["qa"].entries
    assert entries["tokens_context"].baseline == 100
    assert entries["tokens_context"].n == 4  # which requests the exact baseline covers
    assert entries["tokens_context"].se is None
    assert "generate.wall_ms" in entries  # each stage's time, so a reviewer sees where
    assert entries["wall_ms"].n == 4
    assert entries["wall_ms"].se is not None
    assert entries["energy_j"].source == "estimated"
    assert reloaded.budget.environment["id"] == ENV["id"]
    # and the same run now passes against what it wrote
    assert {v.status for v in evaluate(make_run(), reloaded).verdicts} <= {"PASS"}


def test_costs_are_priced_per_model_and_unknown_models_are_named(tmp_path: Path) -> None:
    overrides = {"local-model": type("R", (), {"input_per_mtok": 1.0, "output_per_mtok": 2.0,
                                                 "cached_input_per_mtok": None})()}
    priced, notes, versions = add_costs(make_run(model="local-model"), overrides)
    costs = [r.metrics["cost_usd"] for r in priced.requests]
    # 120 prompt tokens at $1/M and 10 completion tokens at $2/M
    assert costs == pytest.approx([(120 * 1.0 + 10 * 2.0) / 1e6] * 4)
    assert notes == {}
    assert len(versions) == 1
    assert priced.requests[0].sources["cost_usd"].startswith("override #")

    unpriced, notes, _ = add_costs(make_run(model="no-such-model-xyz"), {})
    assert all("cost_usd" not in r.metrics for r in unpriced.requests)  # never a silent zero
    assert "no-such-model-xyz" in notes
    assert "prices:" in notes["no-such-model-xyz"]


def test_a_cost_entry_with_an_unpriced_model_fails_with_the_fix(tmp_path: Path) -> None:
    text = "version: 1\nscenarios:\n  qa:\n    cost_usd: {budget: 0.01}\n"
    gate = gate_for(tmp_path, text)
    outcome = evaluate(make_run(model="no-such-model-xyz"), gate)
    assert "no-such-model-xyz" in outcome.price_notes
    verdict = by_key(outcome.verdicts)["cost_usd"]
    assert verdict.status == "FAIL"
    assert "no-such-model-xyz" in sentence(verdict)
    assert failure_word([verdict]) == "UNMEASURED"


def test_a_metric_the_scenario_stopped_producing_is_stale_by_name(tmp_path: Path) -> None:
    text = (
        "version: 1\nscenarios:\n  qa:\n    rerank.wall_ms: {baseline: 5.0}\n"
        "    errors: {baseline: 0}\n"
    )
    verdicts = by_key(evaluate(make_run(), gate_for(tmp_path, text)).verdicts)
    assert verdicts["errors"].status == "PASS"
    gone = verdicts["rerank.wall_ms"]
    assert gone.status == "STALE"
    assert "the scenario ran but produced no rerank.wall_ms" in sentence(gone)
    assert "stage 'rerank' did not run" in sentence(gone)


def test_failure_words_say_what_failed(tmp_path: Path) -> None:
    text = (
        "version: 1\nscenarios:\n  qa:\n    tokens_context: {baseline: 100}\n"
        "    errors: {budget: 0}\n"
    )
    gate = gate_for(tmp_path, text)
    regressed = [v for v in evaluate(make_run(context=[200] * 4), gate).verdicts
                 if v.status == "FAIL"]
    assert [v.key for v in regressed] == ["tokens_context"]
    assert failure_word(regressed) == "REGRESSED"
    over = Verdict("qa", "errors", "FAIL", "over_budget", (Finding("FAIL", "over_budget"),),
                   current=1.0, budget=0.0)
    assert failure_word([*regressed, over]) == "OVER BUDGET"
    new = Verdict("qa", "wall_ms", "NEW", "no_baseline")
    assert failure_word([new]) == "NEW"


def test_an_exact_baseline_from_another_request_count_is_incomparable(tmp_path: Path) -> None:
    text = (
        "version: 1\nscenarios:\n  qa:\n    tokens_context: {baseline: 100, n: 100}\n"
        "    errors: {baseline: 0, n: 100, budget: 0}\n"
    )
    gate = gate_for(tmp_path, text)
    verdicts = by_key(evaluate(make_run(context=[300] * 4), gate).verdicts)
    assert verdicts["tokens_context"].status == "INCOMPARABLE"
    assert "--ragcost-requests=100" in sentence(verdicts["tokens_context"])
    # a budget is a cap on any number of requests
    assert verdicts["errors"].status == "PASS"


def _with_cost_source(run: ScenarioRun, source: str) -> ScenarioRun:
    from dataclasses import replace

    return replace(run, requests=tuple(
        replace(r, metrics={**r.metrics, "cost_usd": 0.001}, sources={**r.sources,
                                                                     "cost_usd": source})
        for r in run.requests
    ))


@pytest.mark.parametrize(
    ("now", "status"),
    [
        ("genai-prices 0.2.3 #b502582e", "FAIL"),  # a release with the same rates: compared
        ("genai-prices 0.2.2 #b502582e", "FAIL"),
        ("genai-prices 0.2.3 #0badc0de", "INCOMPARABLE"),  # the rates changed
    ],
)
def test_cost_is_compared_while_the_price_rates_hash_is_the_same(
    tmp_path: Path, now: str, status: str
) -> None:
    text = (
        "version: 1\nscenarios:\n  qa:\n"
        '    cost_usd: {baseline: 0.0005, n: 4, source: "genai-prices 0.2.2 #b502582e"}\n'
    )
    verdict = by_key(
        evaluate(_with_cost_source(make_run(), now), gate_for(tmp_path, text)).verdicts
    )["cost_usd"]
    assert verdict.status == status
    assert verdict.source == now
