"""Where progress lines go: through the terminal's live display while one is showing (so a line lands above
the spinner instead of through it), else plainly to stdout."""

from __future__ import annotations

from collections.abc import Callable

_sink: Callable[[str], None] | None = None


def set_sink(sink: Callable[[str], None] | None) -> None:
    global _sink
    _sink = sink


def emit(line: str) -> None:
    if _sink is not None:
        _sink(line)
    else:
        print(line, flush=True)
