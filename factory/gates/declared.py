"""The values a Pack0 declares (examples, enums, defaults, consts, and the values its patterns describe) are
not secrets of the build: the contract, the resource code and the test cases copy them on purpose.

Only detect-secrets' generic guesses (entropy, a keyword) are judged so: a value in a known key format is found
by factory/gates/key_formats.py whatever the Pack0 declares, so a real key placed in an example still fails.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

GENERIC_RULES = frozenset({"Hex High Entropy String", "Base64 High Entropy String", "Secret Keyword"})
_VALUE_KEYS = ("examples", "example", "enum", "default", "const")
MAX_VALUE = 200  # longer declared strings are not taken as values (a high-entropy blob is no example)


ALLOW_FILE = "secrets.allow.json"  # a Pack0 file: {"allow": [{"sha256": <of the value>, "reason": "..."}]}


@dataclass(frozen=True)
class Declared:
    values: frozenset[str] = frozenset()
    patterns: tuple[str, ...] = ()
    # The user's recorded false positives (ALLOW_FILE), by the sha256 of the value: sha256 -> reason.
    recorded: tuple[tuple[str, str], ...] = ()

    def digest(self) -> str:
        """What a cached scan result depends on: the same file scans differently against another Pack0."""
        text = json.dumps([sorted(self.values), list(self.patterns), list(self.recorded)], separators=(",", ":"))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def allows(self, rule: str, value: str) -> bool:
        """A generic finding whose whole value the Pack0 declares, or one of its patterns matches whole, or
        whose sha256 the user recorded as a false positive."""
        if rule not in GENERIC_RULES or not value:
            return False
        if hashlib.sha256(value.encode("utf-8")).hexdigest() in dict(self.recorded):
            return True
        return value in self.values or any(_whole_match(pattern, value) for pattern in self.patterns)

    def listed(self) -> list[str]:
        """The recorded false positives, as the gate's report (evidence) lists them."""
        return [f"allowed by the Pack0's {ALLOW_FILE}: sha256 {digest[:16]}...: {why}" for digest, why in self.recorded]


NOTHING_DECLARED = Declared()


def _whole_match(pattern: str, value: str) -> bool:
    """(An unanchored pattern is matched whole too: "[0-9]" describes one digit here, not any string with one.)"""
    try:
        return re.fullmatch(pattern.removeprefix("^").removesuffix("$"), value) is not None
    except re.error:
        return False


def _strings(value: object) -> list[str]:
    if isinstance(value, str):
        return [value] if len(value) <= MAX_VALUE else []
    if isinstance(value, list):
        return [text for item in value for text in _strings(item)]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return [str(value)]
    return []


def _walk(node: object, values: set[str], patterns: set[str]) -> None:
    stack = [node]
    while stack:  # (no recursion: the Pack0 is capped in depth on load, this need not be)
        item = stack.pop()
        if isinstance(item, dict):
            for key, value in item.items():
                if key in _VALUE_KEYS:
                    values.update(_strings(value))
                elif key == "pattern" and isinstance(value, str):
                    patterns.add(value)
                stack.append(value)
        elif isinstance(item, list):
            stack.extend(item)


def declared_values(pack0_dirs: list[Path]) -> Declared:
    """The values and patterns the Pack0s' contracts declare (a file that does not parse declares nothing)."""
    values: set[str] = set()
    patterns: set[str] = set()
    for folder in pack0_dirs:
        for path in sorted((folder / "contracts").glob("*.schema.json")):
            try:
                _walk(json.loads(path.read_text(encoding="utf-8")), values, patterns)
            except (OSError, ValueError, RecursionError):
                continue
    recorded = {entry for folder in pack0_dirs for entry in _recorded(folder / ALLOW_FILE)}
    return Declared(frozenset(values), tuple(sorted(patterns)), tuple(sorted(recorded)))


def _recorded(path: Path) -> list[tuple[str, str]]:
    """The entries of an allow file that name a sha256 and a reason (the others allow nothing)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError, RecursionError):
        return []
    entries = data.get("allow") if isinstance(data, dict) else None
    found = []
    for entry in entries if isinstance(entries, list) else []:
        if not isinstance(entry, dict) or not isinstance(entry.get("reason"), str) or not entry["reason"].strip():
            continue
        digest = entry.get("sha256")
        if isinstance(digest, str) and re.fullmatch(r"[0-9a-fA-F]{64}", digest):
            found.append((digest.lower(), " ".join(entry["reason"].split())[:200]))
    return found


def pack0_folders(root: Path) -> list[Path]:
    """The Pack0 folders in a folder leak-check reads: itself, or an output's (or team pack's) pack0/*/."""
    if (root / "pack0.json").is_file():
        return [root]
    return sorted(path.parent for path in root.glob("pack0/*/pack0.json"))
