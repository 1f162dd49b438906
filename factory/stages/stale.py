"""Files a slice wrote that no slice writes now (its entity left the Pack0, or its reply lists fewer files):
removed once every slice of an agent has run, so an edited build holds what a clean build of the same Pack0
holds (a removed entity's module and tests would otherwise stay, be tested, and fail the build)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from pathlib import Path

from factory.errors import UnsafePathError
from factory.fsutil import resolve_inside, safe_relative_path, write_text_atomic
from factory.layout import Layout
from factory.stages.inputs import owned_record, written_record


def listed(path: Path) -> list[str]:
    try:
        paths = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    return [item for item in paths if isinstance(item, str)] if isinstance(paths, list) else []


def slice_records(layout: Layout, agent: str) -> dict[str, list[str]]:
    """Each slice's list of the files it wrote, by slice name, for every record there (current or not)."""
    prefix = f"{agent}."
    folder = written_record(layout.logs_dir, agent, "x").parent
    found = sorted(folder.glob(f"{prefix}*.json")) if folder.is_dir() else []
    return {path.name[len(prefix) : -len(".json")]: listed(path) for path in found}


def stale(previous: Iterable[str], records: dict[str, list[str]], slices: Iterable[str]) -> tuple[list[str], list[str]]:
    """(slices gone from the Pack0, files no current slice writes): the files the agent owned before, or a gone
    slice wrote, less those a current slice's record lists."""
    current = set(slices)
    gone = sorted(set(records) - current)
    kept = {path for name in current for path in records.get(name, [])}
    owned = set(previous).union(*(records[name] for name in gone))
    return gone, sorted(owned - kept)


def remove_written(build_dir: Path, relative: str, roots: tuple[str, ...]) -> bool:
    """Delete one file the factory wrote, never through a link or outside the build; prune emptied folders."""
    try:
        path = resolve_inside(build_dir, safe_relative_path(relative, allowed_roots=roots))
    except UnsafePathError:
        return False
    if not path.is_file():
        return False
    path.unlink()
    base = build_dir.resolve()
    for folder in path.parents:
        if folder == base or base not in folder.parents or any(folder.iterdir()):
            break
        folder.rmdir()
    return True


def forget_stale(layout: Layout, agent: str, slices: list[str], roots: tuple[str, ...]) -> str:
    """Remove what the agent's slices no longer write, and a gone slice's record, raw reply and stage record
    (the evidence lists those); then remember what the current slices own."""
    records = slice_records(layout, agent)
    gone, files = stale(listed(owned_record(layout.logs_dir, agent)), records, slices)
    removed = [relative for relative in files if remove_written(layout.build_dir, relative, roots)]
    for name in gone:
        for path in (
            written_record(layout.logs_dir, agent, name),
            layout.raw_reply(agent, name),
            layout.stage_record(f"{agent}.{name}"),
        ):
            path.unlink(missing_ok=True)
    owned = sorted({path for name in slices for path in records.get(name, [])})
    write_text_atomic(owned_record(layout.logs_dir, agent), json.dumps(owned, indent=1) + "\n")
    if not gone and not removed:
        return ""
    gone_text = f" (slices gone: {', '.join(gone)})" if gone else ""
    return f"removed {len(removed)} files no slice writes now{gone_text}"
