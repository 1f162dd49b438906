"""Stage 3: TestGen writes build/tests/ and .test_commands.json from the contracts and CodeGen's reply."""

from __future__ import annotations

from doit import create_after
from doit.tools import config_changed

from factory.config import BuildConfig, code_digest
from factory.stages import generate
from factory.stages.pack0 import contract_paths
from factory.stages.record import run_stage

TASK_NAMES = ("testgen",)


def creators(config: BuildConfig) -> dict:
    layout = config.layout

    @create_after(executed="codegen")
    def task_testgen() -> dict:
        # CodeGen's raw reply, not src/: the Healer edits src/, and that must not regenerate the tests.
        file_dep = [*contract_paths(layout.pack0_dir), layout.raw_reply("codegen")]
        return {
            "doc": "TestGen: unit, integration, contract and E2E tests",
            "actions": [(run_stage, (config, "testgen", generate.testgen))],
            "file_dep": [str(path) for path in file_dep],
            "targets": [str(layout.raw_reply("testgen")), str(layout.build_dir / ".test_commands.json")],
            "uptodate": [
                config_changed(
                    {
                        "provider": config.provider,
                        "model": config.model,
                        "code": code_digest("engine", "agents", "llm", "pack0"),
                    }
                )
            ],
        }

    return {"testgen": task_testgen}
