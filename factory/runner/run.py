"""Running the build's test commands in a subprocess: timeout, output cap, full output kept on disk."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from factory import reproducible
from factory.fsutil import write_text_atomic
from factory.runner.junit import junit_cases
from factory.runner.sandbox import run_sandboxed
from factory.runner.test_slices import TESTS_ARGUMENT, Slicing

TEST_COMMANDS_FILE = ".test_commands.json"
# Never hand the factory's secrets to generated (untrusted) code; leak-check looks for their values.
SECRET_VARIABLES = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY")


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


def _child_env() -> dict[str, str]:
    # Only what the tests need: not the factory's secrets, and nothing a container cannot use.
    env = {key: value for key, value in os.environ.items() if key not in SECRET_VARIABLES}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # Only the plugins the tests ask for: what else is installed here must not change the run.
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return env


def _run_one(command: dict, build_dir: Path, sandbox: str, timeout_s: int | None) -> tuple[int | None, bool, str]:
    limit = timeout_s or command.get("timeout_s", 300)
    return run_sandboxed(command["argv"], build_dir / command.get("cwd", "."), sandbox, limit, _child_env())


@dataclass
class _Outcome:
    """What running some test commands gave: the parsed test cases, and what went wrong outside them."""

    cases: list[tuple[str, str, dict]] = field(default_factory=list)  # (test file, testcase XML, parsed)
    outputs: list[str] = field(default_factory=list)
    exit_code: int | None = 0
    timed_out: bool = False
    failures: list[dict] = field(default_factory=list)


def _run_commands(commands: list[dict], build_dir: Path, sandbox: str, timeout_s: int | None) -> _Outcome:
    outcome = _Outcome()
    for command in commands:
        junit = build_dir / command["junit_xml"]
        junit.unlink(missing_ok=True)
        code, command_timed_out, output = _run_one(command, build_dir, sandbox, timeout_s)
        outcome.outputs.append(f"$ {' '.join(command['argv'])}\n{output}")
        outcome.timed_out = outcome.timed_out or command_timed_out
        outcome.exit_code = code if code else outcome.exit_code
        if junit.is_file():
            xml_text = reproducible.junit(junit.read_text(encoding="utf-8"))
            outcome.cases += junit_cases(xml_text, command.get("kinds", {}))
        elif not command_timed_out:
            outcome.failures.append({"test": command["name"], "file": "", "outcome": "error", "message": output[-300:]})
        if command_timed_out:
            limit = timeout_s or command.get("timeout_s", 300)
            message = f"timed out after {limit}s: killed with everything it started"
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
) -> TestRun:
    """Run every test command (in the sandbox, within the timeout); the full output goes to output_file;
    counts come from the JUnit XML. With slicing, a slice whose passing result is known for its inputs is
    not run again: its result is reused (and said so in TestRun.slices)."""
    started = time.monotonic()
    commands = load_test_commands(build_dir)
    plans = slicing.plans(build_dir, commands, sandbox) if slicing else None
    known = slicing.known() if slicing else {}
    reused = {plan.name for plan in plans or [] if known.get(plan.name, {}).get("key") == plan.key}
    stale = [plan for plan in plans or [] if plan.name not in reused]
    tests = None if not reused else sorted(test for plan in stale for test in plan.tests)
    outcome = _run_commands(_narrowed(commands, tests), build_dir, sandbox, timeout_s)
    header = f"reused (inputs unchanged): {', '.join(sorted(reused))}\n" if reused else ""
    write_text_atomic(output_file, reproducible.test_output(header + "\n".join(outcome.outputs)))
    records, slices = outcome.cases, []
    if plans is not None:
        records, slices = slicing.settle(plans, reused, outcome, build_dir / commands[0]["junit_xml"])
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
        slices=slices,
    )
