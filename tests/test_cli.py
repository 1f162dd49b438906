"""The command line as a user meets it: help, the two main jobs, exit codes, one-line errors."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import read_json, run_cli, run_doit

from factory.runner.engine_ping import engine_answers

LAYOUT = [
    "pack0/pack0-crm-contacts-0.0.1/docs/PLAN.md",
    "pack0/pack0-crm-contacts-0.0.1/docs/SRS.md",
    "pack0/pack0-crm-contacts-0.0.1/docs/CRM_CONTACTS_SLICES.md",
    "pack0/pack0-crm-contacts-0.0.1/contracts/contact.schema.json",
    "pack0/pack0-crm-contacts-0.0.1/contracts/openapi.json",
    "pack0/pack0-crm-contacts-0.0.1/02_INVENTORY/manifest.json",
    "build/src/crm_contacts/server.py",
    "build/tests/conftest.py",
    "build/Dockerfile",
    "build/docker-compose.yml",
    "build/requirements.txt",
    "build/run_report.json",
    "build/approval.json",
    "build/manifest.json",
    "build/pipeline_result.json",
    "build/.test_commands.json",
    "build/.factory_logs/pipeline.log",
    "build/.factory_logs/codegen_raw.txt",
    "build/.factory_logs/testgen_raw.txt",
]


def test_auto_full_cli_help():
    result = run_cli("auto-full", "--help")
    assert result.returncode == 0
    for flag in ("--module", "--out", "--max-heal", "--model", "--auto-deploy", "--deploy-target", "--waive"):
        assert flag in result.stdout


def test_auto_build_cli_help():
    result = run_cli("auto-build", "--help")
    assert result.returncode == 0
    for flag in ("--module", "--pack0", "--out", "--max-heal", "--auto-deploy", "--deploy-target"):
        assert flag in result.stdout


def test_auto_full_simulation_mode(crm_output: Path):
    for relative in LAYOUT:
        assert (crm_output / relative).is_file(), relative
    approval = read_json(crm_output / "build/approval.json")
    manifest = read_json(crm_output / "build/manifest.json")
    assert approval["approved"] is True
    assert approval["gates"] == {
        "lint": "passed",
        "secret-scan": "passed",
        "contracts": "passed",
        "conformance": "passed",
        "docker-build": "waived" if not engine_answers() else approval["gates"]["docker-build"],
    }
    assert manifest["autonomous"] is True
    report = read_json(crm_output / "build/run_report.json")
    assert report["tests"]["passed"] is True
    assert set(report["tests"]["by_kind"]) == {"unit", "integration", "contract", "e2e"}
    assert all(counts["passed"] > 0 for counts in report["tests"]["by_kind"].values())


def test_auto_build_simulation_mode(tmp_path: Path):
    assert run_cli("pack0", "--module", "meetcore", "--out", tmp_path).returncode == 0
    pack0 = tmp_path / "pack0-meetcore-0.0.1"
    # A hand edit: a new field with an enum, and a new required number field.
    contract_path = pack0 / "contracts/meeting.schema.json"
    contract = json.loads(contract_path.read_text())
    contract["properties"]["room"] = {"type": "string", "enum": ["north", "south"]}
    contract["properties"]["budget"] = {"type": "number", "minimum": 0, "maximum": 1000}
    contract["required"].append("budget")
    contract_path.write_text(json.dumps(contract, indent=2))
    out = tmp_path / "build-meetcore"
    result = run_cli("auto-build", "--module", "meetcore", "--pack0", pack0, "--out", out, "--waive", "docker-build")
    assert result.returncode == 0, result.stdout + result.stderr
    served = read_json(out / "build/src/meetcore/openapi.json")
    assert served["components"]["schemas"]["MeetingInput"]["properties"]["room"]["enum"] == ["north", "south"]
    assert "budget" in served["components"]["schemas"]["Meeting"]["required"]


@pytest.mark.skipif(engine_answers(), reason="a Docker engine answers here, so the docker gate can pass")
def test_unavailable_docker_gate_blocks_approval_without_a_waiver(tmp_path: Path):
    result = run_cli("auto-full", "--module", "tasks", "--out", tmp_path / "out")
    assert result.returncode == 1
    approval = read_json(tmp_path / "out/build/approval.json")
    assert approval["approved"] is False
    assert approval["gates"]["docker-build"] == "unavailable"
    assert any("docker-build unavailable" in reason for reason in approval["reasons"])


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--module", "../x"], "--module: module name '../x'"),
        (["--module", "Bad_Name"], "--module: module name 'Bad_Name'"),
        (["--module", "crm", "--max-heal", "99"], "--max-heal must be from 0 to 20"),
    ],
)
def test_bad_usage_exits_2_with_one_line_and_writes_nothing(tmp_path: Path, args: list[str], expected: str):
    out = tmp_path / "out"
    result = run_cli("auto-full", *args, "--out", out)
    assert result.returncode == 2
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert not out.exists()


def _broken_pack0(tmp_path: Path, edit) -> Path:
    assert run_cli("pack0", "--module", "invoices", "--out", tmp_path).returncode == 0
    pack0 = tmp_path / "pack0-invoices-0.0.1"
    edit(pack0)
    return pack0


def _set_field_type(pack0: Path) -> None:
    path = pack0 / "contracts/invoice.schema.json"
    data = json.loads(path.read_text())
    data["properties"]["amount_cents"]["type"] = "money"
    path.write_text(json.dumps(data))


def _truncate_json(pack0: Path) -> None:
    path = pack0 / "budgets.json"
    path.write_text(path.read_text()[:20])


def _unknown_keyword(pack0: Path) -> None:
    path = pack0 / "contracts/customer.schema.json"
    data = json.loads(path.read_text())
    data["properties"]["name"]["oneOf"] = [{"type": "string"}]
    path.write_text(json.dumps(data))


def _missing_meta(pack0: Path) -> None:
    (pack0 / "pack0.json").unlink()


@pytest.mark.parametrize(
    ("edit", "file", "field"),
    [
        (_set_field_type, "contracts/invoice.schema.json", "properties.amount_cents.type"),
        (_truncate_json, "budgets.json", "invalid JSON"),
        (_unknown_keyword, "contracts/customer.schema.json", "properties.name: keyword 'oneOf' is not supported"),
        (_missing_meta, "pack0.json", "file is missing"),
    ],
)
def test_broken_pack0_gets_one_line_naming_file_and_field(tmp_path: Path, edit, file: str, field: str):
    pack0 = _broken_pack0(tmp_path, edit)
    out = tmp_path / "out"
    result = run_cli("auto-build", "--module", "invoices", "--pack0", pack0, "--out", out)
    assert result.returncode == 2, result.stdout + result.stderr
    line = result.stderr.strip()
    assert len(line.splitlines()) == 1 and "Traceback" not in line
    assert f"{pack0 / file}" in line and field in line
    assert not out.exists()


def test_pack0_module_must_match_the_flag(tmp_path: Path):
    assert run_cli("pack0", "--module", "tasks", "--out", tmp_path).returncode == 0
    result = run_cli(
        "auto-build", "--module", "other", "--pack0", tmp_path / "pack0-tasks-0.0.1", "--out", tmp_path / "o"
    )
    assert result.returncode == 2
    assert "pack0.json: module: module is 'tasks' but --module is 'other'" in result.stderr


def test_pack0_command_keeps_existing_files(tmp_path: Path):
    assert run_cli("pack0", "--module", "tasks", "--out", tmp_path).returncode == 0
    srs = tmp_path / "pack0-tasks-0.0.1/docs/SRS.md"
    srs.write_text("my own words")
    shutil.rmtree(tmp_path / "pack0-tasks-0.0.1/contracts")
    result = run_cli("pack0", "--module", "tasks", "--out", tmp_path)
    assert result.returncode == 0
    assert srs.read_text() == "my own words"
    assert (tmp_path / "pack0-tasks-0.0.1/contracts/task.schema.json").is_file()


def test_json_prints_only_pipeline_result_and_quiet_only_the_result(crm_output: Path, tmp_path: Path):
    shutil.copytree(crm_output, tmp_path / "out", ignore=shutil.ignore_patterns(".lai-pack.*"))
    as_json = run_cli(
        "auto-full", "--module", "crm-contacts", "--out", tmp_path / "out", "--json", "--waive", "docker-build"
    )
    assert as_json.returncode == 0
    assert json.loads(as_json.stdout) == read_json(tmp_path / "out/build/pipeline_result.json")
    quiet = run_cli(
        "auto-full", "--module", "crm-contacts", "--out", tmp_path / "out", "--quiet", "--waive", "docker-build"
    )
    assert quiet.returncode == 0
    assert quiet.stdout.splitlines() == [line for line in quiet.stdout.splitlines() if line.startswith("APPROVED")]
    assert len(quiet.stdout.splitlines()) == 1


def test_status_summarises_a_build(crm_output: Path):
    result = run_cli("status", crm_output)
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("crm-contacts: APPROVED")
    passed = read_json(crm_output / "build/run_report.json")["tests"]["counts"]["passed"]
    assert passed > 50 and any(line.startswith(f"tests:    {passed} passed, 0 failed") for line in lines)
    assert "evidence: intact" in lines
    missing = run_cli("status", crm_output / "nowhere")
    assert missing.returncode == 2 and "not a finished lai-pack output" in missing.stderr


def test_building_another_module_into_an_output_folder_is_refused_and_changes_nothing(tmp_path: Path):
    # One output folder builds one module: a second module built into it replaced the first one's build (or,
    # before stale files were removed, failed on the mix of both), in whichever order they were built.
    out = tmp_path / "out"
    (out / "pack0/pack0-crm-contacts-0.0.1").mkdir(parents=True)
    (out / "pack0/pack0-crm-contacts-0.0.1/pack0.json").write_text("{}\n")
    before = sorted(out.rglob("*"))
    expected = f"{out}/pack0/pack0-crm-contacts-0.0.1: the output folder holds another module's Pack0"
    for result in (
        run_cli("auto-full", "--module", "crm", "--out", out, "--waive", "docker-build"),
        run_doit("auto_full", "module=tasks", f"out={out}", "waive=docker-build"),
    ):
        assert result.returncode == 2, result.stdout + result.stderr
        assert len(result.stderr.strip().splitlines()) == 1 and expected in result.stderr, result.stderr
        assert sorted(out.rglob("*")) == before
