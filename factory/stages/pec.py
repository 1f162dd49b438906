"""Stage 7, PEC evidence: run_report -> approval (hash of the report) -> pipeline_result -> manifest."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from factory import reproducible
from factory.config import BuildConfig
from factory.fsutil import list_files, sha256_file, write_text_atomic
from factory.gates.result import GATE_ORDER
from factory.layout import Layout
from factory.llm.gateway import read_ledger, summarize
from factory.pack0.generate import INVENTORY_FILE
from factory.pack0.load import load_pack0
from factory.pec.evidence import (
    UNLISTED,
    UNLISTED_DIRS,
    build_approval,
    build_manifest,
    build_run_report,
    file_entry,
    render,
)
from factory.pec.signing import sign_file


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _outputs(build_dir: Path) -> list[dict]:
    return [file_entry(build_dir, path) for root in ("src", "tests") for path in list_files(build_dir / root)]


def _stages(layout: Layout) -> list[dict]:
    """Every stage's last record, in the order they finished (times fixed in reproducible mode)."""
    folder = layout.stage_record("x").parent
    records = [_read_json(path) for path in folder.glob("*.json")] if folder.is_dir() else []
    # Stages after the evidence (this one, the report, the deploy run) cannot be in it.
    records = [record for record in records if record["name"] not in ("pec", "report", "deploy_apply")]
    ordered = sorted(records, key=lambda record: (record["finished_ts"], record["name"]))
    return [
        {
            "name": record["name"],
            "status": record["status"],
            "summary": record["summary"],
            "duration_s": reproducible.duration(record["duration_s"]),
            "finished_at": reproducible.timestamp() if reproducible.enabled() else record["finished_at"],
        }
        for record in ordered
    ]


def evidence(config: BuildConfig, say: Callable[[str], None]) -> str:
    layout = config.layout
    pack0 = load_pack0(layout.pack0_dir)
    test_report = _read_json(layout.test_report)
    gates = [_read_json(layout.gate_report(name)) for name in GATE_ORDER]
    usage = summarize(read_ledger(layout.usage_ledger))
    pack0_files = [file_entry(layout.pack0_dir, path) for path in list_files(layout.pack0_dir)]
    run_report = build_run_report(
        module=pack0.module,
        pack0_version=pack0.meta.version,
        provider=config.provider,
        model="offline-engine" if config.provider == "offline" else config.model,
        usage=usage,
        pack0_files=pack0_files,
        pack0_dir=layout.pack0_dir.relative_to(layout.out).as_posix(),
        inventory_sha256=sha256_file(layout.pack0_dir / INVENTORY_FILE),
        outputs=_outputs(layout.build_dir),
        test_report=test_report,
        max_tries=test_report["max_tries"],
        gates=gates,
    )
    run_report_text = render("run_report", run_report)
    write_text_atomic(layout.evidence("run_report"), run_report_text)

    approval = build_approval(pack0.module, run_report_text, run_report, config.waivers)
    approval_text = render("approval", approval)
    write_text_atomic(layout.evidence("approval"), approval_text)

    pipeline_result = {
        "schema_version": 1,
        "module": pack0.module,
        "approved": approval["approved"],
        "exit_code": 0 if approval["approved"] else 1,
        "stages": _stages(layout),
        "tests": f"{'passed' if run_report['tests']['passed'] else 'FAILED'}: {test_report['stop_reason']}",
        "gates": approval["gates"],
        "heal_log": test_report["heal_log"],
        "usage": usage,
        "paths": {
            "pack0": layout.pack0_dir.relative_to(layout.out).as_posix(),
            "build": layout.build_dir.relative_to(layout.out).as_posix(),
        },
    }
    write_text_atomic(layout.evidence("pipeline_result"), render("pipeline_result", pipeline_result))

    artifacts = [
        file_entry(layout.build_dir, path)
        for path in list_files(layout.build_dir, exclude_dirs=UNLISTED_DIRS)
        if path.relative_to(layout.build_dir).as_posix() not in UNLISTED
    ]
    manifest = build_manifest(pack0.module, approval["approved"], approval_text, artifacts)
    write_text_atomic(layout.evidence("manifest"), render("manifest", manifest))
    if config.sign_key is not None:
        say(f"signed: {sign_file(layout.evidence('manifest'), config.sign_key).name}")
    verdict = "APPROVED" if approval["approved"] else "NOT APPROVED: " + "; ".join(approval["reasons"])
    say(verdict)
    return verdict
