"""Token usage of a model call and what it costs, from a per-model price table."""

from __future__ import annotations

from dataclasses import asdict, dataclass

# USD per million tokens: input, output, cache write, cache read (Anthropic list prices).
PRICES: dict[str, tuple[float, float, float, float]] = {
    "claude-opus-4": (15.0, 75.0, 18.75, 1.50),
    "claude-sonnet-4": (3.0, 15.0, 3.75, 0.30),
    "claude-3-7-sonnet": (3.0, 15.0, 3.75, 0.30),
    "claude-3-5-haiku": (0.80, 4.0, 1.0, 0.08),
    "claude-haiku-4": (1.0, 5.0, 1.25, 0.10),
}


@dataclass(frozen=True)
class Usage:
    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_write_tokens + self.cache_read_tokens

    def as_dict(self) -> dict:
        return asdict(self)


def price_for(model: str) -> tuple[float, float, float, float] | None:
    """The longest price-table prefix of the model name (dated names share their family's price)."""
    matches = [prefix for prefix in PRICES if model.startswith(prefix)]
    return PRICES[max(matches, key=len)] if matches else None


def cost_usd(model: str, usage: Usage) -> float:
    """0.0 for a model with no price (a local model); the run report says which model was used."""
    prices = price_for(model)
    if prices is None:
        return 0.0
    counts = (usage.input_tokens, usage.output_tokens, usage.cache_write_tokens, usage.cache_read_tokens)
    return round(sum(count * price for count, price in zip(counts, prices, strict=True)) / 1_000_000, 6)
