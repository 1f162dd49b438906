"""build/ is the factory's: the files its steps wrote, and nothing else, are evidence.

A file planted under build/ before a re-run would otherwise be tested, copied into the image, applied as a
migration (deploy.sh runs every migrations/*.sql) and hashed into signed evidence. Hermetic builds (Bazel,
SLSA Build L3) attest only what the build steps produced; so does this: the allow-list is what the steps'
written-files records (.factory_logs/written/*.json), the heal log and the fixed outputs below name.
"""

from __future__ import annotations

import json
import os
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath

from factory.errors import one_line

# Files every run writes outside the steps' written-files records (the evidence, its report, the logs).
FIXED_OUTPUTS = (
    "run_report.json",
    "approval.json",
    "pipeline_result.json",
    "manifest.json",
    "manifest.json.sig",
    "provenance.json",
    "provenance.dsse.json",
    "report.html",
    "deploy/applied.json",
)
# The logs' names (data the factory reads back, never code that runs): * is one path segment.
LOG_PATTERNS = (
    ".factory_logs/pipeline.log",
    ".factory_logs/test_report.json",
    ".factory_logs/heal_log.json",
    ".factory_logs/junit.xml",
    ".factory_logs/usage.jsonl",
    ".factory_logs/*_raw.txt",
    ".factory_logs/*_raw.*.txt",
    ".factory_logs/test_output.*.txt",
    ".factory_logs/fuzz_output.*.txt",
    ".factory_logs/raw/*.txt",
    ".factory_logs/raw/*.made.json",  # what a model reply made (factory/agents/call.py), beside its raw reply
    ".factory_logs/*_raw*.made.json",
    ".factory_logs/gates/*.json",
    ".factory_logs/gates/*/*.json",
    ".factory_logs/stages/*.json",
    ".factory_logs/written/*.json",
)
WRITTEN_DIR = ".factory_logs/written"
QUARANTINE = ".lai-pack.quarantine"  # beside build/: factory state, never evidence


def _names(value: object) -> list[str]:
    """The safe relative paths in a record's list (anything else in it is ignored, never trusted)."""
    if not isinstance(value, list):
        return []
    safe = []
    for item in value:
        if isinstance(item, str) and item and not PurePosixPath(item).is_absolute() and ".." not in item.split("/"):
            safe.append(item)
    return safe


def _read(path: Path) -> object:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def recorded(build: Path) -> set[str]:
    """Every build file a step's record names: the slices' and the deployer's written files, the healer's."""
    names: set[str] = set()
    folder = build / WRITTEN_DIR
    for record in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        names.update(_names(_read(record)))
    heal_log = _read(build / ".factory_logs/heal_log.json")
    for attempt in heal_log if isinstance(heal_log, list) else []:
        if isinstance(attempt, dict):
            names.update(_names(attempt.get("files_changed")))
    return names


def is_fixed_output(relative: str) -> bool:
    if relative in FIXED_OUTPUTS:
        return True
    parts = relative.split("/")
    return any(len(parts) == pattern.count("/") + 1 and fnmatchcase(relative, pattern) for pattern in LOG_PATTERNS)


def foreign(build: Path, files: list[str]) -> list[str]:
    """Of these build files (relative), the ones no factory step wrote, sorted."""
    owned = recorded(build)
    return sorted(path for path in files if path not in owned and not is_fixed_output(path))


def quarantine(out: Path, files: list[str]) -> list[str]:
    """Move the foreign build files (relative to build/) to out/.lai-pack.quarantine/, keeping their paths, so a
    run never tests, ships or attests them; returns one line per file moved. Only an output whose steps left
    their records is judged (with none, e.g. deleted, the evidence stage blocks approval on what is left), and a
    folder only when some record names a file in it (deploy/ before any deploy step ran is not judged here)."""
    build = out / "build"
    if not (build / WRITTEN_DIR).is_dir():
        return []
    owned = recorded(build)
    judged = {path.split("/", 1)[0] for path in owned if "/" in path} | {".factory_logs"}
    moved = []
    for relative in foreign(build, files):
        if "/" in relative and relative.split("/", 1)[0] not in judged:
            continue
        target = out / QUARANTINE / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        os.replace(build / relative, target)
        moved.append(one_line(f"moved build/{relative} to {QUARANTINE}/{relative}: no factory step wrote it"))
    return moved


def quarantine_planted(out: Path) -> list[str]:
    """Before a run: what quarantine() moves of build/ as it is now."""
    from factory.pec.coverage import build_walk  # (coverage is the walk; this module only judges its files)

    return quarantine(out, build_walk(out / "build").files)
