"""Running the build's test commands in a subprocess: timeout, output cap, full output kept on disk."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from factory import reproducible
from factory.fsutil import write_text_atomic
from factory.runner.junit import junit_cases, merged_junit
from factory.runner.sandbox import PASSED_VARIABLES, run_sandboxed
from factory.runner.stores import TestStore, skipped_stores, test_stores
from factory.runner.test_slices import TESTS_ARGUMENT, Slicing

DEFAULT_TIMEOUT_S = 300  # a test command that does not say its own limit

TEST_COMMANDS_FILE = ".test_commands.json"
# Never hand the factory's secrets to generated (untrusted) code; leak-check looks for their values.
SECRET_VARIABLES = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY")
# Databases are handed to the tests by the store they run on (stores.py), never the factory's own.


@dataclass
class TestRun:
    passed: bool
    exit_code: int | None
    timed_out: bool
    duration_s: float
    counts: dict
    by_kind: dict
    failures: list[dict] = field(default_factory=list)
    output_file: str = ""
    sandbox: str = "none"
    stores: list[str] = field(default_factory=lambda: ["sqlite"])
    stores_skipped: dict = field(default_factory=dict)
    # Per slice (core, each entity): its inputs' digests, its counts, and whether its result was reused.
    slices: list[dict] = field(default_factory=list)

    def summary(self) -> str:
        if self.timed_out:
            return f"tests timed out after {self.duration_s:.0f}s"
        c = self.counts
        return f"{c['passed']} passed, {c['failed']} failed, {c['error']} errors, {c['skipped']} skipped"

    def reuse_summary(self) -> str:
        reused = [each["name"] for each in self.slices if each["reused"]]
        return f"; results of {len(reused)} of {len(self.slices)} slices reused (inputs unchanged)" if reused else ""

    def first_error(self) -> str:
        if self.failures:
            first = self.failures[0]
            return f"{first['test']}: {first['message']}"
        return self.summary()

    def as_dict(self) -> dict:
        return asdict(self)


def load_test_commands(build_dir: Path) -> list[dict]:
    data = json.loads((build_dir / TEST_COMMANDS_FILE).read_text(encoding="utf-8"))
    return data["commands"]


def _child_env(store: TestStore) -> dict[str, str]:
    # Only what the tests need, named: the user's environment can hold any secret (a cloud token, a key
    # path), and generated code is untrusted. The store adds its database; the sandbox its own HOME.
    env = {key: os.environ[key] for key in PASSED_VARIABLES if key in os.environ}
    env.update(store.env)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # Only the plugins the tests ask for: what else is installed here must not change the run.
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return env


def time_limit(command: dict, timeout_s: int | None) -> int:
    """A test command's time limit: --test-timeout when given, else the command's own, else the default."""
    return timeout_s or command.get("timeout_s", DEFAULT_TIMEOUT_S)


def _run_one(
    command: dict, build_dir: Path, sandbox: str, timeout_s: int | None, store: TestStore
) -> tuple[int | None, bool, str]:
    limit = time_limit(command, timeout_s)
    cwd = build_dir / command.get("cwd", ".")
    return run_sandboxed(command["argv"], cwd, sandbox, limit, _child_env(store), binds=store.binds)


@dataclass
class _Outcome:
    """What running some test commands gave: the parsed test cases, and what went wrong outside them."""

    cases: list[tuple[str, str, dict]] = field(default_factory=list)  # (test file, testcase XML, parsed)
    outputs: list[str] = field(default_factory=list)
    exit_code: int | None = 0
    timed_out: bool = False
    failures: list[dict] = field(default_factory=list)


def _cases(junit: Path, build_dir: Path, command: dict) -> list[tuple[str, str, dict]]:
    # Generated code may write anything there: bytes that are not UTF-8 are read, not a crash.
    text = junit.read_text(encoding="utf-8", errors="replace")
    # A skip's location is an absolute path: relative to the build, it names no machine.
    return junit_cases(reproducible.junit(text).replace(f"{build_dir.resolve()}/", ""), command.get("kinds", {}))


def _run_commands(
    commands: list[dict], build_dir: Path, sandbox: str, timeout_s: int | None, stores: list[TestStore]
) -> _Outcome:
    """Every command on every store; tests on a store other than SQLite are named '[store] test' in failures."""
    outcome = _Outcome()
    for command, store in [(command, store) for store in stores for command in commands]:
        junit = build_dir / command["junit_xml"]
        junit.unlink(missing_ok=True)
        code, command_timed_out, output = _run_one(command, build_dir, sandbox, timeout_s, store)
        outcome.outputs.append(f"$ [{store.name}] {' '.join(command['argv'])}\n{output}")
        outcome.timed_out = outcome.timed_out or command_timed_out
        outcome.exit_code = code if code else outcome.exit_code
        cases, problem = None, output[-300:]
        if junit.is_file():
            try:
                cases = _cases(junit, build_dir, command)
            except ValueError as error:  # e.g. pytest died writing it: a test file named in bytes that are not UTF-8
                problem = f"{error}; output: {output[-200:]}"
        if cases is not None:
            for _test, _xml, case in cases if store.name != "sqlite" else []:
                if case["failure"]:
                    case["failure"] = {**case["failure"], "test": f"[{store.name}] {case['failure']['test']}"}
            outcome.cases += cases
        elif not command_timed_out:
            outcome.failures.append({"test": command["name"], "file": "", "outcome": "error", "message": problem})
        if command_timed_out:
            message = f"timed out after {time_limit(command, timeout_s)}s: killed with everything it started"
            outcome.failures.append({"test": command["name"], "file": "", "outcome": "error", "message": message})
    return outcome


def _narrowed(commands: list[dict], tests: list[str] | None) -> list[dict]:
    """The commands, each running only the given test modules in place of the whole tests folder (None: all;
    none at all: no command runs)."""
    if tests is None:
        return commands
    narrowed = []
    for command in commands:
        argv = [part for each in command["argv"] for part in (tests if each == TESTS_ARGUMENT else [each])]
        narrowed.append({**command, "argv": argv})
    return narrowed if tests else []


def run_tests(
    build_dir: Path,
    output_file: Path,
    sandbox: str = "none",
    timeout_s: int | None = None,
    slicing: Slicing | None = None,
    pack0=None,
) -> TestRun:
    """Run every test command on every store (stores.py: SQLite, and PostgreSQL when a server is given) in the
    sandbox, within the timeout; the full output goes to output_file; counts come from the JUnit XML. With
    slicing, a slice whose passing result is known for its inputs is not run again: its result is reused
    (and said so in TestRun.slices)."""
    entered = False
    try:
        with test_stores(pack0) as stores:
            entered = True
            return _run_tests(build_dir, output_file, sandbox, timeout_s, stores, slicing)
    except Exception as error:  # psycopg.Error, deploy.sh failing: a failed run, not a crash
        if entered:
            raise
        return _store_failed(output_file, sandbox, f"the PostgreSQL test database could not be made: {error}")


def _store_failed(output_file: Path, sandbox: str, message: str) -> TestRun:
    write_text_atomic(output_file, message + "\n")
    counts = {"total": 0, "passed": 0, "failed": 0, "error": 0, "skipped": 0}
    failure = {"test": "postgres", "file": "", "outcome": "error", "message": message[:300]}
    return TestRun(False, None, False, 0.0, counts, {}, [failure], output_file.name, sandbox, ["sqlite", "postgres"])


def _run_tests(
    build_dir: Path, output_file: Path, sandbox: str, timeout_s: int | None, stores: list, slicing: Slicing | None
) -> TestRun:
    started = time.monotonic()
    commands = load_test_commands(build_dir)
    names = [store.name for store in stores]
    plans = slicing.plans(build_dir, commands, sandbox, names) if slicing else None
    known = slicing.known(plans) if slicing else {}
    reused = {plan.name for plan in plans or [] if known.get(plan.name, {}).get("key") == plan.key}
    stale = [plan for plan in plans or [] if plan.name not in reused]
    tests = None if not reused else sorted(test for plan in stale for test in plan.tests)
    outcome = _run_commands(_narrowed(commands, tests), build_dir, sandbox, timeout_s, stores)
    header = f"reused (inputs unchanged): {', '.join(sorted(reused))}\n" if reused else ""
    write_text_atomic(output_file, reproducible.test_output(header + "\n".join(outcome.outputs)))
    records, slices = outcome.cases, []
    if plans is not None:
        records, slices = slicing.settle(plans, known, reused, outcome, build_dir / commands[0]["junit_xml"])
    elif commands and records:
        # Every store's cases in one file, as with slices (the contracts gate reads it).
        write_text_atomic(build_dir / commands[0]["junit_xml"], merged_junit([xml for _t, xml, _c in records]))
    totals = {"total": 0, "passed": 0, "failed": 0, "error": 0, "skipped": 0}
    by_kind: dict[str, dict] = {}
    failures = list(outcome.failures)
    for _test, _xml, case in records:
        totals["total"] += 1
        totals[case["outcome"]] += 1
        kind = by_kind.setdefault(case["kind"], dict.fromkeys(totals, 0))
        kind["total"] += 1
        kind[case["outcome"]] += 1
        if case["outcome"] in ("failed", "error"):
            failures.append(case["failure"])
    passed = outcome.exit_code == 0 and not outcome.timed_out and not failures and totals["total"] > 0
    return TestRun(
        passed=passed,
        exit_code=outcome.exit_code,
        timed_out=outcome.timed_out,
        duration_s=reproducible.duration(time.monotonic() - started),
        counts=totals,
        by_kind=by_kind,
        failures=failures,
        output_file=output_file.name,
        sandbox=sandbox,
        stores=names,
        stores_skipped=skipped_stores(),
        slices=slices,
    )
