"""Stage 2: CodeGen, one task per slice (core, then one per entity), writes build/src/ and container files."""

from __future__ import annotations

from doit import create_after

from factory.config import BuildConfig
from rules.slices import slice_tasks

TASK_NAMES = ("codegen",)


def creators(config: BuildConfig) -> dict:
    @create_after(executed="pack0_index")
    def task_codegen():
        doc = "CodeGen: the service's source, slice by slice"
        yield from slice_tasks(config, "codegen", doc, "codegen_slice", lambda _: [], lambda _: [])

    return {"codegen": task_codegen}
