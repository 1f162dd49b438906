"""`lai-pack leak-check PATH`: what must not leave the building in a module someone else will read:
secrets, .env files, the value of the user's API key, and absolute paths of the machine that built it."""

from __future__ import annotations

import base64
import json
import os
import re
import tempfile
from importlib.metadata import version
from pathlib import Path

from factory.gates.declared import Declared, declared_values, pack0_folders
from factory.gates.secrets import Finding, mask, scan_by_content
from factory.results_cache import SharedResults
from factory.runner.run import SECRET_VARIABLES

# Factory state that is never shipped (export leaves it out): the doit database (it holds absolute paths), the lock.
NOT_SHIPPED = (".lai-pack.",)
# In a binary file (a NUL byte: a database, an archive, bytecode) the printable runs are what can leak, as
# `strings` finds them; each is reported at its byte offset instead of a line number.
_PRINTABLE = re.compile(rb"[\t\x20-\x7e]{8,}")
SIGNATURE_FILES = ("manifest.json.sig", "provenance.dsse.json")
_SIGNATURE = re.compile(rb"^[A-Za-z0-9+/]{86}==\n?$")  # one base64 Ed25519 signature


def _signed_lines(path: Path, data: bytes) -> list[tuple[int, str]] | None:
    """The evidence's signatures are public by design (and high-entropy by nature): a DSSE envelope is
    scanned as its decoded payload, a manifest signature not at all. None for any other file."""
    if path.name == "manifest.json.sig" and _SIGNATURE.match(data):
        return []
    if path.name != "provenance.dsse.json":
        return None
    try:
        payload = base64.b64decode(json.loads(data)["payload"], validate=True).decode("utf-8")
    except (ValueError, KeyError, TypeError):
        return None
    return list(enumerate(payload.splitlines(), start=1))


def _lines(data: bytes) -> list[tuple[int, str]]:
    """(line number, text) of a text file; (byte offset, text) of each printable run of a binary one."""
    if b"\x00" not in data:
        return list(enumerate(data.decode("utf-8", "replace").splitlines(), start=1))
    return [(match.start(), match.group().decode("ascii")) for match in _PRINTABLE.finditer(data)]


def _line_secrets(
    relative: str,
    lines: list[tuple[int, str]],
    name: str,
    tool_version: str,
    shared: SharedResults | None,
    declared: Declared,
) -> tuple[list[Finding], int]:
    """detect-secrets' file scan (every rule, ours too) over lines it cannot read where they are: a binary
    file's printable runs, a DSSE envelope's decoded payload. Each finding keeps its line number or offset."""
    with tempfile.TemporaryDirectory(prefix="lai-leak-") as folder:
        text = Path(folder) / name
        text.write_text("".join(f"{line}\n" for _, line in lines), encoding="utf-8")
        found, scanned = scan_by_content([(Path(folder), [text])], tool_version, shared, declared=declared)
    return [Finding(relative, lines[f.line - 1][0], f.rule, f.masked) for f in found], scanned


def machine_paths(root: Path) -> list[str]:
    """Absolute paths that name this machine's layout: the scanned folder, the home and working folders."""
    candidates = {str(root.resolve()), str(Path.home()), str(Path.cwd())}
    return sorted(path for path in candidates if path not in ("/", ""))


def _literal_findings(root: Path, path: Path, lines: list[tuple[int, str]], secrets: dict[str, str]) -> list[Finding]:
    relative = path.relative_to(root).as_posix()
    found = []
    for number, line in lines:
        for rule, value in secrets.items():
            if value in line:
                found.append(Finding(relative, number, rule, mask(value)))
    return found


def _path_findings(root: Path, path: Path, lines: list[tuple[int, str]], markers: list[str]) -> list[Finding]:
    relative = path.relative_to(root).as_posix()
    patterns = [(marker, re.compile(re.escape(marker) + r"(?=/|\b|$)")) for marker in markers]
    return [
        Finding(relative, number, "absolute path of the build machine", mask(marker))
        for number, line in lines
        for marker, pattern in patterns
        if pattern.search(line)
    ]


def files_to_check(root: Path) -> list[Path]:
    """Every regular file (caches and bytecode too: they can hold what they were made from), links not followed."""
    if root.is_file():
        return [root]
    found = sorted(path for path in root.rglob("*") if path.is_file() and not path.is_symlink())
    # Factory state is a file (.lai-pack.doit.db) or a folder of them (.lai-pack.ruff-cache/) beside build/.
    return [
        path
        for path in found
        if not path.name.startswith(NOT_SHIPPED) and not path.relative_to(root).parts[0].startswith(NOT_SHIPPED)
    ]


def leak_check(root: Path, files: list[Path] | None = None, shared: SharedResults | None = None) -> list[Finding]:
    """Every finding under root (or in the given files, relative to root), sorted."""
    return leak_scan(root, files, shared)[0]


def leak_scan(
    root: Path, files: list[Path] | None = None, shared: SharedResults | None = None
) -> tuple[list[Finding], int]:
    """(every finding, sorted; how many file contents detect-secrets read now). With shared (this machine's
    sealed results), a file whose name and content detect-secrets judged before is not scanned again: its
    masked findings are known. The checks that depend on this machine and its environment always run."""
    base = root if root.is_dir() else root.parent
    files = files if files is not None else files_to_check(root)
    tool_version = version("detect-secrets")
    # Only the two signature files are read ahead (to know how to scan them); the rest one at a time.
    signed = {path: _signed_lines(path, path.read_bytes()) for path in files if path.name in SIGNATURE_FILES}
    plain = [path for path in files if signed.get(path) is None]
    # The Pack0's own values (in an output or a team pack: its pack0/*/) are not secrets; key formats still are.
    declared = declared_values(pack0_folders(base))
    findings, scanned = scan_by_content([(base, plain)], tool_version, shared, declared=declared)
    keys = {f"value of ${name}": os.environ[name] for name in SECRET_VARIABLES if len(os.environ.get(name, "")) >= 8}
    markers = machine_paths(base)
    for path in files:
        relative, data = path.relative_to(base).as_posix(), path.read_bytes()
        signed.setdefault(path, None)
        if path.name == ".env" or path.name.startswith(".env."):
            findings.append(Finding(relative, 1, ".env file", mask(path.name)))
        lines = signed[path] if signed[path] is not None else _lines(data)
        if signed[path] is not None or b"\x00" in data:
            name = "payload.json" if signed[path] else path.name
            found, scanned_now = _line_secrets(relative, lines, name, tool_version, shared, declared)
            findings, scanned = findings + found, scanned + scanned_now
        findings += _literal_findings(base, path, lines, keys)
        findings += _path_findings(base, path, lines, markers)
    return sorted(set(findings)), scanned
