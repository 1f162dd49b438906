"""Evidence anyone can check offline: verify catches every changed byte, signatures, leak-check, export."""

from __future__ import annotations

import io
import os
import py_compile
import shutil
import socket
import sqlite3
import sys
import tarfile
from pathlib import Path
from py_compile import PycInvalidationMode

import pytest
from conftest import factory_env, read_json, run_cli

from factory.fsutil import dumps_json, sha256_file
from factory.pec.leaks import leak_check
from factory.pec.provenance import PAYLOAD_TYPE, envelope, pae
from factory.pec.signing import key_id, sign_bytes, sign_file
from factory.pec.verify import verify_output


@pytest.fixture
def output(crm_output: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "out"
    shutil.copytree(crm_output, copy, ignore=shutil.ignore_patterns(".lai-pack.doit.db*"))
    return copy


def covered_files(out: Path) -> list[Path]:
    """Every file the evidence speaks of: the manifest's artifacts, the evidence itself, the Pack0."""
    build = out / "build"
    listed = [build / item["path"] for item in read_json(build / "manifest.json")["artifacts"]]
    pack0 = out / read_json(build / "run_report.json")["pack0"]["dir"]
    return sorted({*listed, build / "manifest.json", *(p for p in pack0.rglob("*") if p.is_file())})


def test_an_intact_output_verifies(output: Path):
    assert verify_output(output) == []
    result = run_cli("verify", output)
    assert result.returncode == 0 and "verify: intact" in result.stdout


def test_flipping_any_byte_of_any_covered_file_is_caught(output: Path):
    files = covered_files(output)
    assert len(files) > 40
    checked = 0
    for path in files:
        original = path.read_bytes()
        for position in {0, len(original) // 2, len(original) - 1}:
            flipped = bytearray(original)
            flipped[position] ^= 0x01
            path.write_bytes(bytes(flipped))
            problems = verify_output(output)
            relative = path.relative_to(output).as_posix()
            assert any(relative in problem for problem in problems), (relative, position, problems)
            checked += 1
        path.write_bytes(original)
    assert verify_output(output) == []
    assert checked >= 3 * len(files) - len(files)  # a one-byte file has one position


def test_missing_and_extra_files_are_named(output: Path):
    (output / "build/src/crm_contacts/validation.py").unlink()
    (output / "build/src/crm_contacts/backdoor.py").write_text("print('hi')\n")
    result = run_cli("verify", output)
    assert result.returncode == 1
    assert "missing: build/src/crm_contacts/validation.py" in result.stdout
    assert "extra: build/src/crm_contacts/backdoor.py" in result.stdout


def test_signed_manifest_verifies_only_with_its_key(tmp_path: Path):
    keys, other = tmp_path / "keys", tmp_path / "other"
    assert run_cli("keygen", "--out", keys).returncode == 0
    assert run_cli("keygen", "--out", other).returncode == 0
    assert oct((keys / "lai-pack.key").stat().st_mode & 0o777) == "0o600"
    out = tmp_path / "out"
    built = run_cli(
        "auto-full", "--module", "tasks", "--out", out, "--waive", "docker-build", "--sign-key", keys / "lai-pack.key"
    )
    assert built.returncode == 0, built.stdout + built.stderr
    assert run_cli("verify", out, "--public-key", keys / "lai-pack.pub").returncode == 0
    wrong = run_cli("verify", out, "--public-key", other / "lai-pack.pub")
    assert wrong.returncode == 1 and "bad signature: manifest.json.sig" in wrong.stdout


FAKE = {
    "aws": ("AKIA" + "ZQ3DTE4QXJ5RZ7UK", "AWS Access Key"),
    "anthropic": ("sk-ant-api03-" + "Q9vR2mXw7LpT4nB8sK1dF6hJ3gZ5cV0yU", "Anthropic API Key"),
    "openai": ("sk-proj-" + "a1B2c3D4e5F6g7H8i9J0" + "T3BlbkFJ" + "k1L2m3N4o5P6q7R8s9T0", "OpenAI Token"),
    "github": ("ghp_" + "Zx9Yw8Vu7Ts6Rq5Po4Nm3Lk2Ji1Hg0FeDcBa9", "GitHub Token"),
    "entropy": ("kV9sQ2xL7pR4tN8wB3mZ6cF1hJ5gD0yU4eA7iO2u", "Base64 High Entropy String"),
}


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


def test_export_unpack_verify_round_trip_is_reproducible(output: Path, tmp_path: Path):
    first, second = tmp_path / "a.tar.gz", tmp_path / "b.tar.gz"
    assert run_cli("export-team-pack", output, "--to", first).returncode == 0
    assert run_cli("export-team-pack", output, "--to", second).returncode == 0
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


def test_two_builds_with_source_date_epoch_give_byte_identical_evidence(tmp_path: Path):
    # No engine for this test: a docker image id records when it was built, so it cannot be reproduced.
    env = factory_env(SOURCE_DATE_EPOCH="1700000000", DOCKER_HOST="unix:///nonexistent/docker.sock")
    for name in ("one", "two"):
        built = run_cli(
            "auto-full", "--module", "invoices", "--out", tmp_path / name, "--waive", "docker-build", env=env
        )
        assert built.returncode == 0, built.stdout + built.stderr
    for evidence in ("run_report", "approval", "manifest", "pipeline_result"):
        first = (tmp_path / "one/build" / f"{evidence}.json").read_bytes()
        assert first == (tmp_path / "two/build" / f"{evidence}.json").read_bytes(), evidence
    assert read_json(tmp_path / "one/build/approval.json")["decided_at"] == "2023-11-14T22:13:20Z"


# --- What verify used to skip: each case is planted and must be named (issue 13). ---


def _planted_bytecode(output: Path) -> Path:
    """An edited server.py compiled (unchecked-hash) where Python prefers it to the source."""
    package = output / "build/src/crm_contacts"
    edited = package.parent / "server_edited.py"
    edited.write_text((package / "server.py").read_text().replace('"ok"', '"owned"'))
    target = package / "__pycache__" / f"server.{sys.implementation.cache_tag}.pyc"
    mode = PycInvalidationMode.UNCHECKED_HASH
    py_compile.compile(str(edited), cfile=str(target), dfile=str(package / "server.py"), invalidation_mode=mode)
    edited.unlink()
    return target


def test_planted_bytecode_is_reported(output: Path):
    pyc = _planted_bytecode(output)
    result = run_cli("verify", output)
    assert result.returncode == 1
    relative = pyc.relative_to(output).as_posix()
    assert f"bytecode: {relative}" in result.stdout, result.stdout


@pytest.mark.parametrize(
    "kind",
    ["symlink", "linked folder", "fifo", "socket", "stray pyc", "temp file", "pytest cache", "ruff cache", "stages"],
)
def test_every_kind_of_planted_entry_is_reported(output: Path, kind: str, tmp_path: Path):
    build = output / "build"
    planted = {
        "symlink": build / "src/crm_contacts/link.py",
        "linked folder": build / "src/linked",
        "fifo": build / "tests/pipe",
        "socket": build / "src/sock",
        "stray pyc": build / "src/crm_contacts/server.pyc",
        "temp file": build / "src/crm_contacts/.server.py.abc.tmp",
        "pytest cache": build / ".pytest_cache/v/cache/nodeids",
        "ruff cache": build / ".ruff_cache/0.1/x",
        "stages": build / ".factory_logs/stages/extra.json",
    }[kind]
    planted.parent.mkdir(parents=True, exist_ok=True)
    if kind == "symlink":
        planted.symlink_to(build / "src/crm_contacts/server.py")
    elif kind == "linked folder":
        planted.symlink_to(build / "src/crm_contacts", target_is_directory=True)
    elif kind == "fifo":
        os.mkfifo(planted)
    elif kind == "socket":
        with socket.socket(socket.AF_UNIX) as server:
            server.bind(str(planted))
    else:
        planted.write_text("import os\n")
    problems = verify_output(output)
    relative = planted.relative_to(output).as_posix()
    assert any(relative in problem for problem in problems), problems


def test_a_build_folder_that_is_a_link_is_reported(output: Path, tmp_path: Path):
    shutil.move(output / "build", tmp_path / "elsewhere")
    (output / "build").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    assert "not a regular file: build (a symbolic link)" in verify_output(output)


def test_a_database_in_build_is_reported_wherever_it_is(output: Path):
    build = output / "build"
    places = [
        build / "data.sqlite3",
        build / "data.sqlite3-wal",
        build / ".factory_logs/stages/data.sqlite3",
        build / "src/crm_contacts/__pycache__/data.sqlite3",
        build / ".pytest_cache/data.sqlite3",
        build / "data.sqlite3.tmp",
    ]
    for path in places:
        path.parent.mkdir(parents=True, exist_ok=True)
        with sqlite3.connect(path) as db:
            db.execute("CREATE TABLE t (x TEXT)")
        db.close()
    problems = verify_output(output)
    for path in places:
        relative = path.relative_to(output).as_posix()
        assert any(relative in problem for problem in problems), (relative, problems)


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
