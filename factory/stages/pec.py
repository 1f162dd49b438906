"""Stage 7, PEC evidence: run_report -> approval (hash of the report) -> pipeline_result -> manifest ->
provenance (in-toto/SLSA; with a key, manifest.json.sig and a DSSE envelope)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from factory import reproducible
from factory.config import BuildConfig, build_flags
from factory.fsutil import list_files, not_utf8, sha256_bytes, sha256_file, write_text_atomic
from factory.gates.result import GATE_ORDER
from factory.layout import Layout
from factory.llm.gateway import read_ledger, summarize
from factory.pack0.generate import INVENTORY_FILE
from factory.pack0.load import load_pack0
from factory.pec import provenance
from factory.pec.coverage import artifacts, build_walk, pack0_walk
from factory.pec.evidence import build_approval, build_manifest, build_run_report, file_entry, render
from factory.pec.ownership import foreign
from factory.pec.pinning import remember_evidence
from factory.pec.signing import SIGNATURE_SUFFIX, key_id, public_pem, sign_bytes, sign_file


def _read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def _entries(root: Path, folder: Path) -> list[dict]:
    """The entry of each file under folder, by its path in root; a name that is not UTF-8 has none (JSON cannot
    spell it; walk() reports it, and the approval names it)."""
    paths = (path for path in list_files(folder) if not not_utf8(path.relative_to(root).as_posix()))
    return [file_entry(root, path) for path in paths]


def _outputs(build_dir: Path) -> list[dict]:
    return [entry for root in ("src", "tests") for entry in _entries(build_dir, build_dir / root)]


def _records(layout: Layout) -> list[dict]:
    """Every stage's last record, in the order they finished."""
    folder = layout.stage_record("x").parent
    records = [_read_json(path) for path in folder.glob("*.json")] if folder.is_dir() else []
    # Stages after the evidence (this one, the report, the deploy run) cannot be in it.
    records = [record for record in records if record["name"] not in ("pec", "report", "deploy_apply")]
    return sorted(records, key=lambda record: (record["finished_ts"], record["name"]))


def _started(records: list[dict]) -> str:
    """When the stages in the evidence started (now, or SOURCE_DATE_EPOCH, when none ran)."""
    if reproducible.enabled() or not records:
        return reproducible.timestamp()
    first = min(record["finished_ts"] - record["duration_s"] for record in records)
    return datetime.fromtimestamp(first, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _stages(records: list[dict]) -> list[dict]:
    """The stage records as pipeline_result shows them (times fixed in reproducible mode)."""
    return [
        {
            "name": record["name"],
            "status": record["status"],
            "summary": record["summary"],
            "duration_s": reproducible.duration(record["duration_s"]),
            "finished_at": reproducible.timestamp() if reproducible.enabled() else record["finished_at"],
        }
        for record in records
    ]


def _sign(config: BuildConfig, statement: bytes, say: Callable[[str], None]) -> None:
    """With a key: manifest.json.sig and the DSSE envelope; without: no signature left from an earlier run."""
    build = config.layout.build_dir
    signature, envelope = build / f"manifest.json{SIGNATURE_SUFFIX}", build / "provenance.dsse.json"
    if config.sign_key is None:
        signature.unlink(missing_ok=True)
        envelope.unlink(missing_ok=True)
        return
    sign_file(config.layout.evidence("manifest"), config.sign_key)
    signed = sign_bytes(provenance.pae(provenance.PAYLOAD_TYPE, statement), config.sign_key)
    document = provenance.envelope(statement, signed, key_id(config.sign_key, private=True))
    write_text_atomic(envelope, render("provenance_envelope", document))
    say(f"signed: {signature.name}, {envelope.name}")


def evidence(config: BuildConfig, say: Callable[[str], None]) -> str:
    layout = config.layout
    gates = [_read_json(layout.gate_report(name)) for name in GATE_ORDER]
    return _write_evidence(config, say, _read_json(layout.test_report), gates)


def _no_tests(config: BuildConfig, reason: str) -> dict:
    """The test report of a run that stopped before its tests finished: nothing ran, nothing passed."""
    counts = {"total": 0, "passed": 0, "failed": 0, "error": 0, "skipped": 0}
    final = {"passed": False, "counts": counts, "by_kind": {}, "failures": [], "duration_s": 0}
    sandbox = config.sandbox if config.sandbox in ("docker", "bwrap") else "none"
    return {"final_run": {**final, "sandbox": sandbox}, "heal_log": [], "stop_reason": reason, "max_tries": 0}


def failure_evidence(config: BuildConfig, stage: str, error: str, say: Callable[[str], None]) -> str:
    """NOT APPROVED evidence for a run stopped by a failed stage, describing the output as that run leaves it:
    the previous run's evidence would describe files that have changed since. Reports the failed stage made,
    or a later one, are not this run's and are left out (tests not passed, gates did not run)."""
    layout = config.layout
    reason = f"stage {stage} failed: {error}"
    done = [] if not stage.startswith("gate_") else GATE_ORDER[: GATE_ORDER.index(stage.removeprefix("gate_"))]
    gates = [_read_json(layout.gate_report(name)) for name in done]
    test_report = _read_json(layout.test_report) if stage.startswith("gate_") else _no_tests(config, reason)
    return _write_evidence(config, say, test_report, gates, failed=reason)


def _write_evidence(
    config: BuildConfig, say: Callable[[str], None], test_report: dict, gates: list[dict], failed: str = ""
) -> str:
    layout = config.layout
    pack0 = load_pack0(layout.pack0_dir)
    usage = summarize(read_ledger(layout.usage_ledger))
    # The Pack0's files as verify walks them (bytecode, links and names JSON cannot spell are not listed: they
    # block approval below).
    pack0_tree = pack0_walk(layout.out, layout.pack0_relative)
    pack0_files = [file_entry(layout.pack0_dir, layout.pack0_dir / path) for path in pack0_tree.files]
    # What no factory step wrote is never hashed into the evidence (the run is not approved while it is there).
    planted = set(foreign(layout.build_dir, build_walk(layout.build_dir).files))
    run_report = build_run_report(
        module=pack0.module,
        pack0_version=pack0.meta.version,
        provider=config.provider,
        model="offline-engine" if config.provider == "offline" else config.model,
        usage=usage,
        pack0_files=pack0_files,
        pack0_dir=layout.pack0_dir.relative_to(layout.out).as_posix(),
        inventory_sha256=sha256_file(layout.pack0_dir / INVENTORY_FILE),
        outputs=[entry for entry in _outputs(layout.build_dir) if entry["path"] not in planted],
        test_report=test_report,
        max_tries=test_report["max_tries"],
        gates=gates,
    )
    run_report_text = render("run_report", run_report)
    write_text_atomic(layout.evidence("run_report"), run_report_text)

    # No waiver lifts these, under build/ or in the Pack0 folder: the evidence cannot vouch for what runs or
    # what it was built from (bytecode Python may run instead of its source, a link, a second name, a run bit,
    # an empty folder, a name JSON cannot spell), and verify would reject the output.
    problems = build_walk(layout.build_dir).problems + pack0_tree.problems
    blocked = [failed] if failed else []
    blocked += [f"not evidence: {problem}" for problem in problems]
    blocked += [f"not the factory's: build/{path} (no factory step wrote it; remove it)" for path in sorted(planted)]
    approval = build_approval(pack0.module, run_report_text, run_report, config.waivers, blocked)
    approval_text = render("approval", approval)
    write_text_atomic(layout.evidence("approval"), approval_text)

    records = _records(layout)
    pipeline_result = {
        "schema_version": 1,
        "module": pack0.module,
        "approved": approval["approved"],
        "exit_code": 0 if approval["approved"] else 1,
        "stages": _stages(records),
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

    for problem in problems:
        say(f"not evidence, verify will report it: {problem}")
    kept = [path for path in artifacts(layout.build_dir) if path not in planted]
    listed = [file_entry(layout.build_dir, layout.build_dir / path) for path in kept]
    manifest = build_manifest(pack0.module, approval["approved"], approval_text, listed)
    manifest_text = render("manifest", manifest)
    write_text_atomic(layout.evidence("manifest"), manifest_text)
    statement = provenance.build_statement(
        manifest=manifest,
        manifest_sha256=sha256_bytes(manifest_text.encode("utf-8")),
        report=run_report,
        approval=approval,
        flags=build_flags(config, test_report["max_tries"]),
        started=_started(records),
        finished=reproducible.timestamp(),
    )
    statement_text = render("provenance", statement)
    write_text_atomic(layout.build_dir / "provenance.json", statement_text)
    _sign(config, statement_text.encode("utf-8"), say)
    # This machine remembers the evidence it wrote here (an older output put back is stale) and the key it first
    # signed it with (verify checks with that key when none is given: a stripped or foreign signature fails).
    pem = public_pem(config.sign_key) if config.sign_key is not None else None
    remember_evidence(layout.out, sha256_bytes(manifest_text.encode("utf-8")), run_report["generated_at"], pem)
    verdict = "APPROVED" if approval["approved"] else "NOT APPROVED: " + "; ".join(approval["reasons"])
    say(verdict)
    return verdict
