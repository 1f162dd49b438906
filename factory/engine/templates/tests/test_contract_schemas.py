"""Contract: every operation of one resource answers with a status and a body the OpenAPI contract documents."""

import pytest
from conftest import create_record, load_cases, load_contract, with_parents
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

RESOURCE = "@@RESOURCE@@"
NAME = "@@NAME@@"
CASES = load_cases(RESOURCE)
CONTRACT = load_contract()
BASE = f"/api/v1/{RESOURCE}"
REGISTRY = Registry().with_resource("urn:contract", Resource.from_contents(CONTRACT, default_specification=DRAFT202012))


def check_against_contract(path, method, response):
    """The status must be documented for the operation, and the body must match its schema."""
    documented = CONTRACT["paths"][path][method]["responses"]
    assert str(response.status) in documented, f"{method.upper()} {path} answered undocumented {response.status}"
    content = documented[str(response.status)].get("content")
    if content is None:
        assert response.raw == b""
        return
    ref = content["application/json"]["schema"]["$ref"]
    validator = Draft202012Validator({"$ref": "urn:contract" + ref}, registry=REGISTRY)
    errors = [f"{'.'.join(map(str, e.absolute_path))}: {e.message}" for e in validator.iter_errors(response.json)]
    assert errors == []


def _create(client, tenant):
    return create_record(client, tenant, RESOURCE)["id"]


def run_operation(operation, client, tenant):
    """Runs one operation the way a client would; returns (path template, method, response)."""
    item = BASE + "/{id}"
    if operation == "list":
        _create(client, tenant)
        return BASE, "get", client.request("GET", BASE, tenant=tenant)
    if operation == "create":
        body = with_parents(client, tenant, RESOURCE, CASES["valid"])
        return BASE, "post", client.request("POST", BASE, body, tenant=tenant)
    record_id = _create(client, tenant)
    changes = with_parents(client, tenant, RESOURCE, CASES["update"]) if operation == "update" else None
    method, body = {"get": ("GET", None), "update": ("PATCH", changes), "delete": ("DELETE", None)}[operation]
    return item, method.lower(), client.request(method, f"{BASE}/{record_id}", body, tenant=tenant)


OPERATIONS = {
    f"list_{RESOURCE}": "list",
    f"create_{NAME}": "create",
    f"get_{NAME}": "get",
    f"update_{NAME}": "update",
    f"delete_{NAME}": "delete",
}


@pytest.mark.parametrize("operation_id", sorted(OPERATIONS))
def test_operation_matches_contract(operation_id, client, tenant):
    path, method, response = run_operation(OPERATIONS[operation_id], client, tenant)
    assert CONTRACT["paths"][path][method]["operationId"] == operation_id
    assert response.status < 300, response.raw
    check_against_contract(path, method, response)


def test_errors_match_contract(client, tenant):
    invalid = {**CASES["valid"], CASES["unknown_field"]: 1}
    check_against_contract(BASE, "post", client.request("POST", BASE, invalid, tenant=tenant))
    check_against_contract(BASE, "get", client.request("GET", BASE, tenant=None))
    missing = client.request("GET", f"{BASE}/no-such-id", tenant=tenant)
    assert missing.status == 404
    check_against_contract(BASE + "/{id}", "get", missing)
