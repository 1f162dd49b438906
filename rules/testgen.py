"""Stage 3: TestGen, one task per slice, writes build/tests/ and .test_commands.json."""

from __future__ import annotations

from doit import create_after

from factory.config import BuildConfig
from rules.slices import slice_tasks

TASK_NAMES = ("testgen",)


def creators(config: BuildConfig) -> dict:
    layout = config.layout

    def inputs(name: str) -> list:
        # CodeGen's raw reply for the slice, not src/: the Healer edits src/, which must not regenerate tests.
        return [layout.raw_reply("codegen", name)]

    def targets(name: str) -> list:
        return [layout.build_dir / ".test_commands.json"] if name == "core" else []

    @create_after(executed="codegen")
    def task_testgen():
        doc = "TestGen: unit, integration, contract and E2E tests"
        yield from slice_tasks(config, "testgen", doc, "testgen_slice", inputs, targets)

    return {"testgen": task_testgen}
