"""Stage 1: Pack0 (generated, or copied from --pack0), then its derived OpenAPI and inventory."""

from __future__ import annotations

from doit import create_after
from doit.tools import config_changed

from factory import __version__
from factory.config import BuildConfig, code_digest
from factory.pack0.names import source_file_names
from factory.stages.inputs import source_paths
from factory.stages.record import Deferred, run_stage

TASK_NAMES = ("pack0", "pack0_index")


def creators(config: BuildConfig) -> dict:
    layout = config.layout

    def task_pack0() -> dict:
        if config.pack0_source is None:
            return {
                "doc": "Pack0: generate requirements, contracts, slices and budgets from the module name",
                "actions": [(run_stage, (config, "pack0", Deferred("pack0", "generate")))],
                "targets": [str(layout.pack0_dir / "pack0.json")],
                "uptodate": [config_changed({"module": config.module, "brief": config.brief, "v": __version__})],
            }
        source_files = source_file_names(config.pack0_source)
        return {
            "doc": f"Pack0: validate and copy {config.pack0_source}",
            "actions": [(run_stage, (config, "pack0", Deferred("pack0", "copy_from_source")))],
            "file_dep": [str(config.pack0_source / path) for path in source_files],
            "targets": [str(layout.pack0_dir / path) for path in source_files],
        }

    @create_after(executed="pack0")
    def task_pack0_index() -> dict:
        return {
            "doc": "Pack0: validate it and derive contracts/openapi.json and 02_INVENTORY/manifest.json",
            "actions": [(run_stage, (config, "pack0_index", Deferred("pack0", "index")))],
            "file_dep": [str(path) for path in source_paths(layout.pack0_dir)],
            "targets": [
                str(layout.pack0_dir / "contracts/openapi.json"),
                str(layout.pack0_dir / "02_INVENTORY/manifest.json"),
            ],
            "uptodate": [config_changed(code_digest("pack0", "stages/pack0.py"))],
        }

    return {"pack0": task_pack0, "pack0_index": task_pack0_index}
