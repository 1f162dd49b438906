"""The evidence stage's remembered verify (factory/pec/memo.py): a no-op believes a sealed digest of all verify
reads, and nothing an attacker can do to the output (a byte, a run bit, a folder, a link, a Pack0, a key, the
memo itself) makes it skip a verify that would fail."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from conftest import run_cli

from factory.pec.memo import MEMO_FILE, MEMO_KIND, evidence_verifies, fingerprint
from factory.pec.verify import verify_output
from factory.trust import seal, sealed

PACKAGE = "build/src/crm_contacts"


@pytest.fixture
def output(crm_output: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A copy of the shared build without the factory's state, under this test's own machine key."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    copy = tmp_path / "out"
    shutil.copytree(crm_output, copy, ignore=shutil.ignore_patterns(".lai-pack.*"))
    return copy


def _flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))


def _edit_keeping_time(path: Path) -> None:
    status = path.stat()
    _flip(path)
    os.utime(path, ns=(status.st_atime_ns, status.st_mtime_ns))


def _hard_link(path: Path) -> None:
    outside = path.parents[3] / "outside.py"  # beside the output folder
    shutil.copyfile(path, outside)
    path.unlink()
    os.link(outside, path)


def _other_pack0(out: Path) -> None:
    (out / "pack0/pack0-other-0.0.1").mkdir()
    (out / "pack0/pack0-other-0.0.1/pack0.json").write_text("{}\n")


TAMPERINGS: dict[str, Callable[[Path], None]] = {
    "a byte of an evidence file": lambda out: _flip(out / "build/approval.json"),
    "a byte of the provenance": lambda out: _flip(out / "build/provenance.json"),
    "a byte of a generated file, its time set back": lambda out: _edit_keeping_time(out / PACKAGE / "server.py"),
    "a byte of a Pack0 file": lambda out: _flip(out / "pack0/pack0-crm-contacts-0.0.1/pack0.json"),
    "a run bit": lambda out: (out / PACKAGE / "server.py").chmod(0o755),
    "an empty folder": lambda out: (out / PACKAGE / "evil").mkdir(),
    "a hard link": lambda out: _hard_link(out / PACKAGE / "validation.py"),
    "a symbolic link": lambda out: (out / "build/src/elsewhere").symlink_to("/etc"),
    "a second Pack0 folder": _other_pack0,
    "a deleted artifact": lambda out: (out / PACKAGE / "server.py").unlink(),
    "a file whose name is not UTF-8": lambda out: (out / os.fsdecode(b"build/src/\xff.py")).write_text("x\n"),
}


def test_a_verified_output_is_remembered_under_this_machines_seal(output: Path):
    assert not (output / MEMO_FILE).exists()
    assert evidence_verifies(str(output)) is True
    memo = (output / MEMO_FILE).read_text(encoding="utf-8").strip()
    assert sealed(MEMO_KIND, fingerprint(output, ""), memo)


@pytest.mark.parametrize("tampering", TAMPERINGS)
def test_a_change_after_the_memo_was_written_is_verified_again(output: Path, tampering: str):
    assert evidence_verifies(str(output)) is True and (output / MEMO_FILE).is_file()
    TAMPERINGS[tampering](output)
    assert verify_output(output), "the tampering must be one verify catches"
    assert evidence_verifies(str(output)) is False
    assert not (output / MEMO_FILE).exists()


@pytest.mark.parametrize("forgery", ["the bare digest", "another machine's seal", "a seal of other bytes"])
def test_a_memo_this_machine_did_not_seal_is_not_believed(
    output: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, forgery: str
):
    _flip(output / "build/run_report.json")
    digest = fingerprint(output, "")  # anyone can compute it: it is the seal that only this machine can make
    if forgery == "the bare digest":
        memo = digest.hex()
    elif forgery == "another machine's seal":
        with monkeypatch.context() as other:
            other.setenv("XDG_CACHE_HOME", str(tmp_path / "other-machine"))
            memo = seal(MEMO_KIND, digest)
    else:
        memo = seal(MEMO_KIND, b"an output that verified")
    (output / MEMO_FILE).write_text(memo + "\n", encoding="utf-8")
    assert evidence_verifies(str(output)) is False


def test_a_memo_made_without_a_key_is_not_believed_with_one(output: Path, tmp_path: Path):
    assert run_cli("keygen", "--out", tmp_path / "keys").returncode == 0
    assert evidence_verifies(str(output)) is True
    # The build is not signed: with a key, verify wants its signature.
    assert evidence_verifies(str(output), str(tmp_path / "keys/lai-pack.key")) is False


def test_without_a_machine_key_nothing_is_remembered(output: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    blocked = tmp_path / "not-a-folder"
    blocked.write_text("a file where the key's folder would be\n")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    assert evidence_verifies(str(output)) is True
    assert not (output / MEMO_FILE).exists()


@pytest.mark.parametrize("planted", ["bytes that are not text", "a folder"])
def test_anything_in_the_memos_place_is_verified_past_not_a_crash(output: Path, planted: str):
    memo = output / MEMO_FILE
    if planted == "a folder":
        memo.mkdir()
    else:
        memo.write_bytes(b"\xff\xfe\x00 not a seal")
    assert evidence_verifies(str(output)) is True
    _flip(output / "build/approval.json")
    assert evidence_verifies(str(output)) is False


def test_text_that_is_not_ascii_is_not_a_seal_of_any_cache(output: Path):
    # Every sealed cache (doit's database, the preflight memo, the secret scan, test results) asks this.
    assert sealed(MEMO_KIND, b"data", "\ufffd" * 64) is False


@pytest.mark.parametrize("planted", [".lai-pack.doit.db", ".lai-pack.doit.db.mac"])
def test_a_folder_in_place_of_the_dependency_database_or_its_seal_is_removed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, planted: str
):
    from factory.trust import distrust_unsealed, seal_file

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    database = tmp_path / ".lai-pack.doit.db"
    database.write_bytes(b"doit's record")
    seal_file(database)
    target = tmp_path / planted
    target.unlink()
    (target / "inside").mkdir(parents=True)
    assert distrust_unsealed(database) is True
    assert not database.exists() and not (tmp_path / ".lai-pack.doit.db.mac").exists()
