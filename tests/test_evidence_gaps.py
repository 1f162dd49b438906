"""The evidence's remaining gaps (issue 13), each planted on one shared build: a run stopped by a failed stage,
run bits, empty folders and hard links in the output, forged caches outside build/, a deleted generated file
in LLM mode, and a hand-rewritten signature. Tests that re-run the pipeline leave the build as they found it."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import factory_env, read_json, run_cli

from factory.deploy.scripts import EXECUTABLE_SCRIPTS
from factory.pec.coverage import RUN_BITS
from factory.pec.verify import verify_output

MODULE = "tasks"
PACKAGE = f"build/src/{MODULE}"


class Build:
    """One signed offline build at a fixed path (doit's database holds absolute paths)."""

    def __init__(self, root: Path) -> None:
        self.root, self.out = root, root / "out"
        keys = run_cli("keygen", "--out", root / "keys")
        assert keys.returncode == 0, keys.stderr
        self.key, self.public = root / "keys/lai-pack.key", root / "keys/lai-pack.pub"
        self.env = factory_env(
            DOCKER_HOST="unix:///nonexistent/docker.sock",
            LAI_CACHE_DIR=str(root / "cache"),
            XDG_CACHE_HOME=str(root / "user-cache"),
        )
        first = self.run()
        assert first.returncode == 0, first.stdout + first.stderr

    def run(self, *extra: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        args = ["auto-full", "--module", MODULE, "--out", self.out, "--waive", "docker-build", "--sign-key", self.key]
        return run_cli(*args, *extra, env=env or self.env)

    def verify(self) -> subprocess.CompletedProcess:
        return run_cli("verify", self.out, "--public-key", self.public)

    def restored(self) -> None:
        """Back to an approved build that verifies (what every test starts from)."""
        result = self.run()
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        assert self.verify().returncode == 0


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Build:
    return Build(tmp_path_factory.mktemp("gaps"))


@pytest.fixture
def copy(build: Build, tmp_path: Path) -> Path:
    """A copy of the build to tamper with (verify reads it wherever it is; nothing runs in it)."""
    target = tmp_path / "out"
    shutil.copytree(build.out, target, symlinks=True)
    return target


# 1. A run stopped by a failed stage leaves NOT APPROVED evidence of what it leaves.


def test_a_run_stopped_by_a_failed_stage_leaves_evidence_that_verifies_and_names_the_stage(build: Build):
    commands = build.out / "build/.test_commands.json"
    commands.write_text("{not json", encoding="utf-8")
    try:
        stopped = build.run()
        assert stopped.returncode == 1, stopped.stdout + stopped.stderr
        checked = build.verify()
        assert checked.returncode == 0, checked.stdout
        approval = read_json(build.out / "build/approval.json")
        assert approval["approved"] is False
        assert approval["reasons"][0].startswith("stage run_heal failed: "), approval["reasons"]
        assert "NOT APPROVED" in stopped.stdout
        status = run_cli("status", build.out).stdout
        assert status.startswith(f"{MODULE}: NOT APPROVED ") and "evidence: intact" in status, status
        record = read_json(build.out / "build/.factory_logs/stages/run_heal.json")
        assert record["status"] == "failed"
    finally:
        commands.unlink()  # TestGen writes it again
        build.restored()


# 2. verify: run bits, empty folders, hard links.


def test_the_run_bits_verify_allows_are_the_deploy_scripts(build: Build):
    assert set(EXECUTABLE_SCRIPTS) == RUN_BITS


def test_verify_reports_a_file_made_executable(copy: Path):
    (copy / PACKAGE / "server.py").chmod(0o755)
    result = run_cli("verify", copy)
    assert result.returncode == 1
    assert f"executable: {PACKAGE}/server.py" in result.stdout, result.stdout


def test_verify_reports_a_pack0_file_made_executable(copy: Path):
    (copy / f"pack0/pack0-{MODULE}-0.0.1/docs/PLAN.md").chmod(0o744)
    assert any("executable: pack0/" in problem for problem in verify_output(copy))


@pytest.mark.parametrize("folder", [f"{PACKAGE}/evil", "build/tests/x/y", f"pack0/pack0-{MODULE}-0.0.1/docs/empty"])
def test_verify_reports_an_empty_folder_anywhere(copy: Path, folder: str):
    (copy / folder).mkdir(parents=True)
    problems = verify_output(copy)
    assert any(problem.startswith(f"extra: {folder}/") for problem in problems), problems


def test_verify_reports_a_file_replaced_by_a_hard_link(copy: Path, tmp_path: Path):
    target = copy / PACKAGE / "validation.py"
    outside = tmp_path / "outside.py"
    shutil.copyfile(target, outside)
    target.unlink()
    os.link(outside, target)
    result = run_cli("verify", copy)
    assert result.returncode == 1
    assert f"not a regular file: {PACKAGE}/validation.py (a hard link" in result.stdout, result.stdout


# 5. A hand-rewritten signature is re-signed.


def test_a_hand_rewritten_manifest_signature_is_signed_again_by_the_next_run(build: Build):
    from factory.pec.signing import sign_bytes

    signature = build.out / "build/manifest.json.sig"
    # A signature by the right key, of other bytes: well-formed, and wrong.
    signature.write_text(base64.b64encode(sign_bytes(b"something else", build.key)).decode() + "\n")
    assert build.verify().returncode == 1
    build.restored()


def test_a_hand_rewritten_provenance_envelope_is_signed_again_by_the_next_run(build: Build):
    from factory.pec.signing import sign_bytes

    path = build.out / "build/provenance.dsse.json"
    envelope = json.loads(path.read_text())
    envelope["signatures"][0]["sig"] = base64.b64encode(sign_bytes(b"other", build.key)).decode()
    path.write_text(json.dumps(envelope, indent=2, sort_keys=True) + "\n")
    build.restored()
