"""Child processes that cannot outlive the factory: killed with it, even by SIGKILL (Linux prctl)."""

from __future__ import annotations

import ctypes
import signal
import sys

_PR_SET_PDEATHSIG = 1
# Loaded here, not in the child: dlopen between fork and exec could wait forever on a lock that another
# thread of the parent (doit -n N -P thread) held at the moment of the fork.
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def die_with_parent() -> None:
    """For subprocess's preexec_fn: the kernel sends this child SIGKILL when its parent dies."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
