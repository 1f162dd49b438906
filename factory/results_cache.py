"""Results any output of this machine may reuse, in the shared cache folder (LAI_CACHE_DIR), as Bazel reuses a
test result whose inputs did not change: a slice's passing test results by its key. A second output of the same
module (another folder, a CI workspace) then does not run what an earlier one ran on the very same files.

Each entry is sealed with this machine's key (factory/trust.py): whoever can write the cache folder can add an
entry, not make this machine believe it. Without a key nothing is read or kept. A store that cannot be used (a
corrupt database, a link or a file in the folder's place) is as good as empty: the work is done again."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import sqlite3
import stat
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from factory.trust import seal, sealed

RESULTS_FOLDER = "results"
SIZE_LIMIT_BYTES = 2**30
LOCKS_FOLDER = "locks"
LOCK_STRIPES = 64  # lock files, whatever the number of keys (two keys sharing one do not wait: see _holder)
# A holder renews its lock file's mtime this often while it works; one silent for SILENT_SECONDS is not working
# (stopped by SIGSTOP or a suspended terminal, Ctrl-Z): nobody waits for it any longer.
HEARTBEAT_SECONDS = 1.0
SILENT_SECONDS = 30.0
# What a damaged store raises: sqlite3's errors, OSError (a folder that cannot be made or opened), and
# UnicodeDecodeError (a large value's own file holding other bytes).
UNUSABLE = (sqlite3.Error, OSError, UnicodeDecodeError)


def interpreter() -> list[str]:
    """The Python a shared result was made with (its version and path): part of every key that runs code."""
    return [sys.version, sys.executable]


def canonical_json(value: object) -> bytes:
    """The bytes a seal covers: the same value always gives the same bytes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _entry(kind: str, key: str) -> str:
    return f"{kind}:{key}"


def text_cache(folder: Path, **settings):
    """A diskcache store that never unpickles: diskcache unpickles any value or key stored in pickle mode, so
    whoever can write the folder would run code here. Such an entry reads as None (our entries are text)."""
    import diskcache

    class TextOnlyDisk(diskcache.Disk):
        def get(self, key, raw):
            return super().get(key, raw) if raw else None

        def fetch(self, mode, filename, value, read):
            return None if mode == diskcache.core.MODE_PICKLE else super().fetch(mode, filename, value, read)

    return diskcache.Cache(str(folder), disk=TextOnlyDisk, **settings)


def _get(cache, entry: str) -> object:
    try:
        return cache.get(entry)
    except UnicodeDecodeError:  # this entry's value file was changed: only this entry is lost
        return None


class SharedResults:
    """A sealed key-value store of JSON results, opened per use (builds in parallel share it)."""

    def __init__(self, cache_dir: Path, folder: str = RESULTS_FOLDER) -> None:
        self.folder = cache_dir / folder

    def _usable(self) -> bool:
        # A link in the folder's place could point anywhere (trust.py does not follow one either).
        return self.folder.is_dir() and not self.folder.is_symlink()

    def _damaged(self) -> bool:
        """Made, but nothing this process may use (a link or a file in the folder's place)."""
        return (self.folder.exists() or self.folder.is_symlink()) and not self._usable()

    def _open(self):
        return text_cache(self.folder, size_limit=SIZE_LIMIT_BYTES)

    def recall(self, kind: str, keys: list[str]) -> dict[str, object]:
        """The sealed results stored under these keys (a missing, unreadable or unsealed one is left out)."""
        if not keys or not self._usable():
            return {}
        try:
            with self._open() as cache:
                stored_by_key = {key: _get(cache, _entry(kind, key)) for key in keys}
        except UNUSABLE:
            return {}
        found = {}
        for key, stored in stored_by_key.items():
            try:
                entry = json.loads(stored) if isinstance(stored, str) else None
                value, mac = entry["value"], entry["mac"]
            except (ValueError, TypeError, KeyError):
                continue
            if sealed(kind, _entry(kind, key).encode() + b"\0" + canonical_json(value), mac):
                found[key] = value
        return found

    def remember(self, kind: str, results: dict[str, object]) -> None:
        """Keep these results by key (nothing without this machine's key: they could not be believed)."""
        sealed_entries = {}
        for key, value in results.items():
            mac = seal(kind, _entry(kind, key).encode() + b"\0" + canonical_json(value))
            if mac:
                sealed_entries[_entry(kind, key)] = json.dumps({"value": value, "mac": mac})
        if not sealed_entries or self._damaged():
            return
        try:
            with self._open() as cache:
                for entry, text in sealed_entries.items():
                    cache.set(entry, text)
        except UNUSABLE:
            return  # not kept: a later build does the work again

    @contextlib.contextmanager
    def one_at_a_time(
        self,
        kind: str,
        key: str,
        wait_seconds: float,
        say: Callable[[str], None] | None = None,
        what: str = "",
        why: str = "",
        silent_seconds: float = SILENT_SECONDS,
    ) -> Iterator[None]:
        """While this process works out the result for a key (and keeps it), another process of this machine
        that wants the same one waits, up to wait_seconds, then finds it kept instead of doing the same work
        at the same time: two builds of one module started together fuzz its code once. Without a lock (a
        folder that cannot be written, a link in a lock file's or the locks folder's place, the wait over)
        nobody waits. A wait is said (through say): the user sees why nothing moves, and for how long at most
        (why: what that limit is made of). A killed holder frees the lock at once; a stopped one (SIGSTOP,
        Ctrl-Z) keeps it, but stops renewing it: it is waited for silent_seconds more at most."""
        limit = f"at most {wait_seconds:.0f} s" + (f": {why}" if why else "")
        wait = _Wait(wait_seconds, silent_seconds, say or (lambda _line: None), what or kind, limit)
        descriptor = self._lock(kind, key, wait)
        beat = _Heartbeat(descriptor) if descriptor is not None else None
        try:
            yield
        finally:
            if beat is not None:
                beat.stop()  # before the file is closed: its number may be another file's next
            if descriptor is not None:
                os.close(descriptor)  # and with it the lock; the OS drops it too if this process is killed

    def _lock(self, kind: str, key: str, wait: _Wait) -> int | None:
        if self._damaged():
            return None
        entry = _entry(kind, key)
        # Lock files by kind too: a process holding one kind's lock may take another's.
        stripe = int(hashlib.sha256(entry.encode()).hexdigest()[:8], 16) % LOCK_STRIPES
        descriptor = _open_lock_file(self.folder, f"{kind}-{stripe:02d}.lock")
        if descriptor is None:
            return None
        started = time.monotonic()
        waiting = False
        while True:
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
                _name_holder(descriptor, entry)
                if waiting:
                    wait.say(f"waited {time.monotonic() - started:.0f} s for the other build's {wait.what}")
                return descriptor
            except BlockingIOError:
                if _holder(descriptor) not in (b"", entry.encode()):  # another key's work on this lock file
                    break
                waited = time.monotonic() - started
                if waited >= wait.seconds:
                    done = f"the other build's {wait.what} not done after {wait.seconds:.0f} s"
                    wait.say(f"{done}: going on without them")
                    break
                # Silent as long as this one has waited, at least: a lock just taken is renewed as it is named.
                silent = min(waited, _silent_for(descriptor))
                if silent >= wait.silent_seconds:
                    wait.say(
                        f"the other build's {wait.what} has shown no sign of work for {silent:.0f} s (stopped?): "
                        "going on without them"
                    )
                    break
                if not waiting:
                    waiting = True
                    wait.say(f"waiting ({wait.limit}) for another build of this code: its {wait.what}")
                time.sleep(0.1)
            except OSError:
                break
        os.close(descriptor)
        return None


@dataclass(frozen=True)
class _Wait:
    seconds: float  # at most, in all
    silent_seconds: float  # at most since the holder last renewed its lock
    say: Callable[[str], None]
    what: str
    limit: str  # the limit as said


class _Heartbeat:
    """While a lock is held: its file's mtime renewed every HEARTBEAT_SECONDS (a thread: it stops with the whole
    process, SIGSTOP included), so a waiter can tell a holder at work from one that is not."""

    def __init__(self, descriptor: int) -> None:
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._beat, args=(descriptor,), name="lock-heartbeat", daemon=True)
        self._thread.start()

    def _beat(self, descriptor: int) -> None:
        while not self._done.wait(HEARTBEAT_SECONDS):
            with contextlib.suppress(OSError):
                os.utime(descriptor)

    def stop(self) -> None:
        self._done.set()
        self._thread.join()


def _silent_for(descriptor: int) -> float:
    """Seconds since the lock file was last renewed (0 when that cannot be told)."""
    try:
        return max(0.0, time.time() - os.fstat(descriptor).st_mtime)
    except OSError:
        return 0.0


def _name_holder(descriptor: int, entry: str) -> None:
    """Write which key the lock is held for: a build wanting another key of the same lock file does not wait."""
    with contextlib.suppress(OSError):  # (a FIFO in the file's place cannot be written at an offset)
        os.ftruncate(descriptor, 0)
        os.pwrite(descriptor, entry.encode(), 0)


def _holder(descriptor: int) -> bytes:
    """The key the lock file's holder named (b"" while it has not yet, or when it cannot be read)."""
    try:
        return os.pread(descriptor, 512, 0)
    except OSError:
        return b""


def _open_lock_file(folder: Path, name: str) -> int | None:
    """The lock file folder/locks/name, opened without following a link in the place of the locks folder or of
    the file (whoever can write the cache folder must not make this process create files elsewhere); None when
    it cannot be."""
    nofollow = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
    try:
        folder.mkdir(parents=True, exist_ok=True)
        top = os.open(folder, nofollow)
    except OSError:
        return None
    try:
        with contextlib.suppress(FileExistsError):
            os.mkdir(LOCKS_FOLDER, 0o755, dir_fd=top)
        locks = os.open(LOCKS_FOLDER, nofollow, dir_fd=top)
    except OSError:
        return None
    finally:
        os.close(top)
    try:  # O_NONBLOCK: a FIFO planted in the file's place must not hold up the open
        descriptor = os.open(name, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_NONBLOCK, 0o644, dir_fd=locks)
    except OSError:
        return None
    finally:
        os.close(locks)
    # The holder writes its key in it: only into a file of this user's that is nothing else (a hard link planted
    # in its place would have this process overwrite the file it links to).
    found = os.fstat(descriptor)
    if stat.S_ISREG(found.st_mode) and found.st_nlink == 1 and found.st_uid == os.getuid():
        return descriptor
    os.close(descriptor)
    return None
