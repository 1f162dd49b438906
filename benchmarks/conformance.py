"""What the conformance gate costs: checks run and seconds per Pack0, on the engine's own service (written by
codegen alone, no build), in the sandbox the gate would use; and the cost of the cached result (a no-op).

Run: python benchmarks/conformance.py [--sizes 20] [--hand]
  --sizes: synthetic Pack0s of N entities (benchmarks/scaling.py's 6-field contracts)
  --hand: also the Pack0s in examples/ and benchmarks/pack0s/ (references, unique sets, delete rules)
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from factory.engine.codegen import generate_source  # noqa: E402
from factory.gates.conformance import conformance_once  # noqa: E402
from factory.pack0.load import load_pack0  # noqa: E402
from factory.runner.sandbox import resolve_sandbox  # noqa: E402


def measure(pack0_dir: Path, sandbox: str) -> str:
    pack0 = load_pack0(pack0_dir)
    with tempfile.TemporaryDirectory() as temp:
        build, cache = Path(temp) / "build", Path(temp) / "cache"
        for relative, text in generate_source(pack0).items():
            path = build / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
        started = time.perf_counter()
        run = conformance_once(build, pack0_dir, pack0, sandbox, cache)
        cold = time.perf_counter() - started
        started = time.perf_counter()
        again = conformance_once(build, pack0_dir, pack0, sandbox, cache)
        warm = time.perf_counter() - started
    verdict = "passed" if run.passed and again.passed and again.reused_key else f"FAILED: {run.summary()}"
    return (
        f"{pack0_dir.name:<55} {len(pack0.entities):>3} entities {run.checks:>6} checks "
        f"{cold:>6.1f} s cold {warm * 1000:>6.0f} ms cached  {verdict}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="20")
    parser.add_argument("--hand", action="store_true")
    args = parser.parse_args()
    sandbox = resolve_sandbox("auto")
    print(f"sandbox: {sandbox}")
    from scaling import write_pack0

    with tempfile.TemporaryDirectory() as temp:
        for size in [int(text) for text in args.sizes.split(",") if text]:
            print(measure(write_pack0(Path(temp) / f"n{size}", size), sandbox), flush=True)
    if args.hand:
        for pack0_dir in sorted([*(ROOT / "examples").glob("pack0-*"), *(ROOT / "benchmarks/pack0s").glob("pack0-*")]):
            print(measure(pack0_dir, sandbox), flush=True)


if __name__ == "__main__":
    main()
