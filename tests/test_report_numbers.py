"""What a person reads in the terminal and the Markdown: bounds inside the metric's range,
numbers without e-notation, and a note on every verdict whose n cannot see the change its
tolerance allows. Inner sessions, as a user runs them."""

from __future__ import annotations

import re

import pytest
from conftest import SWEEP
from test_plugin_load import closed_loop

E_NOTATION = re.compile(r"\d\.?\d*e[+-]\d")


def test_the_frontier_never_bounds_a_score_change_past_the_score_range(
    rag_project: pytest.Pytester,
) -> None:
    """top_k=1 finds every other reference (changes 0, -1, 0, -1 ...) against top_k=2's
    1.0: the t bound of the change is -1.075, a score below 0. It shows as -1.000."""
    rag_project.makepyfile(test_sweep=SWEEP)
    result = rag_project.runpytest("--ragcost", "--ragcost-markdown=out.md")
    result.assert_outcomes(passed=3)
    result.stdout.fnmatch_lines([
        "config * n * cost * Δcost * quality * Δq low * frontier * ok",
        "top_k=1 * 6 * 0.500 * -1.000 * yes * no",
    ])
    out = result.stdout.str()
    md = (rag_project.path / "out.md").read_text(encoding="utf-8")
    assert "-1.075" not in out
    assert "-1.075" not in md
    assert re.search(r"\| top\\_k=1 \| 6 \| .* \| 0\.500 \| -1\.000 \| ", md), md


def test_the_load_table_writes_small_costs_out(rag_project: pytest.Pytester) -> None:
    """A cost per answer of a few millionths of a dollar read 4.5e-05 in the load table."""
    rag_project.makepyfile(test_load=closed_loop(2, [1], 0.3))
    result = rag_project.runpytest("--ragcost", "--ragcost-markdown=out.md")
    result.assert_outcomes(passed=1)
    out = result.stdout.str()
    table = out[out.index("load profile"):]
    row = next(line for line in table.splitlines() if line.startswith("svc-u1"))
    cost = row.split()[-1]
    assert re.fullmatch(r"0\.0000?\d+", cost), row
    assert not E_NOTATION.search(table), table
    md = (rag_project.path / "out.md").read_text(encoding="utf-8")
    assert not E_NOTATION.search(md), md


NOISY = '''
import random
import time
import pytest


# each request sleeps 1 to 40 ms at random, run after run: a spread per request far wider
# than a 5% tolerance can see at n=6, and wider than the between-run prior
@pytest.mark.ragcost(scenario="noisy", requests=6)
def test_noisy(ragcost):
    for item in ragcost.requests([f"q{i}" for i in range(6)]):
        with ragcost.stage("work"):
            time.sleep(random.uniform(0.001, 0.04))
'''

CONFIG = '''
version: 1
defaults:
  tolerance: 5%
scenarios:
  noisy:
    work.wall_ms: {baseline: 0}
'''


def test_a_cost_verdict_says_how_many_requests_would_see_its_tolerance(
    rag_project: pytest.Pytester,
) -> None:
    """Blessed, then run again unchanged: wall time passes or is inconclusive, and its
    sentence says what n=6 can see, and that no number of requests would see 5%."""
    rag_project.makepyfile(test_noisy=NOISY)
    rag_project.makefile(".yaml", ragcost=CONFIG)
    blessed = rag_project.runpytest("--ragcost", "--ragcost-update")
    blessed.assert_outcomes(passed=1)
    result = rag_project.runpytest("--ragcost", "--ragcost-markdown=out.md")
    assert result.ret == 0, result.stdout.str()
    out = result.stdout.str()
    # the 25% between-run prior of two runs alone is wider than 5%: more requests cannot
    # narrow it, and the note says what can
    note = re.search(r"gate under-powered: n=6 detects rises of ([\d.]+)% or more "
                     r"\(allowed rise 5%\); no number of items would: the between-run "
                     r"noise 25% \(prior", " ".join(out.split()))
    assert note is not None, out
    assert float(note.group(1)) > 5.0
    md = (rag_project.path / "out.md").read_text(encoding="utf-8")
    assert "gate under-powered: n=6 detects rises of" in md, md
