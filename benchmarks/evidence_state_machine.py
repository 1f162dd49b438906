"""The evidence state machine (tests/test_evidence_state_machine.py) with many more steps than CI runs:
random edits, deletions, offline and LLM-mode re-runs, changed waivers and kill -9, each completed run
checked with `lai-pack verify` and `lai-pack status`. Prints examples, runs, steps, failures and time.

Run: python benchmarks/evidence_state_machine.py [--examples 10] [--steps 15]
"""

from __future__ import annotations

import argparse
import sys
import time
import traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=10, help="independent sequences, each from a clean build")
    parser.add_argument("--steps", type=int, default=15, help="most steps per sequence")
    args = parser.parse_args()

    from hypothesis import settings
    from hypothesis.stateful import run_state_machine_as_test
    from test_evidence_state_machine import SETTINGS, EvidenceMachine, workspace

    started = time.perf_counter()
    space = workspace()
    failures = 0
    for example in range(1, args.examples + 1):
        try:
            run_state_machine_as_test(
                EvidenceMachine, settings=settings(SETTINGS, max_examples=1, stateful_step_count=args.steps)
            )
        except Exception:  # noqa: BLE001 - every failure is counted and shown, then the next sequence runs
            failures += 1
            print(f"sequence {example}: FAILED", file=sys.stderr)
            traceback.print_exc()
        print(f"sequence {example}: {space.runs} runs, {space.steps} steps so far, {failures} failures", flush=True)
    wall = time.perf_counter() - started
    print(
        f"{args.examples} sequences, {space.steps} steps, {space.runs} runs ({space.llm_runs} in LLM mode, "
        f"{space.killed} killed mid-run), {failures} failures, {wall:.1f}s"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
