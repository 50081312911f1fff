"""Prices: genai-prices lookups offline, overrides, unknown models, table versions."""

from __future__ import annotations

import socket
import sys
from dataclasses import dataclass

import pytest

from pytest_ragcost.prices import (
    ModelRates,
    PriceTable,
    TokenUsage,
    UnknownModelPriceError,
    as_usage,
    cost_per_success,
    count_successes,
    genai_prices_version,
    price_of,
)
from pytest_ragcost.record.usage import normalize_usage


@pytest.fixture
def no_network(monkeypatch: pytest.MonkeyPatch) -> None:
    """Any socket use fails the test: prices must come from the bundled data."""

    def refuse(*args: object, **kwargs: object) -> socket.socket:
        raise AssertionError("price lookup tried to use the network")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def test_override_arithmetic_with_cached_tokens() -> None:
    rates = {"local-llm": ModelRates(2.0, 8.0, 0.5)}
    p = price_of("local-llm", TokenUsage(1_000_000, 250_000, 400_000), rates)
    # 600k fresh input at $2, 400k cached at $0.5, 250k output at $8
    assert p.usd == pytest.approx(1.2 + 0.2 + 2.0)
    assert p.source == "override"
    assert p.table_version.startswith("override #")
    # no cached rate: cached tokens cost the input rate
    q = price_of("m", TokenUsage(1_000_000, 0, 400_000), {"m": ModelRates(2.0, 8.0)})
    assert q.usd == pytest.approx(2.0)


def test_an_explicit_zero_is_zero_and_an_unknown_model_is_an_error(no_network: None) -> None:
    assert price_of("gemma3-270m", (5000, 300), {"gemma3-270m": ModelRates(0, 0)}).usd == 0.0
    with pytest.raises(
        UnknownModelPriceError, match=r"no price for model 'gemma3-270m-local'.*prices:"
    ):
        price_of("gemma3-270m-local", (5000, 300))


def test_the_table_version_changes_with_the_rates() -> None:
    a = price_of("m", (10, 10), {"m": ModelRates(1.0, 2.0)})
    b = price_of("m", (10, 10), {"m": ModelRates(1.0, 2.0)})
    c = price_of("m", (10, 10), {"m": ModelRates(1.0, 2.5)})
    assert a.table_version == b.table_version != c.table_version


def test_override_rates_are_checked() -> None:
    with pytest.raises(ValueError, match=r"prices\.m\.output_per_mtok must be a number"):
        PriceTable({"m": ModelRates(1.0, -2.0)})


def test_genai_prices_offline_matches_its_own_rates(no_network: None) -> None:
    from genai_prices import Usage, calc_price

    p = price_of("gpt-4o-mini", {"prompt_tokens": 120_000, "completion_tokens": 30_000})
    want = calc_price(Usage(input_tokens=120_000, output_tokens=30_000), "gpt-4o-mini")
    assert p.usd == pytest.approx(float(want.total_price))
    assert p.usd > 0
    assert p.source == "genai-prices"
    assert p.table_version.startswith(f"genai-prices {genai_prices_version()} #")
    # cached input is cheaper than fresh input for this model
    cached = price_of(
        "gpt-4o-mini",
        {
            "prompt_tokens": 120_000,
            "completion_tokens": 30_000,
            "prompt_tokens_details": {"cached_tokens": 100_000},
        },
    )
    assert cached.usd < p.usd
    # an override wins over the table
    assert price_of("gpt-4o-mini", (1, 1), {"gpt-4o-mini": ModelRates(0, 0)}).usd == 0.0


@dataclass
class _AnthropicUsage:
    input_tokens: int
    output_tokens: int
    cache_read_input_tokens: int
    cache_creation_input_tokens: int


def test_a_broken_genai_prices_install_is_named_with_the_repair(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # genai-prices is a dependency, so the fix is a reinstall, not an extra
    monkeypatch.setitem(sys.modules, "genai_prices", None)  # makes the import fail
    with pytest.raises(UnknownModelPriceError) as info:
        price_of("gpt-4o-mini", (10, 10))
    msg = str(info.value)
    assert "genai-prices, a dependency of pytest-ragcost, cannot be imported" in msg
    assert "pip install --force-reinstall 'genai-prices>=0.0.30'" in msg
    assert "'prices: {gpt-4o-mini: {input_per_mtok: ..., output_per_mtok: ...}}'" in msg
    assert "[prices]" not in msg


def test_usage_shapes() -> None:
    assert as_usage((3, 4)) == TokenUsage(3, 4)
    assert as_usage({"input_tokens": 3, "output_tokens": 4}) == TokenUsage(3, 4)
    assert as_usage(
        {"prompt_tokens": 10, "completion_tokens": 2, "prompt_tokens_details": {"cached_tokens": 6}}
    ) == TokenUsage(10, 2, 6)
    # Anthropic keeps cache reads and writes apart from input_tokens
    assert as_usage(_AnthropicUsage(5, 7, 100, 20)) == TokenUsage(125, 7, 100)
    with pytest.raises(TypeError, match="cannot read token usage from str"):
        as_usage("lots")
    with pytest.raises(ValueError, match="cannot exceed it"):
        TokenUsage(1, 0, 2)


@pytest.mark.parametrize("bad", [2.5, "7", None, -1])
def test_a_token_count_that_is_not_a_whole_number_is_refused_as_in_stage_usage(
    bad: object,
) -> None:
    # the price layer reads usage with the recorder's parser: the same refusal, never a 0
    usage = {"prompt_tokens": bad, "completion_tokens": 2}
    with pytest.raises(ValueError, match="prompt_tokens") as priced:
        as_usage(usage)
    with pytest.raises(ValueError, match="prompt_tokens") as recorded:
        normalize_usage(usage)
    assert str(priced.value) == str(recorded.value)


def test_cost_per_success() -> None:
    assert cost_per_success(0.5, 4) == pytest.approx(0.125)
    assert cost_per_success(0.5, 0) is None
    with pytest.raises(ValueError, match="successes >= 0"):
        cost_per_success(0.5, -1)
    assert count_successes([0.9, 0.7, None, 0.8], 0.8) == 2


def test_rates_hash_keeps_the_rates_and_drops_the_package_version() -> None:
    from pytest_ragcost.prices import rates_hash

    assert rates_hash("genai-prices 0.2.2 #1a2b3c4d") == rates_hash("genai-prices 0.2.3 #1a2b3c4d")
    assert rates_hash("genai-prices 0.2.3 #1a2b3c4d; override #00ff00ff") == (
        "rates #00ff00ff;#1a2b3c4d"
    )
    assert rates_hash("genai-prices 0.2.3 #1a2b3c4d") != rates_hash("genai-prices 0.2.3 #99999999")
    assert rates_hash(None) is None
    assert rates_hash("given") == "given"
