"""Secrets in every form (issue #31 items 3-4): a known key format is found wherever it stands, in the gate, in
leak-check and before export-team-pack ships; the Pack0's own declared values are not secrets."""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

import pytest
from conftest import ROOT, read_json, run_cli

from factory.gates.declared import declared_values
from factory.gates.key_formats import find_keys
from factory.gates.secrets import secret_scan_gate
from factory.pec.leaks import leak_check

KEY = "sk-ant-api03-" + "Q9vR2mXw7LpT4nB8sK1dF6hJ3gZ5cV0yU"
AWS = "AKIA" + "ZQ3DTE4QXJ5RZ7UK"
# Each red-team form of issue #31, as a generated module would carry it.
FORMS = {
    "call_keyword": f'client = Anthropic(api_key="{KEY}")\n',
    "environ_default": f'key = os.environ.get("ANTHROPIC_API_KEY", "{KEY}")\n',
    "str_call": f'key = str("{KEY}")\n',
    "base64": f'BLOB = "{base64.b64encode(KEY.encode()).decode()}"\n',
    "hex": f'BLOB = "{KEY.encode().hex()}"\n',
    "split_plus": 'AWS_ID = "' + AWS[:8] + '" + "' + AWS[8:] + '"\n',
    "split_lines": 'AWS_ID = (\n    "' + AWS[:6] + '"\n    "' + AWS[6:] + '"\n)\n',
}
CLINIC = ROOT / "benchmarks/pack0s/pack0-clinic-0.0.1"
INSURANCE = {"type": "string", "pattern": "^[A-Z]{2}[0-9]{8}$", "examples": ["AB12345678"]}


@pytest.fixture
def build(crm_output: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "out"
    shutil.copytree(crm_output, copy, ignore=shutil.ignore_patterns(".lai-pack.doit.db*"))
    return copy / "build"


@pytest.mark.parametrize("form", sorted(FORMS))
def test_find_keys_finds_every_form_on_its_line(form: str):
    found = find_keys("import os\n" + FORMS[form])
    assert found, form
    first_line = 3 if form == "split_lines" else 2  # (the line the key starts on)
    assert found[0][0] == first_line and found[0][1].split(" (")[0] in ("Anthropic API Key", "AWS Access Key")


def test_find_keys_leaves_plain_code_and_digests_alone():
    text = 'x = "AB12345678"\nsha = "' + "ab" * 32 + '"\nname = "a" + "b"\nB = "dGhlIHF1aWNrIGJyb3duIGZveCBqdW1wcw=="\n'
    assert find_keys(text) == []


@pytest.mark.parametrize("form", sorted(FORMS))
def test_every_form_fails_the_gate_and_leak_check(build: Path, form: str):
    (build / "src/crm_contacts/settings_local.py").write_text(FORMS[form])
    result = secret_scan_gate(build, build.parent / "pack0/pack0-crm-contacts-0.0.1")
    assert result.status == "failed", form
    assert any(line.startswith("src/crm_contacts/settings_local.py:") for line in result.details)
    assert KEY not in json.dumps(result.details) and AWS not in json.dumps(result.details)
    assert any(finding.path == "build/src/crm_contacts/settings_local.py" for finding in leak_check(build.parent))


def test_export_refuses_a_key_passed_to_a_call(build: Path, tmp_path: Path):
    (build / "src/crm_contacts/server.py").write_text(FORMS["call_keyword"])
    archive = tmp_path / "pack.tar.gz"
    result = run_cli("export-team-pack", build.parent, "--to", archive)
    assert result.returncode != 0 and not archive.exists()


def _clinic(tmp_path: Path, example: str) -> Path:
    pack0 = tmp_path / "pack0-clinic-0.0.1"
    shutil.copytree(CLINIC, pack0)
    contract = pack0 / "contracts/patient.schema.json"
    schema = read_json(contract)
    schema["properties"]["insurance_number"] = {**INSURANCE, "examples": [example]}
    contract.write_text(json.dumps(schema, indent=1))
    return pack0


def test_the_clinic_pack0_with_its_insurance_number_example_builds_approved(tmp_path: Path):
    pack0 = _clinic(tmp_path, "AB12345678")
    out = tmp_path / "out"
    result = run_cli("auto-build", "--module", "clinic", "--pack0", pack0, "--out", out, "--waive", "docker-build")
    assert result.returncode == 0, result.stdout + result.stderr
    assert read_json(out / "build/.factory_logs/gates/secret-scan.json")["status"] == "passed"
    assert leak_check(out) == []


def test_a_real_key_in_a_pack0_example_is_still_found(tmp_path: Path):
    pack0 = _clinic(tmp_path, KEY)
    assert KEY in declared_values([pack0]).values
    build = tmp_path / "build"
    (build / "tests/cases").mkdir(parents=True)
    (build / "tests/cases/patients.json").write_text(json.dumps({"insurance_number": KEY}))
    result = secret_scan_gate(build, pack0)
    assert result.status == "failed"
    assert any("tests/cases/patients.json:1: Anthropic API Key" in line for line in result.details)


def test_a_declared_value_or_pattern_sample_is_not_a_finding_but_an_undeclared_one_is(tmp_path: Path):
    pack0 = _clinic(tmp_path, "AB12345678")
    declared = declared_values([pack0])
    assert declared.allows("Hex High Entropy String", "AB12345678")
    assert declared.allows("Hex High Entropy String", "CD98765432")  # a sample of the pattern
    assert not declared.allows("Hex High Entropy String", "ab12345678cd")
    assert not declared.allows("AWS Access Key", "AB12345678")  # only generic guesses are judged


def test_a_false_positive_recorded_in_the_pack0_is_excused_and_listed_but_never_a_key_format(tmp_path: Path):
    import hashlib

    pack0 = _clinic(tmp_path, "AB12345678")
    build = tmp_path / "build"
    (build / "src").mkdir(parents=True)
    guess = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b"
    (build / "src/ids.json").write_text(f'{{"token": "{guess}",\n "client": "{KEY}"}}\n')
    before = secret_scan_gate(build, pack0)
    assert before.status == "failed" and any("src/ids.json:1: Hex High Entropy String" in d for d in before.details)
    allow = [{"sha256": hashlib.sha256(value.encode()).hexdigest(), "reason": "a fixture id"} for value in (guess, KEY)]
    (pack0 / "secrets.allow.json").write_text(json.dumps({"allow": allow}))
    after = secret_scan_gate(build, pack0)
    assert not any("src/ids.json:1:" in line for line in after.details)
    assert any("src/ids.json:2: Anthropic API Key" in line for line in after.details)  # a format is never excused
    assert sum("allowed by the Pack0's secrets.allow.json" in line for line in after.details) == 2
