"""Choosing the provider: offline unless a model API is configured and asked for."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from factory.agents.request import Provider
from factory.layout import Layout
from factory.llm.cache import ReplyCache
from factory.llm.gateway import ModelGateway
from factory.llm.offline import OfflineProvider
from factory.llm.usage import Prices
from factory.pack0.models import Budgets


def make_provider(
    name: str,
    model: str,
    layout: Layout,
    budgets: Budgets,
    cache_dir: Path,
    progress: Callable[[str], None] | None = None,
    prices: Prices | None = None,
) -> Provider:
    if name == "offline":
        return OfflineProvider()
    if name == "anthropic":
        from factory.llm.anthropic_provider import AnthropicProvider

        provider = AnthropicProvider(model, progress=progress)
    else:
        from factory.llm.openai_provider import OpenAICompatibleProvider

        provider = OpenAICompatibleProvider(model)
    return ModelGateway(provider, ReplyCache(cache_dir), layout.usage_ledger, budgets, prices)
