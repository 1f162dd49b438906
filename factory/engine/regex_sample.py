"""Strings that match a regular expression, drawn from its parse tree with a seeded generator. Pure.

Why our own and not hypothesis' `from_regex` or rstr: the generated tests must be byte-identical on every
run of the same factory version, and a library's drawing order changes between its releases. This walks
Python's own parse of the pattern (so it reads exactly the syntax the service's `re.search` reads) and
draws from `random.Random(seed)`, whose sequence for a string seed is fixed across Python 3 releases.
Lookarounds, anchors and word boundaries are not generated: every draw is checked against the pattern by
the caller, and a pattern no draw satisfies asks for `examples`.
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterator

# re's parser is private but versioned with the interpreter; the factory requires Python 3.11+, where it is here.
from re import _constants as sre  # the parse tree's opcodes
from re import _parser as sre_parser

MAX_EXTRA_REPEATS = 3  # beyond a quantifier's minimum: keeps samples short, so length limits are met
MAX_SAMPLE_LENGTH = 10_000  # a draw longer than this is abandoned (`a{100000}{100000}` must not fill memory)
_CATEGORY_CHARS = {
    sre.CATEGORY_DIGIT: "0123456789",
    sre.CATEGORY_NOT_DIGIT: "abcXYZ-_ ",
    sre.CATEGORY_SPACE: " ",
    sre.CATEGORY_NOT_SPACE: "abcXYZ019-_",
    sre.CATEGORY_WORD: "abcxyzABCXYZ0129_",
    sre.CATEGORY_NOT_WORD: " -.!+",
}
# What a negated class or `.` may produce: printable ASCII first, so samples read well in test files.
_POOL = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 -_.,:;!?+*/=()[]{}#@$%&'\"<>|~^`\\"


class _TooLong(Exception):
    pass


_LEAVES = (sre.LITERAL, sre.NOT_LITERAL, sre.ANY, sre.IN, sre.GROUPREF)


class _Draw:
    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.groups: dict[int, str] = {}
        self.length = 0

    def sequence(self, items) -> str:
        return "".join(self.node(op, arg) for op, arg in items)

    def node(self, op, arg) -> str:
        text = self.draw(op, arg)
        if op in _LEAVES:
            self.length += len(text)
            if self.length > MAX_SAMPLE_LENGTH:
                raise _TooLong
        return text

    def draw(self, op, arg) -> str:
        if op is sre.LITERAL:
            return chr(arg)
        if op is sre.NOT_LITERAL:
            return self.rng.choice([char for char in _POOL if ord(char) != arg])
        if op is sre.ANY:
            return self.rng.choice(_POOL)
        if op is sre.IN:
            return self.char_in(arg)
        if op in (sre.MAX_REPEAT, sre.MIN_REPEAT, sre.POSSESSIVE_REPEAT):
            low, high, items = arg
            if low > MAX_SAMPLE_LENGTH:
                raise _TooLong
            high = min(high, low + MAX_EXTRA_REPEATS)
            return "".join(self.sequence(items) for _ in range(self.rng.randint(low, high)))
        if op is sre.SUBPATTERN:
            group, _add, _del, items = arg
            text = self.sequence(items)
            if group is not None:
                self.groups[group] = text
            return text
        if op is sre.ATOMIC_GROUP:
            return self.sequence(arg)
        if op is sre.BRANCH:
            return self.sequence(self.rng.choice(arg[1]))
        if op is sre.GROUPREF:
            return self.groups.get(arg, "")
        if op is sre.GROUPREF_EXISTS:
            group, yes, no = arg
            return self.sequence(yes if group in self.groups else (no or []))
        return ""  # anchors, boundaries, lookarounds: checked afterwards, never drawn

    def char_in(self, items) -> str:
        negated = bool(items) and items[0][0] is sre.NEGATE
        if negated:
            allowed = [char for char in _POOL if not any(_in_item(char, op, arg) for op, arg in items[1:])]
            return self.rng.choice(allowed) if allowed else "\u00e9"
        op, arg = self.rng.choice(items)
        if op is sre.LITERAL:
            return chr(arg)
        if op is sre.RANGE:
            low, high = arg
            printable = [code for code in range(max(low, 32), min(high, 126) + 1)]
            return chr(self.rng.choice(printable) if printable else self.rng.randint(low, min(high, low + 50)))
        if op is sre.CATEGORY:
            return self.rng.choice(_CATEGORY_CHARS.get(arg, "a"))
        return "a"


def _in_item(char: str, op, arg) -> bool:
    if op is sre.LITERAL:
        return ord(char) == arg
    if op is sre.RANGE:
        return arg[0] <= ord(char) <= arg[1]
    if op is sre.CATEGORY:
        return bool(re.fullmatch(_CATEGORY_REGEX.get(arg, "(?!)"), char))
    return False


_CATEGORY_REGEX = {
    sre.CATEGORY_DIGIT: r"\d",
    sre.CATEGORY_NOT_DIGIT: r"\D",
    sre.CATEGORY_SPACE: r"\s",
    sre.CATEGORY_NOT_SPACE: r"\S",
    sre.CATEGORY_WORD: r"\w",
    sre.CATEGORY_NOT_WORD: r"\W",
}


def regex_samples(pattern: str, attempts: int = 60, patience: int = 8) -> Iterator[str]:
    """Distinct strings `re.search(pattern, s)` accepts, in a fixed order for a given pattern; stops after
    `patience` draws in a row that bring nothing new (a pattern with few choices has few strings)."""
    parsed = sre_parser.parse(pattern)
    compiled = re.compile(pattern)
    seen: set[str] = set()
    misses = 0
    for attempt in range(attempts):
        rng = random.Random(f"{pattern}\x00{attempt}")
        try:
            text = _Draw(rng).sequence(parsed)
        except _TooLong:
            return
        if text not in seen and compiled.search(text):
            seen.add(text)
            misses = 0
            yield text
        else:
            misses += 1
            if misses >= patience:
                return
