"""Stage 2: CodeGen writes build/src/ and the container files from the Pack0 contracts."""

from __future__ import annotations

from doit import create_after
from doit.tools import config_changed

from factory.config import BuildConfig, code_digest
from factory.stages import generate
from factory.stages.pack0 import contract_paths
from factory.stages.record import run_stage

TASK_NAMES = ("codegen",)


def creators(config: BuildConfig) -> dict:
    layout = config.layout

    @create_after(executed="pack0_index")
    def task_codegen() -> dict:
        return {
            "doc": "CodeGen: the service's source from the contracts",
            "actions": [(run_stage, (config, "codegen", generate.codegen))],
            "file_dep": [str(path) for path in contract_paths(layout.pack0_dir)],
            "targets": [str(layout.raw_reply("codegen"))],
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

    return {"codegen": task_codegen}
