"""How a build's cost grows with the Pack0: full, no-op and one-field-edit times, the generated test run's
peak memory, per Pack0 of N entities (6 fields each), offline, --waive docker-build; beside a bare doit no-op
with one task and `lai-pack --help`.

Run: python benchmarks/scaling.py [--sizes 1,20,50,100] [--repeat 1] [--stages]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

MODULE = "scale-bench"
FIELDS = 6
# Offline and quiet: nothing from this shell's settings may change what is measured.
ENV = {key: value for key, value in os.environ.items() if not key.startswith(("LAI_", "ANTHROPIC_", "OPENAI_"))}


def contract(index: int, max_length: int = 80) -> dict:
    """An entity of 6 fields: the kinds the engine handles (text, number, flag, choice, date, list)."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"Item{index:03d}",
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "quantity"],
        "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": max_length},
            "quantity": {"type": "integer", "minimum": 0, "maximum": 10_000},
            "price": {"type": "number", "minimum": 0},
            "active": {"type": "boolean"},
            "kind": {"type": "string", "enum": ["small", "medium", "large"]},
            "due_on": {"type": "string", "format": "date"},
        },
    }


def write_pack0(root: Path, entities: int) -> Path:
    """A Pack0 with `entities` contracts: lai-pack's own Pack0 for the module, its contracts replaced."""
    subprocess.run(
        [sys.executable, "-m", "factory.cli", "pack0", "--module", MODULE, "--out", str(root)],
        check=True, capture_output=True, env=ENV,
    )  # fmt: skip
    pack0 = root / f"pack0-{MODULE}-0.0.1"
    for path in (pack0 / "contracts").glob("*.json"):
        path.unlink()
    (pack0 / "02_INVENTORY/manifest.json").unlink(missing_ok=True)
    for index in range(entities):
        write_contract(pack0, index)
    return pack0


def write_contract(pack0: Path, index: int, max_length: int = 80) -> None:
    path = pack0 / "contracts" / f"item{index:03d}.schema.json"
    path.write_text(json.dumps(contract(index, max_length), indent=2) + "\n", encoding="utf-8")


def timed(argv: list[str], cwd: Path | None = None) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, env=ENV, cwd=cwd, check=False)
    return time.perf_counter() - started, done


def build(pack0: Path, out: Path) -> float:
    argv = [sys.executable, "-m", "factory.cli", "auto-build", "--module", MODULE, "--pack0", str(pack0),
            "--out", str(out), "--waive", "docker-build", "--quiet"]  # fmt: skip
    seconds, done = timed(argv)
    if done.returncode != 0:
        sys.exit(f"build failed ({done.returncode}): {done.stdout[-800:]}{done.stderr[-800:]}")
    return seconds


def test_run_peak(build_dir: Path) -> tuple[int, float]:
    """The whole generated suite in one pytest process (as one would run it by hand): tests and peak MiB."""
    argv = [sys.executable, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider", "--junitxml", "bench.xml"]
    env = {**ENV, "PYTHONDONTWRITEBYTECODE": "1", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}
    with tempfile.TemporaryDirectory(prefix="lai-bench-junit-") as temp:
        argv[-1] = str(Path(temp) / "bench.xml")
        child = subprocess.Popen(argv, cwd=build_dir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _pid, status, usage = os.wait4(child.pid, 0)
        if os.waitstatus_to_exitcode(status) != 0:
            sys.exit(f"the generated suite failed in {build_dir}")
        xml = Path(argv[-1]).read_text(encoding="utf-8")
    tests = int(xml.split('tests="', 1)[1].split('"', 1)[0])
    return tests, usage.ru_maxrss / 1024


def stage_times(build_dir: Path) -> list[tuple[str, float]]:
    result = json.loads((build_dir / "pipeline_result.json").read_text(encoding="utf-8"))
    return sorted(((s["name"], s["duration_s"]) for s in result["stages"]), key=lambda item: -item[1])


def bare_doit_noop(temp: Path, repeat: int) -> float:
    """doit's own floor: one task with one file_dep and one target, already up to date."""
    (temp / "in.txt").write_text("x", encoding="utf-8")
    (temp / "dodo.py").write_text(
        "def task_copy():\n"
        "    return {'actions': ['cp in.txt out.txt'], 'file_dep': ['in.txt'], 'targets': ['out.txt']}\n",
        encoding="utf-8",
    )
    argv = [sys.executable, "-m", "doit", "-f", str(temp / "dodo.py"), "--db-file", str(temp / ".doit.db")]
    subprocess.run(argv, cwd=temp, check=True, capture_output=True)
    return statistics.median(timed(argv, cwd=temp)[0] for _ in range(repeat))


def measure(size: int, temp: Path, repeat: int, show_stages: bool) -> dict:
    pack0 = write_pack0(temp / f"src-{size}", size)
    out = temp / f"out-{size}"
    full = [build(pack0, out)]
    noop = statistics.median(build(pack0, out) for _ in range(max(repeat, 3)))
    edits = []
    for attempt in range(repeat):
        write_contract(pack0, size // 2, max_length=81 + attempt)  # one field of one entity
        edits.append(build(pack0, out))
    for again in range(1, repeat):
        full.append(build(pack0, temp / f"out-{size}-{again}"))
    tests, peak = test_run_peak(out / "build")
    if show_stages:
        slowest = stage_times(out / "build")[:8]
        print(f"  slowest stages at {size}: " + ", ".join(f"{name} {seconds:.2f}" for name, seconds in slowest))
    return {"size": size, "full": statistics.median(full), "noop": noop, "edit": statistics.median(edits),
            "tests": tests, "peak": peak}  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="1,20,50,100", help="entity counts, comma-separated")
    parser.add_argument("--repeat", type=int, default=1, help="builds per figure (the median is shown)")
    parser.add_argument("--stages", action="store_true", help="also print the slowest stages of each size")
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]
    rows = []
    with tempfile.TemporaryDirectory(prefix="lai-scale-") as temp_name:
        temp = Path(temp_name)
        help_s = statistics.median(timed([sys.executable, "-m", "factory.cli", "--help"])[0] for _ in range(5))
        (temp / "doit").mkdir()
        doit_s = bare_doit_noop(temp / "doit", 5)
        header = ("entities", "full s", "no-op s", "edit s", "edit/full", "tests", "peak MiB")
        print(" ".join(f"{name:>9}" for name in header))
        for size in sizes:
            row = measure(size, temp, args.repeat, args.stages)
            rows.append(row)
            print(f"{row['size']:>9} {row['full']:>9.2f} {row['noop']:>9.2f} {row['edit']:>9.2f} "
                  f"{row['edit'] / row['full']:>9.0%} {row['tests']:>9} {row['peak']:>9.0f}", flush=True)  # fmt: skip
    by_size = {row["size"]: row for row in rows}
    print(f"bare doit no-op (1 task):  {doit_s:.3f} s")
    print(f"lai-pack --help:           {help_s:.3f} s")
    if 1 in by_size:
        print(f"no-op at 1 entity / bare doit no-op: {by_size[1]['noop'] / doit_s:.2f}x (target <= 2x)")
    if 20 in by_size and 100 in by_size:
        ratio = (by_size[100]["full"] / 100) / (by_size[20]["full"] / 20)
        print(f"per-entity full build, 100 vs 20: {ratio:.2f}x (target <= 1.3x)")
        peak_ratio = (by_size[100]["peak"] - by_size[20]["peak"]) / 80
        print(f"test-run peak memory: {peak_ratio:.2f} MiB per added entity from 20 to 100")
    if 50 in by_size:
        print(f"one-field edit / full at 50: {by_size[50]['edit'] / by_size[50]['full']:.0%} (target <= 40%)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
