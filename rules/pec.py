"""Stage 7: PEC evidence: run_report.json, approval.json, pipeline_result.json, manifest.json."""

from __future__ import annotations

from doit import create_after
from doit.tools import config_changed

from factory.config import BuildConfig, code_digest
from factory.fsutil import list_files
from factory.gates.result import GATE_ORDER
from factory.stages.record import Deferred, run_stage

TASK_NAMES = ("pec",)


def creators(config: BuildConfig) -> dict:
    layout = config.layout

    # With --auto-deploy the deploy files are evidence too: list them once they exist.
    @create_after(executed="deploy" if config.auto_deploy else "gates")
    def task_pec() -> dict:
        reports = [layout.test_report, *(layout.gate_report(name) for name in GATE_ORDER)]
        built = (
            [path for root in ("src", "tests", "deploy") for path in list_files(layout.build_dir / root)]
            if (layout.build_dir.is_dir())
            else []
        )
        return {
            "doc": "PEC evidence: the report, the approval decision and the manifest of every artifact",
            "actions": [(run_stage, (config, "pec", Deferred("pec", "evidence")))],
            "file_dep": [str(path) for path in [*reports, *built] if path.name != "applied.json"],
            "targets": [
                str(layout.evidence(name)) for name in ("run_report", "approval", "pipeline_result", "manifest")
            ],
            "task_dep": ["gates", *(["deploy"] if config.auto_deploy else [])],
            "uptodate": [
                config_changed(
                    {
                        "waivers": sorted(config.waivers),
                        "auto_deploy": config.auto_deploy,
                        "sign_key": str(config.sign_key or ""),
                        "code": code_digest("pec", "stages/pec.py"),
                    }
                )
            ],
        }

    return {"pec": task_pec}
