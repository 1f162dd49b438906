"""Stage 6: deploy artifacts (with --auto-deploy) before the evidence; applied only after approval."""

from __future__ import annotations

from doit import create_after
from doit.tools import config_changed

from factory.config import BuildConfig, code_digest
from factory.stages.inputs import contract_paths, owned_record, recorded_files
from factory.stages.record import Deferred, run_stage

TASK_NAMES = ("deploy", "deploy_apply")


def creators(config: BuildConfig) -> dict:
    layout = config.layout
    deploy_dir = layout.build_dir / "deploy"

    # In pipeline order, after the gates (it reads only the contracts, but runs once the build is judged).
    @create_after(executed="gates")
    def task_deploy() -> dict:
        record = owned_record(layout.logs_dir, "deployer")
        return {
            "doc": "Deploy: PostgreSQL migrations, deploy.sh, rollback.sh and health checks",
            "actions": [(run_stage, (config, "deploy", Deferred("deploy", "generate")))],
            "file_dep": [str(path) for path in contract_paths(layout.pack0_dir)],
            # Every file it wrote last time (migrations, health checks, ...): deleting one re-runs it.
            "targets": list(
                dict.fromkeys(
                    str(path)
                    for path in (
                        deploy_dir / "deploy.sh",
                        deploy_dir / "rollback.sh",
                        layout.raw_reply("deployer"),
                        record,
                        *recorded_files(layout.build_dir, record),
                    )
                )
            ),
            "uptodate": [
                config_changed(
                    {
                        "target": config.deploy_target,
                        "provider": config.provider,
                        "code": code_digest("deploy", "agents", "llm", "claude_models.py", "stages/deploy.py"),
                    }
                )
            ],
        }

    def task_deploy_apply() -> dict:
        return {
            "doc": "Deploy: run deploy.sh against DATABASE_URL once the build is approved",
            "actions": [(run_stage, (config, "deploy_apply", Deferred("deploy", "apply")))],
            "file_dep": [str(layout.evidence("approval")), str(deploy_dir / "deploy.sh")],
            "targets": [str(deploy_dir / "applied.json")],
            "task_dep": ["pec"],
        }

    return {"deploy": task_deploy, "deploy_apply": task_deploy_apply}
