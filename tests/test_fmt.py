"""The one number writer of the terminal, Markdown and HTML tables, and the one interval
writer that keeps every printed bound inside the values its metric can take."""

from __future__ import annotations

import math
import re

import pytest

from pytest_ragcost.report.fmt import (
    bound,
    fmt,
    frontier_lower,
    interval,
    num,
    positional,
    within_range,
)
from pytest_ragcost.run import value_range

E_NOTATION = re.compile(r"\de[+-]?\d")


@pytest.mark.parametrize(("value", "unit", "shown"), [
    (0.0, "", "0"),
    (-0.0, "ms", "0"),
    (4.56e-06, "", "0.00000456"),
    (-4.56e-06, "", "-0.00000456"),
    (4.56e-06, "ms", "0.00000456"),
    (0.00042, "J", "0.00042"),
    (4.56e-06, "USD", "0.00000456"),
    (0.00456, "USD", "0.00456"),
    (1e-9, "", "0.000000001"),
    (1e-13, "", "0"),
    (1e-13, "ms", "0"),
    (1e9, "", "1,000,000,000"),
    (1e9, "tokens", "1,000,000,000"),
    (-3.5, "", "-3.5"),
    (412.5, "ms", "412.5"),
    (0.5, "", "0.5"),
    (None, "", "-"),
    (math.nan, "", "—"),
    (math.inf, "ms", "—"),
    (-math.inf, "", "—"),
])
def test_table_numbers(value: float | None, unit: str, shown: str) -> None:
    assert fmt(value, unit) == shown


@pytest.mark.parametrize("exponent", range(-12, 15))
def test_no_table_cell_or_sentence_number_is_in_e_notation_below_1e15(exponent: int) -> None:
    for mantissa in (1.0, 4.56, -7.891):
        value = mantissa * 10.0**exponent
        for unit in ("", "ms", "J", "USD", "tokens", "count"):
            assert not E_NOTATION.search(fmt(value, unit)), (value, unit, fmt(value, unit))
        assert not E_NOTATION.search(num(value)), (value, num(value))


def test_positional_keeps_the_significant_digits() -> None:
    assert positional(0.000123456) == "0.000123"
    assert positional(0.000123456, 4) == "0.0001235"
    assert positional(0.01) == "0.01"
    assert positional(12.345) == "12.3"


def test_value_ranges() -> None:
    assert value_range("context_recall") == (0.0, 1.0)
    assert value_range("ragas_faithfulness") == (0.0, 1.0)
    assert value_range("wall_ms") == (0.0, math.inf)
    assert value_range("tokens_context") == (0.0, math.inf)
    assert value_range("count_candidates") == (0.0, math.inf)
    assert value_range("cost_usd") == (0.0, math.inf)
    assert value_range("my_own_figure") == (-math.inf, math.inf)


def test_a_change_stays_a_change_the_metric_can_make() -> None:
    # a 0-1 score at 0.9 can fall by 0.9 at most and rise by 0.1 at most
    assert within_range(-1.075, "context_recall", 0.9) == pytest.approx(-0.9)
    assert within_range(0.4, "context_recall", 0.9) == pytest.approx(0.1)
    assert within_range(-0.05, "context_recall", 0.9) == -0.05
    # a cost of 10 ms can fall by 10 ms at most, and rise without limit
    assert within_range(-12.0, "generate.wall_ms", 10.0) == -10.0
    assert within_range(1e9, "generate.wall_ms", 10.0) == 1e9
    # a value (no base) stays in the range itself
    assert within_range(-3.0, "cpu_ms") == 0.0
    assert within_range(1.2, "hit_at_k") == 1.0
    # a metric the plugin does not know is not clipped
    assert within_range(-5.0, "my_own_figure", 1.0) == -5.0


def test_interval_and_bound_text() -> None:
    assert interval(-1.075, 0.2, "context_recall", 0.9) == "[-0.9, +0.1]"
    assert interval(-12.0, 3.0, "generate.wall_ms", 10.0) == "[-10, +3]"
    assert interval(-2.0, 5.0, "tokens_context") == "[0, 5]"
    assert interval(-0.5, 0.25, "cost_usd", 1.0, lambda x: f"{x:+.2f}") == "[-0.50, +0.25]"
    assert bound(-3.0, "cpu_ms") == "0"
    assert frontier_lower(-1.075, "context_recall", 1.0) == "-1.000"
    assert frontier_lower(-0.2, "context_recall", 1.0) == "-0.200"
    assert frontier_lower(None, "context_recall", 1.0) == "-"
