"""`lai-pack verify OUT`: recompute every hash of the evidence chain and check every schema, offline.

Chain: Pack0 files -> run_report.json -> approval.json (sha256 of the report) -> manifest.json (every
artifact, and the sha256 of approval.json) -> provenance.json (in-toto subjects: manifest.json and every
artifact) [-> manifest.json.sig, provenance.dsse.json]. Every entry under build/ and the Pack0 is covered or
reported: changed, missing, extra, bytecode, or not a regular file. coverage.OUTSIDE_CHAIN names the few
build files outside the chain.
"""

from __future__ import annotations

import re
from pathlib import Path

from factory.errors import one_line
from factory.fsutil import sha256_file
from factory.pec.coverage import (
    FACTORY_STATE,
    RUN_BITS,
    STAGES_AFTER_MANIFEST,
    build_walk,
    in_chain,
    pack0_walk,
    stage_record,
    walk,
)
from factory.pec.evidence import EVIDENCE_NAMES, load_written_evidence
from factory.pec.provenance import provenance_problems
from factory.pec.signing import signature_problem

TEAM_PACK_MANIFEST = "TEAM_PACK_MANIFEST.json"
PACK0_DIR = re.compile(r"^pack0/[A-Za-z0-9][A-Za-z0-9._-]*$")


def left_out_of_team_pack(relative: str) -> bool:
    """What export leaves out (relative to the output folder): raw agent prompts and replies, which can
    quote anything the model was sent, and the factory's own state. Nothing else may be missing."""
    name = relative.rsplit("/", 1)[-1]
    in_logs = "/.factory_logs/" in f"/{relative}"
    raw = "/.factory_logs/raw/" in f"/{relative}" or name.endswith("_raw.txt") or "_raw." in name
    return name.startswith(FACTORY_STATE) or (in_logs and raw)


def _load(path: Path, name: str, problems: list[str], relative: str) -> dict | None:
    if not path.is_file():
        problems.append(f"missing: {relative}")
        return None
    return load_written_evidence(path, name, problems, relative)


def _load_evidence(build: Path, problems: list[str]) -> dict[str, dict]:
    documents = {}
    for name in EVIDENCE_NAMES:
        document = _load(build / f"{name}.json", name, problems, f"build/{name}.json")
        if document is not None:
            documents[name] = document
    return documents


def _check_files(
    root: Path, prefix: str, listed: list[dict], actual: list[str], excused: set[str], source: str
) -> list[str]:
    """Files against the list a document makes of them; each problem names the file and the document."""
    problems = []
    by_path = {item["path"]: item for item in listed}
    present = set(actual)
    for path, item in sorted(by_path.items()):
        file = root / path
        if path not in present:
            if f"{prefix}{path}" not in excused:
                problems.append(f"missing: {prefix}{path} (listed in {source})")
        elif file.stat().st_size != item["size"] or sha256_file(file) != item["sha256"]:
            problems.append(f"changed: {prefix}{path} (does not match {source})")
    problems += [f"extra: {prefix}{path} (not in {source})" for path in sorted(present - set(by_path))]
    return problems


def _check_pack0(out: Path, report: dict, excused: set[str]) -> list[str]:
    relative = report["pack0"]["dir"]
    if not PACK0_DIR.match(relative):
        return [f"changed: build/run_report.json (its Pack0 folder {relative!r} is not under pack0/)"]
    pack0_dir = out / relative
    tree = pack0_walk(out, relative)
    problems = tree.problems + _check_files(
        pack0_dir, f"{relative}/", report["pack0"]["files"], tree.files, excused, "build/run_report.json"
    )
    inventory = pack0_dir / "02_INVENTORY/manifest.json"
    if inventory.is_file() and sha256_file(inventory) != report["pack0"]["inventory_sha256"]:
        problems.append(f"changed: {relative}/02_INVENTORY/manifest.json (not the reported one)")
    return problems


def verify_output(out: Path, public_key: Path | None = None, excused: set[str] = frozenset()) -> list[str]:
    """One line per problem; an empty list means the evidence chain is intact and covers everything."""
    build = out / "build"
    problems: list[str] = []
    documents = _load_evidence(build, problems)
    manifest, approval, report = (documents.get(name) for name in ("manifest", "approval", "run_report"))
    tree = build_walk(build)
    problems += tree.problems
    if manifest:
        actual = [path for path in tree.files if in_chain(path)]
        problems += _check_files(build, "build/", manifest["artifacts"], actual, excused, "build/manifest.json")
        problems += provenance_problems(build, manifest, report, public_key)
    if "pipeline_result" in documents:
        stages = {stage["name"] for stage in documents["pipeline_result"]["stages"]} | set(STAGES_AFTER_MANIFEST)
        problems += [
            f"extra: build/{path} (not the record of a stage build/pipeline_result.json names)"
            for path in tree.files
            if stage_record(path) not in (None, *stages)
        ]
    if manifest and approval and sha256_file(build / "approval.json") != manifest["approval_sha256"]:
        problems.append("changed: build/approval.json (its sha256 is not the one in manifest.json)")
    if approval and report and sha256_file(build / "run_report.json") != approval["run_report_sha256"]:
        problems.append("changed: build/run_report.json (its sha256 is not the one in approval.json)")
    if report:
        problems += _check_pack0(out, report, excused)
    modules = {document["module"] for document in documents.values()}
    if len(modules) > 1:
        problems.append(f"changed: the evidence files name different modules ({', '.join(sorted(modules))})")
    if public_key is not None and (build / "manifest.json").is_file():
        problem = signature_problem(build / "manifest.json", public_key)
        if problem:
            problems.append(problem)
    # Printable, one line each: a path from the disk or an evidence file may hold any character.
    return sorted({one_line(problem) for problem in problems})


def team_pack_exclusions(out: Path) -> list[str]:
    """What export leaves out of this output: the files the evidence lists that the rule leaves out."""
    problems: list[str] = []
    documents = _load_evidence(out / "build", problems)
    covered = [f"build/{item['path']}" for item in documents.get("manifest", {}).get("artifacts", [])]
    if "run_report" in documents:
        pack0 = documents["run_report"]["pack0"]
        covered += [f"{pack0['dir']}/{item['path']}" for item in pack0["files"]]
    return sorted(path for path in covered if left_out_of_team_pack(path))


def verify_team_pack(root: Path, public_key: Path | None = None) -> list[str]:
    """An unpacked team pack: its own manifest, then the evidence chain. Only what the signed evidence lists
    and the factory's rule leaves out may be missing, whatever TEAM_PACK_MANIFEST.json says."""
    problems: list[str] = []
    pack_manifest = _load(root / TEAM_PACK_MANIFEST, "team_pack", problems, TEAM_PACK_MANIFEST)
    allowed = team_pack_exclusions(root)
    if pack_manifest is not None:
        tree = walk(root, "", frozenset(f"build/{path}" for path in RUN_BITS))
        shipped = [path for path in tree.files if path != TEAM_PACK_MANIFEST]
        problems += tree.problems + _check_files(root, "", pack_manifest["files"], shipped, set(), TEAM_PACK_MANIFEST)
        forged = sorted(set(pack_manifest["excluded"]) - set(allowed))
        if forged:
            problems.append(
                f"changed: {TEAM_PACK_MANIFEST} (export never leaves out {', '.join(forged[:5])}: "
                "only raw agent logs the manifest lists may be missing)"
            )
    return sorted({one_line(problem) for problem in problems} | set(verify_output(root, public_key, set(allowed))))
