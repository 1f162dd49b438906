"""Stage 4, Run + self-heal: the tests, and up to max-heal surgical fixes."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable

from factory.agents.call import remember_heal_fixes
from factory.config import BuildConfig
from factory.engine.codegen import code_files
from factory.fsutil import write_json_atomic
from factory.gates.conformance import conformance_once, longest_conformance_seconds
from factory.gates.contracts_fuzz import fuzz_service_once, longest_fuzz_seconds
from factory.layout import Layout
from factory.llm.anthropic_provider import REQUEST_TIMEOUT_S
from factory.pack0.load import load_pack0
from factory.pack0.models import Pack0
from factory.results_cache import SharedResults
from factory.runner.heal_loop import run_with_heal
from factory.runner.lint import LINT_TIMEOUT_S
from factory.runner.run import TestRun, load_test_commands, time_limit
from factory.runner.sandbox import resolve_sandbox
from factory.runner.slices import SlicePlan
from factory.runner.stores import DEPLOY_TIMEOUT_S, migrations_digest, store_names
from factory.runner.test_slices import SEAL_KIND, Slicing, owned_files, run_key
from factory.stages.provider import build_provider


def max_heal_tries(config: BuildConfig, budget: int) -> int:
    return config.max_heal if config.max_heal is not None else budget


def _test_plans(layout: Layout, slicing: Slicing, sandbox: str) -> tuple[list[dict], list[SlicePlan] | None]:
    """The test commands and the slices with their keys as the files are now, read once for the checks below
    (([], None) when the commands cannot be read: the run itself then says what is wrong with them)."""
    try:
        commands = load_test_commands(layout.build_dir)
        return commands, slicing.plans(layout.build_dir, commands, sandbox, store_names())
    except (OSError, ValueError, KeyError, TypeError):
        return [], None


def _kept(layout: Layout, slicing: Slicing, commands: list[dict], plans: list[SlicePlan] | None, tries: int):
    """The last test report, when it passed and every slice's inputs are as it found them: then it stands as
    it is (a re-run after a crash writes what a clean run writes)."""
    try:
        report = json.loads(layout.test_report.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not (report.get("passed") and report.get("lint_ok") and report.get("max_tries") == tries):
        return None
    junit = [layout.build_dir / command["junit_xml"] for command in commands]
    if not junit or not all(path.is_file() for path in junit):  # the gates read every case from it
        return None
    if not (layout.logs_dir / "heal_log.json").is_file():  # evidence: a run writes it again
        return None
    return report if slicing.all_reusable(plans) else None


def contract_fuzzer(config: BuildConfig, pack0: Pack0, sandbox: str, say: Callable[[str], None]):
    """Once the tests pass: the contracts gate's fuzzer on the same code (its findings go to the Healer)."""

    def fuzz(number: int) -> tuple[str, str]:
        owned = owned_files(config.layout.logs_dir, pack0.entities)
        run = fuzz_service_once(config.layout.build_dir, pack0, sandbox, config.cache_dir, owned=owned, say=say)
        say(f"contract fuzzing: {run.summary()}")
        if not run.passed:
            text = run.failure_text(code_files(pack0))
            (config.layout.logs_dir / f"fuzz_output.{number}.txt").write_text(text, encoding="utf-8")
            return "fuzz", text
        layout = config.layout
        conformed = conformance_once(layout.build_dir, layout.pack0_dir, pack0, sandbox, config.cache_dir, say)
        say(f"conformance: {conformed.summary()}")
        if conformed.passed:
            return "", ""
        text = conformed.failure_text() + "The service's code:\n" + "".join(f"  {path}\n" for path in code_files(pack0))
        (layout.logs_dir / f"conformance_output.{number}.txt").write_text(text, encoding="utf-8")
        return "conformance", text

    return fuzz


def longest_hold(
    commands: list[dict],
    stores: list[str],
    test_timeout: int | None,
    tries: int,
    fuzz_s: int,
    heal_s: int,
    conform_s: int = 0,
) -> tuple[int, str]:
    """How long a build may legitimately hold the test run's lock, and what that is made of: it runs the tests
    (every command on every store, each within its time limit; PostgreSQL's migrations first), lint and the
    contract fuzzer up to tries + 1 times, and heals up to tries times (heal_s: a model's reply, or ruff's fix)."""
    tests = len(stores) * sum(time_limit(command, test_timeout) for command in commands)
    tests += DEPLOY_TIMEOUT_S if "postgres" in stores else 0
    seconds = (tries + 1) * (tests + LINT_TIMEOUT_S + fuzz_s + conform_s) + tries * heal_s
    conform = f" + conformance {conform_s} s" if conform_s else ""
    why = f"{tries + 1} x (tests {tests} s + lint {LINT_TIMEOUT_S} s + contract fuzzing {fuzz_s} s{conform})"
    return seconds, why + (f" + {tries} heal tr{'y' if tries == 1 else 'ies'} x {heal_s} s" if tries else "")


def hold_limit(config: BuildConfig, pack0: Pack0, commands: list[dict], tries: int) -> tuple[int, str]:
    """longest_hold from this build's own settings: --test-timeout and the stores (in the lock's key, so the
    holder's too), the heal tries, the LAI_FUZZ_* budget and whether a model heals (taken to be the holder's)."""
    heal_s = LINT_TIMEOUT_S if config.provider == "offline" else max(LINT_TIMEOUT_S, int(REQUEST_TIMEOUT_S))
    return longest_hold(
        commands,
        store_names(),
        config.test_timeout,
        tries,
        longest_fuzz_seconds(pack0),
        heal_s,
        longest_conformance_seconds(pack0),
    )


def _one_build_at_a_time(
    plans: list[SlicePlan] | None, shared: SharedResults, hold: tuple[int, str], say: Callable[[str], None]
):
    """Two builds of the same code at once (`lai-pack many`, two terminals, a CI matrix): the second waits while
    the first runs the tests, heals and fuzzes (as long as that may take: hold, from longest_hold), then reuses
    its results from the shared cache instead of doing the same work. A stopped holder (SIGSTOP, Ctrl-Z) is given
    up on once it shows no sign of work (results_cache.SILENT_SECONDS); a killed one frees the lock at once."""
    if plans is None:
        return contextlib.nullcontext()
    seconds, why = hold
    return shared.one_at_a_time(SEAL_KIND, run_key(plans), wait_seconds=seconds, say=say, what="test run", why=why)


def run_heal(config: BuildConfig, say: Callable[[str], None]) -> str:
    layout = config.layout
    pack0 = load_pack0(layout.pack0_dir)
    tries = max_heal_tries(config, pack0.budgets.max_heal_tries)
    sandbox = resolve_sandbox(config.sandbox)
    shared = SharedResults(config.cache_dir)
    migrations = migrations_digest(pack0) if "postgres" in store_names() else None
    slicing = Slicing.from_report(
        layout.logs_dir, pack0.entities, layout.test_report, layout.slice_seals, shared, config.test_timeout, migrations
    )
    commands, plans = _test_plans(layout, slicing, sandbox)
    kept = _kept(layout, slicing, commands, plans, tries)
    if kept is not None:
        final = TestRun(**kept["final_run"])
        say(f"every slice's inputs are as the last test report found them: its {final.counts['total']} results stand")
        # The summary describes the state (as the run that made the report said it), not this run.
        return _summary(True, final, len(kept["heal_log"]), kept["stop_reason"])
    provider = build_provider(config, pack0.budgets, say)
    fuzz = contract_fuzzer(config, pack0, sandbox, say)
    with _one_build_at_a_time(plans, shared, hold_limit(config, pack0, commands, tries), say):
        result = run_with_heal(
            layout.build_dir, layout.logs_dir, pack0, provider, tries, say, sandbox, config.test_timeout, fuzz, slicing
        )
        write_json_atomic(layout.test_report, {**result.as_dict(), "max_tries": tries})
        slicing.share(result.final_run.slices)
    if result.passed:  # a slice reply the Healer had to fix must not bring its bug back on a re-run
        healed = {path for each in result.tries if each.method == "healer agent" for path in each.files_changed}
        remember_heal_fixes(provider, layout.logs_dir / "raw", layout.build_dir, healed)
    return _summary(result.passed, result.final_run, len(result.tries), result.stop_reason)


def _summary(passed: bool, final: TestRun, tries: int, stop_reason: str) -> str:
    return f"{'tests pass' if passed else 'TESTS FAIL'} ({final.summary()}); {tries} heal tries; {stop_reason}"
