"""Choosing the provider: offline unless a model API is configured and asked for."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

from factory.agents.request import Provider
from factory.errors import InputError
from factory.layout import Layout
from factory.llm.cache import ReplyCache
from factory.llm.gateway import ModelGateway
from factory.llm.offline import OfflineProvider
from factory.llm.usage import Prices
from factory.pack0.models import Budgets

PROVIDERS = ("auto", "offline", "anthropic", "openai-compatible")


def resolve_provider_name(requested: str) -> str:
    """auto: anthropic when ANTHROPIC_API_KEY is set, else an OpenAI-compatible endpoint when
    LAI_OPENAI_BASE_URL is set, else the offline engine."""
    if requested not in PROVIDERS:
        raise InputError(f"unknown provider {requested!r}; choose one of {', '.join(PROVIDERS)}", field="--provider")
    if requested != "auto":
        return requested
    if os.environ.get("ANTHROPIC_API_KEY"):
        return "anthropic"
    if os.environ.get("LAI_OPENAI_BASE_URL"):
        return "openai-compatible"
    return "offline"


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
