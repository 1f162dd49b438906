"""PEC evidence: every file validates against its schema, and the hashes chain report -> approval -> manifest."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from conftest import factory_env, read_json, run_cli, seed_fuzz_results
from fake_llm import EngineBackedModel, FakeModelServer

from factory.fsutil import sha256_file
from factory.gates.result import GATE_ORDER
from factory.pec.evidence import decide_approval, validate_evidence

KEY = "sk-ant-test-" + "Zq8Xv3Lm7Pw2Rt5Yn"


@pytest.mark.parametrize("name", ["run_report", "approval", "manifest", "pipeline_result"])
def test_evidence_validates_against_its_schema(crm_output: Path, name: str):
    validate_evidence(name, read_json(crm_output / f"build/{name}.json"))


def test_a_broken_evidence_document_is_refused(crm_output: Path):
    approval = read_json(crm_output / "build/approval.json")
    approval["autonomous"] = False
    with pytest.raises(ValueError, match=r"approval\.json would break its schema at autonomous"):
        validate_evidence("approval", approval)


def test_hash_chain_links_report_approval_and_manifest(crm_output: Path):
    build = crm_output / "build"
    approval = read_json(build / "approval.json")
    manifest = read_json(build / "manifest.json")
    assert approval["run_report_sha256"] == sha256_file(build / "run_report.json")
    assert manifest["approval_sha256"] == sha256_file(build / "approval.json")
    listed = {item["path"]: item for item in manifest["artifacts"]}
    for required in ("run_report.json", "approval.json", "pipeline_result.json", "Dockerfile", ".test_commands.json"):
        assert required in listed
    for path, item in listed.items():
        assert sha256_file(build / path) == item["sha256"], path
        assert (build / path).stat().st_size == item["size"]
    assert any(path.startswith("src/") for path in listed) and any(path.startswith("tests/") for path in listed)


def test_run_report_covers_pack0_inventory_and_heal_log(crm_output: Path):
    report = read_json(crm_output / "build/run_report.json")
    pack0_dir = crm_output / report["pack0"]["dir"]
    assert report["pack0"]["inventory_sha256"] == sha256_file(pack0_dir / "02_INVENTORY/manifest.json")
    passing = "tests, lint, contract fuzzing and conformance pass"
    assert report["heal"] == {"max_tries": 5, "tries": 0, "stop_reason": passing, "heal_log": []}
    assert [gate["name"] for gate in report["gates"]] == list(GATE_ORDER)
    assert GATE_ORDER == ("lint", "secret-scan", "contracts", "conformance", "docker-build")


def _gate(name: str, status: str) -> dict:
    return {"name": name, "status": status, "reason": f"{name} is {status}"}


ALL_PASSED = [_gate(name, "passed") for name in GATE_ORDER]


def test_approval_needs_tests_and_every_gate():
    assert decide_approval(True, ALL_PASSED, ())[0] is True
    assert decide_approval(False, ALL_PASSED, ())[0] is False
    unavailable = [*ALL_PASSED[:-1], _gate("docker-build", "unavailable")]
    approved, verdicts, _used, reasons = decide_approval(True, unavailable, ())
    assert (approved, verdicts["docker-build"], reasons) == (
        False,
        "unavailable",
        ["gate docker-build unavailable: docker-build is unavailable"],
    )


def test_waiver_is_by_name_and_recorded():
    failing = [_gate("lint", "failed"), *ALL_PASSED[1:]]
    approved, verdicts, used, _ = decide_approval(True, failing, ("lint",))
    assert approved is True and verdicts["lint"] == "waived"
    assert used == [{"gate": "lint", "status_waived": "failed", "reason": "lint is failed"}]
    assert decide_approval(True, failing, ("docker-build",))[0] is False


def test_a_gate_that_did_not_run_blocks_approval():
    approved, verdicts, _, reasons = decide_approval(True, ALL_PASSED[:-1], ())
    assert approved is False and verdicts["docker-build"] == "unavailable"
    assert reasons == ["gate docker-build unavailable: gate did not run"]


# --- The invariant: every run that ends leaves evidence that verifies (issue 13). ---


def _verify_agrees(out: Path, run: subprocess.CompletedProcess) -> None:
    checked = run_cli("verify", out)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    approved = read_json(out / "build/approval.json")["approved"]
    assert (run.returncode == 0) == approved, run.stdout + run.stderr
    status = run_cli("status", out).stdout
    assert status.startswith(f"tasks: {'APPROVED' if approved else 'NOT APPROVED'}") and "evidence: intact" in status


def test_a_pack0_document_edit_and_rerun_leaves_evidence_that_verifies(tmp_path: Path):
    out = tmp_path / "o"
    args = ("auto-full", "--module", "tasks", "--out", out, "--waive", "docker-build")
    assert run_cli(*args).returncode == 0
    with (out / "pack0/pack0-tasks-0.0.1/docs/PLAN.md").open("a") as plan:
        plan.write("x\n")
    _verify_agrees(out, run_cli(*args))


def test_a_cache_replayed_llm_rerun_leaves_evidence_that_verifies(tmp_path: Path):
    assert run_cli("pack0", "--module", "tasks", "--out", tmp_path).returncode == 0
    pack0_dir = tmp_path / "pack0-tasks-0.0.1"
    server = FakeModelServer(EngineBackedModel(pack0_dir), api_key=KEY).start()
    try:
        cache = seed_fuzz_results(tmp_path / "c")
        env = factory_env(ANTHROPIC_API_KEY=KEY, ANTHROPIC_BASE_URL=server.url, LAI_CACHE_DIR=str(cache))
        out = tmp_path / "o"
        args = ("auto-build", "--module", "tasks", "--pack0", pack0_dir, "--out", out, "--waive", "docker-build")
        first = run_cli(*args, env=env)
        assert first.returncode == 0, first.stdout + first.stderr
        requests = len(server.requests)
        (out / "build/.factory_logs/raw/codegen.task.txt").unlink()  # codegen:task re-runs, from the cache
        again = run_cli(*args, env=env)
        assert len(server.requests) == requests  # replayed from the cache
        _verify_agrees(out, again)
    finally:
        server.stop()
