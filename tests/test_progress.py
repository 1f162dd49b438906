"""Progress as a person sees it: colour and a result line per stage on a terminal, plain text elsewhere."""

from __future__ import annotations

import os
import pty
import re
import subprocess
import sys
from pathlib import Path

from conftest import ROOT, factory_env, run_cli

MODULES = ("tasks", "invoices")


def run_on_a_terminal(*args: str) -> tuple[int, str]:
    """lai-pack ARGS with a pseudo-terminal as its stdout and stderr: what a person at a terminal sees."""
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
    # 'sandbox bwrap' or 'no sandbox', whichever this machine has: the [stage] prefix is what is checked here.
    assert re.search(r"\[run_heal\] tests \((sandbox \w+|no sandbox)\)", output), (
        "stage lines keep their [stage] prefix"
    )


def test_a_terminal_shows_every_running_build_and_drops_each_when_it_ends(tmp_path: Path):
    code, output = run_on_a_terminal(
        "auto-full", "--module", MODULES[0], "--module", MODULES[1], "--out", str(tmp_path / "out"), "-j", "2",
        "--waive", "docker-build",
    )  # fmt: skip
    assert code == 0, output
    running = r"\S+ \x1b\[1;36mbuild:{}\x1b\[0m running [0-9.]+s"
    both = [running.format(first) + r"\r?\n" + running.format(second) for first, second in (MODULES, MODULES[::-1])]
    assert re.search("|".join(both), output), "both live lines in one frame"
    for module in MODULES:
        ended = output.index(f"✓\x1b[0m build:{module}")
        assert f"build:{module}\x1b[0m running" not in output[ended:], "a finished build leaves the live lines"


def test_plain_output_has_no_escape_codes(tmp_path: Path):
    result = run_cli("auto-full", "--module", "tasks", "--out", tmp_path / "out", "--waive", "docker-build")
    assert result.returncode == 0
    assert "\x1b[" not in result.stdout + result.stderr
    assert "▶ run_heal" in result.stdout
