"""Stage 1, Pack0: generate it (auto-full) or take the user's (auto-build), then derive its index."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from factory.config import BuildConfig
from factory.fsutil import write_if_changed, write_new_tree
from factory.pack0.generate import generate_pack0
from factory.pack0.load import load_pack0, read_source_files, refreshed_derived_files, source_file_names
from factory.pack0.models import Budgets


def generate(config: BuildConfig, say: Callable[[str], None]) -> str:
    """Write the files of a new Pack0 that are missing; a file the user already edited is kept."""
    target = config.layout.pack0_dir
    budgets = Budgets(max_heal_tries=config.max_heal) if config.max_heal is not None else None
    files = generate_pack0(config.module, config.brief, budgets)
    if not target.exists():
        write_new_tree(target, files)
        missing = files
    else:
        missing = {path: text for path, text in files.items() if not (target / path).exists()}
        for path, text in missing.items():
            write_if_changed(target / path, text)
    # Paths in logs are relative to the output folder: an absolute one would leak the build machine's layout.
    say(f"{len(missing)} of {len(files)} files written to {target.relative_to(config.out).as_posix()}")
    # The summary says what is there, not what this run did: it goes into the (reproducible) evidence.
    return f"Pack0 for {config.module}: {len(files)} files"


def copy_from_source(config: BuildConfig, say: Callable[[str], None]) -> str:
    """auto-build: the user's Pack0, validated, mirrored into the output (so evidence covers it)."""
    source: Path = config.pack0_source
    load_pack0(source)
    files = read_source_files(source)
    target = config.layout.pack0_dir
    stale = set(read_source_files(target)) - set(files) if target.is_dir() else set()
    for path in stale:
        (target / path).unlink()
    written = [path for path, text in files.items() if write_if_changed(target / path, text)]
    say(f"{len(written)} of {len(files)} files copied from {source.name}, {len(stale)} removed")
    return f"Pack0 from {source.name}"


def index(config: BuildConfig, say: Callable[[str], None]) -> str:
    """Re-derive the OpenAPI document and the inventory from the Pack0 files as they are now."""
    target = config.layout.pack0_dir
    derived = refreshed_derived_files(target)
    changed = [path for path, text in derived.items() if write_if_changed(target / path, text)]
    say(f"validated; derived files {'updated: ' + ', '.join(changed) if changed else 'unchanged'}")
    return "Pack0 valid and indexed"


def source_paths(pack0_dir: Path) -> list[Path]:
    """The Pack0 files later stages depend on (as doit file_dep), listed without reading them."""
    return [pack0_dir / path for path in source_file_names(pack0_dir)] if pack0_dir.is_dir() else []


def contract_paths(pack0_dir: Path) -> list[Path]:
    """What the engine reads: pack0.json, budgets.json and the entity contracts."""
    return [
        path
        for path in source_paths(pack0_dir)
        if path.name in ("pack0.json", "budgets.json") or path.name.endswith(".schema.json")
    ]


def slice_inputs(pack0_dir: Path) -> dict[str, list[Path]]:
    """What each slice's generation reads, by slice ('core' first, then each entity): pack0.json, and its own
    contract (core: every contract, for the contract copy; its model request names only the entities, so it
    stays cached when fields change). Read from file names, without validating: doit may create the tasks
    (e.g. for `doit list`) before the Pack0 exists or is checked. The folder is listed once."""
    contracts = sorted(
        (path for path in contract_paths(pack0_dir) if path.name.endswith(".schema.json")), key=lambda p: p.name
    )
    meta = pack0_dir / "pack0.json"
    own = {path.name.removesuffix(".schema.json"): [meta, path] for path in contracts}
    return {"core": [meta, *contracts], **own}


def known_slices(pack0_dir: Path) -> list[str]:
    """'core' and one slice per contract file (see slice_inputs)."""
    return list(slice_inputs(pack0_dir))
