"""`lai-pack verify OUT`: recompute every hash of the evidence chain and check every schema, offline.

Chain: Pack0 files -> run_report.json -> approval.json (sha256 of the report) -> manifest.json (every
artifact, and the sha256 of approval.json) [-> manifest.json.sig]. Any changed, missing or extra file is named.
"""

from __future__ import annotations

import json
from pathlib import Path

from factory.fsutil import dumps_json, list_files, sha256_file
from factory.pec.evidence import EVIDENCE_NAMES, UNLISTED, UNLISTED_DIRS, validate_evidence
from factory.pec.signing import signature_problem

TEAM_PACK_MANIFEST = "TEAM_PACK_MANIFEST.json"


def _load_evidence(build: Path, problems: list[str]) -> dict[str, dict]:
    documents = {}
    for name in EVIDENCE_NAMES:
        path = build / f"{name}.json"
        if not path.is_file():
            problems.append(f"missing: build/{name}.json")
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        try:
            document = json.loads(text)
            validate_evidence(name, document)
        except ValueError as error:
            problems.append(f"changed: build/{name}.json ({str(error).splitlines()[0][:160]})")
            continue
        if dumps_json(document) != text:
            problems.append(f"changed: build/{name}.json (not as the factory wrote it)")
            continue
        documents[name] = document
    return documents


def _check_files(
    root: Path, prefix: str, listed: list[dict], actual: list[str], excused: set[str], source: str
) -> list[str]:
    """Files against the list a document makes of them; each problem names the file and the document."""
    problems = []
    by_path = {item["path"]: item for item in listed}
    for path, item in sorted(by_path.items()):
        file = root / path
        if not file.is_file():
            if f"{prefix}{path}" not in excused:
                problems.append(f"missing: {prefix}{path} (listed in {source})")
        elif file.stat().st_size != item["size"] or sha256_file(file) != item["sha256"]:
            problems.append(f"changed: {prefix}{path} (does not match {source})")
    problems += [f"extra: {prefix}{path} (not in {source})" for path in sorted(set(actual) - set(by_path))]
    return problems


def _build_files(build: Path) -> list[str]:
    files = [path.relative_to(build).as_posix() for path in list_files(build, exclude_dirs=UNLISTED_DIRS)]
    return [path for path in files if path not in UNLISTED]


def verify_output(out: Path, public_key: Path | None = None, excused: set[str] = frozenset()) -> list[str]:
    """One line per problem; an empty list means the evidence chain is intact."""
    build = out / "build"
    problems: list[str] = []
    documents = _load_evidence(build, problems)
    manifest, approval, report = (documents.get(name) for name in ("manifest", "approval", "run_report"))
    if manifest:
        listed = manifest["artifacts"]
        problems += _check_files(build, "build/", listed, _build_files(build), excused, "build/manifest.json")
    if manifest and approval and sha256_file(build / "approval.json") != manifest["approval_sha256"]:
        problems.append("changed: build/approval.json (its sha256 is not the one in manifest.json)")
    if approval and report and sha256_file(build / "run_report.json") != approval["run_report_sha256"]:
        problems.append("changed: build/run_report.json (its sha256 is not the one in approval.json)")
    if report:
        pack0_dir = out / report["pack0"]["dir"]
        actual = [p.relative_to(pack0_dir).as_posix() for p in list_files(pack0_dir)] if pack0_dir.is_dir() else []
        prefix, listed = f"{report['pack0']['dir']}/", report["pack0"]["files"]
        problems += _check_files(pack0_dir, prefix, listed, actual, excused, "build/run_report.json")
        inventory = pack0_dir / "02_INVENTORY/manifest.json"
        if inventory.is_file() and sha256_file(inventory) != report["pack0"]["inventory_sha256"]:
            problems.append(f"changed: {report['pack0']['dir']}/02_INVENTORY/manifest.json (not the reported one)")
    modules = {document["module"] for document in documents.values()}
    if len(modules) > 1:
        problems.append(f"changed: the evidence files name different modules ({', '.join(sorted(modules))})")
    if public_key is not None and (build / "manifest.json").is_file():
        problem = signature_problem(build / "manifest.json", public_key)
        if problem:
            problems.append(problem)
    return sorted(set(problems))


def verify_team_pack(root: Path, public_key: Path | None = None) -> list[str]:
    """An unpacked team pack: its own manifest first, then the evidence chain (minus what export left out)."""
    pack_manifest = json.loads((root / TEAM_PACK_MANIFEST).read_text(encoding="utf-8"))
    files = [path.relative_to(root).as_posix() for path in list_files(root)]
    shipped = [f for f in files if f != TEAM_PACK_MANIFEST]
    problems = _check_files(root, "", pack_manifest["files"], shipped, set(), TEAM_PACK_MANIFEST)
    return sorted(set(problems + verify_output(root, public_key, excused=set(pack_manifest["excluded"]))))
