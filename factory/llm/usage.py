"""Token usage of a model call and what it costs, from a per-model price table (or prices from settings)."""

from __future__ import annotations

from factory.agents.request import Usage
from factory.errors import InputError

Prices = tuple[float, float, float, float]
# USD per million tokens: input, output, cache write (5 minutes), cache read. Anthropic list prices, by
# model-name prefix (the longest matching prefix wins).
PRICES: dict[str, Prices] = {
    "claude-opus-4": (15.0, 75.0, 18.75, 1.50),
    "claude-opus-4-5": (5.0, 25.0, 6.25, 0.50),
    "claude-opus-4-6": (5.0, 25.0, 6.25, 0.50),
    "claude-3-7-sonnet": (3.0, 15.0, 3.75, 0.30),
    "claude-3-5-haiku": (0.80, 4.0, 1.0, 0.08),
    "claude-haiku-4": (1.0, 5.0, 1.25, 0.10),
    # Every Sonnet generation so far has had this list price; a newer Sonnet is assumed to keep it
    # (the `model_price` setting overrides this for any model).
    "claude-sonnet-": (3.0, 15.0, 3.75, 0.30),
}


def parse_prices(text: str, where: str = "model_price") -> Prices:
    """'3,15,3.75,0.3' (USD per million tokens: input, output, cache write, cache read)."""
    parts = [part.strip() for part in text.split(",")]
    try:
        values = tuple(float(part) for part in parts)
    except ValueError:
        values = ()
    if len(values) != 4 or any(value < 0 for value in values):
        raise InputError(
            f"must be four prices in USD per million tokens, 'input,output,cache_write,cache_read', not {text!r}",
            field=where,
        )
    return values  # type: ignore[return-value]


def price_for(model: str, override: Prices | None = None) -> Prices | None:
    """The prices from settings, else the longest price-table prefix of the model name, else None."""
    if override is not None:
        return override
    matches = [prefix for prefix in PRICES if model.startswith(prefix)]
    return PRICES[max(matches, key=len)] if matches else None


def cost_usd(prices: Prices | None, usage: Usage) -> float:
    """0.0 without prices: such a model is only used without a cost budget (the gateway refuses it)."""
    if prices is None:
        return 0.0
    counts = (usage.input_tokens, usage.output_tokens, usage.cache_write_tokens, usage.cache_read_tokens)
    return round(sum(count * price for count, price in zip(counts, prices, strict=True)) / 1_000_000, 6)
