"""A make-style build: an immediate re-run runs nothing; an edit re-runs only what depends on it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from conftest import executed_stages, read_json, run_cli, run_doit

from factory.stages.stale import stale


def test_immediate_rerun_runs_no_stage(tmp_path: Path):
    out = tmp_path / "out"
    first = run_cli("auto-full", "--module", "invoices", "--out", out, "--waive", "docker-build")
    assert first.returncode == 0
    assert executed_stages(first.stdout)[:6] == [
        "pack0",
        "pack0_index",
        "codegen:core",
        "codegen:customer",
        "codegen:invoice",
        "codegen:raw",
    ]
    before = (out / "build/manifest.json").read_bytes()
    second = run_cli("auto-full", "--module", "invoices", "--out", out, "--waive", "docker-build")
    assert second.returncode == 0
    assert executed_stages(second.stdout) == []
    assert (out / "build/manifest.json").read_bytes() == before


def test_editing_a_contract_reruns_what_depends_on_it_not_pack0(tmp_path: Path):
    out = tmp_path / "out"
    assert run_cli("auto-full", "--module", "invoices", "--out", out, "--waive", "docker-build").returncode == 0
    contract_path = out / "pack0/pack0-invoices-0.0.1/contracts/customer.schema.json"
    contract = json.loads(contract_path.read_text())
    contract["properties"]["loyalty_points"] = {"type": "integer", "minimum": 0}
    contract_path.write_text(json.dumps(contract, indent=2))
    result = run_cli("auto-full", "--module", "invoices", "--out", out, "--waive", "docker-build")
    assert result.returncode == 0, result.stdout + result.stderr
    ran = executed_stages(result.stdout)
    assert "pack0" not in ran
    # Only the edited entity's slices (and core, which copies the contract) re-run; pack0 itself does not.
    assert ran[:6] == [
        "pack0_index",
        "codegen:core",
        "codegen:customer",
        "codegen:raw",
        "testgen:core",
        "testgen:customer",
    ]
    assert "loyalty_points" in (out / "build/src/invoices/resources/customer.py").read_text()
    inventory = read_json(out / "pack0/pack0-invoices-0.0.1/02_INVENTORY/manifest.json")
    assert any(item["path"] == "contracts/customer.schema.json" for item in inventory["files"])


def test_doit_in_a_checkout_runs_the_same_tasks(tmp_path: Path):
    listed = run_doit("list")
    assert listed.returncode == 0, listed.stderr
    for stage in ("pack0", "codegen", "testgen", "run_heal", "gates", "pec", "deploy", "auto_full"):
        assert stage in listed.stdout
    out = tmp_path / "doit-out"
    # In parallel worker processes: the tasks made after an earlier stage must travel to them pickled.
    built = run_doit("-n", "2", "-P", "process", "auto_full", "module=tasks", f"out={out}", "waive=docker-build")
    assert built.returncode == 0, built.stdout + built.stderr
    assert read_json(out / "build/approval.json")["approved"] is True


def _generated(build: Path) -> dict[str, bytes]:
    """The files the slices wrote and their records (what an edit and a clean build must agree on)."""
    roots = [build / "src", build / "tests", build / ".factory_logs/raw", build / ".factory_logs/written"]
    return {
        path.relative_to(build).as_posix(): path.read_bytes()
        for root in roots
        for path in root.rglob("*")
        if path.is_file()
    }


def test_an_entity_removed_from_the_pack0_leaves_what_a_clean_build_of_it_has(tmp_path: Path):
    out = tmp_path / "out"
    assert run_cli("auto-full", "--module", "crm-contacts", "--out", out, "--waive", "docker-build").returncode == 0
    pack0 = out / "pack0/pack0-crm-contacts-0.0.1"
    (pack0 / "contracts/contact.schema.json").unlink()
    edited = run_cli("auto-full", "--module", "crm-contacts", "--out", out, "--waive", "docker-build")
    # The contact slices' module and tests used to stay behind: collected, failing, and never approved.
    assert edited.returncode == 0, edited.stdout + edited.stderr
    assert "slices gone: contact" in edited.stdout
    fresh = tmp_path / "fresh"
    clean = run_cli(
        "auto-build", "--module", "crm-contacts", "--pack0", pack0, "--out", fresh, "--waive", "docker-build"
    )
    assert clean.returncode == 0, clean.stdout + clean.stderr
    assert _generated(out / "build") == _generated(fresh / "build")
    stages = [
        {stage["name"] for stage in read_json(root / "build/pipeline_result.json")["stages"]} for root in (out, fresh)
    ]
    assert stages[0] == stages[1]
    assert not any("contact." in name for name in stages[0])


def test_a_file_a_slice_wrote_before_and_no_slice_writes_now_is_stale():
    records = {"core": ["src/m/server.py"], "a": ["src/m/resources/a.py"], "gone": ["src/m/resources/gone.py"]}
    previous = ["src/m/server.py", "src/m/old_helper.py", "src/m/resources/a.py"]
    assert stale(previous, records, ["core", "a"]) == (["gone"], ["src/m/old_helper.py", "src/m/resources/gone.py"])
    assert stale(previous[::2], {name: records[name] for name in ("core", "a")}, ["core", "a"]) == ([], [])


DELETED_OUTPUTS = (
    "build/src/crm_contacts/listing.py",
    "build/tests",
    "build/run_report.json",
    "build/.factory_logs/heal_log.json",
    "build/.factory_logs/junit.xml",
    "build/.factory_logs/gates/lint.json",
    "pack0/pack0-crm-contacts-0.0.1/contracts/openapi.json",
    # The Pack0 made again wrote its own copy of the derived files, which pack0_index (up to date) kept: the
    # build deleted next was made again from the contracts and failed the contracts gate against that copy.
    "pack0",
    "build",
)


def test_a_deleted_output_is_made_again_and_the_evidence_lists_what_a_clean_build_lists(tmp_path: Path):
    out = tmp_path / "out"
    build = ("auto-full", "--module", "crm-contacts", "--out", out, "--waive", "docker-build")
    assert run_cli(*build).returncode == 0

    def listed() -> set[str]:
        return {artifact["path"] for artifact in read_json(out / "build/manifest.json")["artifacts"]}

    clean = listed()
    for relative in DELETED_OUTPUTS:
        path = out / relative
        shutil.rmtree(path) if path.is_dir() else path.unlink()
        again = run_cli(*build)
        assert again.returncode == 0, again.stdout + again.stderr
        # The heal log and junit.xml were no stage's targets: the evidence was derived again without them.
        assert path.exists(), relative
        assert listed() == clean, relative
    assert run_cli("verify", out).returncode == 0


def test_a_hand_edit_of_the_derived_openapi_document_is_judged_again_not_approved(tmp_path: Path):
    out = tmp_path / "out"
    build = ("auto-full", "--module", "crm-contacts", "--out", out, "--waive", "docker-build")
    assert run_cli(*build).returncode == 0
    path = out / "pack0/pack0-crm-contacts-0.0.1/contracts/openapi.json"
    document = json.loads(path.read_text())
    del document["paths"]["/health"]
    path.write_text(json.dumps(document))
    # Only the evidence ran again, and approved a Pack0 whose document the contracts gate never saw.
    edited = run_cli(*build)
    assert edited.returncode == 1, edited.stdout + edited.stderr
    assert "gates:contracts" in executed_stages(edited.stdout)
    assert "differs from Pack0's contract" in read_json(out / "build/.factory_logs/gates/contracts.json")["reason"]
