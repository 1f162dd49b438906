"""A JSON value as Python source that stays within the generated code's line length, however long its strings
or deep its nesting: one key or item per line, long strings split into adjacent literals. Pure."""

from __future__ import annotations

import unicodedata

INDENT = "    "
CHUNK_WIDTH = 60  # display columns of one string piece; with the deepest nesting a line stays under 120


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(char) in ("W", "F") else 1 for char in text)


def _string(text: str, depth: int) -> str:
    if _width(repr(text)) <= CHUNK_WIDTH:
        return repr(text)
    pieces, current = [], ""
    for char in text:
        if current and _width(repr(current + char)) > CHUNK_WIDTH:
            pieces.append(current)
            current = ""
        current += char
    pieces.append(current)
    inner = INDENT * (depth + 1)
    return "(\n" + "".join(f"{inner}{piece!r}\n" for piece in pieces) + INDENT * depth + ")"


def python_literal(value: object, depth: int = 0) -> str:
    """`value` (JSON types only) as a Python expression starting at nesting `depth`."""
    if isinstance(value, str):
        return _string(value, depth)
    if isinstance(value, dict):
        if not value:
            return "{}"
        inner = INDENT * (depth + 1)
        lines = [
            f"{inner}{_string(key, depth + 1)}: {python_literal(item, depth + 1)},\n" for key, item in value.items()
        ]
        return "{\n" + "".join(lines) + INDENT * depth + "}"
    if isinstance(value, list):
        if not value:
            return "[]"
        inner = INDENT * (depth + 1)
        return "[\n" + "".join(f"{inner}{python_literal(item, depth + 1)},\n" for item in value) + INDENT * depth + "]"
    return repr(value)  # None, True, False, int, float: their repr is the Python literal
