"""Known key formats, matched wherever they appear (as gitleaks and trufflehog do), beside detect-secrets.

detect-secrets judges a line by its shape first: its heuristic filters drop `f(key="...")` calls
(is_indirect_reference), `${...}` templates and more, so `Anthropic(api_key="sk-ant-...")` was never reported.
A key's format is evidence enough wherever it stands, so these rules read every line as it is, the file with its
split literals joined ("AKIA" + "IOSF..."), and the base64 or hex strings in it decoded. Pure: text in, findings out.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import re
from collections.abc import Iterator

# (rule, pattern): the common provider formats, after gitleaks' rules (https://github.com/gitleaks/gitleaks).
RULES: tuple[tuple[str, re.Pattern[str]], ...] = tuple(
    (name, re.compile(pattern))
    for name, pattern in (
        ("Anthropic API Key", r"sk-ant-[A-Za-z0-9]{2,10}-[A-Za-z0-9_-]{20,}"),
        ("OpenAI API Key", r"sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,}|sk-[A-Za-z0-9]{20}T3BlbkFJ[A-Za-z0-9]{20}"),
        ("AWS Access Key", r"(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA|A3T[A-Z0-9])[A-Z2-7]{16}(?![A-Z0-9])"),
        ("GitHub Token", r"\b(?:gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{60,})"),
        ("GitLab Token", r"\bglpat-[A-Za-z0-9_-]{20,}"),
        ("Slack Token", r"\bxox[baprs]-[A-Za-z0-9-]{10,}"),
        ("Stripe Key", r"\b(?:sk|rk)_(?:live|test)_[A-Za-z0-9]{20,}"),
        ("Google API Key", r"\bAIza[0-9A-Za-z_-]{35}"),
        ("SendGrid API Key", r"\bSG\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}"),
        ("Hugging Face Token", r"\bhf_[A-Za-z]{34}\b"),
        ("npm Token", r"\bnpm_[A-Za-z0-9]{36}\b"),
        ("PyPI Token", r"\bpypi-AgEIcHlwaS5vcmc[A-Za-z0-9_-]{50,}"),
        ("Private Key", r"-----BEGIN (?:[A-Z0-9]+ )*PRIVATE KEY-----"),
    )
)
# The end of one string literal and the start of the next, with a + (or nothing: Python joins adjacent
# literals) and line breaks between: "AKIA" + "IOSF...", ('sk-ant-' \n 'api03-...').
_JOIN = re.compile(r"""["'][ \t]*(?:\\?\r?\n[ \t]*)*(?:\+[ \t]*(?:\\?\r?\n[ \t]*)*)?["']""")
_BASE64 = re.compile(r"[A-Za-z0-9+/_-]{24,}={0,2}")
_HEX = re.compile(r"(?<![0-9A-Fa-f])(?:[0-9A-Fa-f]{2}){16,}(?![0-9A-Fa-f])")
_PRINTABLE = re.compile(r"[\t\n\r\x20-\x7e]*")


def _matches(text: str) -> Iterator[tuple[int, str, str]]:
    """(offset, rule, value) of every key format in text."""
    for name, pattern in RULES:
        for match in pattern.finditer(text):
            yield match.start(), name, match.group()


def _line_of(text: str, offset: int) -> int:
    return text.count("\n", 0, offset) + 1


def _joined(text: str) -> tuple[str, list[int], list[int]]:
    """text with its split literals joined, and a map back: joined offset starts and their offsets in text."""
    pieces, starts, origins, at, length = [], [0], [0], 0, 0
    for match in _JOIN.finditer(text):
        pieces.append(text[at : match.start()])
        length += match.start() - at
        at = match.end()
        starts.append(length)
        origins.append(at)
    pieces.append(text[at:])
    return "".join(pieces), starts, origins


def _decoded(token: str) -> str | None:
    """A base64 or hex token's text, when it decodes to printable text."""
    candidates = []
    if _HEX.fullmatch(token):
        candidates.append(bytes.fromhex(token))
    padded = token + "=" * (-len(token) % 4)
    for decode in (base64.b64decode, base64.urlsafe_b64decode):
        try:
            candidates.append(decode(padded.encode("ascii")))
        except (binascii.Error, ValueError):
            continue
    for data in candidates:
        text = data.decode("ascii", errors="replace")
        if len(text) >= 16 and _PRINTABLE.fullmatch(text):
            return text
    return None


def find_keys(text: str) -> list[tuple[int, str, str]]:
    """(line, rule, value) of every known key format in a file's text: as written, with split literals joined,
    and inside base64 or hex strings. Sorted; one finding per value and line."""
    found: dict[tuple[int, str], str] = {}
    for offset, name, value in _matches(text):
        found.setdefault((_line_of(text, offset), value), name)
    joined, starts, origins = _joined(text)
    if len(starts) > 1:
        for offset, name, value in _matches(joined):
            piece = bisect.bisect_right(starts, offset) - 1
            line = _line_of(text, origins[piece] + offset - starts[piece])
            found.setdefault((line, value), f"{name} (split literals joined)")
    for pattern in (_BASE64, _HEX):
        for match in pattern.finditer(text):
            decoded = _decoded(match.group())
            for _offset, name, _value in _matches(decoded) if decoded else ():
                found.setdefault((_line_of(text, match.start()), match.group()), f"{name} (encoded)")
    return sorted((line, name, value) for (line, value), name in found.items())
