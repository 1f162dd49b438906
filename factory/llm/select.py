"""Choosing the provider: offline unless a model API is configured and asked for."""

from __future__ import annotations

import os

from factory.agents.request import Provider
from factory.errors import InputError
from factory.llm.offline import OfflineProvider

PROVIDERS = ("auto", "offline", "anthropic")


def resolve_provider_name(requested: str) -> str:
    if requested not in PROVIDERS:
        raise InputError(f"unknown provider {requested!r}; choose one of {', '.join(PROVIDERS)}", field="--provider")
    if requested == "auto":
        return "anthropic" if os.environ.get("ANTHROPIC_API_KEY") else "offline"
    return requested


def make_provider(name: str) -> Provider:
    if name == "offline":
        return OfflineProvider()
    raise InputError(
        "LLM mode is not available in this version yet; unset ANTHROPIC_API_KEY or pass --provider offline",
        field="--provider",
    )
