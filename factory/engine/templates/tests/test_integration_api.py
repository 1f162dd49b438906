"""Integration: one resource's API over real HTTP on 127.0.0.1, one tenant at a time."""

import pytest
from conftest import canonical, load_cases

RESOURCE = "@@RESOURCE@@"
CASES = load_cases(RESOURCE)
BASE = f"/api/v1/{RESOURCE}"


def create(client, tenant, body=None):
    response = client.request("POST", BASE, CASES["valid"] if body is None else body, tenant=tenant)
    assert response.status == 201, response.raw
    return response.json


def test_create_returns_the_record_with_id_and_timestamps(client, tenant):
    record = create(client, tenant)
    assert canonical(CASES, {key: record[key] for key in CASES["valid"]}) == canonical(CASES, CASES["valid"])
    assert record["id"] and record["created_at"] and record["updated_at"]


def test_create_applies_the_declared_defaults(client, tenant):
    if not CASES["defaults"]:
        pytest.skip("no field of this resource declares a default")
    record = create(client, tenant, CASES["minimal"] or {})
    expected = {**CASES["defaults"], **CASES["minimal"]}
    assert canonical(CASES, {key: record.get(key) for key in expected}) == canonical(CASES, expected)


@pytest.mark.parametrize(
    "case", CASES["accepted"] or [None], ids=lambda case: case and f"{case['field']}-{case['rule']}"
)
def test_value_a_keyword_allows_is_stored_and_read_back(client, tenant, case):
    if case is None:
        pytest.skip("no keyword of this contract has an edge value to check")
    record = create(client, tenant, {**CASES["valid"], case["field"]: case["value"]})
    stored = client.request("GET", f"{BASE}/{record['id']}", tenant=tenant).json
    assert canonical(CASES, {case["field"]: stored[case["field"]]}) == canonical(CASES, {case["field"]: case["value"]})


def test_get_returns_what_was_created(client, tenant):
    record = create(client, tenant)
    response = client.request("GET", f"{BASE}/{record['id']}", tenant=tenant)
    assert response.status == 200
    assert response.json == record


def test_list_pages_with_limit_and_offset(client, tenant):
    ids = [create(client, tenant)["id"] for _ in range(3)]
    first = client.request("GET", f"{BASE}?limit=2&offset=0", tenant=tenant).json
    rest = client.request("GET", f"{BASE}?limit=2&offset=2", tenant=tenant).json
    assert first["total"] == rest["total"] == 3
    assert [item["id"] for item in first["items"] + rest["items"]] == ids
    assert (first["limit"], first["offset"], len(first["items"]), len(rest["items"])) == (2, 0, 2, 1)


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "limit=x", "offset=-1"])
def test_bad_paging_is_refused(client, tenant, query):
    assert client.request("GET", f"{BASE}?{query}", tenant=tenant).status == 422


def test_update_changes_only_the_given_fields(client, tenant):
    record = create(client, tenant)
    response = client.request("PATCH", f"{BASE}/{record['id']}", CASES["update"], tenant=tenant)
    assert response.status == 200
    expected = {**record, **CASES["update"], "updated_at": response.json["updated_at"]}
    assert canonical(CASES, response.json) == canonical(CASES, expected)
    assert client.request("GET", f"{BASE}/{record['id']}", tenant=tenant).json == response.json


def test_delete_removes_the_record(client, tenant):
    record = create(client, tenant)
    assert client.request("DELETE", f"{BASE}/{record['id']}", tenant=tenant).status == 204
    assert client.request("GET", f"{BASE}/{record['id']}", tenant=tenant).status == 404
    assert client.request("DELETE", f"{BASE}/{record['id']}", tenant=tenant).status == 404


def test_invalid_body_is_422_naming_the_fields(client, tenant):
    case = CASES["invalid"][0]
    response = client.request("POST", BASE, {**CASES["valid"], case["field"]: case["value"]}, tenant=tenant)
    assert response.status == 422
    assert [item["field"] for item in response.json["error"]["fields"]] == [case["field"]]


def test_not_json_is_400(client, tenant):
    assert client.request("POST", BASE, raw_body="{not json", tenant=tenant).status == 400


def test_missing_tenant_header_is_400(client):
    assert client.request("GET", BASE, tenant=None).status == 400
    assert client.request("POST", BASE, CASES["valid"], tenant=None).status == 400


def test_other_tenant_cannot_see_or_change_the_record(client, tenant, other_tenant):
    record = create(client, tenant)
    item = f"{BASE}/{record['id']}"
    assert client.request("GET", item, tenant=other_tenant).status == 404
    assert client.request("PATCH", item, CASES["update"], tenant=other_tenant).status == 404
    assert client.request("DELETE", item, tenant=other_tenant).status == 404
    assert client.request("GET", BASE, tenant=other_tenant).json["total"] == 0
    assert client.request("GET", item, tenant=tenant).json == record
