"""Between-run noise: the random-effects estimate from the history, the prior, and what they
do to a noisy verdict."""

from __future__ import annotations

import math
import random

import pytest
from judging import judge_summary

from pytest_ragcost.compare.describe import Summary
from pytest_ragcost.compare.noise import PRIOR_BETWEEN_CV, RunSummary, between_run_noise
from pytest_ragcost.report.verdicts import describe_noise, sentence
from pytest_ragcost.run import Tolerance, Verdict
from pytest_ragcost.run.model import BetweenRun


def _judge(ratio: float, between: BetweenRun | None, n: int = 12) -> Verdict:
    return judge_summary(
        scenario="qa", key="cpu_ms", metric_class="noisy",
        current=Summary(10.0 * ratio, n, 0.3 * ratio), baseline=10.0, baseline_n=n,
        baseline_se=0.3, tolerance=Tolerance(0.05, relative=True), budget=None,
        severity="fail", current_source="timer", baseline_source="timer",
        environment_matches=True, between=between,
    )


def test_too_little_history_uses_the_prior_and_says_so() -> None:
    runs = [RunSummary(10.0, 0.2, 12, "a"), RunSummary(11.0, 0.2, 12, "a"),
            RunSummary(30.0, 0.2, 12, "b")]
    noise = between_run_noise(runs)
    assert noise.source == "prior"
    assert noise.sd == PRIOR_BETWEEN_CV
    assert noise.runs == 3
    assert "prior" in describe_noise(noise)


def test_the_estimate_is_the_spread_of_runs_of_one_commit_less_their_own_noise() -> None:
    rng = random.Random(1)
    true_sd, within_rel = 0.10, 0.02
    runs = [
        RunSummary(100.0 * math.exp(rng.gauss(0.0, true_sd) + rng.gauss(0.0, within_rel)),
                   100.0 * within_rel, 30, "abc")
        for _ in range(400)
    ]
    noise = between_run_noise(runs, prior_weight=0.0)
    assert noise.source == "history"
    assert noise.sd == pytest.approx(true_sd, rel=0.1)
    # the prior's weight pulls a small estimate towards it
    pooled = between_run_noise(runs[:8], prior_weight=4.0)
    assert pooled.df == 4.0 + 7
    assert "from 8 earlier runs" in describe_noise(pooled)


def test_a_change_of_code_is_not_taken_for_noise() -> None:
    runs = [RunSummary(v, 0.1, 30, "old") for v in (10.0, 10.1, 9.9, 10.0, 10.05)]
    runs += [RunSummary(v, 0.1, 30, "new") for v in (20.0, 20.2, 19.8, 20.1, 19.9)]
    noise = between_run_noise(runs, prior_weight=0.0)
    assert noise.sd < 0.02
    mixed = between_run_noise([RunSummary(r.value, r.se, r.n, None) for r in runs],
                              prior_weight=0.0)
    assert mixed.sd > 0.3


def test_quiet_history_narrows_the_interval_and_the_verdict_names_the_noise() -> None:
    quiet = [RunSummary(10.0 + 0.05 * (i % 3), 0.3, 12, "a") for i in range(20)]
    noise = between_run_noise(quiet)
    assert noise.sd < PRIOR_BETWEEN_CV
    prior = between_run_noise([])
    assert _judge(2.0, prior).status == "INCONCLUSIVE"
    doubled = _judge(2.0, noise)
    assert doubled.status == "FAIL"
    said = f"between-run noise {noise.sd * 100:.3g}% (from 20 earlier runs here"
    assert said in sentence(doubled)


@pytest.mark.parametrize("source", ["prior", "history"])
def test_a_tenfold_rise_still_fails(source: str) -> None:
    noisy = [RunSummary(10.0 * (1.6 if i % 2 else 0.6), 0.3, 12, "a") for i in range(12)]
    noise = between_run_noise([] if source == "prior" else noisy)
    assert noise.source == source
    assert _judge(10.0, noise).status == "FAIL"


def test_an_unchanged_run_that_shifted_with_the_machine_passes() -> None:
    # a whole run 40% slower (a busy machine): the i.i.d. rule fails it, the prior does not
    assert _judge(1.4, None).status == "FAIL"
    assert _judge(1.4, between_run_noise([])).status in ("PASS", "INCONCLUSIVE")
    assert _judge(1.4, between_run_noise([])).status != "FAIL"


def test_a_noisy_budget_allows_for_the_run_effect_too() -> None:
    def budget_verdict(between: BetweenRun | None) -> str:
        return judge_summary(
            scenario="qa", key="cpu_ms", metric_class="noisy",
            current=Summary(13.0, 30, 0.1), baseline=None, baseline_n=None, baseline_se=None,
            tolerance=Tolerance(0.05, relative=True), budget=10.0, severity="fail",
            current_source="timer", baseline_source=None, environment_matches=True,
            between=between,
        ).status

    assert budget_verdict(None) == "FAIL"
    assert budget_verdict(between_run_noise([])) == "INCONCLUSIVE"


def test_a_bad_prior_is_refused() -> None:
    with pytest.raises(ValueError, match="prior_cv must be a finite number >= 0"):
        between_run_noise([], prior_cv=-0.1)
