"""Stage 6, Deploy: migrations and scripts from the Deployer; applied after approval when a database is set."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Callable

from factory.agents import call
from factory.config import BuildConfig
from factory.deploy.migrations import generate_migrations
from factory.deploy.scripts import EXECUTABLE_SCRIPTS
from factory.fsutil import write_file_set, write_json_atomic, write_text_atomic
from factory.pack0.load import load_pack0
from factory.stages.inputs import owned_record
from factory.stages.provider import build_provider
from factory.stages.stale import listed, remove_written

DEPLOY_ROOTS = ("deploy",)
APPLY_TIMEOUT_S = 300


def generate(config: BuildConfig, say: Callable[[str], None]) -> str:
    layout = config.layout
    pack0 = load_pack0(layout.pack0_dir)
    provider = build_provider(config, pack0.budgets, say)
    reply = call.deployer(provider, pack0, config.deploy_target, layout.raw_reply("deployer"))
    # The migrations are the service's schema (tables.json has their sha256): derived by the factory from the one
    # schema source, whatever the Deployer wrote for them.
    files = {**reply.as_dict(), **generate_migrations(pack0, config.deploy_target)}
    written = write_file_set(layout.build_dir, files, allowed_roots=DEPLOY_ROOTS, executable=EXECUTABLE_SCRIPTS)
    # Listed, they are the task's targets (a deleted one is written again); one the last run wrote and this one
    # does not (another --deploy-target) goes, as a clean build would not have it.
    record = owned_record(layout.logs_dir, "deployer")
    gone = [
        path
        for path in sorted(set(listed(record)) - set(files))
        if remove_written(layout.build_dir, path, DEPLOY_ROOTS)
    ]
    write_text_atomic(record, json.dumps(sorted(files), indent=1) + "\n")
    say(f"{len(files)} deploy files for target {config.deploy_target}, {len(written)} written or changed")
    if gone:
        say(f"removed {len(gone)} deploy files this target does not have")
    return f"deploy artifacts for {config.deploy_target}"


def apply(config: BuildConfig, say: Callable[[str], None]) -> str:
    """Run deploy.sh when the build is approved and DATABASE_URL is set; record what happened."""
    layout = config.layout
    approval = json.loads(layout.evidence("approval").read_text(encoding="utf-8"))
    result_path = layout.build_dir / "deploy" / "applied.json"
    if not approval["approved"]:
        outcome = {"applied": False, "reason": "the build is not approved"}
    elif not os.environ.get("DATABASE_URL"):
        outcome = {"applied": False, "reason": "DATABASE_URL is not set; run deploy/deploy.sh yourself"}
    else:
        script = layout.build_dir / "deploy" / "deploy.sh"
        done = subprocess.run([str(script)], capture_output=True, text=True, timeout=APPLY_TIMEOUT_S, check=False)
        outcome = {"applied": done.returncode == 0, "exit_code": done.returncode, "output": done.stdout[-4000:]}
        if done.returncode != 0:
            outcome["reason"] = done.stderr.strip().splitlines()[-1] if done.stderr.strip() else "deploy.sh failed"
    write_json_atomic(result_path, outcome)
    say("applied" if outcome["applied"] else "not applied: " + outcome["reason"])
    return "deployed" if outcome["applied"] else "not deployed"
