"""The content-hashed reply cache: same provider, model, prompt and reply schema -> the stored reply, no call.

Stored as JSON strings under hex keys (never pickled objects: a cache folder restored from elsewhere must
not be able to run code). Only replies that proved good are stored (see ModelGateway.keep). Nothing is
evicted: a reply costs money to make again; `lai-pack cache clear --slice/--agent` removes chosen ones.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from factory.agents.request import Completion, Usage


def content_key(parts: dict) -> str:
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    # surrogatepass: a file name that is not UTF-8 (Python spells its bytes as lone surrogates; generated code
    # may make one) is hashed as it is, not a crash. Every other text hashes as before.
    return hashlib.sha256(canonical.encode("utf-8", "surrogatepass")).hexdigest()


class ReplyCache:
    def __init__(self, directory: Path) -> None:
        from factory.results_cache import text_cache  # never unpickles what someone planted in the folder

        self.directory = directory
        self._cache = text_cache(directory, size_limit=2**40, eviction_policy="none")

    def _entry(self, key: str) -> dict | None:
        stored = self._cache.get(key)
        if not isinstance(stored, str):
            return None
        try:
            data = json.loads(stored)
        except ValueError:
            return None
        return data if isinstance(data, dict) else None

    def get(self, key: str) -> Completion | None:
        data = self._entry(key)
        if data is None or not isinstance(data.get("text"), str):
            return None
        return Completion(text=data["text"], usage=Usage(**data["usage"]), cached=True)

    @staticmethod
    def _fixes_key(key: str) -> str:
        return content_key({"fixes_of": key})

    def get_fixes(self, key: str) -> dict[str, str]:
        """The files the Healer fixed in the reply stored under key, as they are once fixed."""
        fixes = (self._entry(self._fixes_key(key)) or {}).get("fixes")
        return fixes if isinstance(fixes, dict) and all(isinstance(v, str) for v in fixes.values()) else {}

    def put_fixes(self, key: str, fixes: dict[str, str], *, agent: str = "", slice_name: str = "") -> None:
        value = {"fixes": {**self.get_fixes(key), **fixes}, "agent": agent, "slice": slice_name}
        if not self._cache.set(self._fixes_key(key), json.dumps(value)):
            raise OSError(f"could not store a reply in the cache at {self.directory}")

    def put(self, key: str, completion: Completion, *, agent: str = "", slice_name: str = "") -> None:
        value = {"text": completion.text, "usage": completion.usage.as_dict(), "agent": agent, "slice": slice_name}
        if not self._cache.set(key, json.dumps(value)):
            raise OSError(f"could not store a reply in the cache at {self.directory}")

    def stats(self) -> dict:
        replies = sum(1 for key in self._cache.iterkeys() if "text" in (self._entry(key) or {}))
        return {"directory": str(self.directory), "entries": replies, "bytes": self._cache.volume()}

    def clear(self, *, agent: str | None = None, slice_name: str | None = None) -> int:
        """Remove every reply, or only those of one agent and/or slice; returns how many."""
        if agent is None and slice_name is None:
            return self._cache.clear()
        removed = 0
        for key in list(self._cache.iterkeys()):
            data = self._entry(key) or {}
            if (agent is None or data.get("agent") == agent) and (
                slice_name is None or data.get("slice") == slice_name
            ):
                removed += int(self._cache.delete(key))
        return removed

    def close(self) -> None:
        self._cache.close()
