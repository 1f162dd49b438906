"""Crash safety: killed with SIGKILL at any moment, a re-run ends byte-identical to a clean run; two runs
on one output folder at once: the second refuses (a lock).

Here a few kill points, each inside a stage that writes or runs children; benchmarks/crash_safety.py kills
at every stage and at evenly spaced moments, and times it."""

from __future__ import annotations

import subprocess
import time
from pathlib import Path

import pytest
from conftest import read_json, run_cli
from crash import ARGS, KillPoint, artifacts, build, differences, env_for, kill_at, start

KILL_POINTS = (
    KillPoint("[codegen.core] started"),  # source files being written
    KillPoint("[run_heal] started", 0.5),  # the generated tests running in their sandbox (children alive)
    KillPoint("[pec] started"),  # evidence being written, every gate done
)


@pytest.fixture(scope="module")
def locked_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, subprocess.CompletedProcess, int, str]:
    """A clean build, and a second run tried on its folder while it holds the lock; the clean build's artifacts
    are also the reference the killed runs must end equal to."""
    out = tmp_path_factory.mktemp("crash") / "clean"
    first = start(out)
    try:
        deadline = time.monotonic() + 20
        while not (out / ".lai-pack.lock").exists():
            assert time.monotonic() < deadline, "the first run never took the lock"
            time.sleep(0.02)
        second = run_cli(*ARGS, out, env=env_for(out))
    finally:
        output, _ = first.communicate(timeout=300)
    return out, second, first.returncode, output.decode()


def test_a_second_run_on_the_same_folder_refuses(locked_run):
    out, second, first_code, first_output = locked_run
    assert second.returncode == 2
    assert "another lai-pack run is using" in second.stderr
    assert first_code == 0, first_output
    assert read_json(out / "build/approval.json")["approved"] is True


@pytest.mark.parametrize("point", KILL_POINTS, ids=str)
def test_sigkill_then_rerun_matches_a_clean_run(locked_run, point: KillPoint, tmp_path: Path):
    clean, _, first_code, first_output = locked_run
    assert first_code == 0, first_output
    out = tmp_path / "killed"
    kill_at(out, point)
    rerun = build(out)
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert differences(out, artifacts(clean)) == []
