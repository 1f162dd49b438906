"""Errors the user can act on. Each carries where it happened, so the CLI prints one clear line."""

from __future__ import annotations


class FactoryError(Exception):
    """Base class: a failure with a message meant for the user, never a traceback."""

    exit_code = 1


class InputError(FactoryError):
    """Bad usage or bad input (a broken Pack0, a bad module name). Exit code 2."""

    exit_code = 2

    def __init__(self, message: str, *, file: str | None = None, field: str | None = None) -> None:
        self.file = file
        self.field = field
        where = ": ".join(part for part in (file, field) if part)
        super().__init__(one_line(f"{where}: {message}" if where else message))


def one_line(text: str) -> str:
    """Control characters (from a file name or a field a user wrote) shown escaped: the error stays one line.
    A byte of a name that is not UTF-8 (a lone surrogate U+DC80-U+DCFF, as Python reads it) shows as it is on
    disk (x\\xff.py), and is never printed raw: a UTF-8 terminal or log cannot take it."""
    return "".join(char if char.isprintable() else _escaped(char) for char in text)


def _escaped(char: str) -> str:
    if "\udc80" <= char <= "\udcff":
        return f"\\x{ord(char) - 0xDC00:02x}"
    return repr(char)[1:-1]


class UnsafePathError(FactoryError):
    """An agent asked to write outside the folder it was given."""


class AgentReplyError(FactoryError):
    """An agent reply that could not be parsed or validated, even after JSON extraction."""


class ReplyTooLarge(AgentReplyError):
    """A reply over the size limit: refused outright, never asked again."""
