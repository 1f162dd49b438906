"""Stage 7: PEC evidence: run_report.json, approval.json, pipeline_result.json, manifest.json, provenance."""

from __future__ import annotations

from doit import create_after
from doit.tools import config_changed

from factory.config import BuildConfig, build_flags, code_digest
from factory.pec.coverage import chain_inputs
from factory.pec.memo import evidence_verifies
from factory.stages.record import Deferred, run_stage

TASK_NAMES = ("pec",)


def creators(config: BuildConfig) -> dict:
    layout = config.layout

    # With --auto-deploy the deploy files are evidence too: list them once they exist.
    @create_after(executed="deploy" if config.auto_deploy else "gates")
    def task_pec() -> dict:
        signed = ("manifest.json.sig", "provenance.dsse.json") if config.sign_key else ()
        inputs, not_evidence = chain_inputs(layout.out, layout.pack0_relative)
        return {
            "doc": "PEC evidence: the report, the approval decision, the manifest of every artifact, provenance",
            "actions": [(run_stage, (config, "pec", Deferred("pec", "evidence")))],
            # Everything the evidence hashes (every Pack0 file, artifact and the usage ledger): any change,
            # new file or deletion re-derives it.
            "file_dep": [str(path) for path in inputs],
            "targets": [
                *(str(layout.evidence(name)) for name in ("run_report", "approval", "pipeline_result", "manifest")),
                *(str(layout.build_dir / name) for name in ("provenance.json", *signed)),
            ],
            "task_dep": ["gates", *(["deploy"] if config.auto_deploy else [])],
            "uptodate": [
                config_changed(
                    {
                        "flags": build_flags(config, config.max_heal or 0),
                        "sign_key": str(config.sign_key or ""),
                        "code": code_digest("pec", "stages/pec.py"),
                        # What cannot be evidence blocks approval: such a thing appearing or going re-decides.
                        "not_evidence": not_evidence,
                    }
                ),
                # An evidence file or signature changed by hand is a target doit does not check: verify it
                # (remembered by a sealed digest of all verify reads, factory/pec/memo.py).
                (evidence_verifies, (str(layout.out), str(config.sign_key or ""))),
            ],
        }

    return {"pec": task_pec}
