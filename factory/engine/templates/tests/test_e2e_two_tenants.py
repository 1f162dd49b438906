"""E2E: a full create-list-update-delete flow for every resource, by two tenants side by side."""

from conftest import load_cases, load_contract

CONTRACT = load_contract()
RESOURCES = [path.split("/")[3] for path in CONTRACT["paths"] if path.startswith("/api/v1/") and path.count("/") == 3]


def test_service_basics(client):
    health = client.request("GET", "/health", tenant=None)
    assert health.status == 200 and health.json["status"] == "ok"
    assert client.request("GET", "/openapi.json", tenant=None).json == CONTRACT
    page = client.request("GET", "/", tenant=None)
    assert page.status == 200 and b"<form" in page.raw


def test_two_tenants_full_flow(client, tenant, other_tenant):
    assert RESOURCES, "the contract has no resource"
    for resource in RESOURCES:
        cases = load_cases(resource)
        base = f"/api/v1/{resource}"
        mine = client.request("POST", base, cases["valid"], tenant=tenant).json
        theirs = client.request("POST", base, cases["valid_alt"], tenant=other_tenant).json
        assert mine["id"] != theirs["id"]

        for who, record in ((tenant, mine), (other_tenant, theirs)):
            listed = client.request("GET", base, tenant=who).json
            assert [item["id"] for item in listed["items"]] == [record["id"]]

        updated = client.request("PATCH", f"{base}/{mine['id']}", cases["update"], tenant=tenant)
        assert updated.status == 200
        assert client.request("PATCH", f"{base}/{theirs['id']}", cases["update"], tenant=tenant).status == 404
        assert client.request("GET", f"{base}/{theirs['id']}", tenant=other_tenant).json == theirs

        assert client.request("DELETE", f"{base}/{theirs['id']}", tenant=tenant).status == 404
        assert client.request("DELETE", f"{base}/{mine['id']}", tenant=tenant).status == 204
        assert client.request("GET", base, tenant=tenant).json["total"] == 0
        assert client.request("GET", base, tenant=other_tenant).json["total"] == 1
