"""The contracts gate's fuzzing: schemathesis against the generated service running in the sandbox.

Reproducible (fixed seed, deterministic generation, nothing remembered by schemathesis between runs) and
bounded (examples per operation, a time budget that grows with the number of operations). Settings come
from the environment. Because a run is a pure function of the service's code and the settings, a run that
ran to its end is remembered under the hash of both (in the cache folder, as JSON): the same code is not fuzzed
twice (the Run + self-heal stage fuzzes first; the gate then reuses that run, and says so).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

from factory.errors import InputError
from factory.fsutil import list_files, sha256_bytes, sha256_file

# rules/gates.py imports this module to create tasks: a no-op loads neither pydantic nor the runner.
if TYPE_CHECKING:
    from factory.pack0.models import Pack0

DRIVER = Path(__file__).with_name("contracts_fuzz_driver.py")
FUZZ_TENANT = "contracts-fuzz"
# name: (environment variable, default, lowest, highest)
SETTINGS = {
    "seed": ("LAI_FUZZ_SEED", 1, 0, 2**32 - 1),
    "max_examples": ("LAI_FUZZ_EXAMPLES", 5, 1, 10_000),
    "workers": ("LAI_FUZZ_WORKERS", 1, 1, 16),
    "seconds_per_operation": ("LAI_FUZZ_SECONDS_PER_OPERATION", 4, 1, 3600),
}
BASE_SECONDS = 20
# What the sandbox may take beyond the budget: starting the service and the fuzzer, and stopping them.
STARTUP_SECONDS = 60


@dataclass(frozen=True)
class FuzzSettings:
    seed: int = 1
    max_examples: int = 5
    workers: int = 1
    seconds_per_operation: int = 4

    def max_seconds(self, operations: int) -> int:
        return BASE_SECONDS + self.seconds_per_operation * operations


def longest_fuzz_seconds(pack0: Pack0, settings: FuzzSettings | None = None) -> int:
    """How long one run of the fuzzer on this Pack0's service may take, start and stop included."""
    return (settings or fuzz_settings()).max_seconds(operation_count(pack0)) + STARTUP_SECONDS


def fuzz_settings(environ: dict[str, str] | None = None) -> FuzzSettings:
    """The settings, each from its LAI_FUZZ_* variable when set; a bad value is a one-line error."""
    environ = os.environ if environ is None else environ
    values = {}
    for name, (variable, default, low, high) in SETTINGS.items():
        text = environ.get(variable, "")
        if not text:
            values[name] = default
            continue
        if not text.isascii() or not text.isdigit() or not low <= int(text) <= high:
            raise InputError(f"must be a whole number from {low} to {high}, not {text!r}", field=variable)
        values[name] = int(text)
    return FuzzSettings(**values)


def fuzz_environment() -> dict[str, str]:
    """The LAI_FUZZ_* variables as set (for doit: a changed setting re-runs what fuzzes)."""
    return {variable: os.environ.get(variable, "") for variable, *_ in SETTINGS.values()}


def one_line(text: str, limit: int = 400) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 3] + "..."


@dataclass
class FuzzRun:
    settings: FuzzSettings
    operations_total: int
    findings: list[dict] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    operations: list[str] = field(default_factory=list)
    stop: str = "completed"
    seconds: float = 0.0
    service_log: str = ""
    reused_key: str = ""
    # Fuzzed in slices (fuzz_slices.py): the slices whose clean result was reused, of how many.
    slices_reused: list[str] = field(default_factory=list)
    slices_total: int = 0

    @property
    def passed(self) -> bool:
        return not self.findings and not self.errors

    def summary(self) -> str:
        how = f"schemathesis (seed {self.settings.seed}, {self.settings.max_examples} examples per operation)"
        budget = "; stopped at its time budget" if self.stop == "interrupted" else ""
        reused = f" (this code's run, reused: key {self.reused_key[:12]})" if self.reused_key else ""
        if self.slices_reused and not self.reused_key:
            reused = f" (results of {len(self.slices_reused)} of {self.slices_total} slices reused: inputs unchanged)"
        if self.passed:
            return f"{how} found no failure on {len(self.operations)} operations{budget}{reused}"
        found = f"{len(self.findings)} failure(s)" + (f", {len(self.errors)} error(s)" if self.errors else "")
        return f"{how} found {found}{budget}{reused}"

    def detail_lines(self) -> list[str]:
        """One line per finding: operation, check, what went wrong, and the curl that reproduces it."""
        lines = [
            f"{item['operation']}: {item['check']} ({item['code']} {item['title']}): "
            f"{one_line(item['message'], 200)} | reproduce: {one_line(item['curl'], 600)}"
            for item in self.findings
        ]
        return lines + [f"fuzzer error: {one_line(error)}" for error in self.errors]

    def failure_text(self, code_files: list[str]) -> str:
        """What the Healer reads: every finding in full, the service's log (its tracebacks), and the files
        that implement what was fuzzed."""
        blocks = [
            f"FUZZ FAILURE {item['operation']}: {item['check']} ({item['code']} {item['title']})\n"
            f"{item['message']}\nReproduce with:\n{item['curl']}\n"
            for item in self.findings
        ]
        blocks += [f"FUZZER ERROR: {error}\n" for error in self.errors]
        files = "".join(f"  {path}\n" for path in code_files)
        return "\n".join(blocks) + f"\nService log (stderr):\n{self.service_log}\nThe service's code:\n{files}"

    def as_dict(self) -> dict:
        return {**asdict(self), "passed": self.passed}


def operation_count(pack0: Pack0) -> int:
    return 1 + 5 * len(pack0.entities)


def fuzz_service(
    build_dir: Path,
    pack0: Pack0,
    sandbox: str,
    settings: FuzzSettings | None = None,
    operation_ids: list[str] | None = None,
) -> FuzzRun:
    """Start the service in the sandbox and fuzz every operation of its OpenAPI document (or only those)."""
    from factory.runner.sandbox import run_sandboxed

    settings = settings or fuzz_settings()
    total = operation_count(pack0) if operation_ids is None else len(operation_ids)
    budget = settings.max_seconds(total)
    options = {**asdict(settings), "max_seconds": budget, "tenant": FUZZ_TENANT, "operations": operation_ids}
    argv = ["{python}", "-c", DRIVER.read_text(encoding="utf-8"), pack0.package, json.dumps(options)]
    env = {"PYTHONDONTWRITEBYTECODE": "1", "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/tmp"}
    code, timed_out, output = run_sandboxed(argv, build_dir, sandbox, budget + STARTUP_SECONDS, env)
    run = FuzzRun(settings, total)
    if timed_out:
        run.errors.append(f"the fuzzer did not finish within {budget + STARTUP_SECONDS} s")
        return run
    try:
        result = json.loads(output.strip().splitlines()[-1])
    except (IndexError, ValueError):
        result = None
    if code != 0 or not isinstance(result, dict):
        run.errors.append(f"the fuzzer failed (exit {code}): {output.strip()[-1500:]}")
        return run
    run.findings, run.errors = result["findings"], result["errors"]
    run.operations, run.stop = result["operations"], result["stop"]
    run.seconds, run.service_log = result["seconds"], result["service_log"]
    return run


FUZZ_CACHE_FOLDER = "contracts-fuzz"
RUN_KIND, SLICE_KIND = "fuzz", "fuzz-slice"


def fuzz_key(build_dir: Path, sandbox: str, settings: FuzzSettings) -> str:
    """What a fuzz run's result depends on: the service's files, the settings, the fuzzer and the sandbox."""
    from factory.llm.cache import content_key

    return content_key({"src": service_files(build_dir), **_fuzzer_setting(sandbox, settings)})


def service_files(build_dir: Path) -> dict[str, str]:
    """The sha256 of every file under build/src, by path inside it: what the running service is made of."""
    src = build_dir / "src"
    return {path.relative_to(src).as_posix(): sha256_file(path) for path in list_files(src)} if src.is_dir() else {}


def _fuzzer_setting(sandbox: str, settings: FuzzSettings) -> dict:
    """What a result depends on besides the service's files: the settings, the fuzzer, the Python that runs the
    service and the sandbox."""
    from factory.results_cache import interpreter

    driver = sha256_bytes(DRIVER.read_bytes())
    return {
        "settings": asdict(settings),
        "driver": driver,
        "tool": version("schemathesis"),
        "python": interpreter(),
        "sandbox": sandbox,
    }


def _cache(cache_dir: Path):
    """Whole runs ("fuzz") and clean slices ("fuzz-slice"), sealed with this machine's key: a forged clean run
    must not pass code the fuzzer would fail."""
    from factory.results_cache import SharedResults

    return SharedResults(cache_dir, FUZZ_CACHE_FOLDER)


def fuzz_service_once(
    build_dir: Path,
    pack0: Pack0,
    sandbox: str,
    cache_dir: Path | None,
    settings: FuzzSettings | None = None,
    owned: dict[str, set[str]] | None = None,
    say: Callable[[str], None] | None = None,
) -> FuzzRun:
    """fuzz_service, or the remembered whole run of exactly this code with these settings; with owned (the
    files each entity slice wrote), a slice whose clean result is known for its inputs is not fuzzed again.
    say hears of a wait for another build fuzzing the same code."""
    settings = settings or fuzz_settings()
    if cache_dir is None:
        return fuzz_service(build_dir, pack0, sandbox, settings)
    key = fuzz_key(build_dir, sandbox, settings)
    plans = None
    if owned is not None:
        from factory.gates.fuzz_slices import fuzz_plans

        plans = fuzz_plans(build_dir, owned, pack0, _fuzzer_setting(sandbox, settings))
    cache = _cache(cache_dir)
    longest = longest_fuzz_seconds(pack0, settings)
    with cache.one_at_a_time(RUN_KIND, key, wait_seconds=longest, say=say, what="contract fuzzing"):
        stored = cache.recall(RUN_KIND, [key]).get(key)
        run = _stored_run(stored, key) if isinstance(stored, dict) else None
        if run is None and plans is None:
            run = fuzz_service(build_dir, pack0, sandbox, settings)
        elif run is None:
            run = _fuzz_in_slices(build_dir, pack0, sandbox, settings, plans, cache)
        if not run.reused_key and not run.errors and run.stop == "completed":  # whole: findings its own
            cache.remember(RUN_KIND, {key: run.as_dict()})
            if plans is not None and run.passed:  # clean: so is each slice, for its inputs as they are
                _remember_slices(plans, run.operations, pack0, cache)
    return run


def _stored_run(data: dict, key: str) -> FuzzRun | None:
    try:
        fields = {name: value for name, value in data.items() if name != "passed"}
        return FuzzRun(**{**fields, "settings": FuzzSettings(**fields["settings"]), "reused_key": key})
    except (TypeError, KeyError):
        return None


def _remember_slices(plans: list, operations: list[str], pack0: Pack0, cache) -> None:
    from factory.gates.fuzz_slices import split_operations

    by_slice = split_operations(operations, pack0)
    if by_slice is None:  # an operation no slice owns: keep nothing per slice
        return
    cache.remember(SLICE_KIND, {each.key: {"operations": by_slice.get(each.name, [])} for each in plans})


def _fuzz_in_slices(build_dir: Path, pack0: Pack0, sandbox: str, settings: FuzzSettings, plans, cache) -> FuzzRun:
    """Fuzz the operations of the slices with no clean result for their inputs; reuse the others'."""
    from factory.gates.fuzz_slices import slice_operations

    ops = slice_operations(pack0)
    stored = cache.recall(SLICE_KIND, [each.key for each in plans])
    known = {
        each.name: stored[each.key]["operations"]
        for each in plans
        if isinstance(stored.get(each.key), dict) and isinstance(stored[each.key].get("operations"), list)
    }
    stale = [each for each in plans if each.name not in known]
    wanted = [op_id for each in stale for op_id in ops[each.name]]
    run = fuzz_service(build_dir, pack0, sandbox, settings, wanted) if stale else FuzzRun(settings, 0)
    run.operations = sorted({*run.operations, *(label for labels in known.values() for label in labels)})
    run.operations_total = operation_count(pack0)
    run.slices_reused, run.slices_total = sorted(known), len(plans)
    return run
