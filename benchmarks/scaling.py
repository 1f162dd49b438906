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
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

MODULE = "scale-bench"
FIELDS = 6
# Offline and quiet: nothing from this shell's settings may change what is measured.
# Bytecode is cached as on a user's machine (PYTHONDONTWRITEBYTECODE, set on some CI machines, would make every
# run compile the factory from source while doit's own bytecode, written by pip, is cached: an unfair floor).
ENV = {
    key: value
    for key, value in os.environ.items()
    if not key.startswith(("LAI_", "ANTHROPIC_", "OPENAI_")) and key != "PYTHONDONTWRITEBYTECODE"
}


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


@dataclass
class Timed:
    wall: float
    cpu: float  # user + system seconds of the process and its children: steadier than wall on a busy machine
    returncode: int
    output: str

    def __lt__(self, other: Timed) -> bool:
        return self.wall < other.wall


def timed(argv: list[str], cwd: Path | None = None, env: dict[str, str] | None = None) -> Timed:
    started = time.perf_counter()
    with tempfile.TemporaryFile() as output:
        child = subprocess.Popen(argv, stdout=output, stderr=subprocess.STDOUT, env=env or ENV, cwd=cwd)
        _pid, status, usage = os.wait4(child.pid, 0)
        wall = time.perf_counter() - started
        output.seek(0)
        text = output.read().decode("utf-8", "replace")
    return Timed(wall, usage.ru_utime + usage.ru_stime, os.waitstatus_to_exitcode(status), text)


def median(runs: list[Timed]) -> Timed:
    """The median by wall time, with the median CPU time beside it."""
    middle = sorted(runs)[len(runs) // 2]
    return Timed(middle.wall, statistics.median(run.cpu for run in runs), middle.returncode, middle.output)


def build(pack0: Path, out: Path, cache: Path) -> Timed:
    """One build with its own cache folder: a full build's is new (no fuzz result of another size or run is
    reused: their entities are alike), a no-op's and an edit's is the full build's, as a user's would be."""
    argv = [sys.executable, "-m", "factory.cli", "auto-build", "--module", MODULE, "--pack0", str(pack0),
            "--out", str(out), "--waive", "docker-build", "--quiet"]  # fmt: skip
    run = timed(argv, env={**ENV, "LAI_CACHE_DIR": str(cache)})
    # Not approved (exit 1) still measures the cost of a whole build; a stage that stopped it does not.
    if run.returncode not in (0, 1) or not (out / "build/approval.json").is_file():
        sys.exit(f"build failed ({run.returncode}): {run.output[-1600:]}")
    if run.returncode == 1:
        print(f"  (not approved: {run.output.strip().splitlines()[-1][:200]})", flush=True)
    return run


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


def bare_doit(temp: Path) -> Callable[[], Timed]:
    """doit's own floor: one task with one file_dep and one target, already up to date; returns a timed run."""
    temp.mkdir(exist_ok=True)
    (temp / "in.txt").write_text("x", encoding="utf-8")
    (temp / "dodo.py").write_text(
        "def task_copy():\n"
        "    return {'actions': ['cp in.txt out.txt'], 'file_dep': ['in.txt'], 'targets': ['out.txt']}\n",
        encoding="utf-8",
    )
    argv = [sys.executable, "-m", "doit", "-f", str(temp / "dodo.py"), "--db-file", str(temp / ".doit.db")]
    subprocess.run(argv, cwd=temp, check=True, capture_output=True)
    return lambda: timed(argv, cwd=temp)


def measure(size: int, temp: Path, repeat: int, show_stages: bool) -> dict:
    pack0 = write_pack0(temp / f"src-{size}", size)
    out, cache = temp / f"out-{size}", temp / f"cache-{size}"
    full = [build(pack0, out, cache)]
    # Side by side: each no-op right after a bare doit no-op, so both meet the same load on a shared machine.
    doit_noop, noops, floors = bare_doit(temp / "doit"), [], []
    for _ in range(max(repeat, 7)):
        floors.append(doit_noop())
        noops.append(build(pack0, out, cache))
    noop, floor = median(noops), median(floors)
    edits = []
    for attempt in range(repeat):
        write_contract(pack0, size // 2, max_length=81 + attempt)  # one field of one entity
        edits.append(build(pack0, out, cache))
    for again in range(1, repeat):
        full.append(build(pack0, temp / f"out-{size}-{again}", temp / f"cache-{size}-{again}"))
    tests, peak = test_run_peak(out / "build")
    if show_stages:
        slowest = stage_times(out / "build")[:8]
        stages = ", ".join(f"{name} {seconds:.2f}" for name, seconds in slowest)
        print(f"  slowest stages at {size} (its last build, the edit): {stages}")
    row = {"size": size, "full": median(full), "noop": noop, "floor": floor, "edit": median(edits)}
    return {**row, "tests": tests, "peak": peak}


def _row(row: dict) -> str:
    cells = [f"{row['size']:>8}"]
    for name in ("full", "noop", "edit"):
        cells.append(f"{row[name].wall:>7.2f} ({row[name].cpu:>6.2f})")
    ratio = row["edit"].wall / row["full"].wall
    cells += [f"{ratio:>9.0%}", f"{row['tests']:>6}", f"{row['peak']:>8.0f}"]
    return " ".join(cells)


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
        help_run = median([timed([sys.executable, "-m", "factory.cli", "--help"]) for _ in range(7)])
        print("seconds: wall (CPU of the process and its children)")
        header = f"{'entities':>8} {'full':>16} {'no-op':>16} {'one-field edit':>16}"
        print(f"{header} {'edit/full':>9} {'tests':>6} {'peak MiB':>8}")
        for size in sizes:
            row = measure(size, temp, args.repeat, args.stages)
            rows.append(row)
            print(_row(row), flush=True)
    by_size = {row["size"]: row for row in rows}
    print(f"lai-pack --help:           {help_run.wall:.3f} s ({help_run.cpu:.3f} CPU) (target < 0.15 s)")
    if 1 in by_size:
        noop, floor = by_size[1]["noop"], by_size[1]["floor"]
        print(f"bare doit no-op (1 task), beside the 1-entity no-ops: {floor.wall:.3f} s ({floor.cpu:.3f} CPU)")
        print(f"no-op at 1 entity / bare doit no-op: {noop.wall / floor.wall:.2f}x wall, "
              f"{noop.cpu / floor.cpu:.2f}x CPU (target <= 2x)")  # fmt: skip
    if 20 in by_size and 100 in by_size:
        for measure_name in ("wall", "cpu"):
            at = {size: getattr(by_size[size]["full"], measure_name) / size for size in (20, 100)}
            print(f"per-entity full build, 100 vs 20 ({measure_name}): {at[100] / at[20]:.2f}x (target <= 1.3x)")
        peak_ratio = (by_size[100]["peak"] - by_size[20]["peak"]) / 80
        print(f"test-run peak memory: {peak_ratio:.2f} MiB per added entity from 20 to 100")
    if 50 in by_size:
        row = by_size[50]
        print(f"one-field edit / full at 50: {row['edit'].wall / row['full'].wall:.0%} wall, "
              f"{row['edit'].cpu / row['full'].cpu:.0%} CPU (target <= 40%)")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
