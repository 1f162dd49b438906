"""Issue 25 end to end in LLM mode: the model (tests/defect_model.py, through the real anthropic SDK) writes
the service with a tenant-blind list, a tenant-blind GET and rows kept in memory, and only the contract tests.
Its own tests pass and the fuzzer (one tenant) finds nothing; the factory's conformance gate must: the finding
goes to the Healer (problem "conformance") and the build is approved only once the code is restored.
"""

from __future__ import annotations

from pathlib import Path

from conftest import read_json
from defect_model import IN_MEMORY, TENANT_BLIND_GET, TENANT_BLIND_LIST, DefectModel
from fake_llm import FakeModelServer
from test_llm_mode import KEY, build, llm_env, make_pack0

DEFECTS = [TENANT_BLIND_LIST, TENANT_BLIND_GET, IN_MEMORY]


def _build(tmp_path: Path, heals: bool, *extra: str):
    pack0_dir = make_pack0(tmp_path)
    model = DefectModel(pack0_dir, DEFECTS, heals=heals)
    server = FakeModelServer(model, api_key=KEY).start()
    try:
        result = build(pack0_dir, tmp_path / "out", llm_env(server, tmp_path / "cache"), *extra)
    finally:
        server.stop()
    return result, tmp_path / "out/build", model


def test_defects_the_models_tests_miss_are_found_and_healed(tmp_path: Path):
    result, build_dir, model = _build(tmp_path, heals=True)
    assert model.planted, "the defects were planted"
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    heal_log = read_json(build_dir / "run_report.json")["heal"]["heal_log"]
    assert [entry["problem"] for entry in heal_log] == ["conformance"]
    assert heal_log[0]["error_summary"].startswith("conformance: CONFORMANCE FAILURE ")
    assert heal_log[0]["outcome"] == "fixed"
    assert read_json(build_dir / "approval.json")["approved"] is True
    gate = read_json(build_dir / ".factory_logs/gates/conformance.json")
    assert gate["status"] == "passed"


def test_defects_left_when_the_budget_is_spent_block_approval_naming_them(tmp_path: Path):
    result, build_dir, _model = _build(tmp_path, False, "--max-heal", "1")
    assert result.returncode != 0
    approval = read_json(build_dir / "approval.json")
    assert approval["approved"] is False and approval["gates"]["conformance"] == "failed"
    gate = read_json(build_dir / ".factory_logs/gates/conformance.json")
    checks = {finding["check"] for finding in gate["findings"]}
    assert "tenants: a list never shows another tenant's records" in checks
    assert "tenants: another tenant's record is not found" in checks
    assert "persistence: a record reads back the same after a restart" in checks
    assert all(finding["curl"].startswith("curl ") for finding in gate["findings"])
    # The model's own tests and the fuzzer passed: only the factory's gate stood in the way.
    report = read_json(build_dir / "run_report.json")
    assert report["tests"]["passed"] is True
    assert {gate["name"]: gate["status"] for gate in report["gates"]}["contracts"] == "passed"
    assert any("conformance" in line for line in (build_dir / "run_report.json").read_text().splitlines())
