"""Run the tests; on failure ask the Healer for a surgical fix, apply it, re-run. At most max_tries times.

Every try is written to the heal log as it ends, so an interrupted run keeps what it learned.
"""

from __future__ import annotations

import difflib
import json
import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

from factory import reproducible
from factory.agents import call
from factory.agents.request import Provider
from factory.errors import FactoryError
from factory.fsutil import list_files, write_file_set, write_json_atomic
from factory.llm.cache import content_key
from factory.pack0.models import Pack0
from factory.runner.lint import run_ruff
from factory.runner.run import TestRun, run_tests
from factory.runner.test_slices import Slicing

HEALABLE_ROOTS = ("src", "tests")
MAX_FAILURE_CHARS = 60_000


@dataclass
class HealTry:
    number: int
    problem: str
    error_summary: str
    method: str
    inputs_sha256: str = ""
    diagnosis: str = ""
    files_changed: list[str] = field(default_factory=list)
    outcome: str = ""
    tests_after: str = ""
    files_after_sha256: str = ""
    diff: str = ""
    duration_s: float = 0.0


@dataclass(frozen=True)
class _Context:
    build_dir: Path
    logs_dir: Path
    pack0: Pack0
    provider: Provider
    max_tries: int
    say: Callable[[str], None]
    sandbox: str = "none"
    test_timeout: int | None = None
    # Once tests and lint pass: the service's judges (the contracts fuzzer, then the conformance checks):
    # (problem, failure text) of the first that fails, ("", "") when none does.
    fuzz: Callable[[int], tuple[str, str]] | None = None

    slicing: Slicing | None = None

    def run_tests(self, number: int) -> TestRun:
        output = self.logs_dir / f"test_output.{number}.txt"
        # Per slice: a passing result whose inputs did not change is reused, in a heal try as in a rebuild.
        return run_tests(self.build_dir, output, self.sandbox, self.test_timeout, self.slicing, pack0=self.pack0)

    def fuzz_failure(self, number: int) -> tuple[str, str]:
        return self.fuzz(number) if self.fuzz else ("", "")


@dataclass
class HealResult:
    passed: bool
    lint_ok: bool
    final_run: TestRun
    tries: list[HealTry]
    stop_reason: str
    # Why the loop stopped early, as data (e.g. a try that reproduced the previous failure unchanged).
    stop_report: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "passed": self.passed,
            "lint_ok": self.lint_ok,
            "final_run": self.final_run.as_dict(),
            "heal_log": [asdict(each) for each in self.tries],
            "stop_reason": self.stop_reason,
            **({"stop_report": self.stop_report} if self.stop_report else {}),
        }


def read_build_files(build_dir: Path) -> dict[str, str]:
    """The code and tests a Healer sees (text files under src/ and tests/)."""
    files = {}
    for root in HEALABLE_ROOTS:
        if not (build_dir / root).is_dir():
            continue
        for path in list_files(build_dir / root):
            try:
                files[path.relative_to(build_dir).as_posix()] = path.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                continue
    return files


_VOLATILE = (
    (re.compile(r"127\.0\.0\.1:\d+"), "127.0.0.1:PORT"),
    (re.compile(r"\b\d+\.\d+s\b"), "N.NNs"),
    (re.compile(r"/tmp/[\w./-]*?pytest-\d+/"), "/tmp/pytest/"),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"), "UUID"),
    (re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?\+00:00"), "TIMESTAMP"),
    (re.compile(r"\b(tenant|other)-[0-9a-f]{12}\b"), r"\1-ID"),
    (re.compile(r"0x[0-9a-f]{6,}"), "0xADDR"),
)


def normalize_failure(text: str, build_dir: Path) -> str:
    """The failure without what changes from run to run (ports, times, ids, paths), so the same failure
    makes the same Healer request, and a re-run replays it from the cache."""
    text = text.replace(str(build_dir.resolve()), "BUILD")
    for pattern, replacement in _VOLATILE:
        text = pattern.sub(replacement, text)
    return text


def _failure_text(run: TestRun, logs_dir: Path, build_dir: Path) -> str:
    output = (logs_dir / run.output_file).read_text(encoding="utf-8")
    listed = "\n".join(f"FAILED {item['test']}: {item['message']}" for item in run.failures)
    return normalize_failure(listed + "\n\n" + output, build_dir)[-MAX_FAILURE_CHARS:]


def _files_sha256(build_dir: Path) -> str:
    return content_key(read_build_files(build_dir))


def resumable_tries(heal_log_path: Path, build_dir: Path) -> list[HealTry]:
    """The tries of an earlier run that stopped while still failing, if the build is still as that run left
    it: a re-run (after an interruption, or with a larger --max-heal) goes on from the next try."""
    try:
        entries = json.loads(heal_log_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    if not entries or entries[-1].get("outcome") != "still failing":
        return []
    if entries[-1].get("files_after_sha256") != _files_sha256(build_dir):
        return []
    return [HealTry(**entry) for entry in entries]


MAX_DIFF_CHARS = 20_000


def unified_diff(before: dict[str, str], after: dict[str, str], paths: list[str]) -> str:
    """What a try changed, as a unified diff (for the report and for people)."""
    chunks = []
    for path in paths:
        chunks += difflib.unified_diff(
            before.get(path, "").splitlines(keepends=True),
            after.get(path, "").splitlines(keepends=True),
            fromfile=f"a/{path}",
            tofile=f"b/{path}",
        )
    text = "".join(chunks)
    return text if len(text) <= MAX_DIFF_CHARS else text[:MAX_DIFF_CHARS] + "\n[... diff cut ...]\n"


def _heal_tests(number: int, run: TestRun, context: _Context) -> HealTry:
    return _heal(number, "tests", run.first_error(), _failure_text(run, context.logs_dir, context.build_dir), context)


JUDGED_BY = {"fuzz": "contracts fuzzing", "conformance": "conformance"}


def _heal_fuzz(number: int, fuzz_failure: tuple[str, str], context: _Context) -> HealTry:
    """A fuzz or conformance finding goes to the Healer exactly like a failing test: the whole report, then
    the code; the heal log names which judge found it (problem "fuzz" or "conformance")."""
    problem, text = fuzz_failure
    failure = normalize_failure(text, context.build_dir)[-MAX_FAILURE_CHARS:]
    return _heal(number, problem, f"{JUDGED_BY[problem]}: " + text.splitlines()[0], failure, context)


def _heal(number: int, problem: str, summary: str, failure: str, context: _Context) -> HealTry:
    attempt = HealTry(number, problem, summary, "healer agent")
    context.say(f"heal try {number}/{context.max_tries}: {attempt.error_summary}")
    files = read_build_files(context.build_dir)
    attempt.inputs_sha256 = content_key({"failure": failure, "files": files})
    raw_log = context.logs_dir / f"healer_raw.{number}.txt"
    try:
        reply = call.healer(context.provider, context.pack0, files, failure, raw_log)
        attempt.diagnosis = reply.diagnosis
        attempt.files_changed = write_file_set(context.build_dir, reply.as_dict(), allowed_roots=HEALABLE_ROOTS)
        attempt.diff = unified_diff(files, read_build_files(context.build_dir), attempt.files_changed)
    except FactoryError as error:
        attempt.diagnosis = f"reply refused: {error}"
    return attempt


def _heal_lint(number: int, lint_output: str, context: _Context) -> HealTry:
    first_line = lint_output.splitlines()[0] if lint_output else "ruff failed"
    attempt = HealTry(number, "lint", first_line, "ruff check --fix")
    context.say(f"heal try {number}/{context.max_tries}: lint: {first_line}")
    before = read_build_files(context.build_dir)
    attempt.inputs_sha256 = content_key({"lint": lint_output, "files": before})
    run_ruff(context.build_dir, fix=True)
    after = read_build_files(context.build_dir)
    attempt.files_changed = sorted(path for path in after if before.get(path) != after[path])
    attempt.diff = unified_diff(before, after, attempt.files_changed)
    attempt.diagnosis = "applied ruff's automatic fixes"
    return attempt


_NUMBERED_LOG = re.compile(r"(test_output|fuzz_output|conformance_output|healer_raw)\.(\d+)\.txt")


def _forget_later_tries(logs_dir: Path, kept: int) -> None:
    """An earlier run's logs of what this run redoes (its tests and fuzzing after try `kept`, its later tries):
    the evidence lists every file here, and a clean run's logs must not sit beside an old run's heal tries."""
    for path in logs_dir.glob("*.txt") if logs_dir.is_dir() else []:
        found = _NUMBERED_LOG.fullmatch(path.name)
        if found and int(found[2]) >= kept + (found[1] == "healer_raw"):
            path.unlink(missing_ok=True)


def run_with_heal(
    build_dir: Path,
    logs_dir: Path,
    pack0: Pack0,
    provider: Provider,
    max_tries: int,
    say: Callable[[str], None] = print,
    sandbox: str = "none",
    test_timeout: int | None = None,
    fuzz: Callable[[int], tuple[str, str]] | None = None,
    slicing: Slicing | None = None,
) -> HealResult:
    context = _Context(build_dir, logs_dir, pack0, provider, max_tries, say, sandbox, test_timeout, fuzz, slicing)
    heal_log_path = logs_dir / "heal_log.json"
    tries = resumable_tries(heal_log_path, build_dir)
    if tries:
        say(f"resuming after try {len(tries)} of an earlier run (the build is as that try left it)")
    write_json_atomic(heal_log_path, [asdict(each) for each in tries])
    _forget_later_tries(logs_dir, len(tries))
    run = context.run_tests(len(tries))
    say(f"tests ({'sandbox ' + sandbox if sandbox != 'none' else 'no sandbox'}): {run.summary()}{run.reuse_summary()}")
    fuzz_failure = None  # not fuzzed since the last change
    while True:
        lint = run_ruff(build_dir) if run.passed else None
        clean = run.passed and lint is not None and lint.ok
        if clean:
            fuzz_failure = context.fuzz_failure(len(tries)) if fuzz_failure is None else fuzz_failure
            if not fuzz_failure[1]:
                passing = "tests, lint, contract fuzzing and conformance pass" if fuzz else "tests and lint pass"
                return HealResult(True, True, run, tries, passing)
        # Tests and lint passing with fuzz findings left is a pass of this stage: the contracts gate fails.
        judge = JUDGED_BY.get(fuzz_failure[0], "contract fuzzing") if fuzz_failure else ""
        fuzz_left = f"; {judge} still fails (its gate will say so)" if clean else ""
        if len(tries) >= max_tries:
            reason = f"heal budget exhausted after {len(tries)} of {max_tries} tries{fuzz_left}"
            return HealResult(clean, lint is not None and lint.ok, run, tries, reason)
        started = time.monotonic()
        number = len(tries) + 1
        failure_before = _failure_text(run, logs_dir, build_dir) if not run.passed else None
        if not run.passed:
            attempt = _heal_tests(number, run, context)
        elif not lint.ok:
            attempt = _heal_lint(number, lint.output, context)
        else:
            attempt = _heal_fuzz(number, fuzz_failure, context)
        if attempt.files_changed:
            say(f"  changed: {', '.join(attempt.files_changed)}")
            run = context.run_tests(number)
            judged = attempt.problem in JUDGED_BY
            fuzz_failure = context.fuzz_failure(number) if run.passed and judged else None
            attempt.outcome = "fixed" if run.passed and not (fuzz_failure and fuzz_failure[1]) else "still failing"
        else:
            attempt.outcome = "no change proposed"
        attempt.tests_after = run.summary()
        attempt.files_after_sha256 = _files_sha256(build_dir)
        attempt.duration_s = reproducible.duration(time.monotonic() - started)
        tries.append(attempt)
        write_json_atomic(heal_log_path, [asdict(each) for each in tries])
        say(f"  {attempt.outcome}: {attempt.tests_after}")
        if not attempt.files_changed:
            reason = f"stopped at try {number}/{max_tries}: the Healer proposed no change ({attempt.diagnosis})"
            return HealResult(clean, clean, run, tries, reason + fuzz_left)
        if failure_before is not None and not run.passed and _failure_text(run, logs_dir, build_dir) == failure_before:
            # Another try would start from the same failure: stop instead of paying for it again.
            reason = f"stopped at try {number}/{max_tries}: it reproduced the previous failure unchanged"
            report = {
                "kind": "unchanged failure",
                "try": number,
                "files_changed": attempt.files_changed,
                "failing_tests": [item["test"] for item in run.failures],
            }
            return HealResult(False, False, run, tries, reason, report)
