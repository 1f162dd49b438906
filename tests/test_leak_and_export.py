"""Evidence anyone can share: leak-check finds what must not leave the machine, export makes a team pack that
verifies (and a forged one does not). Split from test_verify.py so the two run side by side."""

from __future__ import annotations

import io
import shutil
import sqlite3
import tarfile
import uuid
from pathlib import Path

import pytest
from conftest import factory_env, read_json, run_cli

from factory.fsutil import dumps_json, sha256_file
from factory.pec.leaks import leak_check
from factory.pec.provenance import PAYLOAD_TYPE, envelope, pae
from factory.pec.signing import key_id, sign_bytes, sign_file

FAKE = {
    "aws": ("AKIA" + "ZQ3DTE4QXJ5RZ7UK", "AWS Access Key"),
    "anthropic": ("sk-ant-api03-" + "Q9vR2mXw7LpT4nB8sK1dF6hJ3gZ5cV0yU", "Anthropic API Key"),
    "openai": ("sk-proj-" + "a1B2c3D4e5F6g7H8i9J0" + "T3BlbkFJ" + "k1L2m3N4o5P6q7R8s9T0", "OpenAI Token"),
    "github": ("ghp_" + "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0FeDcBa9", "GitHub Token"),
    "entropy": ("kV9sQ2xL7pR4tN8wB3mZ6cF1hJ5gD0yU4eA7iO2u", "Base64 High Entropy String"),
}


@pytest.fixture
def output(crm_output: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "out"
    shutil.copytree(crm_output, copy, ignore=shutil.ignore_patterns(".lai-pack.doit.db*"))
    return copy


def test_leak_check_finds_planted_secrets_and_masks_them(output: Path):
    # One file per kind, so each finding is that kind's own (one leak-check run: each costs a whole scan).
    for kind, (secret, _rule) in FAKE.items():
        (output / f"build/src/crm_contacts/settings_{kind}.py").write_text(f'TOKEN = "{secret}"\n')
    result = run_cli("leak-check", output)
    assert result.returncode == 1
    for kind, (secret, rule) in FAKE.items():
        assert f"build/src/crm_contacts/settings_{kind}.py:1: {rule}" in result.stdout, kind
        assert secret not in result.stdout + result.stderr, kind


def test_leak_check_finds_keys_env_files_and_machine_paths(output: Path):
    (output / "build/.env").write_text("DEBUG=1\n")
    (output / "build/src/crm_contacts/private.pem").write_text(
        "-----BEGIN RSA " + "PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7\n-----END RSA PRIVATE KEY-----\n"
    )
    user_key = "sk-ant-user-" + "Hv5Kd8Lq2Wx9Zr4Tp7"
    (output / "build/tests/notes.txt").write_text(f"key {user_key}\nbuilt in {output.resolve()}/build\n")
    result = run_cli("leak-check", output, env=factory_env(ANTHROPIC_API_KEY=user_key))
    assert result.returncode == 1
    for expected in (
        "build/.env:1: .env file",
        "build/src/crm_contacts/private.pem:1: Private Key",
        "build/tests/notes.txt:1: value of $ANTHROPIC_API_KEY",
        "build/tests/notes.txt:2: absolute path of the build machine",
    ):
        assert expected in result.stdout, result.stdout
    assert user_key not in result.stdout


def test_a_clean_build_has_no_leaks(output: Path):
    assert leak_check(output) == []


def test_a_leak_check_reuses_earlier_scans_and_still_finds_a_secret_added_since(output: Path):
    # Unchanged files (by name and content) are judged once per machine; a changed one is scanned again.
    assert run_cli("leak-check", output).returncode == 0
    again = run_cli("leak-check", output)
    assert again.returncode == 0
    assert "0 file contents scanned now, the others' findings known" in again.stdout, again.stdout
    storage = output / "build/src/crm_contacts/storage.py"
    lines = storage.read_text().splitlines()
    # A content no earlier run of this test scanned (the machine's results outlive the test).
    storage.write_text("\n".join([*lines, f'TOKEN = "{FAKE["aws"][0]}"  # {uuid.uuid4()}', ""]))
    changed = run_cli("leak-check", output)
    assert changed.returncode == 1
    assert f"build/src/crm_contacts/storage.py:{len(lines) + 1}: AWS Access Key" in changed.stdout, changed.stdout
    assert "1 file contents scanned now, the others' findings known" in changed.stderr, changed.stderr
    assert FAKE["aws"][0] not in changed.stdout + changed.stderr


def test_export_unpack_verify_round_trip_is_reproducible(output: Path, tmp_path: Path):
    first, second = tmp_path / "a.tar.gz", tmp_path / "b.tar.gz"
    # Two new processes: forks of one test process would share a hash seed (tests/cli_zygote.py).
    assert run_cli("export-team-pack", output, "--to", first, fresh=True).returncode == 0
    assert run_cli("export-team-pack", output, "--to", second, fresh=True).returncode == 0
    assert first.read_bytes() == second.read_bytes()
    with tarfile.open(fileobj=io.BytesIO(first.read_bytes())) as archive:
        names = archive.getnames()
        archive.extractall(tmp_path / "unpacked", filter="data")
    assert "TEAM_PACK_MANIFEST.json" in names
    assert not any("_raw" in name or "/raw/" in name or ".doit.db" in name for name in names)
    assert run_cli("verify", tmp_path / "unpacked").returncode == 0
    (tmp_path / "unpacked/build/src/crm_contacts/server.py").write_text("tampered\n")
    tampered = run_cli("verify", tmp_path / "unpacked")
    assert tampered.returncode == 1 and "changed: build/src/crm_contacts/server.py" in tampered.stdout


def test_export_refuses_a_leaky_output(output: Path, tmp_path: Path):
    (output / "build/.env").write_text("SECRET=1\n")
    archive = tmp_path / "pack.tar.gz"
    result = run_cli("export-team-pack", output, "--to", archive)
    assert result.returncode == 1
    assert "nothing exported" in result.stderr and ".env" in result.stderr
    assert not archive.exists()


def test_leak_check_finds_a_key_inside_a_sqlite_database(output: Path):
    database = output / "build/data.sqlite3"
    secret = FAKE["aws"][0]
    user_key = "sk-ant-user-" + "Hv5Kd8Lq2Wx9Zr4Tp7"
    with sqlite3.connect(database) as db:
        db.execute("CREATE TABLE notes (body TEXT)")
        db.execute("INSERT INTO notes VALUES (?), (?)", (f"key={secret}", f"mine {user_key}"))
    db.close()
    assert b"\x00" in database.read_bytes()
    result = run_cli("leak-check", output, env=factory_env(ANTHROPIC_API_KEY=user_key))
    assert result.returncode == 1
    assert "build/data.sqlite3:" in result.stdout and "AWS Access Key" in result.stdout, result.stdout
    assert "value of $ANTHROPIC_API_KEY" in result.stdout
    assert secret not in result.stdout and user_key not in result.stdout


# --- Team packs: what is left out is signed too. ---


def _sign(output: Path, tmp_path: Path) -> Path:
    """Sign a copied output as --sign-key would have: manifest.json.sig and the provenance envelope."""
    keys = tmp_path / "keys"
    assert run_cli("keygen", "--out", keys).returncode == 0
    key = keys / "lai-pack.key"
    sign_file(output / "build/manifest.json", key)
    statement = (output / "build/provenance.json").read_bytes()
    signed = envelope(statement, sign_bytes(pae(PAYLOAD_TYPE, statement), key), key_id(key, private=True))
    (output / "build/provenance.dsse.json").write_text(dumps_json(signed))
    return keys / "lai-pack.pub"


def _forge_team_manifest(root: Path, excluded: list[str]) -> None:
    files = [
        {"path": path.relative_to(root).as_posix(), "sha256": sha256_file(path), "size": path.stat().st_size}
        for path in sorted(root.rglob("*"))
        if path.is_file() and path.name != "TEAM_PACK_MANIFEST.json" and not path.name.startswith(".lai-pack.")
    ]
    manifest = {"schema_version": 1, "module": "crm-contacts", "files": files, "excluded": sorted(excluded)}
    (root / "TEAM_PACK_MANIFEST.json").write_text(dumps_json(manifest))


def _unpacked_team_pack(output: Path, tmp_path: Path) -> Path:
    archive = tmp_path / "team.tar.gz"
    assert run_cli("export-team-pack", output, "--to", archive).returncode == 0
    with tarfile.open(archive) as tar:
        tar.extractall(tmp_path / "team", filter="data")
    return tmp_path / "team"


def test_a_forged_exclusion_in_a_team_pack_fails_with_and_without_the_key(output: Path, tmp_path: Path):
    public_key = _sign(output, tmp_path)
    team = _unpacked_team_pack(output, tmp_path)
    assert run_cli("verify", team, "--public-key", public_key).returncode == 0
    (team / "build/src/crm_contacts/validation.py").unlink()
    excluded = read_json(team / "TEAM_PACK_MANIFEST.json")["excluded"]
    _forge_team_manifest(team, [*excluded, "build/src/crm_contacts/validation.py"])
    for extra in ((), ("--public-key", public_key)):
        result = run_cli("verify", team, *extra)
        assert result.returncode == 1, result.stdout
        assert "build/src/crm_contacts/validation.py" in result.stdout


def test_a_team_manifest_dropped_into_a_normal_output_fails(output: Path, tmp_path: Path):
    public_key = _sign(output, tmp_path)
    (output / "build/src/crm_contacts/validation.py").unlink()
    _forge_team_manifest(output, ["build/src/crm_contacts/validation.py"])
    for extra in ((), ("--public-key", public_key)):
        result = run_cli("verify", output, *extra)
        assert result.returncode == 1, result.stdout
        assert "build/src/crm_contacts/validation.py" in result.stdout
