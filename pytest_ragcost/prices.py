"""Dollar prices of model calls, from the ``genai-prices`` table with per-model overrides.

Where a price comes from
------------------------
1. A per-model override (the ``prices:`` block of ``ragcost.yaml``: dollars per
   million input, output and cached-input tokens). Self-hosted and local models belong
   here; write zeros to say, explicitly, that a model costs nothing.
2. Otherwise the ``genai-prices`` package (a dependency of pytest-ragcost), which
   ships its price data inside the wheel and never goes to the network unless asked to
   (we never ask).
3. Otherwise the model is unknown and ``price_of`` raises ``UnknownModelPriceError``.
   A missing price is never a silent zero.

The table version, and how the gate should use it
-------------------------------------------------
Every ``Price`` carries ``table_version``: ``"genai-prices 0.2.3 #1a2b3c4d"`` (the
package version plus a short hash of the rates actually applied to that model) or
``"override #..."`` (a hash of the override's rates). A price update therefore always
changes the version, also a dated price change inside one genai-prices release (prices
are looked up at the time of the run unless ``PriceTable(at=...)`` pins it). The gate
stores the version next to a ``cost_usd`` baseline (its ``source``) and compares
``cost_usd`` only while the rates hashes are the same (:func:`rates_hash`; a genai-prices
release that leaves the model's rates alone keeps them): when they differ the verdict is
INCOMPARABLE ("re-bless with --ragcost-update"), never FAIL. Token counts, which
do not depend on prices, stay gated as usual, so a price change never hides a real
regression in usage.

Cached input tokens are a subset of input tokens (the OpenAI convention); they are
billed at the cached rate when the model has one, else at the input rate.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, Protocol

PriceSource = Literal["genai-prices", "override"]

# genai-prices is a dependency: when it cannot be imported, the installation is broken
REPAIR_HINT = "pip install --force-reinstall 'genai-prices>=0.0.30'"


class UnknownModelPriceError(LookupError):
    """No price is known for a model."""


class Rates(Protocol):
    """Anything with per-million-token rates, such as ``ModelRates`` (what the
    ``prices:`` block of ragcost.yaml loads into)."""

    @property
    def input_per_mtok(self) -> float: ...

    @property
    def output_per_mtok(self) -> float: ...

    @property
    def cached_input_per_mtok(self) -> float | None: ...


@dataclass(frozen=True)
class ModelRates:
    """Dollars per million tokens for one model."""

    input_per_mtok: float
    output_per_mtok: float
    cached_input_per_mtok: float | None = None


@dataclass(frozen=True)
class TokenUsage:
    """Tokens of one call or a total; ``cached_input_tokens`` is part of ``input_tokens``."""

    input_tokens: int = 0
    output_tokens: int = 0
    cached_input_tokens: int = 0

    def __post_init__(self) -> None:
        for name in ("input_tokens", "output_tokens", "cached_input_tokens"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                msg = f"TokenUsage.{name} must be a whole number >= 0 (got {value!r})"
                raise ValueError(msg)
        if self.cached_input_tokens > self.input_tokens:
            msg = (
                f"TokenUsage: cached_input_tokens ({self.cached_input_tokens}) is part of "
                f"input_tokens ({self.input_tokens}) and cannot exceed it"
            )
            raise ValueError(msg)


@dataclass(frozen=True)
class Price:
    """The dollar price of some usage, where it came from, and the table's version."""

    usd: float
    source: PriceSource
    table_version: str
    model: str


def as_usage(usage_or_tokens: object) -> TokenUsage:
    """Normalise usage: a ``TokenUsage``, an ``(input, output)`` pair, or provider usage in
    any shape :func:`~pytest_ragcost.record.usage.normalize_usage` reads (OpenAI chat and
    Responses, Anthropic with its separate cache counters, SDK objects or dicts). A token
    count that is not a whole number >= 0 is refused, never read as 0."""
    from .record.usage import normalize_usage, whole_tokens

    u = usage_or_tokens
    if isinstance(u, TokenUsage):
        return u
    if isinstance(u, tuple) and len(u) == 2:
        return TokenUsage(whole_tokens(u[0], "input"), whole_tokens(u[1], "output"))
    usage = normalize_usage(u)
    return TokenUsage(usage.prompt, usage.completion, usage.cached_prompt)


def rates_hash(source: str | None) -> str | None:
    """What makes two ``cost_usd`` figures comparable: the hashes of the rates applied.

    A ``cost_usd`` source reads like ``"genai-prices 0.2.3 #1a2b3c4d"`` (several models:
    ``"...; override #..."``). A new genai-prices release with the same rates for the
    models used keeps the hashes, so the dollars are still comparable; the package version
    is left out. A source without a hash is returned as it is.
    """
    if source is None:
        return None
    hashes = sorted(set(re.findall(r"#[0-9a-f]+", source)))
    return "rates " + ";".join(hashes) if hashes else source


def _rates_hash(*parts: object) -> str:
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:8]


def _check_rates(model: str, rates: Rates) -> None:
    for name in ("input_per_mtok", "output_per_mtok", "cached_input_per_mtok"):
        value = getattr(rates, name, None)
        if value is None and name == "cached_input_per_mtok":
            continue
        if not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
            msg = (
                f"prices.{model}.{name} must be a number of dollars per million tokens "
                f">= 0 (got {value!r})"
            )
            raise ValueError(msg)


def genai_prices_version() -> str | None:
    """The installed genai-prices version, or ``None`` when it is not installed."""
    try:
        import genai_prices
    except ImportError:
        return None
    return str(genai_prices.__version__)


class PriceTable:
    """Prices of models: overrides first, then genai-prices; unknown models raise."""

    def __init__(
        self,
        overrides: Mapping[str, Rates] | None = None,
        *,
        at: datetime | None = None,
        provider_id: str | None = None,
    ) -> None:
        self.overrides: dict[str, Rates] = dict(overrides or {})
        for model, rates in self.overrides.items():
            _check_rates(model, rates)
        self.at = at
        self.provider_id = provider_id

    def price_of(self, model: str, usage_or_tokens: object) -> Price:
        """The dollar price of ``usage_or_tokens`` on ``model`` (see ``as_usage``)."""
        usage = as_usage(usage_or_tokens)
        if model in self.overrides:
            r = self.overrides[model]
            cached_rate = (
                r.cached_input_per_mtok if r.cached_input_per_mtok is not None else r.input_per_mtok
            )
            usd = (
                (usage.input_tokens - usage.cached_input_tokens) * r.input_per_mtok
                + usage.cached_input_tokens * cached_rate
                + usage.output_tokens * r.output_per_mtok
            ) / 1e6
            version = "override #" + _rates_hash(
                r.input_per_mtok, r.output_per_mtok, r.cached_input_per_mtok
            )
            return Price(usd, "override", version, model)
        return self._from_genai_prices(model, usage)

    def _from_genai_prices(self, model: str, usage: TokenUsage) -> Price:
        try:
            from genai_prices import Usage, calc_price
        except ImportError as exc:
            msg = (
                f"no price for model {model!r}: it has no entry under prices: in "
                f"ragcost.yaml, and genai-prices, a dependency of pytest-ragcost, cannot "
                f"be imported ({exc}). Repair the installation with {REPAIR_HINT}, or add "
                f"'prices: {{{model}: {{input_per_mtok: ..., output_per_mtok: ...}}}}'"
            )
            raise UnknownModelPriceError(msg) from None
        gp_usage = Usage(
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            cache_read_tokens=usage.cached_input_tokens,
        )
        try:
            calc = calc_price(
                gp_usage, model, provider_id=self.provider_id, genai_request_timestamp=self.at
            )
        except LookupError as exc:
            msg = (
                f"no price for model {model!r}: genai-prices {genai_prices_version()} does "
                f"not know it ({exc}). Add 'prices: {{{model}: {{input_per_mtok: ..., "
                "output_per_mtok: ...}}' to ragcost.yaml (zeros for a free local model)"
            )
            raise UnknownModelPriceError(msg) from None
        usd = float(calc.total_price)
        version = f"genai-prices {genai_prices_version()} #" + _rates_hash(
            calc.provider.id, calc.model.id, str(calc.model_price)
        )
        return Price(usd, "genai-prices", version, model)


def price_of(
    model: str, usage_or_tokens: object, overrides: Mapping[str, Rates] | None = None
) -> Price:
    """One-off form of ``PriceTable(overrides).price_of(model, usage_or_tokens)``."""
    return PriceTable(overrides).price_of(model, usage_or_tokens)


def cost_per_success(total_usd: float, successes: int) -> float | None:
    """Dollars per successful answer; ``None`` when nothing succeeded (not infinity)."""
    if successes < 0 or not math.isfinite(total_usd):
        msg = (
            "cost_per_success needs a finite total and successes >= 0 "
            f"(got {total_usd!r}, {successes!r})"
        )
        raise ValueError(msg)
    return total_usd / successes if successes else None


def count_successes(scores: Iterable[float | None], minimum: float) -> int:
    """How many samples scored at least ``minimum`` (``success: {metric, min}``).

    A sample whose quality is unknown (``None``) is not a success.
    """
    return sum(1 for s in scores if s is not None and s >= minimum)
