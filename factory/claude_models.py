"""What the factory knows about Claude models: the default (read from the installed SDK's own model list),
deprecations, output limits and the minimum length the API will cache a prompt prefix at."""

from __future__ import annotations

import ast
import importlib.util
import re
from functools import cache
from pathlib import Path

# Used only when the installed SDK lists no model at all (a very old anthropic release).
FALLBACK_MODEL = "claude-sonnet-4-5"

# Most output tokens per reply, by model-name prefix (the longest matching prefix wins). A model not
# listed gets SAFE_MAX_TOKENS, which every current model accepts; a longer reply is continued.
MAX_OUTPUT_TOKENS = {
    "claude-3-5-haiku": 8_192,
    "claude-3-7-sonnet": 64_000,
    "claude-haiku-4-5": 64_000,
    "claude-sonnet-4": 64_000,
    # Every Sonnet since 3.7 allows 64000; should a newer one allow less, the API's 400 names its limit
    # and the provider retries once with it.
    "claude-sonnet-": 64_000,
    "claude-opus-4": 32_000,
    "claude-opus-4-5": 64_000,
    "claude-opus-4-6": 128_000,
}
SAFE_MAX_TOKENS = 8_192

# Prompt caching: a prefix shorter than this many tokens is silently not cached by the API.
CACHE_MINIMUM_TOKENS = {
    "claude-3-5-haiku": 2_048,
    "claude-3-7-sonnet": 1_024,
    "claude-sonnet-4": 1_024,
    "claude-opus-4": 1_024,
    "claude-opus-4-5": 4_096,
    "claude-opus-4-6": 4_096,
    "claude-haiku-4-5": 4_096,
}
# A model not listed is assumed to need the largest minimum: the prefix is then long enough anywhere.
UNKNOWN_CACHE_MINIMUM = 4_096

_SONNET = re.compile(r"^claude-sonnet-(\d+)(?:-(\d{1,2}))?(?:-(\d{8}))?$")


def _by_prefix(table: dict[str, int], model: str, default: int) -> int:
    matches = [prefix for prefix in table if model.startswith(prefix)]
    return table[max(matches, key=len)] if matches else default


def max_output_tokens(model: str) -> int:
    return _by_prefix(MAX_OUTPUT_TOKENS, model, SAFE_MAX_TOKENS)


def cache_minimum_tokens(model: str) -> int:
    return _by_prefix(CACHE_MINIMUM_TOKENS, model, UNKNOWN_CACHE_MINIMUM)


@cache
def sdk_models() -> tuple[tuple[str, ...], dict[str, str]]:
    """(the model names the installed anthropic SDK lists, {deprecated model: retirement date}), read from
    its files (types/model_param.py, _data/deprecated_models.py) without importing it: every command starts
    faster, and the lists track SDK upgrades."""
    spec = importlib.util.find_spec("anthropic")
    if spec is None or spec.origin is None:
        return (), {}
    root = Path(spec.origin).parent
    try:
        listed = (root / "types/model_param.py").read_text(encoding="utf-8")
    except OSError:
        return (), {}
    names = tuple(dict.fromkeys(re.findall(r'^\s*"(claude-[\w.-]+)",?\s*$', listed, re.MULTILINE)))
    try:
        tree = ast.parse((root / "_data/deprecated_models.py").read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        return names, {}
    for node in ast.walk(tree):
        if isinstance(node, ast.AnnAssign | ast.Assign) and isinstance(node.value, ast.Dict):
            try:
                deprecated = ast.literal_eval(node.value)
            except ValueError:
                continue
            return names, {str(k): str(v) for k, v in deprecated.items()}
    return names, {}


def newest_sonnet(names: tuple[str, ...], deprecated: dict[str, str]) -> str | None:
    """The newest Sonnet-class name that is not deprecated; an alias (no date) over a dated snapshot."""
    ranked = []
    for name in names:
        match = _SONNET.match(name)
        if match and name not in deprecated:
            major, minor, date = match.groups()
            ranked.append(((int(major), int(minor or 0), date is None, date or ""), name))
    return max(ranked)[1] if ranked else None


@cache
def default_model() -> str:
    names, deprecated = sdk_models()
    return newest_sonnet(names, deprecated) or FALLBACK_MODEL


def deprecation_warning(model: str) -> str | None:
    """A one-line warning when the SDK marks the model deprecated (it will stop answering)."""
    retired = sdk_models()[1].get(model)
    if retired is None:
        return None
    return f"warning: model {model} is deprecated (retired on {retired}); consider --model {default_model()}"
