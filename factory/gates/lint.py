"""Lint gate: ruff on the build's src and tests must report nothing."""

from __future__ import annotations

from pathlib import Path

from factory.gates.result import GateResult
from factory.runner.lint import run_ruff


def lint_gate(build_dir: Path) -> GateResult:
    result = run_ruff(build_dir)
    if result is None:
        return GateResult("lint", "unavailable", "ruff is not installed", tool="ruff")
    if result.ok:
        return GateResult("lint", "passed", "ruff found no problem in src/ and tests/", "ruff", result.version)
    lines = result.output.splitlines()
    return GateResult("lint", "failed", f"ruff: {lines[-1] if lines else 'failed'}", "ruff", result.version, lines[:50])
