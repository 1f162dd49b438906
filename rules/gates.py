"""Stage 5: the gates, fail-closed, in order: lint, secret-scan, contracts, docker-build."""

from __future__ import annotations

import json
from pathlib import Path

from doit import create_after
from doit.tools import config_changed

from factory.config import BuildConfig, code_digest
from factory.gates.contracts_fuzz import fuzz_environment
from factory.gates.result import GATE_ORDER
from factory.runner.engine_ping import engine_answers_now
from factory.stages.inputs import contract_paths, watched_files
from factory.stages.record import Deferred, run_stage

TASK_NAMES = ("gates",)


def _engine_unchanged(report_path: str):
    """An `unavailable` docker gate is stale once an engine answers; one that passed or failed stands while
    its inputs are unchanged, with no call to the engine."""

    def check() -> bool:
        try:
            status = json.loads(Path(report_path).read_text(encoding="utf-8"))["status"]
        except (OSError, ValueError, KeyError):
            return False
        return status != "unavailable" or not engine_answers_now()

    return check


def creators(config: BuildConfig) -> dict:
    layout = config.layout

    @create_after(executed="run_heal")
    def task_gates():
        file_dep = [
            *contract_paths(layout.pack0_dir),
            # The contracts gate compares the service's document with it: a hand edit must re-judge, not pass.
            layout.pack0_dir / "contracts/openapi.json",
            *watched_files(layout.build_dir),
            layout.test_report,
            layout.build_dir / "Dockerfile",
        ]
        yield {
            "basename": "gates",
            "name": None,
            "doc": "Gates, fail-closed, in order: " + ", ".join(GATE_ORDER),
            "uptodate": [True],  # a group only orders its members (see rules/__init__.py _group)
        }
        previous = None
        for name in GATE_ORDER:
            report = str(layout.gate_report(name))
            yield {
                "name": name,
                "doc": f"gate: {name}",
                "actions": [(run_stage, (config, f"gate_{name}", Deferred("gates", "gate_work", (name,))))],
                "file_dep": [str(path) for path in file_dep]
                + (["Dockerfile"] and [str(layout.build_dir / "Dockerfile")]),
                "targets": [report],
                # In order: each gate starts after the one before it.
                "task_dep": [f"gates:{previous}"] if previous else [],
                "uptodate": [
                    config_changed(
                        {
                            "code": code_digest("gates", "runner/engine_ping.py", "stages/gates.py"),
                            "base_image": config.base_image,
                            **({"fuzz": fuzz_environment()} if name == "contracts" else {}),
                        }
                    )
                ]
                + ([_engine_unchanged(report)] if name == "docker-build" else []),
            }
            previous = name

    return {"gates": task_gates}
