"""Stage 2: CodeGen, one task per slice (core, then one per entity), writes build/src/ and container files."""

from __future__ import annotations

from doit import create_after
from doit.tools import config_changed

from factory.config import BuildConfig, code_digest
from factory.stages import generate
from factory.stages.pack0 import known_slices, slice_inputs
from factory.stages.record import run_stage

TASK_NAMES = ("codegen",)


def creators(config: BuildConfig) -> dict:
    layout = config.layout

    @create_after(executed="pack0_index")
    def task_codegen():
        yield {"basename": "codegen", "name": None, "doc": "CodeGen: the service's source, slice by slice"}
        names = known_slices(layout.pack0_dir)
        settings = {
            "provider": config.provider,
            "model": config.model,
            "code": code_digest("engine", "agents", "llm", "stages/generate.py"),
        }
        for name in names:
            yield {
                "name": name,
                "actions": [(run_stage, (config, f"codegen.{name}", generate.codegen_slice(name)))],
                "file_dep": [str(path) for path in slice_inputs(layout.pack0_dir, name)],
                "targets": [str(layout.raw_reply("codegen", name))],
                "uptodate": [config_changed(settings)],
            }
        yield {
            "name": "raw",
            "actions": [(run_stage, (config, "codegen.raw", generate.collect_raw("codegen")))],
            "file_dep": [str(layout.raw_reply("codegen", name)) for name in names],
            "targets": [str(layout.raw_reply("codegen"))],
        }

    return {"codegen": task_codegen}
