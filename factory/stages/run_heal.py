"""Stage 4, Run + self-heal: the tests, and up to max-heal surgical fixes."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from factory.agents.call import remember_heal_fixes
from factory.config import BuildConfig
from factory.engine.codegen import code_files
from factory.fsutil import list_files, write_json_atomic
from factory.gates.contracts_fuzz import fuzz_service_once
from factory.pack0.load import load_pack0
from factory.pack0.models import Pack0
from factory.runner.heal_loop import run_with_heal
from factory.runner.sandbox import resolve_sandbox


def max_heal_tries(config: BuildConfig, budget: int) -> int:
    return config.max_heal if config.max_heal is not None else budget


def contract_fuzzer(config: BuildConfig, pack0: Pack0, sandbox: str, say: Callable[[str], None]):
    """Once the tests pass: the contracts gate's fuzzer on the same code (its findings go to the Healer)."""

    def fuzz(number: int) -> str:
        run = fuzz_service_once(config.layout.build_dir, pack0, sandbox, config.cache_dir)
        say(f"contract fuzzing: {run.summary()}")
        if run.passed:
            return ""
        text = run.failure_text(code_files(pack0))
        (config.layout.logs_dir / f"fuzz_output.{number}.txt").write_text(text, encoding="utf-8")
        return text

    return fuzz


def run_heal(config: BuildConfig, say: Callable[[str], None]) -> str:
    layout = config.layout
    pack0 = load_pack0(layout.pack0_dir)
    tries = max_heal_tries(config, pack0.budgets.max_heal_tries)
    provider = config.make_provider(pack0.budgets, say)
    sandbox = resolve_sandbox(config.sandbox)
    fuzz = contract_fuzzer(config, pack0, sandbox, say)
    result = run_with_heal(
        layout.build_dir, layout.logs_dir, pack0, provider, tries, say, sandbox, config.test_timeout, fuzz
    )
    write_json_atomic(layout.test_report, {**result.as_dict(), "max_tries": tries})
    if result.passed:  # a slice reply the Healer had to fix must not bring its bug back on a re-run
        healed = {path for each in result.tries if each.method == "healer agent" for path in each.files_changed}
        remember_heal_fixes(provider, layout.logs_dir / "raw", layout.build_dir, healed)
    verdict = "tests pass" if result.passed else "TESTS FAIL"
    return f"{verdict} ({result.final_run.summary()}); {len(result.tries)} heal tries; {result.stop_reason}"


def watched_files(build_dir: Path) -> list[Path]:
    """The code and tests a test run depends on (what doit watches for the run and the gates)."""
    files = [path for root in ("src", "tests") if (build_dir / root).is_dir() for path in list_files(build_dir / root)]
    return [*files, build_dir / ".test_commands.json"]
