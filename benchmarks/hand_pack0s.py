"""Hand-written Pack0s in the judges' domains (benchmarks/pack0s/: clinic, warehouse, event tickets, fleet
maintenance, lending, a veterinary hospital, a sports league (two: cycles of references through a required one),
airline operations, and edge cases of names (keywords, stdlib and core module names as entities, a 39-character
module), cycles and quirky values (quotes, emoji, SQL in enums)): build each offline and print whether it was
approved, with its build time. References (chains, two to one entity, self-references, every delete rule),
x-unique fields and sets (with references), patterns, enums, defaults, nullable fields, formats.

    LAI_FUZZ_EXAMPLES=25 python3 benchmarks/hand_pack0s.py [--keep DIR]
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACK0S = ROOT / "benchmarks" / "pack0s"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, default=Path(tempfile.gettempdir()) / "lai-hand-pack0s")
    args = parser.parse_args()
    shutil.rmtree(args.keep, ignore_errors=True)
    approved = 0
    folders = sorted(PACK0S.glob("pack0-*"))
    for folder in folders:
        module = json.loads((folder / "pack0.json").read_text())["module"]
        out = args.keep / module
        argv = ["auto-build", "--module", module, "--pack0", str(folder), "--out", str(out)]
        started = time.perf_counter()
        done = subprocess.run(
            [sys.executable, "-m", "factory.cli", *argv, "--waive", "docker-build", "--quiet"],
            capture_output=True,
            text=True,
            check=False,
        )
        seconds = time.perf_counter() - started
        approval = out / "build/approval.json"
        ok = done.returncode == 0 and approval.is_file() and json.loads(approval.read_text()).get("approved")
        approved += bool(ok)
        last = (done.stdout + done.stderr).strip().splitlines()[-1:] or [""]
        print(f"{module:10} exit {done.returncode}  {seconds:5.1f}s  {'APPROVED' if ok else last[0][:200]}", flush=True)
    print(f"approved {approved} of {len(folders)}")
    return 0 if approved == len(folders) else 1


if __name__ == "__main__":
    sys.exit(main())
