"""Which of the factory's own caches in an output folder to believe: each is sealed with an HMAC under a
per-machine key kept outside every output (the user cache folder, created 0600). Whoever can write an output
folder can rewrite a cache there, but not seal it: an entry whose seal does not match is ignored and its work
done again (a file re-scanned, a stage re-run, a test slice re-run). Without a key (no writable cache folder)
nothing is believed."""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
import shutil
import sys
from pathlib import Path

KEY_FILE = "machine.key"
KEY_BYTES = 32


def key_dir() -> Path:
    """$XDG_CACHE_HOME/lai-pack, else ~/.cache/lai-pack."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "lai-pack"


def _read_key(path: Path) -> bytes | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    return data if len(data) == KEY_BYTES else None


def machine_key() -> bytes | None:
    """This machine's key, made on first use; None when it can be neither read nor made."""
    try:
        path = key_dir() / KEY_FILE
    except RuntimeError:  # no home folder to find the user cache folder in
        return None
    key = _read_key(path)
    if key is not None:
        return key
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        temp = path.with_name(f"{KEY_FILE}.{os.getpid()}.tmp")
        handle = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(handle, "wb") as file:
            file.write(secrets.token_bytes(KEY_BYTES))
        try:
            os.link(temp, path)  # atomic, and never replaces a key another process made first
        except FileExistsError:
            pass
        finally:
            temp.unlink()
    except OSError:
        return None
    return _read_key(path)


def seal(kind: str, data: bytes) -> str:
    """The HMAC-SHA256 of data for one kind of cache ('' without a key: then nothing is ever believed)."""
    key = machine_key()
    if key is None:
        return ""
    return hmac.new(key, kind.encode() + b"\0" + data, hashlib.sha256).hexdigest()


def sealed(kind: str, data: bytes, mac: object) -> bool:
    expected = seal(kind, data)
    # compare_digest refuses non-ASCII text: what is not ASCII is not a seal.
    return bool(expected) and isinstance(mac, str) and mac.isascii() and hmac.compare_digest(expected, mac)


def _seal_path(file: Path) -> Path:
    return file.with_name(file.name + ".mac")


def _stored_seal(path: Path) -> str:
    """The seal kept beside path ("" when there is none)."""
    try:
        return _seal_path(path).read_text("utf-8", "replace").strip()  # any bytes: just not a seal
    except OSError:
        return ""


def _remove(path: Path) -> None:
    """Whatever is at path: a file, a link, or a folder someone made in a file's place."""
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)


def seal_file(file: Path) -> None:
    """After doit wrote its dependency database: seal it, so the next run believes it."""
    if file.is_file():
        mac = seal("file", file.read_bytes())
        if mac and mac != _stored_seal(file):  # a no-op leaves the database as it was: nothing to write
            _remove(_seal_path(file))
            _seal_path(file).write_text(mac + "\n", encoding="utf-8")


def distrust_unsealed(file: Path) -> bool:
    """Before doit opens its database: one this machine did not seal (written by hand, copied from another
    machine, or cut short) is removed, so every stage runs again (agent replies still come from the reply
    cache). Returns whether it was removed."""
    if not file.exists():
        _remove(_seal_path(file))
        return False
    mac = _stored_seal(file)
    if file.is_file() and sealed("file", file.read_bytes(), mac):
        return False
    _remove(file)
    _remove(_seal_path(file))
    why = "" if machine_key() is not None else " (there is none: its folder cannot be written)"
    print(
        f"lai-pack: {file.name} is not sealed by this machine's key{why}: not trusted, every stage runs again",
        file=sys.stderr,
    )
    return True


def _folder_bytes(folder: Path) -> bytes | None:
    """Every file under folder, by relative path and content; None when it holds anything but files and
    folders (a link could point anywhere)."""
    digest = hashlib.sha256()
    for path in sorted(folder.rglob("*")):
        if path.is_symlink() or not (path.is_file() or path.is_dir()):
            return None
        if path.is_file():
            digest.update(path.relative_to(folder).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.digest()


def seal_folder(folder: Path) -> None:
    """After a tool wrote its cache folder (ruff's): seal its whole content."""
    data = _folder_bytes(folder) if folder.is_dir() else None
    mac = seal("folder", data) if data is not None else ""
    if mac:
        _seal_path(folder).write_text(mac + "\n", encoding="utf-8")


def distrust_unsealed_folder(folder: Path) -> bool:
    """Before a tool reads its cache folder: one this machine did not seal as it is now is removed (the tool
    then does all its work again). Returns whether it was removed."""
    if not folder.exists() and not folder.is_symlink():
        _seal_path(folder).unlink(missing_ok=True)
        return False
    mac = _stored_seal(folder)
    data = _folder_bytes(folder) if folder.is_dir() and not folder.is_symlink() else None
    if data is not None and sealed("folder", data, mac):
        return False
    if folder.is_symlink() or not folder.is_dir():
        folder.unlink()
    else:
        shutil.rmtree(folder)
    _seal_path(folder).unlink(missing_ok=True)
    return True
