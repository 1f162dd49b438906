"""Building the evidence files from the stage reports. Pure builders; validation against the schemas."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from factory.fsutil import dumps_json, sha256_bytes
from factory.gates.result import GATE_ORDER
from factory.reproducible import timestamp

SCHEMAS_DIR = Path(__file__).parent / "schemas"
EVIDENCE_NAMES = ("run_report", "approval", "pipeline_result", "manifest")
APPROVER = "lai-factory (autonomous: approves only when tests pass and every gate passed or was waived)"


@cache
def _registry() -> Registry:
    common = json.loads((SCHEMAS_DIR / "common.schema.json").read_text())
    return Registry().with_resource(common["$id"], Resource.from_contents(common))


def validate_evidence(name: str, document: dict) -> None:
    """Raises ValueError naming the first field that breaks the evidence schema."""
    schema = json.loads((SCHEMAS_DIR / f"{name}.schema.json").read_text())
    errors = sorted(Draft202012Validator(schema, registry=_registry()).iter_errors(document), key=lambda e: e.path)
    if errors:
        where = ".".join(str(part) for part in errors[0].absolute_path) or "(top level)"
        raise ValueError(f"{name}.json would break its schema at {where}: {errors[0].message}")


def load_written_evidence(path: Path, name: str, problems: list[str], relative: str) -> dict | None:
    """An evidence document as the factory writes it (valid against its schema, canonical bytes), or None with
    the problem appended."""
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        document = json.loads(text)
        validate_evidence(name, document)
    except ValueError as error:
        problems.append(f"changed: {relative} ({str(error).splitlines()[0][:160]})")
        return None
    if dumps_json(document) != text:
        problems.append(f"changed: {relative} (not as the factory wrote it)")
        return None
    return document


def file_entry(root: Path, path: Path) -> dict:
    data = path.read_bytes()
    return {"path": path.relative_to(root).as_posix(), "sha256": sha256_bytes(data), "size": len(data)}


def decide_approval(tests_passed: bool, gates: list[dict], waivers: tuple[str, ...]) -> tuple[bool, dict, list, list]:
    """(approved, gate verdicts, waivers used, reasons). Fail-closed: a missing gate blocks approval."""
    by_name = {gate["name"]: gate for gate in gates}
    verdicts, used, reasons = {}, [], []
    if not tests_passed:
        reasons.append("tests did not pass")
    for name in GATE_ORDER:
        gate = by_name.get(name)
        status = gate["status"] if gate else "unavailable"
        if status != "passed" and name in waivers:
            verdicts[name] = "waived"
            used.append(
                {"gate": name, "status_waived": status, "reason": gate["reason"] if gate else "gate did not run"}
            )
            continue
        verdicts[name] = status
        if status != "passed":
            reasons.append(f"gate {name} {status}: {gate['reason'] if gate else 'gate did not run'}")
    return not reasons, verdicts, used, reasons


def build_run_report(
    *,
    module: str,
    pack0_version: str,
    provider: str,
    model: str,
    pack0_files: list[dict],
    pack0_dir: str,
    inventory_sha256: str,
    outputs: list[dict],
    test_report: dict,
    max_tries: int,
    gates: list[dict],
    usage: dict,
) -> dict:
    final = test_report["final_run"]
    return {
        "schema_version": 1,
        "module": module,
        "pack0_version": pack0_version,
        "provider": provider,
        "model": model,
        "generated_at": timestamp(),
        "pack0": {"dir": pack0_dir, "inventory_sha256": inventory_sha256, "files": pack0_files},
        "outputs": outputs,
        "tests": {
            "passed": final["passed"],
            "counts": final["counts"],
            "by_kind": final["by_kind"],
            "failures": final["failures"],
            "duration_s": final["duration_s"],
            "sandbox": final["sandbox"],
            "stores": final.get("stores", ["sqlite"]),
            "stores_skipped": final.get("stores_skipped", {}),
            # Which slices' results this build ran, and which it reused (from its own last run or the shared
            # cache; the test report has each one's key and inputs): the counts above cover both.
            "slices": [
                {"name": each["name"], "reused_from": each.get("reused_from")} for each in final.get("slices", [])
            ],
        },
        "heal": {
            "max_tries": max_tries,
            "tries": len(test_report["heal_log"]),
            "stop_reason": test_report["stop_reason"],
            "heal_log": test_report["heal_log"],
        },
        "gates": gates,
        "usage": usage,
    }


def build_approval(
    module: str, run_report_text: str, run_report: dict, waivers: tuple[str, ...], blocked: Sequence[str] = ()
) -> dict:
    """blocked: reasons no waiver lifts (a stage failed and the run stopped early; something under build/ or in
    the Pack0 folder that cannot be evidence)."""
    tests_passed = run_report["tests"]["passed"]
    approved, verdicts, used, reasons = decide_approval(tests_passed, run_report["gates"], waivers)
    approved, reasons = approved and not blocked, [*blocked, *reasons]
    return {
        "schema_version": 1,
        "module": module,
        "approved": approved,
        "autonomous": True,
        "approver": APPROVER,
        "decided_at": timestamp(),
        "tests_passed": tests_passed,
        "gates": verdicts,
        "waivers": used,
        "reasons": reasons,
        "run_report_sha256": sha256_bytes(run_report_text.encode("utf-8")),
    }


def build_manifest(module: str, approved: bool, approval_text: str, artifacts: list[dict]) -> dict:
    return {
        "schema_version": 1,
        "module": module,
        "autonomous": True,
        "approved": approved,
        "approval_sha256": sha256_bytes(approval_text.encode("utf-8")),
        "artifacts": artifacts,
    }


def render(name: str, document: dict) -> str:
    validate_evidence(name, document)
    return dumps_json(document)
