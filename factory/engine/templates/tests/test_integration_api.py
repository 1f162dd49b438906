"""Integration: one resource's API over real HTTP on 127.0.0.1, one tenant at a time."""

import json
from urllib.parse import urlencode

import pytest
from conftest import canonical, create_record, created, load_cases, load_contract, with_parents

RESOURCE = "@@RESOURCE@@"
CASES = load_cases(RESOURCE)
BASE = f"/api/v1/{RESOURCE}"
# Reference fields hold the ids of parents each test creates: compared as sent, not as in the cases.
REFERENCES = CASES["references"]
# The equality filters the contract declares on this list (the OpenAPI document is the specification).
FILTERS = {
    parameter["name"]: parameter["schema"]
    for parameter in load_contract()["paths"][BASE]["get"]["parameters"]
    if parameter.get("in") == "query" and parameter["name"] not in ("limit", "offset", "sort")
}


def create(client, tenant, body=None):
    return create_record(client, tenant, RESOURCE, body)


def without_references(values):
    return {key: value for key, value in values.items() if key not in REFERENCES}


def variant(index, extra=None):
    """The valid record made distinct on every unique field set: records a test keeps side by side in one tenant."""
    return {**CASES["valid"], **(extra or {}), **CASES["distinct"][index]}


def test_create_returns_the_record_with_id_and_timestamps(client, tenant):
    record = create(client, tenant)
    sent = without_references(CASES["valid"])
    assert canonical(CASES, {key: record[key] for key in sent}) == canonical(CASES, sent)
    assert record["id"] and record["created_at"] and record["updated_at"]


def test_create_applies_the_declared_defaults(client, tenant):
    if not CASES["defaults"]:
        pytest.skip("no field of this resource declares a default")
    record = create(client, tenant, CASES["minimal"] or {})
    expected = without_references({**CASES["defaults"], **CASES["minimal"]})
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
    ids = [create(client, tenant, variant(index))["id"] for index in range(3)]
    made = created(tenant, RESOURCE)  # these three, and any record made as a parent of one of them
    assert [record for record in made if record in ids] == ids
    pages = [listed(client, tenant, {"limit": 2, "offset": start}) for start in range(0, len(made), 2)]
    assert all(page["total"] == len(made) for page in pages)
    assert [item["id"] for page in pages for item in page["items"]] == made
    assert (pages[0]["limit"], pages[0]["offset"], len(pages[0]["items"]), len(pages[-1]["items"])) == (
        2,
        0,
        2,
        2 - len(made) % 2,
    )


@pytest.mark.parametrize("query", ["limit=0", "limit=201", "limit=x", "offset=-1"])
def test_bad_paging_is_refused(client, tenant, query):
    assert client.request("GET", f"{BASE}?{query}", tenant=tenant).status == 422


def test_update_changes_only_the_given_fields(client, tenant):
    record = create(client, tenant)
    changes = with_parents(client, tenant, RESOURCE, CASES["update"])
    response = client.request("PATCH", f"{BASE}/{record['id']}", changes, tenant=tenant)
    assert response.status == 200
    expected = {**record, **changes, "updated_at": response.json["updated_at"]}
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


def query_value(value):
    """A JSON value as a query parameter spells it."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return value if isinstance(value, str) else json.dumps(value)


def listed(client, tenant, query):
    response = client.request("GET", f"{BASE}?{urlencode(query)}", tenant=tenant)
    assert response.status == 200, response.raw
    return response.json


@pytest.mark.parametrize("field", list(FILTERS) or [None])
def test_list_filters_by_field_equality(client, tenant, field):
    if field is None:
        pytest.skip("no scalar field to filter by")
    first = create(client, tenant)
    second = create(client, tenant, variant(1, CASES["update"]))
    if first.get(field) is None:
        pytest.skip(f"the valid case leaves {field} out")
    page = listed(client, tenant, {field: query_value(first[field])})
    ids = [item["id"] for item in page["items"]]
    assert first["id"] in ids
    assert (second["id"] in ids) == (second.get(field) == first[field])
    assert all(item[field] == first[field] for item in page["items"])
    assert page["total"] == len(ids)


@pytest.mark.parametrize("field", list(FILTERS) or [None])
def test_list_sorts_by_field_both_ways_with_id_breaking_ties(client, tenant, field):
    if field is None:
        pytest.skip("no scalar field to sort by")
    create(client, tenant), create(client, tenant, variant(1, CASES["update"])), create(client, tenant, variant(2))
    # The three, and any record made as a parent of one of them: what the list holds.
    records = [client.request("GET", f"{BASE}/{record}", tenant=tenant).json for record in created(tenant, RESOURCE)]

    def key(record):
        value = record.get(field)
        return (value is None, canonical(CASES, {field: value})[field] if value is not None else 0)

    for descending in (False, True):
        expected = sorted(records, key=lambda record: record["id"])
        expected.sort(key=key, reverse=descending)  # stable: equal values stay in id order
        page = listed(client, tenant, {"sort": ("-" if descending else "") + field})
        assert [item["id"] for item in page["items"]] == [record["id"] for record in expected]


@pytest.mark.parametrize("query", ["x-no-such-filter=1", "sort=x-no-such-field", "sort=", "limit=1&limit=2"])
def test_unknown_or_repeated_list_parameters_are_422(client, tenant, query):
    response = client.request("GET", f"{BASE}?{query}", tenant=tenant)
    assert response.status == 422
    assert response.json["error"]["fields"][0]["field"] in query


@pytest.mark.parametrize("field", [name for name, schema in FILTERS.items() if schema["type"] != "string"] or [None])
def test_filter_value_of_the_wrong_type_is_422(client, tenant, field):
    if field is None:
        pytest.skip("every filter of this list is a string")
    response = client.request("GET", f"{BASE}?{field}=not-a-value", tenant=tenant)
    assert response.status == 422
    assert [item["field"] for item in response.json["error"]["fields"]] == [field]


@pytest.mark.parametrize("unique", CASES["unique"] or [None], ids=lambda unique: unique and "-".join(unique["fields"]))
def test_duplicate_of_a_unique_set_is_409_within_the_tenant_only(client, tenant, other_tenant, unique):
    if unique is None:
        pytest.skip("no unique field set (x-unique) in this contract")
    first = create(client, tenant)
    second = create(client, tenant, variant(1))
    # References in the bodies name the same parents as the records' (with_parents maps a case id to one record).
    duplicate = {**variant(2), **unique["values"]}
    values = with_parents(client, tenant, RESOURCE, unique["values"])
    # with_parents leaves a reference to this resource itself null, and nulls never collide: such a field of the
    # set names the first record instead (the first record made to refer to itself), so the set can repeat.
    own = {field: first["id"] for field in unique["fields"] if REFERENCES.get(field, {}).get("resource") == RESOURCE}
    if own:
        patched = client.request("PATCH", f"{BASE}/{first['id']}", own, tenant=tenant)
        assert patched.status == 200, patched.raw
        values = {**values, **own}
    for response in (
        client.request("POST", BASE, {**with_parents(client, tenant, RESOURCE, duplicate), **own}, tenant=tenant),
        client.request("PATCH", f"{BASE}/{second['id']}", values, tenant=tenant),
    ):
        assert response.status == 409, response.raw
        if unique["exact"]:
            assert [item["field"] for item in response.json["error"]["fields"]] == unique["fields"]
    assert client.request("PATCH", f"{BASE}/{first['id']}", values, tenant=tenant).status == 200
    assert client.request("GET", f"{BASE}/{second['id']}", tenant=tenant).json == second
    elsewhere = with_parents(client, other_tenant, RESOURCE, duplicate)
    assert client.request("POST", BASE, elsewhere, tenant=other_tenant).status == 201
