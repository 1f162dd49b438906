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
from factory.runner.stores import TestStore, skipped_stores, test_stores

TEST_COMMANDS_FILE = ".test_commands.json"
# Never hand the factory's secrets to generated (untrusted) code; leak-check looks for their values.
SECRET_VARIABLES = ("ANTHROPIC_API_KEY", "OPENAI_API_KEY", "GITHUB_TOKEN", "AWS_SECRET_ACCESS_KEY")
# Databases are handed to the tests by the store they run on (stores.py), never the factory's own.
DATABASE_VARIABLES = ("DATABASE_URL", "DATABASE_PATH", "TEST_DATABASE_URL", "LAI_TEST_DATABASE_URL")


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


def _child_env(store: TestStore) -> dict[str, str]:
    # Only what the tests need: not the factory's secrets, and nothing a container cannot use.
    hidden = (*SECRET_VARIABLES, *DATABASE_VARIABLES)
    env = {key: value for key, value in os.environ.items() if key not in hidden}
    env.update(store.env)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    # Only the plugins the tests ask for: what else is installed here must not change the run.
    env["PYTEST_DISABLE_PLUGIN_AUTOLOAD"] = "1"
    return env


def _run_one(
    command: dict, build_dir: Path, sandbox: str, timeout_s: int | None, store: TestStore
) -> tuple[int | None, bool, str]:
    limit = timeout_s or command.get("timeout_s", 300)
    cwd = build_dir / command.get("cwd", ".")
    return run_sandboxed(command["argv"], cwd, sandbox, limit, _child_env(store), binds=store.binds)


def _runs(build_dir: Path, stores: list[TestStore]):
    """(command, store) pairs: every command on every store; tests on a store other than SQLite are named
    '[store] test' in failures."""
    return [(command, store) for store in stores for command in load_test_commands(build_dir)]


def run_tests(
    build_dir: Path, output_file: Path, sandbox: str = "none", timeout_s: int | None = None, pack0=None
) -> TestRun:
    """Run every test command on every store (stores.py: SQLite, and PostgreSQL when a server is given) in the
    sandbox, within the timeout; the full output goes to output_file; counts come from the JUnit XML."""
    entered = False
    try:
        with test_stores(pack0) as stores:
            entered = True
            return _run_tests(build_dir, output_file, sandbox, timeout_s, stores)
    except Exception as error:  # psycopg.Error, deploy.sh failing: a failed run, not a crash
        if entered:
            raise
        return _store_failed(output_file, sandbox, f"the PostgreSQL test database could not be made: {error}")


def _store_failed(output_file: Path, sandbox: str, message: str) -> TestRun:
    write_text_atomic(output_file, message + "\n")
    counts = {"total": 0, "passed": 0, "failed": 0, "error": 0, "skipped": 0}
    failure = {"test": "postgres", "file": "", "outcome": "error", "message": message[:300]}
    return TestRun(False, None, False, 0.0, counts, {}, [failure], output_file.name, sandbox, ["sqlite", "postgres"])


def _run_tests(build_dir: Path, output_file: Path, sandbox: str, timeout_s: int | None, stores) -> TestRun:
    started = time.monotonic()
    outputs, exit_code, timed_out = [], 0, False
    totals = {"total": 0, "passed": 0, "failed": 0, "error": 0, "skipped": 0}
    by_kind: dict[str, dict] = {}
    failures: list[dict] = []
    for command, store in _runs(build_dir, stores):
        junit = build_dir / command["junit_xml"]
        junit.unlink(missing_ok=True)
        code, command_timed_out, output = _run_one(command, build_dir, sandbox, timeout_s, store)
        outputs.append(f"$ [{store.name}] {' '.join(command['argv'])}\n{output}")
        timed_out = timed_out or command_timed_out
        exit_code = code if code else exit_code
        if junit.is_file():
            # A skip's location is an absolute path: relative to the build, it names no machine.
            xml_text = reproducible.junit(junit.read_text(encoding="utf-8")).replace(f"{build_dir.resolve()}/", "")
            write_text_atomic(junit, xml_text)
            counts, kinds, command_failures = parse_junit(xml_text, command.get("kinds", {}))
            totals = {key: totals[key] + counts[key] for key in totals}
            for kind, kind_counts in kinds.items():
                previous = by_kind.get(kind, dict.fromkeys(totals, 0))
                by_kind[kind] = {key: previous[key] + kind_counts[key] for key in totals}
            if store.name != "sqlite":
                command_failures = [{**item, "test": f"[{store.name}] {item['test']}"} for item in command_failures]
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
        stores=[store.name for store in stores],
        stores_skipped=skipped_stores(),
    )
