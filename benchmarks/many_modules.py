"""Four modules built serially (-j 1) and two at a time (lai-pack -j 2, and doit -n 2 over the same tasks):
wall times and the speed-up.

Run: python benchmarks/many_modules.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MODULES = ("crm-contacts", "meetcore", "invoices", "tasks")


def lai_pack(jobs: int, out: Path) -> list[str]:
    modules = [arg for module in MODULES for arg in ("--module", module)]
    return [sys.executable, "-m", "factory.cli", "auto-full", *modules, "--out", str(out), "-j", str(jobs),
            "--waive", "docker-build"]  # fmt: skip


def doit(jobs: int, out: Path) -> list[str]:
    return [sys.executable, "-m", "doit", "--file", str(ROOT / "dodo.py"), "-n", str(jobs), "auto_full",
            f"module={','.join(MODULES)}", f"out={out}", "waive=docker-build"]  # fmt: skip


def timed(command: list[str]) -> tuple[float, int]:
    env = {key: value for key, value in os.environ.items() if key != "ANTHROPIC_API_KEY"}
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=ROOT, check=False)
    return time.perf_counter() - started, done.returncode


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="lai-bench-many-") as temp:
        serial, serial_code = timed(lai_pack(1, Path(temp) / "serial"))
        parallel, parallel_code = timed(lai_pack(2, Path(temp) / "parallel"))
        through_doit, doit_code = timed(doit(2, Path(temp) / "doit"))
        rerun, rerun_code = timed(lai_pack(2, Path(temp) / "parallel"))
    print(f"modules:              {len(MODULES)} ({', '.join(MODULES)}), {os.cpu_count()} cores")
    print(f"lai-pack -j 1:        {serial:6.2f} s  exit {serial_code}")
    print(f"lai-pack -j 2:        {parallel:6.2f} s  exit {parallel_code}  speed-up {serial / parallel:.2f}x")
    print(f"doit -n 2:            {through_doit:6.2f} s  exit {doit_code}  speed-up {serial / through_doit:.2f}x")
    print(f"re-run, -j 2:         {rerun:6.2f} s  exit {rerun_code}  (every module up to date)")
    return 0 if serial_code == parallel_code == doit_code == rerun_code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
