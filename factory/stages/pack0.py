"""Stage 1, Pack0: generate it (auto-full) or take the user's (auto-build), then derive its index."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from factory.agents.architect import design_pack0
from factory.config import BuildConfig
from factory.errors import InputError
from factory.fsutil import dumps_json, sha256_bytes, write_if_changed, write_new_tree
from factory.pack0.generate import META_FILE, generate_pack0
from factory.pack0.load import load_pack0, read_source_files, refreshed_derived_files
from factory.pack0.models import Budgets
from factory.pack0.names import DERIVED_FILES
from factory.stages.pack0_source import check_pack0_source
from factory.stages.provider import build_provider

ORIGIN_FILE = ".lai-pack-origin.json"


def read_origin(pack0_dir: Path) -> dict:
    """Who wrote the Pack0 (the catalog or a model) and the sha256 of every file as written."""
    try:
        return json.loads((pack0_dir / ORIGIN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def hand_edited(pack0_dir: Path) -> list[str]:
    """The Pack0 files that differ from what the factory wrote (all of them when it did not write it)."""
    written = read_origin(pack0_dir).get("files", {})
    current = read_source_files(pack0_dir)
    return sorted(
        path
        for path in {*current, *written}
        if path not in current or sha256_bytes(current[path].encode("utf-8")) != written.get(path)
    )


def check_brief(config: BuildConfig) -> None:
    """A new --brief for an existing Pack0 regenerates it, unless that would overwrite a hand edit."""
    target = config.layout.pack0_dir
    if config.pack0_source is not None or not config.brief or not (target / META_FILE).is_file():
        return
    if load_pack0(target).meta.brief == config.brief:
        return
    edited = hand_edited(target)
    if edited:
        raise InputError(
            f"--brief differs from the Pack0's brief, and {edited[0]} was not written by lai-pack (or was edited "
            "since): the Pack0 is kept; change its brief in pack0.json by hand, or use another --out",
            file=str(target / META_FILE),
            field="brief",
        )


def _new_files(config: BuildConfig, budgets: Budgets | None, say: Callable[[str], None]) -> tuple[dict, str]:
    """(files, who wrote them): the Architect in LLM mode, else the offline catalog."""
    if config.provider == "offline":
        return generate_pack0(config.module, config.brief, budgets), "catalog"
    budgets = budgets or Budgets()
    provider = build_provider(config, budgets, say)
    raw_log = config.layout.raw_reply("architect")
    return design_pack0(provider, config.module, config.brief, budgets, raw_log), "model"


def _sources(files: dict[str, str]) -> dict[str, str]:
    """The Pack0 without its derived files: those are pack0_index's targets, derived from the files as written
    (a copy made here, from the catalog's own objects, differed in order; after a deleted Pack0 was made again,
    pack0_index was up to date and kept it, and the contracts gate then failed a rebuilt build)."""
    return {path: text for path, text in files.items() if path not in DERIVED_FILES}


def generate(config: BuildConfig, say: Callable[[str], None]) -> str:
    """Write a new Pack0 once: a file the user already edited is kept, a missing one added. A changed brief
    rewrites it whole when nothing in it was edited by hand (check_brief refused otherwise)."""
    target = config.layout.pack0_dir
    budgets = Budgets(max_heal_tries=config.max_heal) if config.max_heal is not None else None
    exists = (target / META_FILE).is_file()
    check_brief(config)
    rewrite = exists and bool(config.brief) and load_pack0(target).meta.brief != config.brief
    if exists and not rewrite:
        origin = read_origin(target)
        files = generate_pack0(config.module, config.brief, budgets) if origin.get("designed_by") != "model" else {}
        missing = {path: text for path, text in _sources(files).items() if not (target / path).exists()}
        for path, text in missing.items():
            write_if_changed(target / path, text)
        say(f"{len(missing)} files added to the existing Pack0 in {target.relative_to(config.out).as_posix()}")
    else:
        files, designed_by = _new_files(config, budgets, say)
        origin = {
            "designed_by": designed_by,
            "model": config.model if designed_by == "model" else None,
            "files": {
                path: sha256_bytes(text.encode("utf-8")) for path, text in files.items() if path not in DERIVED_FILES
            },
        }
        with_origin = {**_sources(files), ORIGIN_FILE: dumps_json(origin)}
        if target.exists():
            shutil.rmtree(target)
        write_new_tree(target, with_origin)
        # Paths in logs are relative to the output folder: an absolute one would leak the build machine's layout.
        say(f"{len(with_origin) - 1} files written to {target.relative_to(config.out).as_posix()}")
    origin = read_origin(target)
    who = (
        f"designed by the model {origin.get('model')}"
        if origin.get("designed_by") == "model"
        else "from the catalog"
        if origin
        else "kept as found"
    )
    # The summary says what is there, not what this run did: it goes into the (reproducible) evidence.
    return f"Pack0 for {config.module}: {len(read_source_files(target))} files, {who}"


def copy_from_source(config: BuildConfig, say: Callable[[str], None]) -> str:
    """auto-build: the user's Pack0, validated, mirrored into the output (so evidence covers it)."""
    source: Path = config.pack0_source
    # preflight checked it: this is for a link made since. In the log its files are named from its name down.
    left_behind = check_pack0_source(source, f"{source.name}/")
    load_pack0(source)
    files = read_source_files(source)
    target = config.layout.pack0_dir
    stale = set(read_source_files(target)) - set(files) if target.is_dir() else set()
    for path in stale:
        (target / path).unlink()
    written = [path for path, text in files.items() if write_if_changed(target / path, text)]
    say(f"{len(written)} of {len(files)} files copied from {source.name}, {len(stale)} removed")
    if left_behind:
        say(f"copied as plain files (mode 644, one name each; no empty folder), unlike: {'; '.join(left_behind)}")
    return f"Pack0 from {source.name}"


def index(config: BuildConfig, say: Callable[[str], None]) -> str:
    """Re-derive the OpenAPI document and the inventory from the Pack0 files as they are now."""
    target = config.layout.pack0_dir
    derived = refreshed_derived_files(target)
    changed = [path for path, text in derived.items() if write_if_changed(target / path, text)]
    say(f"validated; derived files {'updated: ' + ', '.join(changed) if changed else 'unchanged'}")
    return "Pack0 valid and indexed"
