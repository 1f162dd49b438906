"""Crash safety: killed with SIGKILL at any moment, a re-run ends byte-identical to a clean run; two runs
on one output folder at once: the second refuses (a lock)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from conftest import ROOT, factory_env, read_json, run_cli

ENV = factory_env(SOURCE_DATE_EPOCH="1700000000", DOCKER_HOST="unix:///nonexistent/docker.sock")
ARGS = ("auto-full", "--module", "tasks", "--waive", "docker-build", "--out")
EVIDENCE = ("run_report.json", "approval.json", "manifest.json", "pipeline_result.json")
KILL_POINTS = 10


def start(out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "factory.cli", *ARGS, str(out)],
        cwd=ROOT,
        env=ENV,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def artifacts(out: Path) -> dict[str, bytes]:
    build = out / "build"
    listed = [item["path"] for item in read_json(build / "manifest.json")["artifacts"]]
    return {path: (build / path).read_bytes() for path in [*listed, *EVIDENCE]}


def test_sigkill_at_any_moment_then_rerun_matches_a_clean_run(tmp_path: Path):
    started = time.monotonic()
    clean = run_cli(*ARGS, tmp_path / "clean", env=ENV)
    duration = time.monotonic() - started
    assert clean.returncode == 0, clean.stdout + clean.stderr
    expected = artifacts(tmp_path / "clean")
    survived = []
    for point in range(KILL_POINTS):
        out = tmp_path / f"killed-{point}"
        delay = 0.3 + point * (duration - 0.3) / KILL_POINTS
        process = start(out)
        time.sleep(delay)
        process.kill()
        process.wait()
        rerun = run_cli(*ARGS, out, env=ENV)
        assert rerun.returncode == 0, (delay, rerun.stdout + rerun.stderr)
        got = artifacts(out)
        differing = sorted(path for path in {*got, *expected} if got.get(path) != expected.get(path))
        assert differing == [], f"killed after {delay:.2f}s"
        assert not list(out.rglob(".*.tmp")), "a half-written temp file was left behind"
        survived.append(round(delay, 2))
    assert len(survived) == KILL_POINTS
    print(f"kill points survived: {survived} (clean run {duration:.2f}s)")


def test_a_second_run_on_the_same_folder_refuses(tmp_path: Path):
    out = tmp_path / "out"
    first = start(out)
    try:
        deadline = time.monotonic() + 20
        while not (out / ".lai-pack.lock").exists():
            assert time.monotonic() < deadline, "the first run never took the lock"
            time.sleep(0.02)
        second = run_cli(*ARGS, out, env=ENV)
    finally:
        output, _ = first.communicate(timeout=120)
    assert second.returncode == 2
    assert "another lai-pack run is using" in second.stderr
    assert first.returncode == 0, output.decode()
    assert read_json(out / "build/approval.json")["approved"] is True
