"""Wall time of a full offline auto-full, and of an immediate second run (which must re-run no stage).

Run: python benchmarks/auto_full.py [--module crm-contacts]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run(module: str, out: Path) -> tuple[float, list[str], int]:
    env = {key: value for key, value in os.environ.items() if key != "ANTHROPIC_API_KEY"}
    argv = [sys.executable, "-m", "factory.cli", "auto-full", "--module", module, "--out", str(out)]
    started = time.perf_counter()
    done = subprocess.run([*argv, "--waive", "docker-build"], capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - started
    stages = [line[2:].strip() for line in done.stdout.splitlines() if line.startswith("▶ ")]
    return elapsed, stages, done.returncode


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--module", default="crm-contacts")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lai-bench-") as temp:
        out = Path(temp) / "output"
        first, first_stages, first_code = run(args.module, out)
        second, second_stages, second_code = run(args.module, out)
    print(f"module:              {args.module}")
    print(f"first run:           {first:6.2f} s  exit {first_code}, {len(first_stages)} stages run")
    print(f"immediate re-run:    {second:6.2f} s  exit {second_code}, {len(second_stages)} stages run")
    if second_stages:
        print(f"re-ran (should be none): {', '.join(second_stages)}")
    return 0 if first_code == second_code == 0 and not second_stages else 1


if __name__ == "__main__":
    sys.exit(main())
