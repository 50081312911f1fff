"""A scenario's figures as JUnit XML properties.

Under pytest's ``xunit1`` family they go on the test's own report (``<properties>`` of
its ``<testcase>``), and so also travel from pytest-xdist workers; ``xunit2`` (pytest's
default) forbids properties in a test case, so there they become test-suite properties
named ``ragcost.<scenario>.<figure>`` at the end of the run, as
``record_testsuite_property`` writes them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from .run import Outcome

#: the per-request figures whose median and mean become properties
FIGURES = ("wall_ms", "cpu_ms", "ttft_ms", "energy_j", "tokens_total", "errors")


def is_xunit2(config: pytest.Config) -> bool:
    """True when JUnit XML is written in the xunit2 family (properties per suite)."""
    try:
        return str(config.getini("junit_family")) == "xunit2"
    except ValueError:  # -p no:junitxml: the ini key is not registered
        return False


def properties(outcome: Outcome) -> Iterator[tuple[str, object]]:
    """``(name, value)`` pairs: the scenario, its request count, the median and mean of
    each figure it measured, the energy's source, and every verdict's status."""
    # the summary module is loaded only once a scenario has run
    from .report.summary import summarize_run

    run = outcome.run
    yield "ragcost.scenario", run.scenario
    yield "ragcost.requests", len(run.requests)
    summary = summarize_run(run)
    for key in FIGURES:
        row = summary.get(key)
        if row is None:
            continue
        # six significant digits: a tiny energy figure must not round to zero
        yield f"ragcost.{key}.p50", float(f"{row['p50']:.6g}")
        yield f"ragcost.{key}.mean", float(f"{row['mean']:.6g}")
        if key == "energy_j":
            yield "ragcost.energy_j.source", row["source"]
    for verdict in outcome.verdicts:
        yield f"ragcost.verdict.{verdict.key}", verdict.status


def add_suite_properties(config: pytest.Config, outcomes: Iterable[Outcome]) -> None:
    """Under xunit2, every measured scenario's properties as test-suite properties named
    ``ragcost.<scenario>.<figure>``."""
    ordered = sorted((o for o in outcomes if o.run.requests), key=lambda o: o.run.scenario)
    for plugin in config.pluginmanager.get_plugins():
        # pytest's LogXML, found by what it offers (it is not importable as public API)
        add = getattr(plugin, "add_global_property", None)
        if add is None or not hasattr(plugin, "family"):
            continue
        for outcome in ordered:
            for name, value in properties(outcome):
                if name != "ragcost.scenario":
                    add(f"ragcost.{outcome.run.scenario}.{name.removeprefix('ragcost.')}",
                        value)
