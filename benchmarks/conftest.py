"""Collects the figures the benchmarks compute and prints them at the end of the run.

Run all benchmarks with one command from the repository root:

    python -m pytest benchmarks -p no:ragcost --benchmark-only

Figures are ratios and differences measured in the same run (the machine is shared and
noisy), each against its target.
"""

from __future__ import annotations

from typing import Any

import pytest

FIGURES: list[tuple[str, str, str, str]] = []


def record(name: str, value: str, target: str, met: bool | None) -> None:
    verdict = "-" if met is None else ("met" if met else "MISSED")
    FIGURES.append((name, value, target, verdict))


@pytest.fixture
def figure() -> Any:
    return record


def pytest_terminal_summary(terminalreporter: Any) -> None:
    if not FIGURES:
        return
    from tabulate import tabulate

    terminalreporter.section("pytest-ragcost benchmark figures")
    for line in tabulate(FIGURES, headers=["figure", "value", "target", "verdict"]).splitlines():
        terminalreporter.write_line(line)
