"""Four modules built serially (-j 1) and two at a time (-j 2): wall times and the speed-up.

Run: python benchmarks/many_modules.py
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODULES = ("crm-contacts", "meetcore", "invoices", "tasks")


def timed(jobs: int, out: Path) -> tuple[float, int]:
    modules = [arg for module in MODULES for arg in ("--module", module)]
    env = {key: value for key, value in os.environ.items() if key != "ANTHROPIC_API_KEY"}
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "factory.cli",
            "auto-full",
            *modules,
            "--out",
            str(out),
            "-j",
            str(jobs),
            "--waive",
            "docker-build",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    return time.perf_counter() - started, done.returncode


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="lai-bench-many-") as temp:
        serial, serial_code = timed(1, Path(temp) / "serial")
        parallel, parallel_code = timed(2, Path(temp) / "parallel")
    print(f"modules:          {len(MODULES)} ({', '.join(MODULES)})")
    print(f"serial (-j 1):    {serial:6.2f} s  exit {serial_code}")
    print(f"parallel (-j 2):  {parallel:6.2f} s  exit {parallel_code}")
    print(f"speed-up:         {serial / parallel:6.2f}x on {os.cpu_count()} cores")
    return 0 if serial_code == parallel_code == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
