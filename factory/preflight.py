"""Every input check that can be made before a build writes anything (a bad input writes nothing), remembered
by content: a re-run of a Pack0 checked before, with the same factory code, skips the check (it is most of a
no-op's cost: loading the models, checking every contract, generating every file once)."""

from __future__ import annotations

import hashlib
import json
import sys
from contextlib import suppress

from factory import __version__
from factory.config import BuildConfig, code_digest
from factory.errors import InputError
from factory.fsutil import write_text_atomic
from factory.pack0.names import source_file_names
from factory.stages.pack0_source import check_pack0_source
from factory.trust import seal, sealed

MEMO_FILE = ".lai-pack.preflight"
MEMO_KIND = "preflight"


def _key(config: BuildConfig) -> str | None:
    """What the check's outcome depends on; None when it cannot be remembered (a model provider: its keys
    and endpoints are checked every time)."""
    existing = config.pack0_source or config.layout.pack0_dir
    if config.provider != "offline" or not existing.is_dir():
        return None
    identity = [config.module, config.brief, __version__, code_digest("pack0", "engine", "stages/pack0.py")]
    digest = hashlib.sha256(json.dumps(identity).encode())
    for name in source_file_names(existing):
        digest.update(name.encode() + b"\0" + (existing / name).read_bytes() + b"\0")
    return digest.hexdigest()


def preflight(config: BuildConfig) -> None:
    """Raises InputError for an input that cannot build; remembers a pass in the output folder."""
    if config.pack0_source is not None and config.pack0_source.is_dir():
        check_pack0_source(config.pack0_source, f"{config.pack0_source}/")
    memo = config.out / MEMO_FILE
    key = _key(config)
    try:
        # Sealed with this machine's key (factory/trust.py): anyone can compute the key, not the seal.
        if key is not None and sealed(MEMO_KIND, key.encode(), memo.read_text("utf-8", "replace")):
            return
    except OSError:
        pass
    _check(config)
    if key is not None:
        # The input is good: the build creates this folder next anyway.
        config.out.mkdir(parents=True, exist_ok=True)
        with suppress(OSError):  # e.g. a folder in its place: not remembered, the next run checks again
            write_text_atomic(memo, seal(MEMO_KIND, key.encode()))


def remember(config: BuildConfig) -> None:
    """After a pipeline that ran to its end: it loaded and generated from this very Pack0 (e.g. the one it
    made from the module name), which is all the check asks."""
    key = _key(config)
    mac = seal(MEMO_KIND, key.encode()) if key is not None else ""
    memo = config.out / MEMO_FILE
    try:
        if not mac or memo.read_text("utf-8", "replace") == mac:
            return  # nothing to remember, or remembered already (a no-op writes nothing)
    except OSError:
        pass
    with suppress(OSError):
        write_text_atomic(memo, mac)


def _check(config: BuildConfig) -> None:
    from factory.claude_models import deprecation_warning
    from factory.engine.codegen import generate_source
    from factory.engine.testgen import generate_tests
    from factory.llm.anthropic_provider import ModelError
    from factory.pack0.load import load_pack0
    from factory.pack0.models import Budgets
    from factory.stages.pack0 import check_brief
    from factory.stages.provider import build_provider

    existing = config.pack0_source or (config.layout.pack0_dir if config.layout.pack0_dir.is_dir() else None)
    pack0 = load_pack0(existing) if existing else None
    check_brief(config)
    warning = deprecation_warning(config.model) if config.provider == "anthropic" else None
    if warning and config.output != "json":
        print(f"lai-pack: {warning}", file=sys.stderr)
    if config.provider != "offline":
        # A missing key or endpoint is reported now, before any work.
        try:
            build_provider(config, pack0.budgets if pack0 else Budgets())
        except ModelError as error:
            raise InputError(str(error)) from None
    if pack0 is None:
        return
    if pack0.module != config.module:
        raise InputError(
            f"module is {pack0.module!r} but --module is {config.module!r}",
            file=str(existing / "pack0.json"),
            field="module",
        )
    if config.provider == "offline":
        for generate in (generate_source, generate_tests):
            try:
                generate(pack0)
            except InputError as error:
                raise InputError(f"{existing}/{error}") from None
