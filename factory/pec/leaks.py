"""`lai-pack leak-check PATH`: what must not leave the building in a module someone else will read:
secrets, .env files, the value of the user's API key, and absolute paths of the machine that built it."""

from __future__ import annotations

import os
import re
from pathlib import Path

from factory.fsutil import list_files
from factory.gates.secrets import Finding, scan_files
from factory.runner.run import SECRET_VARIABLES

# Factory state that is never shipped (export leaves it out): the doit database (it holds absolute paths), the lock.
NOT_SHIPPED = (".lai-pack.",)


def _text_lines(path: Path) -> list[str]:
    data = path.read_bytes()
    if b"\x00" in data:
        return []
    return data.decode("utf-8", "replace").splitlines()


def machine_paths(root: Path) -> list[str]:
    """Absolute paths that name this machine's layout: the scanned folder, the home and working folders."""
    candidates = {str(root.resolve()), str(Path.home()), str(Path.cwd())}
    return sorted(path for path in candidates if path not in ("/", ""))


def _literal_findings(root: Path, path: Path, lines: list[str], secrets: dict[str, str]) -> list[Finding]:
    relative = path.relative_to(root).as_posix()
    found = []
    for number, line in enumerate(lines, start=1):
        for rule, value in secrets.items():
            if value in line:
                found.append(Finding(relative, number, rule, value))
    return found


def _path_findings(root: Path, path: Path, lines: list[str], markers: list[str]) -> list[Finding]:
    relative = path.relative_to(root).as_posix()
    patterns = [(marker, re.compile(re.escape(marker) + r"(?=/|\b|$)")) for marker in markers]
    return [
        Finding(relative, number, "absolute path of the build machine", marker)
        for number, line in enumerate(lines, start=1)
        for marker, pattern in patterns
        if pattern.search(line)
    ]


def files_to_check(root: Path) -> list[Path]:
    if root.is_file():
        return [root]
    return [path for path in list_files(root) if not path.name.startswith(NOT_SHIPPED)]


def leak_check(root: Path, files: list[Path] | None = None) -> list[Finding]:
    """Every finding under root (or in the given files, relative to root), sorted."""
    base = root if root.is_dir() else root.parent
    files = files if files is not None else files_to_check(root)
    findings = list(scan_files(base, files))
    keys = {f"value of ${name}": os.environ[name] for name in SECRET_VARIABLES if len(os.environ.get(name, "")) >= 8}
    markers = machine_paths(base)
    for path in files:
        if path.name == ".env" or path.name.startswith(".env."):
            findings.append(Finding(path.relative_to(base).as_posix(), 1, ".env file", path.name))
        lines = _text_lines(path)
        findings += _literal_findings(base, path, lines, keys)
        findings += _path_findings(base, path, lines, markers)
    return sorted(set(findings))
