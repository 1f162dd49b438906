"""Progress as a person sees it: colour and a result line per stage on a terminal, plain text elsewhere."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, factory_env, run_cli


def run_on_a_terminal(*args: str) -> tuple[int, str]:
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "factory.cli", *args], stdout=follower, stderr=follower, env=factory_env(), cwd=ROOT
    )
    os.close(follower)
    output = b""
    while True:
        try:
            chunk = os.read(leader, 65536)
        except OSError:  # the terminal closes when the process ends
            break
        if not chunk:
            break
        output += chunk
    os.close(leader)
    return process.wait(timeout=300), output.decode("utf-8", "replace")


def test_a_terminal_gets_colour_and_a_timed_result_per_stage(tmp_path: Path):
    code, output = run_on_a_terminal(
        "auto-full", "--module", "tasks", "--out", str(tmp_path / "out"), "--waive", "docker-build"
    )
    assert code == 0, output
    assert "\x1b[" in output
    assert "✓\x1b[0m run_heal" in output and "✓\x1b[0m pec" in output
    assert "run_heal\x1b[0m running" in output, "a live line while the stage runs"
    assert "[run_heal] tests (sandbox" in output, "stage lines keep their [stage] prefix"


def test_plain_output_has_no_escape_codes(tmp_path: Path):
    result = run_cli("auto-full", "--module", "tasks", "--out", tmp_path / "out", "--waive", "docker-build")
    assert result.returncode == 0
    assert "\x1b[" not in result.stdout + result.stderr
    assert "▶ run_heal" in result.stdout
