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
    parser.add_argument("--examples", type=int, default=10, help="sequences, each from a clean build")
    parser.add_argument("--steps", type=int, default=15, help="most steps per sequence")
    args = parser.parse_args()

    from hypothesis import settings
    from hypothesis.stateful import run_state_machine_as_test
    from test_evidence_state_machine import SETTINGS, EvidenceMachine, workspace

    started = time.perf_counter()
    space = workspace()
    failures = 0
    try:
        # One run of many examples: hypothesis tries the simplest sequence first, then random ones.
        run_state_machine_as_test(
            EvidenceMachine,
            settings=settings(SETTINGS, max_examples=args.examples, stateful_step_count=args.steps, derandomize=False),
        )
    except Exception:  # noqa: BLE001 - the failure is counted and shown with its steps
        failures += 1
        traceback.print_exc()
    wall = time.perf_counter() - started
    print(
        f"{args.examples} sequences (stopping at the first failure), {space.steps} steps, {space.runs} runs "
        f"({space.llm_runs} in LLM mode, {space.killed} killed mid-run), {failures} failures, {wall:.1f}s"
    )
    return 1 if failures else 0


if __name__ == "__main__":
    raise SystemExit(main())
