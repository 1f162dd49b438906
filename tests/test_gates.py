"""Each gate catches a planted problem, and a missing tool is 'unavailable', never 'passed'."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import ROOT

from factory.gates.contracts import contracts_gate
from factory.gates.docker_build import check_dockerfile, docker_build_gate, engine_answers
from factory.gates.lint import lint_gate
from factory.gates.secrets import secret_scan_gate
from factory.pack0.load import load_pack0
from factory.runner.sandbox import resolve_sandbox

FAKE_AWS_KEY = "AKIA" + "ZQ3DTE4QXJ5RZ7UK"
FAKE_ANTHROPIC_KEY = "sk-ant-api03-" + "Q9vR2mXw7LpT4nB8sK1dF6hJ3gZ5cV0yU"
FAKE_PRIVATE_KEY = "-----BEGIN RSA " + "PRIVATE KEY-----\nMIIEpAIBAAKCAQEA7\n-----END RSA PRIVATE KEY-----\n"


@pytest.fixture
def build(crm_output: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "out"
    shutil.copytree(crm_output / "build", copy / "build")
    shutil.copytree(crm_output / "pack0", copy / "pack0")
    return copy / "build"


def test_clean_build_passes_lint_secrets_and_contracts(build: Path):
    pack0_dir = build.parent / "pack0/pack0-crm-contacts-0.0.1"
    assert lint_gate(build).status == "passed"
    assert secret_scan_gate(build).status == "passed"
    # The fuzz run of this very code (the session build's) is reused from the cache the builds share.
    junit = build / ".factory_logs/junit.xml"
    sandbox = resolve_sandbox("auto")  # where the session build ran it
    result = contracts_gate(build, pack0_dir, load_pack0(pack0_dir), junit, sandbox, cache_dir=ROOT / "cache")
    assert (result.status, result.details) == ("passed", [])
    assert "schemathesis" in result.reason and "reused" in result.reason


def test_lint_gate_fails_on_a_planted_error(build: Path):
    (build / "src/crm_contacts/extra.py").write_text("def f():\n    unused = 1\n")
    result = lint_gate(build)
    assert result.status == "failed"
    assert any("F841" in line for line in result.details)
    assert result.tool == "ruff" and result.tool_version.startswith("ruff")


def test_lint_keeps_its_per_file_cache_beside_the_build_and_an_edit_is_still_linted(build: Path):
    before = sorted(path.relative_to(build) for path in build.rglob("*"))
    assert lint_gate(build).status == "passed"
    assert (build.parent / ".lai-pack.ruff-cache/CACHEDIR.TAG").is_file()  # an unchanged file is not linted again
    assert sorted(path.relative_to(build) for path in build.rglob("*")) == before  # nothing written in build/
    (build / "src/crm_contacts/storage.py").write_text("import os\n", encoding="utf-8")
    result = lint_gate(build)
    assert result.status == "failed" and any("F401" in line for line in result.details)


@pytest.mark.parametrize(
    ("secret", "kind"),
    [
        (f'AWS_KEY = "{FAKE_AWS_KEY}"\n', "AWS Access Key"),
        (f'ANTHROPIC = "{FAKE_ANTHROPIC_KEY}"\n', "Anthropic API Key"),
        (f'KEY = """{FAKE_PRIVATE_KEY}"""\n', "Private Key"),
    ],
)
def test_secret_scan_catches_planted_secrets_without_printing_them(build: Path, secret: str, kind: str):
    (build / "src/crm_contacts/settings.py").write_text(secret)
    result = secret_scan_gate(build)
    assert result.status == "failed"
    assert any(line.startswith("src/crm_contacts/settings.py:1:") and kind in line for line in result.details)
    assert all(fake not in " ".join(result.details) for fake in (FAKE_AWS_KEY, FAKE_ANTHROPIC_KEY, "MIIEpAIBAAK"))


def test_contracts_gate_fails_when_an_operation_is_not_implemented(build: Path):
    routing = build / "src/crm_contacts/routing.py"
    text = routing.read_text()
    assert ', "DELETE": "delete"}' in text
    routing.write_text(text.replace(', "DELETE": "delete"}', "}"))
    pack0_dir = build.parent / "pack0/pack0-crm-contacts-0.0.1"
    result = contracts_gate(build, pack0_dir, load_pack0(pack0_dir), build / ".factory_logs/junit.xml")
    assert result.status == "failed"
    assert "delete_contact: DELETE /api/v1/contacts/{id} answered 405" in result.details
    assert "delete_company: DELETE /api/v1/companies/{id} answered 405" in result.details


def test_contracts_gate_fails_when_an_operation_has_no_passing_contract_test(build: Path):
    junit = build / ".factory_logs/junit.xml"
    junit.write_text(junit.read_text().replace("test_operation_matches_contract[get_contact]", "renamed"))
    pack0_dir = build.parent / "pack0/pack0-crm-contacts-0.0.1"
    result = contracts_gate(build, pack0_dir, load_pack0(pack0_dir), junit)
    assert result.status == "failed"
    assert result.details == ["get_contact: no passing contract test"]


@pytest.mark.skipif(engine_answers(), reason="a Docker engine answers here: the gate is not 'unavailable'")
def test_docker_gate_without_an_engine_is_unavailable_not_passed(build: Path):
    pack0 = load_pack0(build.parent / "pack0/pack0-crm-contacts-0.0.1")
    result = docker_build_gate(build, "lai-test:0", pack0)
    assert result.status == "unavailable"
    assert "no Docker engine answers" in result.reason


def test_docker_gate_fails_a_broken_dockerfile_even_without_an_engine(build: Path):
    dockerfile = build / "Dockerfile"
    text = dockerfile.read_text().replace("HEALTHCHECK", "# HEALTHCHECK").replace("WORKDIR /app", "WORKDR /app")
    dockerfile.write_text(text.replace("USER 10001:10001", "USER root"))
    pack0 = load_pack0(build.parent / "pack0/pack0-crm-contacts-0.0.1")
    result = docker_build_gate(build, "lai-test:0", pack0)
    assert result.status == "failed"
    assert result.reason == "the Dockerfile is broken"
    assert any(line.endswith("unknown instruction WORKDR") for line in result.details)
    assert "no HEALTHCHECK instruction" in result.details
    assert "the image runs as root (the last USER is root)" in result.details


def test_generated_dockerfile_passes_the_static_check(build: Path):
    assert check_dockerfile((build / "Dockerfile").read_text()) == []


def test_secret_scan_rescans_only_changed_contents_and_keeps_no_secret_in_its_cache(build: Path):
    pack0_dir = build.parent / "pack0/pack0-crm-contacts-0.0.1"
    cache, said = build.parent / ".lai-pack.secret-scan.json", []
    first = secret_scan_gate(build, pack0_dir, cache, said.append)
    assert first.status == "passed" and not said[-1].startswith("scanned 0 ")
    again = secret_scan_gate(build, pack0_dir, cache, said.append)
    assert said[-1].startswith("scanned 0 ")
    assert again.as_dict() == first.as_dict()  # the result (evidence) does not show the cache
    (build / "src/crm_contacts/settings.py").write_text(f'AWS_KEY = "{FAKE_AWS_KEY}"\n')
    planted = secret_scan_gate(build, pack0_dir, cache, said.append)
    assert planted.status == "failed" and said[-1].startswith("scanned 1 ")
    assert FAKE_AWS_KEY not in cache.read_text()
    # Still found when nothing changed since: a cached finding is a finding.
    assert secret_scan_gate(build, pack0_dir, cache, said.append).details == planted.details


def test_secret_scan_reads_a_changed_openapi_copy_itself(build: Path):
    pack0_dir = build.parent / "pack0/pack0-crm-contacts-0.0.1"
    copy = build / "src/crm_contacts/openapi.json"
    copy.write_text(copy.read_text().replace('"title"', f'"x-key": "{FAKE_AWS_KEY}", "title"', 1))
    result = secret_scan_gate(build, pack0_dir, build.parent / ".lai-pack.secret-scan.json")
    assert result.status == "failed"
    assert any(line.startswith("src/crm_contacts/openapi.json:") for line in result.details)


def test_secret_scan_finds_a_secret_in_a_contract_its_openapi_copies_carry(build: Path):
    pack0_dir = build.parent / "pack0/pack0-crm-contacts-0.0.1"
    contract = pack0_dir / "contracts/contact.schema.json"
    contract.write_text(contract.read_text().replace('"title"', f'"description": "{FAKE_AWS_KEY}", "title"', 1))
    result = secret_scan_gate(build, pack0_dir, build.parent / ".lai-pack.secret-scan.json")
    assert result.status == "failed"
    assert any("contracts/contact.schema.json" in line and "AWS Access Key" in line for line in result.details)
