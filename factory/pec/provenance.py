"""build/provenance.json: an in-toto Statement v1 with the SLSA Provenance v1 predicate, and with a signing
key build/provenance.dsse.json, the same statement in a DSSE envelope signed with the manifest's Ed25519 key.

Subjects are manifest.json and every artifact it lists (names relative to the output folder), so any tool
that speaks in-toto can check the build's files without lai-pack.
"""

from __future__ import annotations

import base64
import hashlib
from pathlib import Path

from factory import __version__
from factory.fsutil import sha256_file
from factory.pec.evidence import load_written_evidence
from factory.pec.signing import signs

STATEMENT_TYPE = "https://in-toto.io/Statement/v1"
PREDICATE_TYPE = "https://slsa.dev/provenance/v1"
PAYLOAD_TYPE = "application/vnd.in-toto+json"
BUILD_TYPE = "urn:lai-factory:lai-pack:pipeline:v1"
BUILDER_ID = "urn:lai-factory:lai-pack"
FACTORY_DIR = Path(__file__).resolve().parent.parent
PROMPTS = FACTORY_DIR / "agents" / "prompts.py"


def tree_sha256(root: Path) -> str:
    """sha256 over every source file under root (path and bytes, in order): the factory's code digest."""
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in (".pyc", ".pyo"):
            digest.update(path.relative_to(root).as_posix().encode() + b"\0")
            digest.update(sha256_file(path).encode())
    return digest.hexdigest()


def expected_subjects(manifest: dict, manifest_sha256: str) -> list[dict]:
    listed = [("build/manifest.json", manifest_sha256)]
    listed += [(f"build/{item['path']}", item["sha256"]) for item in manifest["artifacts"]]
    return [{"name": name, "digest": {"sha256": sha}} for name, sha in sorted(listed)]


def pack0_dependencies(report: dict) -> list[dict]:
    base = report["pack0"]["dir"]
    return [
        {"name": f"{base}/{item['path']}", "digest": {"sha256": item["sha256"]}} for item in report["pack0"]["files"]
    ]


def build_statement(
    *, manifest: dict, manifest_sha256: str, report: dict, approval: dict, flags: dict, started: str, finished: str
) -> dict:
    """The statement, from the evidence documents and the build's flags (no absolute path, no secret)."""
    factory = {
        "name": "lai-factory",
        "uri": f"pkg:pypi/lai-factory@{__version__}",
        "digest": {"sha256": tree_sha256(FACTORY_DIR)},
    }
    prompts = {
        "name": "prompts",
        "uri": "lai-factory:factory/agents/prompts.py",
        "digest": {"sha256": sha256_file(PROMPTS)},
    }
    model = {
        "name": "model",
        "uri": f"{report['provider']}:{report['model']}",
        "annotations": {"provider": report["provider"], "model": report["model"]},
    }
    return {
        "_type": STATEMENT_TYPE,
        "subject": expected_subjects(manifest, manifest_sha256),
        "predicateType": PREDICATE_TYPE,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": {"module": report["module"], "pack0": report["pack0"]["dir"], "flags": flags},
                "internalParameters": {"sandbox": report["tests"]["sandbox"], "pack0_version": report["pack0_version"]},
                "resolvedDependencies": [factory, prompts, model, *pack0_dependencies(report)],
            },
            "runDetails": {
                "builder": {"id": BUILDER_ID, "version": {"lai-factory": __version__}},
                "metadata": {
                    "invocationId": f"urn:sha256:{approval['run_report_sha256']}",
                    "startedOn": started,
                    "finishedOn": finished,
                },
                "byproducts": [
                    {
                        "name": "approval",
                        "digest": {"sha256": manifest["approval_sha256"]},
                        "annotations": {"approved": approval["approved"], "reasons": approval["reasons"]},
                    }
                ],
            },
        },
    }


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE's pre-authentication encoding: what the signature signs."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def envelope(payload: bytes, signature: bytes, key_id: str) -> dict:
    return {
        "payload": base64.b64encode(payload).decode(),
        "payloadType": PAYLOAD_TYPE,
        "signatures": [{"keyid": key_id, "sig": base64.b64encode(signature).decode()}],
    }


def envelope_payload(document: dict) -> bytes | None:
    """The envelope's payload bytes, or None when it is not base64."""
    try:
        return base64.b64decode(document["payload"], validate=True)
    except ValueError:
        return None


def _load_checked(path: Path, name: str, problems: list[str]) -> dict | None:
    return load_written_evidence(path, name, problems, f"build/{path.name}")


def provenance_problems(build: Path, manifest: dict, report: dict | None, public_key: Path | None) -> list[str]:
    """provenance.json against manifest.json, its artifacts and the Pack0; the DSSE envelope against it."""
    path = build / "provenance.json"
    if not path.is_file():
        return ["missing: build/provenance.json"]
    problems: list[str] = []
    statement = _load_checked(path, "provenance", problems)
    if statement is None:
        return problems
    if statement["subject"] != expected_subjects(manifest, sha256_file(build / "manifest.json")):
        problems.append("changed: build/provenance.json (its subjects are not manifest.json and what it lists)")
    definition = statement["predicate"]["buildDefinition"]
    if report is not None:
        prefix = report["pack0"]["dir"] + "/"
        pack0 = [item for item in definition["resolvedDependencies"] if item["name"].startswith(prefix)]
        if pack0 != pack0_dependencies(report) or definition["externalParameters"]["module"] != report["module"]:
            problems.append("changed: build/provenance.json (its module or Pack0 files are not run_report.json's)")
    return problems + _envelope_problems(build, path.read_bytes(), public_key)


def _envelope_problems(build: Path, statement: bytes, public_key: Path | None) -> list[str]:
    path = build / "provenance.dsse.json"
    if not path.is_file():
        return ["missing: build/provenance.dsse.json (the provenance is not signed)"] if public_key else []
    problems: list[str] = []
    document = _load_checked(path, "provenance_envelope", problems)
    if document is None:
        return problems
    payload = envelope_payload(document)
    if payload != statement:
        return ["changed: build/provenance.dsse.json (its payload is not build/provenance.json)"]
    if public_key is None:
        return []
    signed = pae(document["payloadType"], payload)
    for signature in document["signatures"]:
        try:
            if signs(base64.b64decode(signature["sig"], validate=True), signed, public_key):
                return []
        except ValueError:
            continue
    return [f"bad signature: provenance.dsse.json is not signed with {public_key.name}"]
