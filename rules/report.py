"""After PEC: build/report.html, the page a person opens to see the build."""

from __future__ import annotations

from doit.tools import config_changed

from factory.config import BuildConfig, code_digest
from factory.stages.record import Deferred, run_stage

TASK_NAMES = ("report",)


def creators(config: BuildConfig) -> dict:
    layout = config.layout

    def task_report() -> dict:
        return {
            "doc": "report.html: timeline, tests, heal tries, gates, evidence chain, deploy plan",
            "actions": [(run_stage, (config, "report", Deferred("report", "report")))],
            "file_dep": [
                str(layout.evidence(name)) for name in ("pipeline_result", "run_report", "approval", "manifest")
            ],
            "targets": [str(layout.build_dir / "report.html")],
            "task_dep": ["pec"],
            "uptodate": [config_changed(code_digest("pec", "stages/report.py"))],
        }

    return {"report": task_report}
