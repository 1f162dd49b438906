"""What each stage reads, as file lists for doit's file_dep: found by listing folders, never by reading or
importing the stages' code (task creation runs on every re-run, a no-op included)."""

from __future__ import annotations

import json
from pathlib import Path, PurePosixPath

from factory.fsutil import list_files
from factory.pack0.names import REQUIREMENT_DOCUMENTS, source_file_names


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
    """What each slice's generation reads, by slice ('core' first, then each entity): pack0.json, the
    requirement documents (part of every agent's context, so of its cache key), and its own contract (core:
    every contract, for the contract copy; its model request names only the entities, so it stays cached when
    fields change). Read from file names, without validating: doit may create the tasks (e.g. for `doit list`)
    before the Pack0 exists or is checked. The folder is listed once."""
    names = source_file_names(pack0_dir) if pack0_dir.is_dir() else []
    contracts = sorted(
        pack0_dir / name for name in names if name.startswith("contracts/") and name.endswith(".schema.json")
    )
    shared = [pack0_dir / "pack0.json", *(pack0_dir / doc for doc in REQUIREMENT_DOCUMENTS if doc in names)]
    own = {path.name.removesuffix(".schema.json"): [*shared, path] for path in contracts}
    return {"core": [*shared, *contracts], **own}


def known_slices(pack0_dir: Path) -> list[str]:
    """'core' and one slice per contract file (see slice_inputs)."""
    return list(slice_inputs(pack0_dir))


def watched_files(build_dir: Path) -> list[Path]:
    """The code and tests a test run depends on (what doit watches for the run and the gates)."""
    files = [path for root in ("src", "tests") if (build_dir / root).is_dir() for path in list_files(build_dir / root)]
    return [*files, build_dir / ".test_commands.json"]


def written_record(logs_dir: Path, agent: str, slice_name: str) -> Path:
    """Where a slice's generation lists the files it wrote (so a re-run can make them doit targets)."""
    return logs_dir / "written" / f"{agent}.{slice_name}.json"


def owned_record(logs_dir: Path, agent: str) -> Path:
    """Every file the agent's slices wrote when they were last gathered (factory/stages/stale.py)."""
    return logs_dir / "written" / f"{agent}.json"


def written_files(build_dir: Path, logs_dir: Path, agent: str, slice_name: str) -> list[Path]:
    """The files a slice wrote last time, as doit targets: deleting any of them re-runs the slice (from the
    reply cache). Read without the stage's code; a record that is unreadable or names a path outside the
    build lists nothing (the slice then runs only when its inputs change, as before it was written)."""
    return recorded_files(build_dir, written_record(logs_dir, agent, slice_name))


def recorded_files(build_dir: Path, record: Path) -> list[Path]:
    """The build files a stage's record lists (see written_files)."""
    try:
        paths = json.loads(record.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not isinstance(paths, list) or not all(isinstance(path, str) for path in paths):
        return []
    parts = [PurePosixPath(path) for path in paths]
    if any(part.is_absolute() or ".." in part.parts or not part.parts for part in parts):
        return []
    return [build_dir / part for part in parts]
