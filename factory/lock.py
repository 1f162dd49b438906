"""One run per output folder: a second run on the same folder refuses instead of corrupting the first."""

from __future__ import annotations

import fcntl
import os
from pathlib import Path

from factory.errors import FactoryError

LOCK_NAME = ".lai-pack.lock"


class OutputBusy(FactoryError):
    exit_code = 2


def lock_output(out: Path) -> int:
    """Take the folder's lock for the life of this process (the OS drops it when the process ends, even
    on SIGKILL). Returns the descriptor; raises OutputBusy when another run holds it."""
    out.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(out / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(descriptor)
        raise OutputBusy(
            f"another lai-pack run is using {out} (lock {out / LOCK_NAME}); wait for it to finish"
        ) from None
    return descriptor
