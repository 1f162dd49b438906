"""build/provenance.json is an in-toto Statement v1 with the SLSA Provenance v1 predicate, and with a key a
DSSE envelope; checked here with securesystemslib, an implementation that is not the factory's own."""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import shutil
from pathlib import Path

import pytest
from conftest import factory_env, read_json, run_cli
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from securesystemslib.dsse import Envelope
from securesystemslib.exceptions import VerificationError
from securesystemslib.signer import SSlibKey

from factory.pec.verify import verify_output

EPOCH = "1700000000"


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(a signed offline build of tasks, made under SOURCE_DATE_EPOCH, and its public key)."""
    root = tmp_path_factory.mktemp("signed")
    assert run_cli("keygen", "--out", root / "keys").returncode == 0
    env = factory_env(SOURCE_DATE_EPOCH=EPOCH)
    args = ("auto-full", "--module", "tasks", "--out", root / "out", "--waive", "docker-build")
    built = run_cli(*args, "--sign-key", root / "keys/lai-pack.key", env=env)
    assert built.returncode == 0, built.stdout + built.stderr
    return root / "out", root / "keys/lai-pack.pub"


@pytest.fixture
def output(signed: tuple[Path, Path], tmp_path: Path) -> Path:
    copy = tmp_path / "out"
    shutil.copytree(signed[0], copy)
    return copy


def independent_key(public_pem: Path) -> SSlibKey:
    return SSlibKey.from_crypto(load_pem_public_key(public_pem.read_bytes()))


def subjects_match_files(out: Path, statement: dict) -> list[str]:
    """Names of the subjects whose file is not there or does not hash to the subject's sha256."""
    wrong = []
    for subject in statement["subject"]:
        path = out / subject["name"]
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != subject["digest"]["sha256"]:
            wrong.append(subject["name"])
    return wrong


def test_the_envelope_verifies_with_securesystemslib(signed: tuple[Path, Path]):
    out, public_key = signed
    document = read_json(out / "build/provenance.dsse.json")
    key = independent_key(public_key)
    assert document["signatures"][0]["keyid"] == key.keyid
    envelope = Envelope.from_dict(document)
    assert envelope.payload_type == "application/vnd.in-toto+json"
    assert set(envelope.verify([key], 1)) == {key.keyid}
    assert envelope.payload == (out / "build/provenance.json").read_bytes()


def test_every_subject_is_a_file_with_that_sha256(signed: tuple[Path, Path]):
    out, _ = signed
    statement = json.loads(Envelope.from_dict(read_json(out / "build/provenance.dsse.json")).payload)
    assert statement["_type"] == "https://in-toto.io/Statement/v1"
    assert statement["predicateType"] == "https://slsa.dev/provenance/v1"
    names = {subject["name"] for subject in statement["subject"]}
    listed = {f"build/{item['path']}" for item in read_json(out / "build/manifest.json")["artifacts"]}
    assert names == listed | {"build/manifest.json"}
    assert subjects_match_files(out, statement) == []


def test_one_changed_byte_of_a_subject_is_caught(output: Path):
    statement = read_json(output / "build/provenance.json")
    server = output / "build/src/tasks/server.py"
    data = bytearray(server.read_bytes())
    data[len(data) // 2] ^= 0x01
    server.write_bytes(bytes(data))
    assert subjects_match_files(output, statement) == ["build/src/tasks/server.py"]
    assert any("build/src/tasks/server.py" in problem for problem in verify_output(output))


def test_a_changed_statement_breaks_the_signature(output: Path, signed: tuple[Path, Path]):
    path = output / "build/provenance.dsse.json"
    document = read_json(path)
    payload = bytearray(base64.b64decode(document["payload"]))
    payload[payload.index(b"sha256") + 12] ^= 0x01
    document["payload"] = base64.b64encode(bytes(payload)).decode()
    with pytest.raises(VerificationError):
        Envelope.from_dict(copy.deepcopy(document)).verify([independent_key(signed[1])], 1)
    path.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")
    problems = verify_output(output, signed[1])
    assert "changed: build/provenance.dsse.json (its payload is not build/provenance.json)" in problems


def test_the_build_definition_names_module_flags_pack0_factory_and_model(signed: tuple[Path, Path]):
    out, _ = signed
    predicate = read_json(out / "build/provenance.json")["predicate"]
    definition, run = predicate["buildDefinition"], predicate["runDetails"]
    assert definition["externalParameters"]["module"] == "tasks"
    assert definition["externalParameters"]["flags"]["waive"] == ["docker-build"]
    assert definition["externalParameters"]["flags"]["signed"] is True
    dependencies = {item["name"]: item for item in definition["resolvedDependencies"]}
    pack0 = out / "pack0/pack0-tasks-0.0.1"
    files = [path for path in pack0.rglob("*") if path.is_file()]
    assert len(files) >= 8
    for path in files:
        digest = dependencies[path.relative_to(out).as_posix()]["digest"]["sha256"]
        assert digest == hashlib.sha256(path.read_bytes()).hexdigest()
    assert dependencies["lai-factory"]["uri"].startswith("pkg:pypi/lai-factory@")
    assert len(dependencies["lai-factory"]["digest"]["sha256"]) == 64
    assert len(dependencies["prompts"]["digest"]["sha256"]) == 64
    assert dependencies["model"]["annotations"] == {"provider": "offline", "model": "offline-engine"}
    assert run["builder"]["id"] == "urn:lai-factory:lai-pack"
    assert run["metadata"]["startedOn"] == run["metadata"]["finishedOn"] == "2023-11-14T22:13:20Z"


def test_verify_checks_the_provenance(output: Path, signed: tuple[Path, Path], tmp_path: Path):
    _, public_key = signed
    assert verify_output(output, public_key) == []
    assert run_cli("keygen", "--out", tmp_path / "other").returncode == 0
    wrong = verify_output(output, tmp_path / "other/lai-pack.pub")
    assert "bad signature: provenance.dsse.json is not signed with lai-pack.pub" in wrong
    statement = read_json(output / "build/provenance.json")
    statement["subject"][0]["digest"]["sha256"] = "0" * 64
    (output / "build/provenance.json").write_text(json.dumps(statement, indent=2, sort_keys=True) + "\n")
    problems = verify_output(output)
    assert any(p.startswith("changed: build/provenance.json (its subjects") for p in problems), problems
    (output / "build/provenance.json").unlink()
    assert "missing: build/provenance.json" in verify_output(output)


def test_a_rerun_without_the_key_leaves_no_stale_signature(output: Path):
    rerun = run_cli("auto-full", "--module", "tasks", "--out", output, "--waive", "docker-build")
    assert rerun.returncode == 0, rerun.stdout + rerun.stderr
    assert not (output / "build/provenance.dsse.json").exists()
    assert not (output / "build/manifest.json.sig").exists()
    assert verify_output(output) == []
