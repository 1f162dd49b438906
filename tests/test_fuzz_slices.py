"""Fuzz results and test results in slices: after a one-entity edit only that entity's operations (and /health)
are fuzzed again, and the tables a reference links are part of each other's inputs."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pytest
from conftest import ROOT

from factory.gates.contracts_fuzz import fuzz_service_once
from factory.gates.fuzz_slices import slice_of_operation, slice_operations, split_operations
from factory.pack0.load import load_pack0
from factory.pack0.models import Entity
from factory.runner.sandbox import resolve_sandbox
from factory.runner.slices import plan
from factory.runner.test_slices import owned_files

CAT, DOG, BONE = Entity("cat", "cats", "Cat", {}), Entity("dog", "dogs", "Dog", {}), Entity("bone", "bones", "Bone", {})
OWNED = {"cat": {"src/m/cat.py"}, "dog": {"src/m/dog.py"}, "bone": {"src/m/bone.py"}}


def _tables(bone_check: str = "size") -> str:
    """A service's tables.json: cats alone; dogs refer to bones."""
    cats = {"resource": "cats", "checks": {"c1": "name"}, "references": {}, "referenced_by": []}
    child = {"resource": "dogs", "field": "bone_id", "on_delete": "restrict"}
    bones = {"resource": "bones", "checks": {"c1": bone_check}, "references": {}, "referenced_by": [child]}
    dogs = {"resource": "dogs", "checks": {}, "references": {"bone_id": {"resource": "bones"}}, "referenced_by": []}
    return json.dumps({"schema_version": 1, "tables": [cats, bones, dogs]})


def _keys(tables: str) -> dict[str, str]:
    files = {
        "src/m/server.py": "s",
        "src/m/tables.json": tables,
        **{path: "x" for paths in OWNED.values() for path in paths},
    }
    return {each.name: each.key for each in plan(files, OWNED, [CAT, DOG, BONE], {})}


@pytest.mark.quick
def test_a_table_edit_moves_its_entity_and_the_ones_a_reference_links_not_the_others():
    before, after = _keys(_tables()), _keys(_tables(bone_check="weight"))
    assert after["cat"] == before["cat"]
    assert after["bone"] != before["bone"] and after["dog"] != before["dog"] and after["core"] != before["core"]


@pytest.mark.quick
def test_a_table_document_that_cannot_be_read_is_a_core_file_for_every_entity():
    before, after = _keys("{not json"), _keys("{not json either")
    assert all(after[name] != before[name] for name in before)


def test_each_operation_belongs_to_one_slice_and_an_unknown_one_keeps_nothing_per_slice(crm_output: Path):
    pack0 = load_pack0(crm_output / "pack0/pack0-crm-contacts-0.0.1")
    assert slice_operations(pack0)["core"] == ["health"]
    assert slice_of_operation("GET /api/v1/contacts/{id}", pack0) == "contact"
    assert slice_of_operation("POST /api/v1/companies", pack0) == "company"
    assert slice_of_operation("GET /api/v1/contactsx", pack0) is None
    assert split_operations(["GET /health", "GET /api/v1/contacts"], pack0) == {
        "core": ["GET /health"],
        "contact": ["GET /api/v1/contacts"],
    }
    assert split_operations(["GET /health", "GET /elsewhere"], pack0) is None


def test_a_one_entity_edit_fuzzes_that_entity_and_health_and_reuses_the_others(crm_output: Path, tmp_path: Path):
    build = tmp_path / "build"
    shutil.copytree(crm_output / "build", build)
    pack0 = load_pack0(crm_output / "pack0/pack0-crm-contacts-0.0.1")
    owned = owned_files(build / ".factory_logs", pack0.entities)
    assert owned is not None
    contact = build / "src/crm_contacts/resources/contact.py"
    # Code never fuzzed before (the cache outlives the suite): an edit of the contact slice only.
    contact.write_text(contact.read_text() + f"\n# an edit of the contact slice only: {uuid.uuid4()}\n")
    # The session build fuzzed this code before the edit, in slices, into the cache the suite shares.
    run = fuzz_service_once(build, pack0, resolve_sandbox("auto"), ROOT / "cache", owned=owned)
    assert run.passed, run.detail_lines()
    assert run.slices_reused == ["company"] and run.slices_total == 3
    assert len(run.operations) == 11, run.operations  # every operation is accounted for, fuzzed now or before
    assert "results of 1 of 3 slices reused" in run.summary()
