"""Results any output of this machine may reuse, in the shared cache folder (LAI_CACHE_DIR), as Bazel reuses a
test result whose inputs did not change: a slice's passing test results by its key. A second output of the same
module (another folder, a CI workspace) then does not run what an earlier one ran on the very same files.

Each entry is sealed with this machine's key (factory/trust.py): whoever can write the cache folder can add an
entry, not make this machine believe it. Without a key nothing is read or kept."""

from __future__ import annotations

import json
from pathlib import Path

from factory.trust import seal, sealed

RESULTS_FOLDER = "results"
SIZE_LIMIT_BYTES = 2**30


def _canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":")).encode()


def _entry(kind: str, key: str) -> str:
    return f"{kind}:{key}"


class SharedResults:
    """A sealed key-value store of JSON results, opened per use (builds in parallel share it)."""

    def __init__(self, cache_dir: Path, folder: str = RESULTS_FOLDER) -> None:
        self.folder = cache_dir / folder

    def _open(self):
        import diskcache

        return diskcache.Cache(str(self.folder), size_limit=SIZE_LIMIT_BYTES)

    def recall(self, kind: str, keys: list[str]) -> dict[str, object]:
        """The sealed results stored under these keys (a missing, unreadable or unsealed one is left out)."""
        if not keys or not self.folder.is_dir():
            return {}
        found = {}
        with self._open() as cache:
            for key in keys:
                stored = cache.get(_entry(kind, key))
                try:
                    entry = json.loads(stored) if isinstance(stored, str) else None
                    value, mac = entry["value"], entry["mac"]
                except (ValueError, TypeError, KeyError):
                    continue
                if sealed(kind, _entry(kind, key).encode() + b"\0" + _canonical(value), mac):
                    found[key] = value
        return found

    def remember(self, kind: str, results: dict[str, object]) -> None:
        """Keep these results by key (nothing without this machine's key: they could not be believed)."""
        sealed_entries = {}
        for key, value in results.items():
            mac = seal(kind, _entry(kind, key).encode() + b"\0" + _canonical(value))
            if mac:
                sealed_entries[_entry(kind, key)] = json.dumps({"value": value, "mac": mac})
        if not sealed_entries:
            return
        with self._open() as cache:
            for entry, text in sealed_entries.items():
                cache.set(entry, text)
