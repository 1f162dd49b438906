"""Stage 4: run the tests; on failure the Healer fixes, at most max-heal times; every try in heal_log."""

from __future__ import annotations

from doit import create_after
from doit.tools import config_changed

from factory.config import BuildConfig, code_digest
from factory.gates.contracts_fuzz import fuzz_environment
from factory.runner.stores import store_names
from factory.stages.inputs import contract_paths, watched_files
from factory.stages.record import Deferred, run_stage

TASK_NAMES = ("run_heal",)


def creators(config: BuildConfig) -> dict:
    layout = config.layout

    @create_after(executed="testgen")
    def task_run_heal() -> dict:
        file_dep = [*contract_paths(layout.pack0_dir), *watched_files(layout.build_dir)]
        return {
            "doc": "Run + self-heal: the tests, and surgical fixes until they pass or max-heal is reached",
            "actions": [(run_stage, (config, "run_heal", Deferred("run_heal", "run_heal")))],
            "file_dep": [str(path) for path in file_dep],
            # The heal log and the JUnit file are evidence: deleted, the run makes them again. (A run that could
            # not make its test database writes no JUnit file: it runs again next time, as it should.)
            "targets": [str(layout.test_report), str(layout.logs_dir / "heal_log.json"), str(layout.junit_xml)],
            "uptodate": [
                config_changed(
                    {
                        "max_heal": config.max_heal,
                        "fuzz": fuzz_environment(),
                        "provider": config.provider,
                        "sandbox": config.sandbox,
                        "stores": store_names(),
                        "test_timeout": config.test_timeout,
                        "code": code_digest("runner", "engine", "stages/run_heal.py"),
                    }
                )
            ],
        }

    return {"run_heal": task_run_heal}
