"""ruff on the build's src and tests, with the build's own ruff.toml. Used by the heal loop and the lint gate."""

from __future__ import annotations

import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from factory.errors import one_line
from factory.fsutil import list_files, not_utf8
from factory.trust import distrust_unsealed_folder, seal_folder

LINT_TARGETS = ("src", "tests")
LINT_TIMEOUT_S = 120  # one ruff run, check or fix
# ruff's own per-file cache, beside build/ with the factory's other state (never in the evidence): an
# unchanged file is not linted again. ruff keys each entry by the file's path, mtime and mode and the settings.
RUFF_CACHE = ".lai-pack.ruff-cache"


@dataclass(frozen=True)
class LintResult:
    ok: bool
    output: str
    version: str


def ruff_command() -> list[str] | None:
    """ruff from PATH, else as a module of this interpreter; None when it is not installed."""
    found = shutil.which("ruff")
    if found:
        return [found]
    probe = subprocess.run([sys.executable, "-m", "ruff", "--version"], capture_output=True, check=False)
    return [sys.executable, "-m", "ruff"] if probe.returncode == 0 else None


def run_ruff(build_dir: Path, *, fix: bool = False) -> LintResult | None:
    """None when ruff is unavailable."""
    command = ruff_command()
    if command is None:
        return None
    version = subprocess.run([*command, "--version"], capture_output=True, text=True, check=False).stdout.strip()
    targets = [name for name in LINT_TARGETS if (build_dir / name).is_dir()]
    cache_dir = build_dir.resolve().parent / RUFF_CACHE
    # Anyone who can write the output folder can write this cache: believe it only as this machine sealed it.
    distrust_unsealed_folder(cache_dir)
    cache = ["--cache-dir", str(cache_dir)]
    argv = [*command, "check", *cache, "--output-format", "concise", *(["--fix"] if fix else []), *targets]
    # backslashreplace: ruff prints a name that is not UTF-8 as its bytes.
    result = subprocess.run(
        argv,
        cwd=build_dir,
        capture_output=True,
        text=True,
        errors="backslashreplace",
        timeout=LINT_TIMEOUT_S,
        check=False,
    )
    seal_folder(cache_dir)
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0:
        output += _unlintable(build_dir, targets)
    return LintResult(ok=result.returncode == 0, output=output, version=version)


def _unlintable(build_dir: Path, targets: list[str]) -> str:
    """Names ruff's cache cannot hold (it then fails saying only 'Failed to serialize cache data'), as a last
    line that says why."""
    paths = [path.relative_to(build_dir).as_posix() for name in targets for path in list_files(build_dir / name)]
    odd = [one_line(path) for path in paths if not_utf8(path)]
    return f"\nfile names that are not UTF-8 (ruff fails on them): {', '.join(odd)}" if odd else ""
