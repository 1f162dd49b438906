"""A generated list filters by equality on scalar fields and sorts by sort=field,-other (id breaking ties), the same
on SQLite and PostgreSQL; every list parameter is declared in the OpenAPI document, anything else is a 422."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from conftest import read_json
from pg import Service, deploy_to

from factory.pack0.load import load_pack0

PACKAGE = "crm_contacts"
CONTACTS = "/api/v1/contacts"
PEOPLE = [
    {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "status": "lead"},
    {"first_name": "Alan", "last_name": "Turing", "email": "alan@example.com", "status": "customer"},
    {"first_name": "Grace", "last_name": "Hopper", "email": "grace@example.com", "status": "lead"},
    {"first_name": "Ada", "last_name": "Byron", "email": "byron@example.com", "status": "lead"},
]


@pytest.fixture
def build(crm_output: Path, tmp_path: Path) -> Path:
    shutil.copytree(crm_output / "build", tmp_path / "build")
    return tmp_path / "build"


@pytest.fixture(params=["sqlite", "postgres"])
def service(request, build: Path, crm_output: Path, tmp_path: Path):
    if request.param == "postgres":
        database = request.getfixturevalue("database")
        deploy_to(build, load_pack0(crm_output / "pack0/pack0-crm-contacts-0.0.1"), database)
        running = Service(build, PACKAGE, tmp_path, DATABASE_URL=database)
    else:
        running = Service(build, PACKAGE, tmp_path, DATABASE_PATH=str(tmp_path / "db.sqlite3"))
    yield running
    running.stop()


def names(service, query, tenant="acme"):
    status, page = service.call("GET", f"{CONTACTS}?{query}", tenant=tenant)
    assert status == 200, page
    assert page["total"] == len(page["items"])
    return [f"{item['first_name']} {item['last_name']}" for item in page["items"]]


def test_filters_and_sorts_on_both_stores_within_the_tenant(service):
    for person in PEOPLE:
        assert service.call("POST", CONTACTS, person)[0] == 201
    assert service.call("POST", CONTACTS, {**PEOPLE[0], "email": "other@example.com"}, tenant="other")[0] == 201
    assert names(service, "status=lead&sort=last_name") == ["Ada Byron", "Grace Hopper", "Ada Lovelace"]
    assert names(service, "first_name=Ada&sort=-last_name") == ["Ada Lovelace", "Ada Byron"]
    assert names(service, "sort=first_name,-last_name") == ["Ada Lovelace", "Ada Byron", "Alan Turing", "Grace Hopper"]
    assert names(service, "status=customer&first_name=Ada") == []
    assert names(service, "first_name=Ada", tenant="other") == ["Ada Lovelace"]


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("status=unknown", "status"),
        ("tags=x", "tags"),
        ("no_such_field=1", "no_such_field"),
        ("sort=tags", "sort"),
        ("sort=last_name,-x", "sort"),
        ("status=lead&status=customer", "status"),
        ("first_name=A%00da", "first_name"),  # no store keeps a NUL: refused as in a body, and so declared
    ],
)
def test_bad_list_parameters_are_422_naming_the_parameter(service, query, field):
    status, body = service.call("GET", f"{CONTACTS}?{query}")
    assert status == 422
    assert [item["field"] for item in body["error"]["fields"]] == [field]


def test_openapi_declares_each_filter_and_sort(crm_output: Path):
    contract = read_json(crm_output / f"build/src/{PACKAGE}/openapi.json")
    parameters = {p["name"]: p for p in contract["paths"][CONTACTS]["get"]["parameters"] if p.get("in") == "query"}
    assert {"first_name", "last_name", "email", "status", "sort", "limit", "offset"} <= set(parameters)
    assert "tags" not in parameters  # an array is not a scalar filter
    assert "default" not in parameters["status"]["schema"]  # a default there would filter every list
    assert parameters["sort"]["schema"]["pattern"].startswith("^-?(")


def test_get_by_id_refuses_unknown_query_parameters(service):
    status, created = service.call("POST", CONTACTS, PEOPLE[0])
    assert status == 201
    assert service.call("GET", f"{CONTACTS}/{created['id']}")[0] == 200
    status, body = service.call("GET", f"{CONTACTS}/{created['id']}?expand=rooms&foo=1")
    assert status == 422
    assert [item["field"] for item in body["error"]["fields"]] == ["expand"]
