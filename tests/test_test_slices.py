"""Test results as build products: a slice (core, each entity) whose inputs did not change reuses its passing
result; an edit re-runs what it touches, a core change re-runs everything, a failure is never reused."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from factory.gates.contracts import covered_operations
from factory.pack0.load import load_pack0
from factory.pack0.models import Entity
from factory.runner.run import run_tests
from factory.runner.slices import plan
from factory.runner.test_slices import Slicing

OPENAPI = {
    "openapi": "3.1.0",
    "info": {"title": "t"},
    "paths": {
        "/health": {"get": {"responses": {"200": {"$ref": "#/components/schemas/Health"}}}},
        "/api/v1/cats": {"get": {"responses": {"200": {"$ref": "#/components/schemas/Cat"}}}},
        "/api/v1/dogs/{id}": {"get": {"responses": {"200": {"$ref": "#/components/schemas/Dog"}}}},
    },
    "components": {"schemas": {"Health": {}, "Cat": {"$ref": "#/components/schemas/Error"}, "Dog": {}, "Error": {}}},
}
CAT, DOG = Entity("cat", "cats", "Cat", {}), Entity("dog", "dogs", "Dog", {})
OWNED = {"cat": {"src/m/cat.py", "tests/unit/test_cats.py"}, "dog": {"src/m/dog.py", "tests/unit/test_dogs.py"}}


def _files(**changes: str) -> dict[str, str]:
    files = {
        "src/m/server.py": "server",
        "src/m/openapi.json": json.dumps(OPENAPI),
        "src/m/cat.py": "cat",
        "src/m/dog.py": "dog",
        "tests/unit/test_cats.py": "t",
        "tests/unit/test_dogs.py": "t",
        "tests/e2e/test_flow.py": "e2e",
    }
    return {**files, **changes}


def _keys(files: dict[str, str]) -> dict[str, str]:
    return {each.name: each.key for each in plan(files, OWNED, [CAT, DOG], {"sandbox": "none"})}


@pytest.mark.quick
def test_plan_gives_each_slice_its_tests_and_the_core_the_rest():
    slices = {each.name: each.tests for each in plan(_files(), OWNED, [CAT, DOG], {})}
    assert slices == {
        "core": ("tests/e2e/test_flow.py",),
        "cat": ("tests/unit/test_cats.py",),
        "dog": ("tests/unit/test_dogs.py",),
    }


@pytest.mark.quick
def test_an_entity_key_moves_with_its_own_files_and_its_part_of_the_contract_only():
    before = _keys(_files())
    dog_edit = json.loads(json.dumps(OPENAPI))
    dog_edit["components"]["schemas"]["Dog"] = {"type": "object"}
    after = _keys(_files(**{"src/m/dog.py": "dog 2", "src/m/openapi.json": json.dumps(dog_edit)}))
    assert after["cat"] == before["cat"]
    assert after["dog"] != before["dog"] and after["core"] != before["core"]
    # A schema the cat's operations use (through a $ref) is part of the cat's inputs.
    error_edit = json.loads(json.dumps(OPENAPI))
    error_edit["components"]["schemas"]["Error"] = {"type": "object"}
    assert _keys(_files(**{"src/m/openapi.json": json.dumps(error_edit)}))["cat"] != before["cat"]


@pytest.mark.quick
def test_an_edit_of_a_parent_moves_the_keys_of_the_entities_references_link_to_it_and_no_other():
    # A puppy's tests make its dog (and the dog's cat) through their endpoints, with their cases: the puppy's
    # result depends on their files and contract parts. The cat is linked through the dog; a fish is not.
    def entity(name: str, refers_to: str | None = None) -> Entity:
        field = {"parent_id": {"type": "string", "format": "uuid", "x-references": refers_to}} if refers_to else {}
        return Entity(name, f"{name}s", name.title(), {"properties": {"name": {"type": "string"}, **field}})

    entities = [entity("cat"), entity("dog", "cat"), entity("puppy", "dog"), entity("fish")]
    owned = {each.name: {f"src/m/{each.name}.py", f"tests/cases/{each.name}s.json"} for each in entities}
    files = {"src/m/server.py": "server", **{path: "v1" for paths in owned.values() for path in paths}}

    def keys(**changes: str) -> dict[str, str]:
        return {each.name: each.key for each in plan({**files, **changes}, owned, entities, {})}

    before = keys()
    for edited in ("src/m/cat.py", "tests/cases/dogs.json"):
        after = keys(**{edited: "v2"})
        assert {name for name in before if after[name] != before[name]} == {"core", "cat", "dog", "puppy"}, edited
    after = keys(**{"src/m/fish.py": "v2"})
    assert {name for name in before if after[name] != before[name]} == {"core", "fish"}


@pytest.mark.quick
def test_a_core_file_or_a_setting_moves_every_key():
    before = _keys(_files())
    after = _keys(_files(**{"src/m/server.py": "server 2"}))
    assert all(after[name] != before[name] for name in before)
    moved = {each.name: each.key for each in plan(_files(), OWNED, [CAT, DOG], {"sandbox": "bwrap"})}
    assert all(moved[name] != before[name] for name in before)


@pytest.fixture
def build(crm_output: Path, tmp_path: Path) -> Path:
    shutil.copytree(crm_output / "build", tmp_path / "build")
    return tmp_path / "build"


def _run(build: Path, crm_output: Path, number: int):
    pack0 = load_pack0(crm_output / "pack0/pack0-crm-contacts-0.0.1")
    logs = build / ".factory_logs"
    # The sandbox the build ran its tests in: a result is reused only for the same sandbox.
    report = logs / "test_report.json"
    sandbox = json.loads(report.read_text())["final_run"]["sandbox"]
    slicing = Slicing.from_report(logs, pack0.entities, report)
    run = run_tests(build, logs / f"test_output.{number}.txt", sandbox, None, slicing, pack0=pack0)
    report.write_text(json.dumps({"final_run": run.as_dict()}))  # what the next run reuses from, as the stage does
    return run


def _ran(run) -> set[str]:
    return {each["name"] for each in run.slices if not each["reused"]}


def test_an_unchanged_build_reuses_every_result_and_still_counts_every_test(build: Path, crm_output: Path):
    full = json.loads((crm_output / "build/.factory_logs/test_report.json").read_text())["final_run"]
    again = _run(build, crm_output, 1)
    assert _ran(again) == set() and again.passed
    assert again.counts == full["counts"] and again.by_kind == full["by_kind"]
    # The JUnit file still holds every test, so the contracts gate sees each operation covered.
    assert covered_operations(build / ".factory_logs/junit.xml") >= {"get_contact", "delete_company", "health"}


def test_one_entity_edit_reruns_that_entity_and_the_core_only(build: Path, crm_output: Path):
    resource = build / "src/crm_contacts/resources/company.py"
    resource.write_text(resource.read_text() + "\n# edited\n")
    run = _run(build, crm_output, 1)
    assert run.passed and _ran(run) == {"core", "company"}
    reused = next(each for each in run.slices if each["name"] == "contact")
    parts = {"own_files", "core_files", "openapi_part", "tables_part"}
    assert reused["tests"]["total"] > 0 and set(reused["inputs"]) == parts
    assert "reused (inputs unchanged): contact" in (build / ".factory_logs/test_output.1.txt").read_text()


def test_an_edit_of_one_table_in_the_shared_table_document_reruns_that_entity_and_the_core_only(
    build: Path, crm_output: Path
):
    # A contract edit rewrites the entity's entry in tables.json (one document for every table).
    path = build / "src/crm_contacts/tables.json"
    document = json.loads(path.read_text())
    company = next(table for table in document["tables"] if table["resource"] == "companies")
    company["nullable"] = [*company["nullable"], "no_such_column"]
    path.write_text(json.dumps(document))
    assert _ran(_run(build, crm_output, 1)) == {"core", "company"}


def test_a_core_change_reruns_every_slice(build: Path, crm_output: Path):
    storage = build / "src/crm_contacts/storage.py"
    storage.write_text(storage.read_text() + "\n# edited\n")
    assert _ran(_run(build, crm_output, 1)) == {"core", "contact", "company"}


def test_a_failing_result_is_never_reused(build: Path, crm_output: Path):
    test_file = build / "tests/unit/test_contacts_validation.py"
    original = test_file.read_text()
    test_file.write_text(original + "\n\ndef test_planted_failure():\n    assert False\n")
    failed = _run(build, crm_output, 1)
    assert not failed.passed and _ran(failed) == {"core", "contact"}
    test_file.write_text(original)
    # Back to the inputs of a passing result, but that result was replaced by the failure: it runs again (and
    # so does the core, whose last result was made with the broken file among its inputs).
    assert _ran(_run(build, crm_output, 2)) == {"core", "contact"}
