"""Where generated (untrusted) code runs: bubblewrap with no network, a private /tmp, a read-only file
system except the build folder, and its own process namespace; or, where bwrap is missing, unsandboxed."""

from __future__ import annotations

import shutil
import subprocess
from functools import cache
from pathlib import Path

from factory.errors import InputError

SANDBOXES = ("auto", "bwrap", "none")


@cache
def bwrap_works() -> bool:
    """bwrap exists and can make the namespaces we ask for (some containers forbid them)."""
    if not shutil.which("bwrap"):
        return False
    probe = ["bwrap", "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "--die-with-parent", "true"]
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0


def resolve_sandbox(requested: str) -> str:
    if requested not in SANDBOXES:
        raise InputError(f"unknown sandbox {requested!r}; choose one of {', '.join(SANDBOXES)}", field="--sandbox")
    if requested == "auto":
        return "bwrap" if bwrap_works() else "none"
    if requested == "bwrap" and not bwrap_works():
        raise InputError("bubblewrap cannot run here (apt-get install -y bubblewrap)", field="--sandbox")
    return requested


def wrap(argv: list[str], build_dir: Path, sandbox: str) -> list[str]:
    """The command as the sandbox runs it. Only the build folder (and a private /tmp) can be written."""
    if sandbox == "none":
        return argv
    build = str(build_dir.resolve())
    return [
        "bwrap",
        "--ro-bind",
        "/",
        "/",
        "--dev",
        "/dev",
        "--proc",
        "/proc",
        "--tmpfs",
        "/tmp",
        "--bind",
        build,
        build,
        "--unshare-net",
        "--unshare-pid",
        "--die-with-parent",
        "--new-session",
        "--chdir",
        build,
        "--",
        *argv,
    ]
