"""What the evidence covers: every entry under build/ and the Pack0, walked without following links.

The one place that names the files the factory writes outside the chain (OUTSIDE_CHAIN). Everything else
under build/ is an artifact the manifest lists, or verify reports it. Bytecode, links, sockets, FIFOs and
devices are never evidence: Python would run a .pyc instead of its source, and a link points elsewhere.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass, field
from pathlib import Path

from factory.errors import one_line
from factory.fsutil import not_utf8

# Build files outside the chain, and why none can change what runs (README "Checking the evidence").
OUTSIDE_CHAIN = {
    "manifest.json": "the top of the chain: provenance.json names its sha256, manifest.json.sig signs it",
    "manifest.json.sig": "the signature of manifest.json (checked with --public-key)",
    "provenance.json": "the SLSA provenance of the manifest and every artifact (checked against them)",
    "provenance.dsse.json": "provenance.json signed (DSSE; its payload must be provenance.json)",
    "report.html": "a page that shows the evidence, written after it",
    "deploy/applied.json": "what deploy.sh did, written after the approval",
    ".factory_logs/pipeline.log": "the progress log, appended to by every stage, the last ones included",
}
# Each stage's timing record (STAGE_RECORDS<stage>.json): clock times and durations differ from run to run,
# so hashing them would make no two builds alike; pipeline_result.json (covered) carries what they say.
# verify accepts only the records of the stages pipeline_result.json names, and of the ones after it.
STAGE_RECORDS = ".factory_logs/stages/"
STAGES_AFTER_MANIFEST = ("pec", "report", "deploy_apply")
# Beside build/ and pack0/ in an output folder, never read by a build's code: the factory's own state
# (.lai-pack.doit.db, doit's database; .lai-pack.lock; .lai-pack.secret-scan.json, masked findings by sha256;
# .lai-pack.ruff-cache/, ruff's per-file lint cache; .lai-pack.evidence, the memo of the last verify, memo.py).
FACTORY_STATE = (".lai-pack.",)
# The only build files the factory makes executable (factory/deploy/scripts.py EXECUTABLE_SCRIPTS, kept equal
# by a test; named here so verify imports no deploy code). Any other run bit is reported.
RUN_BITS = frozenset({"deploy/deploy.sh", "deploy/rollback.sh", "deploy/healthcheck.sh"})
EVIDENCE_FILES = ("run_report.json", "approval.json", "pipeline_result.json", "manifest.json")
BYTECODE_SUFFIXES = (".pyc", ".pyo")


@dataclass
class Tree:
    """A walk of one folder: its regular files (relative, sorted), what may not be there (no run that leaves any of
    it under build/ is approved), and of that the entries whose name is not UTF-8 (with prefix, escaped: no JSON
    evidence can spell them)."""

    files: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    not_utf8: list[str] = field(default_factory=list)
    # Of the problems, the ones that are no plain file's content (a link, FIFO, socket, device, bytecode), as
    # opposed to a plain file's run bit or second name, or an empty folder: a copy of the folder cannot take them.
    not_plain: list[str] = field(default_factory=list)


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "a symbolic link"
    if stat.S_ISFIFO(mode):
        return "a FIFO"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def is_bytecode(relative: str) -> bool:
    return relative.endswith(BYTECODE_SUFFIXES) or "__pycache__" in relative.split("/")


def _file_problem(relative: str, status: os.stat_result, executable: frozenset[str]) -> str | None:
    """Why a regular file cannot be evidence: a second name (a hard link: whoever holds the other name changes
    it unseen), a run bit the factory never sets (only its deploy scripts are executable), or a deploy script
    without its run bit or with a set-id bit."""
    if status.st_nlink > 1:
        return f"not a regular file: {relative} (a hard link with {status.st_nlink} names: another one changes it)"
    mode = stat.S_IMODE(status.st_mode)
    if relative in executable:  # a deploy script: it runs only with its owner's run bit, and needs no set-id bit
        return (
            f"mode: {relative} (mode {mode:o}; the factory writes it 755)"
            if mode & 0o7000 or not mode & 0o100
            else None
        )
    if mode & 0o7111:
        return f"executable: {relative} (mode {mode:o}; the factory writes it 644)"
    return None


def walk(root: Path, prefix: str, executable: frozenset[str] = frozenset()) -> Tree:
    """Every entry under root; problems name each path with prefix (e.g. 'build/'). executable: the files
    (with prefix) that may have a run bit. A folder with no file in it is reported too: Python imports an
    empty folder under src/ as a namespace package."""
    tree = Tree()
    if root.is_symlink():
        tree.not_plain.append(f"not a regular file: {prefix.rstrip('/') or root.name} (a symbolic link)")
        tree.problems += tree.not_plain
        return tree
    if not root.is_dir():
        return tree
    stack, folders, filled = [""], [], set()
    while stack:
        folder = stack.pop()
        with os.scandir(root / folder) as entries:
            for entry in entries:
                relative = f"{folder}{entry.name}"
                if not_utf8(entry.name):  # a folder so named is reported once, not entered
                    tree.not_utf8.append(f"{prefix}{one_line(relative)}")
                    filled.update(_parents(relative))
                    continue
                status = entry.stat(follow_symlinks=False)
                mode = status.st_mode
                if stat.S_ISDIR(mode):
                    if entry.name == "__pycache__":
                        tree.not_plain.append(f"bytecode: {prefix}{relative}/ (Python runs what is cached here)")
                    stack.append(f"{relative}/")
                    folders.append(relative)
                    continue
                filled.update(_parents(relative))
                if not stat.S_ISREG(mode):
                    tree.not_plain.append(f"not a regular file: {prefix}{relative} ({_kind(mode)})")
                elif is_bytecode(relative):
                    tree.not_plain.append(f"bytecode: {prefix}{relative} (Python may run it instead of its source)")
                else:
                    # Listed all the same: its content is checked too.
                    tree.files.append(relative)
                    if problem := _file_problem(f"{prefix}{relative}", status, executable):
                        tree.problems.append(problem)
    tree.not_plain.sort()  # (scandir's order is the file system's)
    tree.problems = sorted(tree.problems) + tree.not_plain
    tree.problems += [
        f"extra: {prefix}{folder}/ (a folder with no file in it: Python imports one as a namespace package)"
        for folder in sorted(set(folders) - filled)
    ]
    tree.not_utf8.sort()
    tree.problems += [f"not UTF-8: {path} (a name the evidence cannot list)" for path in tree.not_utf8]
    tree.files.sort()
    return tree


def _parents(relative: str) -> list[str]:
    parts = relative.split("/")[:-1]
    return ["/".join(parts[: end + 1]) for end in range(len(parts))]


def stage_record(relative: str) -> str | None:
    """The stage a build file is the timing record of, or None."""
    if not relative.startswith(STAGE_RECORDS) or not relative.endswith(".json"):
        return None
    name = relative[len(STAGE_RECORDS) : -len(".json")]
    return name if name and "/" not in name else None


def in_chain(relative: str) -> bool:
    return relative not in OUTSIDE_CHAIN and stage_record(relative) is None


def artifacts(build: Path) -> list[str]:
    """The build files the manifest lists: every regular file but the ones outside the chain."""
    return [path for path in walk(build, "build/").files if in_chain(path)]


def build_walk(build: Path) -> Tree:
    """build/ as the evidence stage and verify walk it: only the deploy scripts may have a run bit."""
    return walk(build, "build/", frozenset(f"build/{path}" for path in RUN_BITS))


def pack0_walk(out: Path, relative: str) -> Tree:
    """The Pack0 folder (relative: its path in the output folder, 'pack0/pack0-NAME-0.0.1') as the evidence stage
    and verify walk it: no file in it may have a run bit, and pack0/ holds nothing else (one more Pack0 there
    is not the one the evidence covers)."""
    tree = walk(out / relative, f"{relative}/")
    parent, name = out / "pack0", relative.rsplit("/", 1)[-1]
    if parent.is_symlink():
        tree.problems.append("not a regular file: pack0 (a symbolic link)")
    elif parent.is_dir():
        others = sorted(one_line(entry.name) for entry in parent.iterdir() if entry.name != name)
        tree.problems += [f"extra: pack0/{other} (not the Pack0 build/run_report.json names)" for other in others]
    return tree


def chain_inputs(out: Path, pack0_relative: str) -> tuple[list[Path], list[str]]:
    """Every file the evidence stage reads (the Pack0, the artifacts, the usage ledger, the stage records),
    minus what it writes itself: doit re-derives the evidence when any of them changes, appears or goes. And
    what in the build or the Pack0 folder cannot be evidence (bytecode, links, run bits, empty folders, names
    that are not UTF-8): no file_dep can name most of it, yet it blocks approval."""
    build = out / "build"
    tree, pack0 = build_walk(build), pack0_walk(out, pack0_relative)
    built = [path for path in tree.files if in_chain(path) and path not in EVIDENCE_FILES]
    records = [path for path in tree.files if stage_record(path) not in (None, *STAGES_AFTER_MANIFEST)]
    pack0_files = [out / pack0_relative / path for path in pack0.files]
    return [*pack0_files, *(build / path for path in built + records)], tree.problems + pack0.problems
