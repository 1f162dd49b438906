"""The content-hashed reply cache: same provider, model, prompt and reply schema -> the stored reply, no call.

Stored as JSON strings under hex keys (never pickled objects: a cache folder restored from elsewhere must
not be able to run code). Nothing is evicted: a reply costs money to make again.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from factory.agents.request import Completion
from factory.llm.usage import Usage
from factory.settings import CACHE_DIR_ENV

DEFAULT_CACHE_DIR = Path("cache")


def default_cache_dir() -> Path:
    return Path(os.environ.get(CACHE_DIR_ENV) or DEFAULT_CACHE_DIR)


def content_key(parts: dict) -> str:
    canonical = json.dumps(parts, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class ReplyCache:
    def __init__(self, directory: Path) -> None:
        import diskcache

        self.directory = directory
        self._cache = diskcache.Cache(str(directory), size_limit=2**40, eviction_policy="none")

    def get(self, key: str) -> Completion | None:
        stored = self._cache.get(key)
        if not isinstance(stored, str):
            return None
        data = json.loads(stored)
        return Completion(text=data["text"], usage=Usage(**data["usage"]), cached=True)

    def put(self, key: str, completion: Completion) -> None:
        value = json.dumps({"text": completion.text, "usage": completion.usage.as_dict()})
        if not self._cache.set(key, value):
            raise OSError(f"could not store a reply in the cache at {self.directory}")

    def stats(self) -> dict:
        return {"directory": str(self.directory), "entries": len(self._cache), "bytes": self._cache.volume()}

    def clear(self) -> int:
        return self._cache.clear()

    def close(self) -> None:
        self._cache.close()
