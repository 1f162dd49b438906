"""Pack0: generation from a module name, the derived OpenAPI and inventory, and validation on load."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from openapi_spec_validator import validate

from factory.errors import InputError
from factory.fsutil import sha256_bytes, write_text_atomic
from factory.pack0.generate import generate_pack0
from factory.pack0.load import load_pack0, refreshed_derived_files


def write_pack0(root: Path, module: str) -> Path:
    for path, text in generate_pack0(module).items():
        write_text_atomic(root / path, text)
    return root


@pytest.mark.parametrize(
    ("module", "plurals"),
    [
        ("crm-contacts", ["companies", "contacts"]),
        ("meetcore", ["meetings", "participants"]),
        ("invoices", ["customers", "invoices"]),
        ("team-tasks", ["projects", "tasks"]),
        ("fleet-vehicles", ["vehicles"]),
        ("x1", ["items"]),
    ],
)
def test_module_name_picks_catalog_entities_or_a_generic_one(tmp_path: Path, module: str, plurals: list[str]):
    pack0 = load_pack0(write_pack0(tmp_path, module))
    assert sorted(entity.plural for entity in pack0.entities) == plurals


def test_generated_pack0_has_every_required_document(tmp_path: Path):
    files = generate_pack0("crm-contacts")
    for path in ("docs/SRS.md", "docs/PLAN.md", "docs/CRM_CONTACTS_SLICES.md", "budgets.json", "pack0.json"):
        assert path in files
    budgets = json.loads(files["budgets.json"])
    assert set(budgets) == {"max_heal_tries", "token_budget", "cost_budget_usd", "latency_target_ms"}
    assert "create_contact" in files["docs/SRS.md"] and "list_companies" in files["docs/CRM_CONTACTS_SLICES.md"]


def test_openapi_is_valid_and_has_every_operation():
    openapi = json.loads(generate_pack0("invoices")["contracts/openapi.json"])
    validate(openapi)
    op_ids = {op["operationId"] for path in openapi["paths"].values() for op in path.values()}
    expected = {f"{verb}_{name}" for verb in ("create", "get", "update", "delete") for name in ("invoice", "customer")}
    assert op_ids == expected | {"list_invoices", "list_customers", "health"}


def test_inventory_lists_every_file_with_its_sha256():
    files = generate_pack0("meetcore")
    inventory = json.loads(files["02_INVENTORY/manifest.json"])
    listed = {item["path"]: item["sha256"] for item in inventory["files"]}
    assert set(listed) == set(files) - {"02_INVENTORY/manifest.json"}
    for path, digest in listed.items():
        assert digest == sha256_bytes(files[path].encode())


def test_hand_added_entity_is_loaded_and_indexed(tmp_path: Path):
    root = write_pack0(tmp_path, "crm-contacts")
    room = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Room",
        "type": "object",
        "additionalProperties": False,
        "required": ["label", "seats"],
        "properties": {
            "label": {"type": "string", "maxLength": 20},
            "seats": {"type": "integer", "minimum": 1},
            "has_screen": {"type": "boolean"},
        },
    }
    (root / "contracts/room.schema.json").write_text(json.dumps(room))
    pack0 = load_pack0(root)
    assert [e.plural for e in pack0.entities] == ["companies", "contacts", "rooms"]
    derived = refreshed_derived_files(root)
    assert "/api/v1/rooms/{id}" in json.loads(derived["contracts/openapi.json"])["paths"]
    assert "contracts/room.schema.json" in derived["02_INVENTORY/manifest.json"]


def _edit_contract(root: Path, name: str, change) -> None:
    path = root / f"contracts/{name}.schema.json"
    data = json.loads(path.read_text())
    change(data)
    path.write_text(json.dumps(data))


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        (lambda d: d["properties"].update(id={"type": "string"}), "", "field 'id' is reserved"),
        (lambda d: d["required"].append("nope"), "", "required field 'nope' is not in 'properties'"),
        (lambda d: d["properties"]["name"].update(minLength=9, maxLength=2), "properties.name", "greater than"),
        (lambda d: d["properties"]["name"].update(maximum=3), "properties.name", "'maximum' does not apply"),
        (lambda d: d.update(additionalProperties=True), "additionalProperties", "False"),
        (lambda d: d["properties"]["name"].update(enum=[1, 2]), "properties.name", "enum value 1"),
        (lambda d: d["properties"]["name"].update(pattern="("), "properties.name.pattern", "is not a 'regex'"),
    ],
)
def test_bad_contract_names_file_and_field(tmp_path: Path, change, field: str, message: str):
    root = write_pack0(tmp_path, "team-tasks")
    _edit_contract(root, "project", change)
    with pytest.raises(InputError) as caught:
        load_pack0(root)
    text = str(caught.value)
    assert text.startswith(f"{root}/contracts/project.schema.json: {field}")
    assert message in text


def test_bad_entity_file_name_is_refused(tmp_path: Path):
    root = write_pack0(tmp_path, "team-tasks")
    (root / "contracts/Bad-Name.schema.json").write_text((root / "contracts/task.schema.json").read_text())
    with pytest.raises(InputError, match=r"Bad-Name\.schema\.json: entity name 'Bad-Name' must be lower_snake_case"):
        load_pack0(root)


@pytest.mark.parametrize(
    ("entity", "change", "field", "message"),
    [
        # Each built NOT APPROVED before: the OpenAPI document's schema of that name was overwritten, or two slices
        # wrote one test file.
        ("project", {"title": "TaskList"}, "title", "'TaskList' is the OpenAPI document's name for the list of task"),
        ("project", {"title": "TaskInput"}, "title", "'TaskInput' is the OpenAPI document's name for what a create"),
        ("task", {"title": "Error"}, "title", "'Error' is the OpenAPI document's name for an error body"),
        ("task", {"title": "Health"}, "title", "'Health' is the OpenAPI document's name for the /health answer"),
        ("task", {"x-plural": "service"}, "x-plural", "'service' names the generated tests' own"),
    ],
)
def test_a_name_the_generated_files_use_already_is_refused(tmp_path: Path, entity, change, field, message):
    root = write_pack0(tmp_path, "team-tasks")
    _edit_contract(root, entity, lambda d: d.update(change))
    with pytest.raises(InputError) as caught:
        load_pack0(root)
    assert str(caught.value).startswith(f"{root}/contracts/{entity}.schema.json: {field}: ")
    assert message in str(caught.value)


def test_duplicate_plural_is_refused(tmp_path: Path):
    root = write_pack0(tmp_path, "team-tasks")
    _edit_contract(root, "project", lambda d: d.update({"x-plural": "tasks"}))
    with pytest.raises(InputError, match="x-plural: 'tasks' is used by both"):
        load_pack0(root)
