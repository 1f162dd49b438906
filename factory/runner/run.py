"""Running the build's test commands in a subprocess: timeout, output cap, full output kept on disk."""

from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from factory import reproducible
from factory.fsutil import write_text_atomic
from factory.runner.junit import parse_junit
from factory.runner.sandbox import run_sandboxed

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

    def summary(self) -> str:
        if self.timed_out:
            return f"tests timed out after {self.duration_s:.0f}s"
        c = self.counts
        return f"{c['passed']} passed, {c['failed']} failed, {c['error']} errors, {c['skipped']} skipped"

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


def run_tests(build_dir: Path, output_file: Path, sandbox: str = "none", timeout_s: int | None = None) -> TestRun:
    """Run every test command (in the sandbox, within the timeout); the full output goes to output_file;
    counts come from the JUnit XML."""
    started = time.monotonic()
    outputs, exit_code, timed_out = [], 0, False
    totals = {"total": 0, "passed": 0, "failed": 0, "error": 0, "skipped": 0}
    by_kind: dict[str, dict] = {}
    failures: list[dict] = []
    for command in load_test_commands(build_dir):
        junit = build_dir / command["junit_xml"]
        junit.unlink(missing_ok=True)
        code, command_timed_out, output = _run_one(command, build_dir, sandbox, timeout_s)
        outputs.append(f"$ {' '.join(command['argv'])}\n{output}")
        timed_out = timed_out or command_timed_out
        exit_code = code if code else exit_code
        if junit.is_file():
            xml_text = reproducible.junit(junit.read_text(encoding="utf-8"), build_dir)
            write_text_atomic(junit, xml_text)
            counts, kinds, command_failures = parse_junit(xml_text, command.get("kinds", {}))
            totals = {key: totals[key] + counts[key] for key in totals}
            for kind, kind_counts in kinds.items():
                previous = by_kind.get(kind, dict.fromkeys(totals, 0))
                by_kind[kind] = {key: previous[key] + kind_counts[key] for key in totals}
            failures += command_failures
        elif not command_timed_out:
            failures.append({"test": command["name"], "file": "", "outcome": "error", "message": output[-300:]})
        if command_timed_out:
            limit = timeout_s or command.get("timeout_s", 300)
            failures.append(
                {
                    "test": command["name"],
                    "file": "",
                    "outcome": "error",
                    "message": f"timed out after {limit}s: killed with everything it started",
                }
            )
    write_text_atomic(output_file, reproducible.test_output("\n".join(outputs)))
    passed = exit_code == 0 and not timed_out and not failures and totals["total"] > 0
    return TestRun(
        passed=passed,
        exit_code=exit_code,
        timed_out=timed_out,
        duration_s=reproducible.duration(time.monotonic() - started),
        counts=totals,
        by_kind=by_kind,
        failures=failures,
        output_file=output_file.name,
        sandbox=sandbox,
    )
