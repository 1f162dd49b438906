"""SIGKILL an offline auto-full at every stage's start and at evenly spaced moments, re-run it each time, and
check the result is byte-identical to a clean run; prints the cost of each kill point and of recovering.

The test suite (tests/test_crash_safety.py) keeps three of these points; this runs them all.
Run: python benchmarks/crash_safety.py [--evenly N]
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from crash import KillPoint, artifacts, build, differences, kill_at  # shared with the test


def kill_points(clean_output: str, duration: float, evenly: int) -> list[KillPoint]:
    """Each stage's start (as the clean run printed it), then `evenly` moments spread over the run."""
    starts = [KillPoint(match) for match in re.findall(r"\[[^\]]+\] started", clean_output)]
    spread = [KillPoint("", 0.3 + index * (duration - 0.3) / evenly) for index in range(evenly)]
    return starts + spread


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--evenly", type=int, default=10, help="kill points spread evenly over a clean run")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lai-crash-") as temp:
        started = time.monotonic()
        clean = build(Path(temp) / "clean")
        duration = time.monotonic() - started
        if clean.returncode != 0:
            print(clean.stdout + clean.stderr)
            return 1
        expected = artifacts(Path(temp) / "clean")
        points = kill_points(clean.stdout, duration, args.evenly)
        print(f"clean run: {duration:.2f} s, {len(expected)} files compared; {len(points)} kill points")
        print(f"{'kill point':<48} {'killed at s':>11} {'re-run s':>9}  result")
        failed = reached = 0
        for index, point in enumerate(points):
            out = Path(temp) / f"killed-{index}"
            try:
                ran = kill_at(out, point)
            except AssertionError as ended:
                print(f"{point!s:<48} {'-':>11} {'-':>9}  not reached: {ended}")
                continue
            reached += 1
            started = time.monotonic()
            rerun = build(out)
            rerun_s = time.monotonic() - started
            problems = ["re-run failed"] if rerun.returncode != 0 else differences(out, expected)
            failed += bool(problems)
            print(f"{point!s:<48} {ran:11.2f} {rerun_s:9.2f}  {problems or 'same as clean'}")
    print(f"survived {reached - failed} of {reached} kill points reached ({len(points)} tried)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
