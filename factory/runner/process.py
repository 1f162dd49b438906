"""Child processes that cannot outlive the factory: killed with it, even by SIGKILL (Linux prctl)."""

from __future__ import annotations

import ctypes
import signal
import sys

_PR_SET_PDEATHSIG = 1


def die_with_parent() -> None:
    """For subprocess's preexec_fn: the kernel sends this child SIGKILL when its parent dies."""
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
