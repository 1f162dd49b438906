"""The provider one build's agents call, from its settings: resolved here, where a stage needs it, so the
settings (config.py) import no provider code and llm/ knows nothing of a build's settings."""

from __future__ import annotations

from collections.abc import Callable

from factory.agents.request import Provider
from factory.config import BuildConfig
from factory.llm.select import make_provider
from factory.llm.usage import parse_prices
from factory.pack0.models import Budgets


def build_provider(config: BuildConfig, budgets: Budgets, progress: Callable[[str], None] | None = None) -> Provider:
    """The offline engine, or a model behind cache, budget and ledger. progress, when given, hears how a model
    reply grows while it streams."""
    prices = parse_prices(config.model_price) if config.model_price else None
    return make_provider(config.provider, config.model, config.layout, budgets, config.cache_dir, progress, prices)
