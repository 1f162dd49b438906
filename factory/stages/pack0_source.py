"""The user's Pack0 folder (auto-build) as its copy takes it: checked by the preflight, before anything is
written, and again by the Pack0 stage when it copies the folder. A module of its own so that the preflight
(above the stages) and the stage share it without importing each other."""

from __future__ import annotations

import os
from pathlib import Path

from factory.errors import InputError
from factory.pec.coverage import walk


def check_pack0_source(source: Path, shown: str) -> list[str]:
    """The user's Pack0 folder (auto-build) as its copy takes it: a link, FIFO, socket, device or bytecode in it
    is refused (a Pack0 is read where it is, never through a link to elsewhere, and a copy of bytecode could
    not be evidence). Returns what the copy leaves behind, each as verify would name it (a run bit, a second
    name, an empty folder): every file is copied as a plain file of its own, mode 644. Run every time, memo or
    not: it reads no file, and a link may replace a file with the same bytes. shown: how paths start in what
    it says (the folder as the user gave it; in a log, only its name)."""
    tree = walk(Path(os.path.realpath(source)), shown)  # the folder itself may be a link to it
    if tree.not_plain:
        raise InputError(
            f"{tree.not_plain[0]}: a Pack0 is copied as plain files only; put the file itself there, or remove it"
        )
    return [problem for problem in tree.problems if problem.split(": ", 1)[0] != "not UTF-8"]
