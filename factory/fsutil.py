"""File-system edge: atomic writes, hashing and the path check that keeps generated files in their folder."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path, PurePosixPath

from factory.errors import UnsafePathError

# Agent replies are untrusted: these limits keep one reply from filling the disk.
# One generated file: the largest a factory-derived document reaches (the OpenAPI document of a 100-entity Pack0 is
# about 2.1 MB, tables.json less), well under what a reply may carry (replies.MAX_REPLY_CHARS).
MAX_FILE_BYTES = 6_000_000
MAX_REPLY_FILE_BYTES = 20_000_000
MAX_FILES_PER_REPLY = 400
# Names no file or folder may have: Windows devices (a build must unpack anywhere).
DEVICE_NAMES = {"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))}


def not_utf8(name: str) -> bool:
    """Whether a name (as Python reads it from the disk) holds bytes that are not UTF-8: Python spells each as a
    lone surrogate, which no UTF-8 text, JSON evidence included, can hold. Generated code may make such a file."""
    try:
        name.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 16), b""):
            digest.update(chunk)
    return digest.hexdigest()


def dumps_json(data: object) -> str:
    """The one JSON style of every file we write: sorted keys, two spaces, trailing newline."""
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def write_text_atomic(path: Path, text: str, *, mode: int = 0o644) -> None:
    """Write through a temp file and rename, so a crash never leaves half a file. The mode is set
    explicitly: a temp file is private (0600), and generated files must be readable, e.g. by the
    container's non-root user."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temp_name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "w", encoding="utf-8", newline="\n") as stream:
            stream.write(text)
        os.chmod(temp_name, mode)
        os.replace(temp_name, path)
    except BaseException:
        Path(temp_name).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, data: object) -> None:
    write_text_atomic(path, dumps_json(data))


def write_if_changed(path: Path, text: str, *, mode: int = 0o644) -> bool:
    """Write only when the content differs, so unchanged files keep their timestamps. True if written."""
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    write_text_atomic(path, text, mode=mode)
    return True


def safe_relative_path(relative: str, *, allowed_roots: Iterable[str]) -> PurePosixPath:
    """Check a path an agent asked for: relative, no '..', under one of the allowed top folders."""
    if not relative or "\x00" in relative or "\\" in relative:
        raise UnsafePathError(f"refused file path {relative!r}: empty or has a NUL or backslash")
    if relative.endswith("/"):
        raise UnsafePathError(f"refused file path {relative!r}: names a folder, not a file")
    posix = PurePosixPath(relative)
    if any(part.split(".")[0].lower() in DEVICE_NAMES for part in posix.parts):
        raise UnsafePathError(f"refused file path {relative!r}: a device name")
    if posix.is_absolute() or any(part in ("..", "") for part in posix.parts):
        raise UnsafePathError(f"refused file path {relative!r}: must be relative, without '..'")
    roots = tuple(allowed_roots)
    if posix.parts[0] not in roots:
        raise UnsafePathError(f"refused file path {relative!r}: must be under {', '.join(roots)}")
    return posix


def resolve_inside(base: Path, relative: PurePosixPath) -> Path:
    """Join and re-check after resolving symlinks: a link inside base must not lead out of it, and what
    is there already must be a regular file (not a folder, device, pipe or link)."""
    base_resolved = base.resolve()
    joined = base_resolved / relative
    target = joined.resolve()
    if base_resolved not in target.parents:
        raise UnsafePathError(f"refused file path {relative}: it resolves outside the build folder")
    if joined.is_symlink() or (joined.exists() and not joined.is_file()):
        raise UnsafePathError(f"refused file path {relative}: something other than a regular file is there")
    return target


def write_file_set(
    base: Path, files: Mapping[str, str], *, allowed_roots: Iterable[str], executable: Iterable[str] = ()
) -> list[str]:
    """Write an agent's file set under base, checking every path first. Returns the paths written."""
    roots = tuple(allowed_roots)
    if len(files) > MAX_FILES_PER_REPLY:
        raise UnsafePathError(f"refused a reply with {len(files)} files (limit {MAX_FILES_PER_REPLY})")
    total = sum(len(content.encode("utf-8")) for content in files.values())
    if total > MAX_REPLY_FILE_BYTES:
        raise UnsafePathError(f"refused a reply of {total} bytes of files (limit {MAX_REPLY_FILE_BYTES})")
    checked = {}
    for relative, content in files.items():
        posix = safe_relative_path(relative, allowed_roots=roots)
        if len(content.encode("utf-8")) > MAX_FILE_BYTES:
            raise UnsafePathError(f"refused file {relative}: larger than {MAX_FILE_BYTES} bytes")
        checked[relative] = resolve_inside(base, posix)
    run_bits = set(executable)
    written = []
    for relative, target in checked.items():
        if write_if_changed(target, files[relative], mode=0o755 if relative in run_bits else 0o644):
            written.append(relative)
    return written


def list_files(root: Path, *, exclude_dirs: Iterable[str] = ()) -> list[Path]:
    """Every regular file under root, sorted, skipping caches and the given folder names."""
    skipped = {"__pycache__", ".pytest_cache", ".ruff_cache", *exclude_dirs}
    found = []
    for path in sorted(root.rglob("*")):
        relative_parts = path.relative_to(root).parts
        if any(part in skipped for part in relative_parts) or path.name.endswith(".tmp"):
            continue
        if path.is_file() and not path.is_symlink():
            found.append(path)
    return found


def write_new_tree(target: Path, files: Mapping[str, str]) -> None:
    """A whole new folder at once: written beside it, then renamed, so a crash leaves all or nothing."""
    staging = target.with_name(f".{target.name}.staging")
    shutil.rmtree(staging, ignore_errors=True)
    for relative, text in files.items():
        write_text_atomic(staging / relative, text)
    os.replace(staging, target)


# The names write_text_atomic and write_new_tree give their temp files (mkstemp's 8 random characters).
_TEMP_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.tmp$")
_STAGING_NAME = re.compile(r"^\..+\.staging$")
OWN_FOLDERS = ("build", "pack0")


def remove_stale_temp_files(root: Path) -> int:
    """Temp files an interrupted atomic write left behind (the rename never happened), only where the factory
    writes (the output folder's top, build/, pack0/) and only under the names it gives them: a user's own
    .notes.tmp elsewhere in the folder is not the factory's to delete."""
    places = [root, *(root / name for name in OWN_FOLDERS if (root / name).is_dir() and not (root / name).is_symlink())]
    found = [path for path in root.glob(".*") if path.parent == root]
    for folder in places[1:]:
        found += [path for path in folder.rglob(".*") if "__pycache__" not in path.parts]
    stale = [path for path in found if _TEMP_NAME.match(path.name) and path.is_file() and not path.is_symlink()]
    staging = [path for path in found if _STAGING_NAME.match(path.name) and path.is_dir() and not path.is_symlink()]
    for path in stale:
        path.unlink()
    for path in staging:
        shutil.rmtree(path)
    return len(stale) + len(staging)
