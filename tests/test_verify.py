"""Evidence anyone can check offline: verify catches every changed byte, planted entry and bad signature."""

from __future__ import annotations

import os
import py_compile
import shutil
import socket
import sqlite3
import sys
from pathlib import Path
from py_compile import PycInvalidationMode

import pytest
from conftest import factory_env, read_json, run_cli, seed_fuzz_results

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


def test_two_builds_with_source_date_epoch_give_byte_identical_evidence(tmp_path: Path):
    # No engine for this test: a docker image id records when it was built, so it cannot be reproduced.
    # The same cache state for both (which results are reused is in the evidence): one seeded cache, copied.
    (tmp_path / "cache").mkdir()
    seeded = seed_fuzz_results(tmp_path / "cache", with_results=True)
    for name in ("one", "two"):
        shutil.copytree(seeded, tmp_path / f"cache-{name}")
    for name in ("one", "two"):
        env = factory_env(
            SOURCE_DATE_EPOCH="1700000000",
            DOCKER_HOST="unix:///nonexistent/docker.sock",
            LAI_CACHE_DIR=str(tmp_path / f"cache-{name}"),
        )
        # New processes: forks of one test process would share a hash seed (tests/cli_zygote.py).
        args = ("auto-full", "--module", "invoices", "--out", tmp_path / name, "--waive", "docker-build")
        built = run_cli(*args, env=env, fresh=True)
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
