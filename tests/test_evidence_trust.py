"""What verify and status prove (issue #31 item 2): an unsigned output says it is not tamper-evident; a signed
one is checked with a pinned key (configured, or pinned on this machine at its first signing), so stripped or
foreign signatures fail; an older output put back in place is stale, and --expect-pack0 names a changed Pack0."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import run_cli

from factory.fsutil import write_text_atomic
from factory.pec import provenance
from factory.pec.signing import key_id, sign_bytes, sign_file

BUILD = ("auto-full", "--module", "crm-contacts", "--waive", "docker-build")


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(a signed approved output, its keys folder). Read it; copy it to change it (a copy has no pin)."""
    root = tmp_path_factory.mktemp("signed")
    assert run_cli("keygen", "--out", root / "keys").returncode == 0
    out = root / "out"
    built = run_cli(*BUILD, "--out", out, "--sign-key", root / "keys/lai-pack.key")
    assert built.returncode == 0, built.stdout + built.stderr
    return out, root / "keys"


def _fresh_signed(tmp_path: Path, keys: Path) -> Path:
    """A signed output of its own (its own folder: this machine pins its key at its first signing)."""
    out = tmp_path / "out"
    built = run_cli(*BUILD, "--out", out, "--sign-key", keys / "lai-pack.key")
    assert built.returncode == 0, built.stdout + built.stderr
    return out


def test_unsigned_evidence_says_it_is_not_tamper_evident(crm_output: Path):
    for command in (("verify", crm_output), ("status", crm_output)):
        result = run_cli(*command)
        assert result.returncode == 0, result.stdout + result.stderr
        assert "unsigned: NOT tamper-evident" in result.stdout


def test_a_signed_output_names_its_key_and_verifies_with_the_pin(signed: tuple[Path, Path]):
    out, keys = signed
    result = run_cli("verify", out)  # no --public-key: the key pinned at the first signing
    assert result.returncode == 0, result.stdout + result.stderr
    expected = key_id(keys / "lai-pack.key", private=True)
    assert f"signed by key {expected}: checked" in result.stdout


def test_stripped_signatures_fail_verification(signed: tuple[Path, Path], tmp_path: Path):
    out = _fresh_signed(tmp_path, signed[1])
    (out / "build/manifest.json.sig").unlink()
    (out / "build/provenance.dsse.json").unlink()
    result = run_cli("verify", out)
    assert result.returncode == 1, result.stdout
    assert "missing: manifest.json.sig" in result.stdout


def test_resigned_with_an_attackers_key_is_refused(signed: tuple[Path, Path], tmp_path: Path):
    out = _fresh_signed(tmp_path, signed[1])
    assert run_cli("keygen", "--out", tmp_path / "evil").returncode == 0
    evil = tmp_path / "evil/lai-pack.key"
    build = out / "build"
    sign_file(build / "manifest.json", evil)
    statement = (build / "provenance.json").read_bytes()
    signature = sign_bytes(provenance.pae(provenance.PAYLOAD_TYPE, statement), evil)
    envelope = provenance.envelope(statement, signature, key_id(evil, private=True))
    write_text_atomic(build / "provenance.dsse.json", json.dumps(envelope, indent=2, sort_keys=True) + "\n")
    with_theirs = run_cli("verify", out, "--public-key", tmp_path / "evil/lai-pack.pub")
    assert with_theirs.returncode == 1 and "foreign key: --public-key" in with_theirs.stdout
    with_pin = run_cli("verify", out)
    assert with_pin.returncode == 1 and "bad signature: manifest.json.sig" in with_pin.stdout
    assert "NOT valid" in with_pin.stderr


def test_a_configured_key_is_pinned_for_any_output(signed: tuple[Path, Path], tmp_path: Path):
    out, keys = signed
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)  # another folder: no machine pin, only the configured key
    (copy / "build/manifest.json.sig").unlink()
    (copy / "build/provenance.dsse.json").unlink()
    assert run_cli("verify", copy).returncode == 0  # nothing pinned: unsigned, and it says so
    work = tmp_path / "work"
    work.mkdir()
    (work / "lai-factory.toml").write_text(f'public_key = "{keys / "lai-pack.pub"}"\n')
    result = run_cli("verify", copy, cwd=work)
    assert result.returncode == 1 and "missing: manifest.json.sig" in result.stdout


def test_an_older_output_put_back_is_stale_and_expect_pack0_names_the_change(crm_output: Path, tmp_path: Path):
    out = tmp_path / "out"
    shutil.copytree(crm_output, out, ignore=shutil.ignore_patterns(".lai-pack.doit.db*"))
    first = run_cli(*BUILD, "--out", out)
    assert first.returncode == 0, first.stdout + first.stderr
    old = tmp_path / "old"
    shutil.copytree(out, old)
    srs = out / "pack0/pack0-crm-contacts-0.0.1/docs/SRS.md"
    srs.write_text(srs.read_text() + "\nOne more requirement.\n")
    again = run_cli(*BUILD, "--out", out)
    assert again.returncode == 0, again.stdout + again.stderr
    pack0_now = tmp_path / "pack0-now"
    shutil.copytree(out / "pack0/pack0-crm-contacts-0.0.1", pack0_now)
    shutil.rmtree(out)
    shutil.copytree(old, out)  # the older approved output, put back
    result = run_cli("verify", out, "--expect-pack0", pack0_now)
    assert result.returncode == 1, result.stdout
    assert "stale: build/manifest.json" in result.stdout
    assert "stale: docs/SRS.md" in result.stdout
