"""Stage 3: TestGen, one task per slice, writes build/tests/ and .test_commands.json."""

from __future__ import annotations

from doit import create_after
from doit.tools import config_changed

from factory.config import BuildConfig, code_digest
from factory.stages import generate
from factory.stages.pack0 import known_slices, slice_inputs
from factory.stages.record import run_stage

TASK_NAMES = ("testgen",)


def creators(config: BuildConfig) -> dict:
    layout = config.layout

    @create_after(executed="codegen")
    def task_testgen():
        yield {"basename": "testgen", "name": None, "doc": "TestGen: unit, integration, contract and E2E tests"}
        names = known_slices(layout.pack0_dir)
        settings = {
            "provider": config.provider,
            "model": config.model,
            "code": code_digest("engine", "agents", "llm", "stages/generate.py"),
        }
        for name in names:
            # CodeGen's raw reply for the slice, not src/: the Healer edits src/, which must not regenerate tests.
            file_dep = [*slice_inputs(layout.pack0_dir, name), layout.raw_reply("codegen", name)]
            targets = [layout.raw_reply("testgen", name)]
            if name == "core":
                targets.append(layout.build_dir / ".test_commands.json")
            yield {
                "name": name,
                "actions": [(run_stage, (config, f"testgen.{name}", generate.testgen_slice(name)))],
                "file_dep": [str(path) for path in file_dep],
                "targets": [str(path) for path in targets],
                "uptodate": [config_changed(settings)],
            }
        yield {
            "name": "raw",
            "actions": [(run_stage, (config, "testgen.raw", generate.collect_raw("testgen")))],
            "file_dep": [str(layout.raw_reply("testgen", name)) for name in names],
            "targets": [str(layout.raw_reply("testgen"))],
        }

    return {"testgen": task_testgen}
