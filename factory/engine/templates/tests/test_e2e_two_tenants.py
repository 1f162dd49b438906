"""E2E: a full create-list-update-delete flow for every resource, by two tenants side by side, and every
reference between resources walked across two tenants."""

import uuid

import pytest
from conftest import create_record, created, load_cases, load_contract, parent_for, with_parents

CONTRACT = load_contract()
RESOURCES = [path.split("/")[3] for path in CONTRACT["paths"] if path.startswith("/api/v1/") and path.count("/") == 3]
REFERENCES = [(resource, field) for resource in RESOURCES for field in load_cases(resource)["references"]]


def test_service_basics(client):
    health = client.request("GET", "/health", tenant=None)
    assert health.status == 200 and health.json["status"] == "ok"
    assert client.request("GET", "/openapi.json", tenant=None).json == CONTRACT
    page = client.request("GET", "/", tenant=None)
    assert page.status == 200 and b'<script type="module" src="/static/app.js">' in page.raw
    script = client.request("GET", "/static/app.js", tenant=None)
    assert script.status == 200 and b"import" in script.raw


def test_two_tenants_full_flow(client, tenant, other_tenant):
    assert RESOURCES, "the contract has no resource"
    for resource in RESOURCES:
        # A tenant pair per resource: creating a record's parents adds records to other resources.
        me, them = f"{tenant}-{resource}", f"{other_tenant}-{resource}"
        cases = load_cases(resource)
        base = f"/api/v1/{resource}"
        mine = create_record(client, me, resource, cases["valid"])
        theirs = create_record(client, them, resource, cases["valid_alt"])
        assert mine["id"] != theirs["id"]

        for who, record in ((me, mine), (them, theirs)):
            # The record, after any record of its own kind made as its parent (a team a player needs).
            listed = client.request("GET", base, tenant=who).json
            assert [item["id"] for item in listed["items"]] == created(who, resource)
            assert created(who, resource)[-1] == record["id"]

        changes = with_parents(client, me, resource, cases["update"])
        updated = client.request("PATCH", f"{base}/{mine['id']}", changes, tenant=me)
        assert updated.status == 200
        assert client.request("PATCH", f"{base}/{theirs['id']}", changes, tenant=me).status == 404
        assert client.request("GET", f"{base}/{theirs['id']}", tenant=them).json == theirs

        assert client.request("DELETE", f"{base}/{theirs['id']}", tenant=me).status == 404
        assert client.request("DELETE", f"{base}/{mine['id']}", tenant=me).status == 204
        assert client.request("GET", base, tenant=me).json["total"] == len(created(me, resource)) - 1
        assert client.request("GET", base, tenant=them).json["total"] == len(created(them, resource))


def conflict_field(response):
    assert response.status == 409, response.raw
    return [item["field"] for item in response.json["error"]["fields"]]


@pytest.mark.parametrize("resource, field", REFERENCES or [(None, None)])
def test_reference_walked_across_two_tenants(client, tenant, other_tenant, resource, field):
    if resource is None:
        pytest.skip("no resource refers to another")
    cases = load_cases(resource)
    reference = cases["references"][field]
    base, parent_base = f"/api/v1/{resource}", f"/api/v1/{reference['resource']}"
    body = with_parents(client, tenant, resource, cases["valid"])
    if reference["resource"] == resource:  # a self-reference, cut where it comes back: a parent distinct from it
        body[field] = create_record(client, tenant, resource, {**cases["valid"], **cases["distinct"][1]})["id"]
    else:  # a parent of its own, so another reference to the same resource (and its rule) is not in the way; its
        # own references back to this resource are cut (or made apart from the child) as the child's parents' are
        body[field] = parent_for(client, tenant, reference["resource"], f"walked {field}", (resource,))
    parent = client.request("GET", f"{parent_base}/{body[field]}", tenant=tenant).json

    # Another tenant's record is no record: referring to it is the same 409 as referring to nothing.
    theirs = {**with_parents(client, other_tenant, resource, cases["valid"]), field: parent["id"]}
    assert conflict_field(client.request("POST", base, theirs, tenant=other_tenant)) == [field]
    missing = {**body, field: str(uuid.uuid4())}
    assert conflict_field(client.request("POST", base, missing, tenant=tenant)) == [field]

    child = client.request("POST", base, body, tenant=tenant)
    assert child.status == 201, child.raw
    child = child.json
    item = f"{base}/{child['id']}"
    assert conflict_field(client.request("PATCH", item, {field: str(uuid.uuid4())}, tenant=tenant)) == [field]

    # Listed through the reference by its tenant only.
    mine = client.request("GET", f"{base}?{field}={parent['id']}", tenant=tenant).json
    assert [record["id"] for record in mine["items"]] == [child["id"]]
    assert client.request("GET", f"{base}?{field}={parent['id']}", tenant=other_tenant).json["total"] == 0

    # The other tenant cannot delete the parent; its owner's delete follows the declared rule.
    assert client.request("DELETE", f"{parent_base}/{parent['id']}", tenant=other_tenant).status == 404
    deleted = client.request("DELETE", f"{parent_base}/{parent['id']}", tenant=tenant)
    after = client.request("GET", item, tenant=tenant)
    if reference["on_delete"] == "restrict":
        assert conflict_field(deleted) == [f"{resource}.{field}"]
        assert resource in deleted.json["error"]["message"]
        assert after.status == 200 and after.json[field] == parent["id"]
    elif reference["on_delete"] == "cascade":
        assert deleted.status == 204
        assert after.status == 404
    else:
        assert deleted.status == 204
        assert after.status == 200 and after.json[field] is None
    assert "409" in CONTRACT["paths"][base]["post"]["responses"]
