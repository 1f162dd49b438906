"""How general the factory is: build N random valid Pack0s offline (tests/random_pack0.py) and print how many
of how many were approved. Each one that fails keeps its Pack0 and output for reading.

    python3 benchmarks/random_pack0s.py [--count 40] [--seed 1] [--keep DIR]
"""

from __future__ import annotations

import argparse
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from hypothesis import HealthCheck, given, seed, settings  # noqa: E402
from random_pack0 import approved, build, contracts_gate_status, random_pack0, write_random_pack0  # noqa: E402

from factory.errors import InputError  # noqa: E402
from factory.pack0.load import load_pack0  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=40)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", type=Path, default=Path(tempfile.gettempdir()) / "lai-random-pack0s")
    args = parser.parse_args()
    args.keep.mkdir(parents=True, exist_ok=True)
    stats = {"drawn": 0, "refused by the loader": 0, "built": 0, "approved": 0}
    failures: list[str] = []
    seconds: list[float] = []

    @seed(args.seed)
    @settings(max_examples=args.count, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    @given(drawn=random_pack0())
    def one(drawn) -> None:
        module, contracts = drawn
        stats["drawn"] += 1
        work = Path(tempfile.mkdtemp(prefix=f"{stats['drawn']:03d}-", dir=args.keep))
        pack0 = write_random_pack0(work / f"pack0-{module}-0.0.1", module, contracts)
        try:
            load_pack0(pack0)
        except InputError as error:
            stats["refused by the loader"] += 1
            print(f"refused: {error}", flush=True)
            shutil.rmtree(work)
            return
        started = time.perf_counter()
        code, printed = build(pack0, module, work / "out")
        seconds.append(time.perf_counter() - started)
        stats["built"] += 1
        if code == 0 and approved(work / "out") and contracts_gate_status(work / "out") == "passed":
            stats["approved"] += 1
            shutil.rmtree(work)
        else:
            failures.append(f"{work}: {printed.strip()[-300:]}")
        print(f"[{stats['drawn']}] {module}: {len(contracts)} entities, exit {code}, {seconds[-1]:.1f}s", flush=True)

    one()
    for line in failures:
        print(f"NOT APPROVED {line}")
    mean = sum(seconds) / len(seconds) if seconds else 0.0
    print(
        f"approved {stats['approved']} of {stats['built']} built ({stats['drawn']} drawn, "
        f"{stats['refused by the loader']} refused by the loader); mean build {mean:.1f}s"
    )
    return 0 if stats["approved"] == stats["built"] else 1


if __name__ == "__main__":
    sys.exit(main())
