"""Defaults for a build, layered: built-in < pyproject.toml [tool.lai-factory] < lai-factory.toml < env < flags.
`lai-pack config` shows each effective value and where it came from."""

from __future__ import annotations

import os
from pathlib import Path

from factory.errors import InputError
from factory.llm.models import default_model

CACHE_DIR_ENV = "LAI_CACHE_DIR"
PROVIDERS = ("auto", "offline", "anthropic", "openai-compatible")
# Where generated code runs (factory/runner/sandbox.py); named here so parsing a command loads no runner code.
SANDBOXES = ("auto", "docker", "bwrap", "none")

DEFAULTS: dict[str, object] = {
    "provider": "auto",
    # The newest Sonnet-class model the installed anthropic SDK lists and does not mark deprecated.
    "model": default_model(),
    # USD per million tokens "input,output,cache_write,cache_read", for a model the price table lacks.
    "model_price": None,
    "max_heal": None,
    "waive": [],
    "cache_dir": "cache",
    "sandbox": "auto",
    "base_image": None,
    # The Ed25519 public key verify and status check signatures with (factory/pec/pinning.py): pinned here, a
    # stripped or foreign signature fails.
    "public_key": None,
}
# The settings by name: each is a lai-pack flag (--max-heal), a doit variable (max_heal=) and a key here.
SETTINGS = tuple(DEFAULTS)
ENV = {
    "provider": "LAI_PROVIDER",
    "model": "LAI_MODEL",
    "model_price": "LAI_MODEL_PRICE",
    "max_heal": "LAI_MAX_HEAL",
    "waive": "LAI_WAIVE",
    "cache_dir": CACHE_DIR_ENV,
    "sandbox": "LAI_SANDBOX",
    "base_image": "LAI_BASE_IMAGE",
    "public_key": "LAI_PUBLIC_KEY",
}
TYPES = {"max_heal": int, "waive": list}


def _check(values: dict, where: str) -> dict:
    for key, value in values.items():
        if key not in DEFAULTS:
            raise InputError(f"unknown setting (known: {', '.join(DEFAULTS)})", file=where, field=key)
        expected = TYPES.get(key, str)
        if not isinstance(value, expected) or (expected is list and not all(isinstance(v, str) for v in value)):
            raise InputError(
                f"must be {'a list of strings' if expected is list else expected.__name__}", file=where, field=key
            )
    return values


def _read_toml(path: Path) -> dict:
    import tomllib  # only when a settings file is there: most runs have none

    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise InputError(f"not valid TOML: {error}", file=str(path)) from None


def whole_number(text: str, where: str) -> int:
    if not text.isdigit():
        raise InputError(f"must be a whole number, not {text!r}", field=where)
    return int(text)


def from_text(key: str, text: str, where: str) -> object:
    """A setting given as text (an environment variable, a doit variable): a number, a list as a,b, or text."""
    if TYPES.get(key) is int:
        return whole_number(text, where)
    if key == "waive":
        return [name for name in text.split(",") if name]
    return text


def effective_settings(folder: Path, flags: dict[str, object]) -> dict[str, tuple[object, str]]:
    """{setting: (value, source)}; flags hold only what the user gave on the command line."""
    layers: list[tuple[str, dict]] = [("default", dict(DEFAULTS))]
    pyproject = folder / "pyproject.toml"
    if pyproject.is_file():
        section = _read_toml(pyproject).get("tool", {}).get("lai-factory", {})
        layers.append((f"{pyproject} [tool.lai-factory]", _check(section, str(pyproject))))
    own = folder / "lai-factory.toml"
    if own.is_file():
        layers.append((str(own), _check(_read_toml(own), str(own))))
    env = {key: from_text(key, os.environ[name], name) for key, name in ENV.items() if os.environ.get(name)}
    layers.append(("environment", {key: value for key, value in env.items()}))
    layers.append(("command line", {key: value for key, value in flags.items() if value not in (None, [])}))
    result: dict[str, tuple[object, str]] = {}
    for source, values in layers:
        for key, value in values.items():
            label = f"environment ${ENV[key]}" if source == "environment" else source
            result[key] = (value, label)
    return result


def effective_values(folder: Path, flags: dict[str, object]) -> dict[str, object]:
    """{setting: value}, as effective_settings without the sources."""
    return {key: value for key, (value, _source) in effective_settings(folder, flags).items()}


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


# Settings that weaken what a build proves: a gate waived, the sandbox changed, the cache (whose results a build
# reuses) moved. From a file in the working folder they apply without a word on the command line.
WEAKENING = ("waive", "sandbox", "cache_dir")


def settings_files_notice(folder: Path) -> str | None:
    """One line naming the settings files in folder that set a weakening setting, and what they set."""
    try:
        settings = effective_settings(folder, {})
    except InputError:
        return None  # a broken settings file is reported by the build itself
    found = []
    for key in WEAKENING:
        value, source = settings[key]
        if source.startswith(str(folder)) and value not in (None, [], DEFAULTS[key]):
            shown = ",".join(value) if isinstance(value, list) else value
            found.append(f"{key}={shown} ({source})")
    return f"settings from files in {folder} weaken this build: {'; '.join(found)}" if found else None
