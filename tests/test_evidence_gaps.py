"""The evidence's remaining gaps (issue 13), each planted on one shared build: a run stopped by a failed stage,
run bits, empty folders and hard links in the output, forged caches outside build/, a deleted generated file
in LLM mode, and a hand-rewritten signature. Tests that re-run the pipeline leave the build as they found it."""

from __future__ import annotations

import base64
import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import factory_env, read_json, run_cli
from fake_llm import EngineBackedModel, FakeModelServer

from factory.deploy.scripts import EXECUTABLE_SCRIPTS
from factory.pec.coverage import RUN_BITS
from factory.pec.verify import verify_output

MODULE = "tasks"
PACKAGE = f"build/src/{MODULE}"
KEY = "sk-ant-test-" + "Zq8Xv3Lm7Pw2Rt5Yn"


class Build:
    """One signed build in LLM mode (the local Messages API server), at a fixed path (doit's database holds
    absolute paths), with its own reply cache and machine key."""

    def __init__(self, root: Path) -> None:
        self.root, self.out = root, root / "out"
        keys = run_cli("keygen", "--out", root / "keys")
        assert keys.returncode == 0, keys.stderr
        self.key, self.public = root / "keys/lai-pack.key", root / "keys/lai-pack.pub"
        assert run_cli("pack0", "--module", MODULE, "--out", self.out / "pack0").returncode == 0
        self.server = FakeModelServer(EngineBackedModel(self.out / f"pack0/pack0-{MODULE}-0.0.1"), api_key=KEY)
        self.server.start()
        self.env = factory_env(
            DOCKER_HOST="unix:///nonexistent/docker.sock",
            LAI_CACHE_DIR=str(root / "cache"),
            XDG_CACHE_HOME=str(root / "user-cache"),
            ANTHROPIC_API_KEY=KEY,
            ANTHROPIC_BASE_URL=self.server.url,
        )
        first = self.run()
        assert first.returncode == 0, first.stdout + first.stderr

    def run(self, *extra: str) -> subprocess.CompletedProcess:
        args = ["auto-full", "--module", MODULE, "--out", self.out, "--waive", "docker-build", "--sign-key", self.key]
        return run_cli(*args, *extra, env=self.env)

    def verify(self) -> subprocess.CompletedProcess:
        return run_cli("verify", self.out, "--public-key", self.public)

    def restored(self) -> None:
        """Back to an approved build that verifies (what every test starts from)."""
        result = self.run()
        assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
        assert self.verify().returncode == 0


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Build]:
    made = Build(tmp_path_factory.mktemp("gaps"))
    yield made
    made.server.stop()


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


def test_evidence_for_a_run_doit_stopped_without_a_failed_stage_verifies(copy: Path):
    from factory.config import BuildConfig
    from factory.stages.record import stopped_evidence

    (copy / f"pack0/pack0-{MODULE}-0.0.1/docs/PLAN.md").write_text("edited, then the run stopped\n")
    (copy / "build/manifest.json.sig").unlink()  # unsigned from here on
    (copy / "build/provenance.dsse.json").unlink()
    stopped_evidence(BuildConfig(module=MODULE, out=copy), "doit stopped with exit 3 before a stage failed")
    assert verify_output(copy) == []
    reasons = read_json(copy / "build/approval.json")["reasons"]
    assert reasons[0] == "stage pipeline failed: doit stopped with exit 3 before a stage failed", reasons


def test_evidence_for_a_crashed_gate_keeps_the_gates_before_it_and_the_tests(copy: Path):
    from factory.config import BuildConfig
    from factory.stages.pec import failure_evidence

    failure_evidence(BuildConfig(module=MODULE, out=copy), "gate_contracts", "RuntimeError: boom", lambda _: None)
    assert verify_output(copy) == []
    approval = read_json(copy / "build/approval.json")
    assert approval["reasons"][0] == "stage gate_contracts failed: RuntimeError: boom"
    assert approval["tests_passed"] is True and not approval["approved"]
    assert approval["gates"]["lint"] == "passed" and approval["gates"]["contracts"] == "unavailable"


# 4. Every file a slice generates is its target: a deleted one is written again, from the reply cache.


@pytest.mark.parametrize("generated", [f"{PACKAGE}/validation.py", f"build/tests/unit/test_{MODULE}_validation.py"])
def test_a_deleted_generated_file_is_written_again_without_a_model_call(build: Build, generated: str):
    path = build.out / generated
    before, requests = path.read_bytes(), len(build.server.requests)
    path.unlink()
    again = build.run()
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
    assert path.read_bytes() == before
    assert len(build.server.requests) == requests  # replayed from the reply cache
    assert build.verify().returncode == 0


def test_an_edit_that_sets_the_file_time_back_is_still_seen(build: Build):
    """doit's own checker believes an unchanged mtime; ours compares content."""
    srs = build.out / f"pack0/pack0-{MODULE}-0.0.1/docs/SRS.md"
    original, times = srs.read_bytes(), srs.stat()
    try:
        srs.write_bytes(original + b"\n- One more requirement, added with the old time.\n")
        os.utime(srs, ns=(times.st_atime_ns, times.st_mtime_ns))
        again = build.run()
        assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-2000:]
        assert any(line.startswith("▶ codegen:") for line in again.stdout.splitlines()), again.stdout
        assert build.verify().returncode == 0
    finally:
        srs.write_bytes(original)
        os.utime(srs, ns=(times.st_atime_ns, times.st_mtime_ns))
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


# 3. Caches outside build/ are believed only when this machine sealed them.

AWS_LINE = 'AWS_SECRET = "AKIAZ7QX4M2P9R5T1VWE"\n'


@pytest.fixture
def machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "user-cache"))
    return tmp_path / "user-cache/lai-pack"


def test_the_machine_key_is_made_once_private_and_outside_the_output(machine: Path):
    from factory.trust import machine_key

    first = machine_key()
    assert first is not None and machine_key() == first
    assert (machine / "machine.key").stat().st_mode & 0o777 == 0o600


def _secret_build(tmp_path: Path) -> tuple[Path, Path]:
    build = tmp_path / "build"
    (build / "src/app").mkdir(parents=True)
    (build / "src/app/settings.py").write_text(AWS_LINE, encoding="utf-8")
    return build, tmp_path / ".lai-pack.secret-scan.json"


@pytest.mark.parametrize("forged_mac", ["0" * 64, None])
def test_a_forged_secret_scan_cache_entry_does_not_hide_a_secret(machine: Path, tmp_path: Path, forged_mac):
    from factory.gates.secrets import secret_scan_gate

    build, cache_file = _secret_build(tmp_path)
    assert secret_scan_gate(build, None, cache_file).status == "failed"
    cache = json.loads(cache_file.read_text())
    # Whoever can write the output folder says the file has no findings (the old format had no seal at all).
    cache["files"] = {
        digest: [] if forged_mac is None else {"findings": [], "mac": forged_mac} for digest in cache["files"]
    }
    cache_file.write_text(json.dumps(cache))
    said: list[str] = []
    again = secret_scan_gate(build, None, cache_file, said.append)
    assert again.status == "failed", again.reason
    assert said == ["scanned 1 file contents not scanned before; the others' findings are known"]


def test_a_sealed_secret_scan_cache_entry_is_reused(machine: Path, tmp_path: Path):
    from factory.gates.secrets import secret_scan_gate

    build, cache_file = _secret_build(tmp_path)
    secret_scan_gate(build, None, cache_file)
    said: list[str] = []
    assert secret_scan_gate(build, None, cache_file, said.append).status == "failed"
    assert said == ["scanned 0 file contents not scanned before; the others' findings are known"]


def test_a_dependency_database_this_machine_did_not_seal_is_removed(machine: Path, tmp_path: Path):
    from factory.trust import distrust_unsealed, seal_file

    database = tmp_path / ".lai-pack.doit.db"
    database.write_bytes(b"doit's record of what is up to date")
    assert distrust_unsealed(database) and not database.exists()
    database.write_bytes(b"doit's record of what is up to date")
    seal_file(database)
    assert not distrust_unsealed(database) and database.exists()
    database.write_bytes(b"a record rewritten by hand: run_heal is up to date")
    assert distrust_unsealed(database) and not database.exists()


def test_a_build_seals_its_dependency_database_and_a_no_op_rerun_trusts_it(
    build: Build, monkeypatch: pytest.MonkeyPatch
):
    from factory.trust import sealed

    again = build.run()
    assert again.returncode == 0 and "not trusted" not in again.stderr, again.stderr
    assert "▶ run_heal" not in again.stdout
    monkeypatch.setenv("XDG_CACHE_HOME", build.env["XDG_CACHE_HOME"])  # the build's machine key
    mac = (build.out / ".lai-pack.doit.db.mac").read_text().strip()
    assert sealed("file", (build.out / ".lai-pack.doit.db").read_bytes(), mac)


def test_a_test_result_written_into_the_report_by_hand_is_not_reused(machine: Path, tmp_path: Path):
    from factory.results_cache import canonical_json
    from factory.runner.test_slices import SEAL_KIND, Slicing
    from factory.trust import seal

    record = {"name": "core", "passed": True, "key": "k", "cases": []}
    seals = tmp_path / ".lai-pack.test-results.json"
    slicing = Slicing(tmp_path, (), {"core": record}, seals)
    assert slicing.known() == {}
    seals.write_text(json.dumps({"core": "0" * 64}))
    assert slicing.known() == {}
    seals.write_text(json.dumps({"core": seal(SEAL_KIND, canonical_json(record))}))
    assert slicing.known() == {"core": record}


def test_a_forged_preflight_memo_does_not_skip_the_input_check(machine: Path, tmp_path: Path):
    from factory.config import BuildConfig
    from factory.preflight import MEMO_FILE, _key

    assert run_cli("pack0", "--module", "notes", "--out", tmp_path).returncode == 0
    pack0, out = tmp_path / "pack0-notes-0.0.1", tmp_path / "out"
    (pack0 / "contracts/note.schema.json").write_text("{ not json", encoding="utf-8")
    out.mkdir()
    # The memo of a check that passed: anyone can compute it from the Pack0's bytes.
    (out / MEMO_FILE).write_text(_key(BuildConfig(module="notes", out=out, pack0_source=pack0, provider="offline")))
    args = ("auto-build", "--module", "notes", "--pack0", pack0, "--out", out)
    result = run_cli(*args, env=factory_env(XDG_CACHE_HOME=str(machine.parent)))
    assert result.returncode == 2, result.stdout + result.stderr
    assert "note.schema.json" in result.stderr and not (out / "build").exists()


def test_a_ruff_cache_changed_by_hand_is_removed_before_lint_reads_it(machine: Path, tmp_path: Path):
    from factory.runner.lint import RUFF_CACHE, ruff_command, run_ruff

    if ruff_command() is None:
        pytest.skip("ruff is not installed")
    build = tmp_path / "build"
    (build / "src").mkdir(parents=True)
    (build / "src/unused.py").write_text("import os\n", encoding="utf-8")
    assert not run_ruff(build).ok
    cache = tmp_path / RUFF_CACHE
    assert (tmp_path / f"{RUFF_CACHE}.mac").is_file()
    planted = next(path for path in cache.rglob("*") if path.is_file() and path.name != "CACHEDIR.TAG")
    planted.write_bytes(b"a cache entry written by hand")
    again = run_ruff(build)
    assert not again.ok and "F401" in again.output
    assert not planted.exists() or planted.read_bytes() != b"a cache entry written by hand"


def test_generated_code_in_the_bwrap_sandbox_cannot_read_the_machine_key(tmp_path: Path, monkeypatch):
    from factory.runner.sandbox import bwrap_works, run_sandboxed
    from factory.trust import key_dir, machine_key

    if not bwrap_works():
        pytest.skip("bubblewrap cannot run here")
    # Outside /tmp (the sandbox's /tmp is empty anyway), where a user's cache folder is.
    base = Path.home() / f".cache/lai-pack-test-{os.getpid()}"
    monkeypatch.setenv("XDG_CACHE_HOME", str(base))
    try:
        assert machine_key() is not None
        key_file = key_dir() / "machine.key"
        (tmp_path / "build").mkdir()
        code, _timed_out, output = run_sandboxed(
            ["{python}", "-c", f"print(open({str(key_file)!r}, 'rb').read().hex())"],
            tmp_path / "build",
            "bwrap",
            30,
            {"PATH": os.environ["PATH"]},
        )
        assert code != 0 and "No such file" in output, output
    finally:
        shutil.rmtree(base, ignore_errors=True)


def test_verify_reports_a_deploy_script_without_its_run_bit_or_with_a_set_id_bit(tmp_path: Path):
    # Found tampering an approved output: chmod -x (or 4755) on deploy.sh verified intact.
    from factory.pec.coverage import walk

    script = tmp_path / "deploy/deploy.sh"
    script.parent.mkdir()
    script.write_text("#!/bin/sh\n")
    for mode, kept in ((0o755, True), (0o700, True), (0o644, False), (0o4755, False), (0o2755, False)):
        script.chmod(mode)
        problems = walk(tmp_path, "build/", frozenset({"build/deploy/deploy.sh"})).problems
        assert (problems == []) is kept, (oct(mode), problems)
        assert kept or problems == [f"mode: build/deploy/deploy.sh (mode {mode:o}; the factory writes it 755)"]
