"""Limits on a Pack0's files, checked before anything parses them (a hostile or careless Pack0 ends in one line
and exit 2, never a traceback): each file's size, and how deep its JSON nests (json.loads recurses, and so do
jsonschema and pydantic after it: 5,000 levels was a RecursionError traceback)."""

from __future__ import annotations

import re
from pathlib import Path

from factory.errors import InputError

MAX_PACK0_FILE_BYTES = 1_000_000
MAX_JSON_DEPTH = 64  # a contract nests a few levels (properties, a field, its items); 64 is ample
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKET = re.compile(r"[\[\]{}]")


def json_depth(text: str) -> int:
    """How deep the arrays and objects of a JSON text nest (brackets inside strings do not count)."""
    depth = deepest = 0
    for match in _BRACKET.finditer(_STRING.sub("", text)):
        depth += 1 if match.group() in "[{" else -1
        deepest = max(deepest, depth)
    return deepest


def check_json_depth(text: str, path: Path) -> None:
    if (depth := json_depth(text)) > MAX_JSON_DEPTH:
        raise InputError(f"JSON nested {depth} levels deep; at most {MAX_JSON_DEPTH} are read", file=str(path))


def check_sizes(root: Path, relatives: list[str]) -> None:
    """Every Pack0 file, documents included (they go into every agent's prompt), at most MAX_PACK0_FILE_BYTES."""
    for relative in relatives:
        path = root / relative
        try:
            size = path.stat().st_size
        except OSError:
            continue
        if size > MAX_PACK0_FILE_BYTES:
            raise InputError(f"file is larger than {MAX_PACK0_FILE_BYTES} bytes ({size} bytes)", file=str(path))
