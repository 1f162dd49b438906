"""SIGKILL a build at a chosen moment, re-run it, and compare with a clean run: shared by
tests/test_crash_safety.py (a few well-chosen kill points) and benchmarks/crash_safety.py (all of them)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Fixed timestamps make two runs byte-comparable; no engine makes the docker gate 'unavailable' (waived) at once.
ENV = {
    **{key: value for key, value in os.environ.items() if key not in ("ANTHROPIC_API_KEY", "DATABASE_URL")},
    "SOURCE_DATE_EPOCH": "1700000000",
    "DOCKER_HOST": "unix:///nonexistent/docker.sock",
}
ARGS = ("auto-full", "--module", "tasks", "--waive", "docker-build", "--out")
EVIDENCE = ("run_report.json", "approval.json", "manifest.json", "pipeline_result.json")


@dataclass(frozen=True)
class KillPoint:
    """Kill `delay` seconds after the first output line containing `after` ('' = after the process starts)."""

    after: str
    delay: float = 0.0

    def __str__(self) -> str:
        return f"{self.delay:.2f}s after {self.after!r}" if self.after else f"{self.delay:.2f}s after start"


def env_for(out: Path) -> dict[str, str]:
    """Each output its own cache, seeded with the suite's fuzz results: which test results a run reused is in
    its evidence, so a killed run and the clean one must start from the same cache state."""
    from conftest import seed_fuzz_results

    cache = out.parent / f"{out.name}.cache"
    if not cache.is_dir():
        cache.mkdir(parents=True)
        seed_fuzz_results(cache)
    return {**ENV, "LAI_CACHE_DIR": str(cache)}


def start(out: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "factory.cli", *ARGS, str(out)],
        cwd=ROOT,
        env=env_for(out),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )


def build(out: Path) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "factory.cli", *ARGS, str(out)]
    return subprocess.run(argv, cwd=ROOT, env=env_for(out), capture_output=True, text=True, timeout=600, check=False)


def artifacts(out: Path) -> dict[str, bytes]:
    """Every file the manifest lists, and the evidence files, as bytes."""
    folder = out / "build"
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    listed = [item["path"] for item in manifest["artifacts"]]
    return {path: (folder / path).read_bytes() for path in [*listed, *EVIDENCE]}


def kill_at(out: Path, point: KillPoint) -> float:
    """Start a build into `out` and SIGKILL it at `point`; the seconds it ran. Fails if it ended first."""
    started = time.monotonic()
    process = start(out)
    try:
        if point.after:
            for line in process.stdout:
                if point.after in line.decode("utf-8", "replace"):
                    break
            else:
                raise AssertionError(f"the build ended before printing {point.after!r}")
        time.sleep(point.delay)
        if process.poll() is not None:
            raise AssertionError(f"the build ended before the kill point {point}")
    finally:
        process.kill()
        process.wait()
        process.stdout.close()
    return time.monotonic() - started


def differences(out: Path, expected: dict[str, bytes]) -> list[str]:
    """What a re-run left different from a clean run: differing files, and half-written temp files."""
    got = artifacts(out)
    differing = sorted(path for path in {*got, *expected} if got.get(path) != expected.get(path))
    return differing + [f"temp file left: {path}" for path in sorted(out.rglob(".*.tmp"))]
