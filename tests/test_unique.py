"""x-unique: a field (`"x-unique": true`) or a set of fields (`"x-unique": [["a", "b"]]` on the entity) is unique per
tenant. Checked at load, a UNIQUE index (with tenant_id) on both stores, a 409 naming the fields on create and update,
declared in the OpenAPI, and generated tests that keep their records distinct."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import run_cli
from pg import Service, deploy_to

from factory.deploy.schema import create_table, service_tables, table_of
from factory.engine.codegen import generate_source
from factory.engine.samples import entity_cases
from factory.engine.testgen import generate_tests
from factory.errors import InputError
from factory.fsutil import write_text_atomic
from factory.pack0.generate import generate_pack0
from factory.pack0.load import load_pack0
from factory.pack0.models import Entity
from factory.pack0.openapi import derive_openapi

MODULE = "library"
BOOKS = "/api/v1/books"
BOOK = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Book",
    "type": "object",
    "additionalProperties": False,
    "required": ["isbn", "title", "year"],
    "properties": {
        "isbn": {"type": "string", "pattern": r"^(97[89])?\d{9}[\dX]$", "x-unique": True},
        "title": {"type": "string", "minLength": 1, "maxLength": 200},
        "year": {"type": "integer", "minimum": 1450, "maximum": 2100},
        "shelf": {"type": ["string", "null"], "maxLength": 20},
        "catalog_id": {"type": "string", "format": "uuid", "x-unique": True},
        "summary": {"type": "string", "x-unique": True},  # no maxLength: long text must stay storable
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "x-unique": [["title", "year"], ["shelf", "title"]],
}


def write_pack0(root: Path, contracts: dict[str, dict]) -> Path:
    for path, text in generate_pack0(MODULE).items():
        if not path.startswith("contracts/"):
            write_text_atomic(root / path, text)
    for name, schema in contracts.items():
        write_text_atomic(root / "contracts" / f"{name}.schema.json", json.dumps(schema))
    return root


def load_error(tmp_path: Path, changes: dict, properties: dict | None = None) -> str:
    schema = {**BOOK, **changes, "properties": {**BOOK["properties"], **(properties or {})}}
    with pytest.raises(InputError) as caught:
        load_pack0(write_pack0(tmp_path / "pack0", {"book": schema}))
    return str(caught.value)


@pytest.mark.parametrize(
    ("changes", "properties", "expected"),
    [
        ({"x-unique": [["title", "nope"]]}, None, "book.schema.json: x-unique[0]: field 'nope' is not in 'properties'"),
        ({"x-unique": [[]]}, None, "x-unique[0]: is an empty set of fields"),
        ({"x-unique": ["title"]}, None, "x-unique[0]: must be a list of field names"),
        ({"x-unique": True}, None, "x-unique: must be a list of field sets"),
        ({"x-unique": [["title", "title"]]}, None, "x-unique[0]: lists a field twice"),
        ({"x-unique": [["title", "year"], ["year", "title"]]}, None, "x-unique[1]: is the same set of fields as"),
        ({"x-unique": [["isbn"]]}, None, "is the same set of fields as properties.isbn.x-unique"),
        ({"x-unique": [["tags", "title"]]}, None, "x-unique[0]: field 'tags': an array field cannot be x-unique"),
        ({}, {"tags": {"type": "array", "items": {"type": "string"}, "x-unique": True}}, "properties.tags: an array"),
        ({}, {"tags": {"type": "array", "items": {"type": "string", "x-unique": True}}}, "not to the items of an"),
        ({}, {"isbn": {"type": "string", "x-unique": "yes"}}, "properties.isbn.x-unique: Input should be a valid"),
        ({}, {"isbn": {"type": "string", "x-unique": 1}}, "properties.isbn.x-unique: Input should be a valid"),
        ({}, {"flag": {"type": "boolean", "x-unique": True}}, "properties.flag.x-unique: the unique set ['flag']"),
        ({"x-unique": [["kind"]]}, {"kind": {"enum": ["a", "b"], "type": "string"}}, "x-unique: the unique set"),
    ],
)
def test_broken_x_unique_is_one_line_naming_file_and_field(tmp_path: Path, changes, properties, expected):
    message = load_error(tmp_path, changes, properties)
    assert expected in message
    assert "\n" not in message


def test_cli_refuses_a_broken_x_unique_with_exit_2_writing_nothing(tmp_path: Path):
    pack0 = write_pack0(tmp_path / "pack0", {"book": {**BOOK, "x-unique": [["nope"]]}})
    out = tmp_path / "out"
    done = run_cli("auto-build", "--module", MODULE, "--pack0", pack0, "--out", out, "--waive", "docker-build")
    assert done.returncode == 2, done.stderr
    assert "book.schema.json: x-unique[0]: field 'nope'" in done.stderr
    assert not out.exists()


def book_entity() -> Entity:
    return Entity(name="book", plural="books", title="Book", schema=BOOK)


def test_unique_sets_become_named_unique_indexes_with_the_tenant_on_both_stores():
    table = table_of(book_entity())
    expected = [("books_unique_1", ("isbn",)), ("books_unique_2", ("catalog_id",)), ("books_unique_3", ("summary",))]
    assert list(table.uniques) == [
        *expected,
        ("books_unique_4", ("title", "year")),
        ("books_unique_5", ("shelf", "title")),
    ]
    sqlite, postgres = create_table(table, "sqlite"), create_table(table, "postgres")
    assert 'CREATE UNIQUE INDEX "books_unique_4" ON "books" (tenant_id, "title", "year")' in sqlite
    assert 'CREATE UNIQUE INDEX "books_unique_1" ON "books" (tenant_id, "isbn")' in sqlite
    # PostgreSQL indexes text by its md5 (a btree entry is limited to ~2.7 kB); other kinds as they are.
    assert 'CREATE UNIQUE INDEX "books_unique_4" ON "books" (tenant_id, md5("title"), "year")' in postgres
    assert 'CREATE UNIQUE INDEX "books_unique_2" ON "books" (tenant_id, "catalog_id")' in postgres
    tables = service_tables(MODULE, [book_entity()])["tables"][0]
    assert tables["unique"]["books_unique_5"] == ["shelf", "title"]


def test_openapi_declares_409_on_create_and_update_only_where_something_is_unique():
    plain = Entity(name="note", plural="notes", title="Note", schema={**BOOK, "title": "Note", "x-unique": []})
    plain.schema["properties"] = {"text": {"type": "string"}}
    document = derive_openapi(MODULE, "Library", "0.0.1", (book_entity(), plain))
    assert "409" in document["paths"][BOOKS]["post"]["responses"]
    assert "409" in document["paths"][BOOKS + "/{id}"]["patch"]["responses"]
    assert "409" not in document["paths"][BOOKS]["get"]["responses"]
    assert "409" not in document["paths"]["/api/v1/notes"]["post"]["responses"]


def stored(value):
    return value.lower() if isinstance(value, str) and len(value) == 36 else value


def test_generated_records_differ_on_every_unique_set_and_each_set_gets_a_duplicate_case():
    cases = entity_cases(book_entity())
    records = [{**cases["valid"], **variant} for variant in cases["distinct"]]
    assert len(records) == 3
    for fields in (("isbn",), ("catalog_id",), ("summary",), ("title", "year"), ("shelf", "title")):
        keys = {tuple(stored(record[name]) for name in fields) for record in records}
        assert len(keys) == 3, fields
    assert [case["fields"] for case in cases["unique"]][-1] == ["shelf", "title"]
    assert all(case["values"] == {name: cases["valid"][name] for name in case["fields"]} for case in cases["unique"])


@pytest.fixture(scope="module")
def build(tmp_path_factory) -> Path:
    """The library service's source and tests, generated (no pipeline run: the behaviour is the service's)."""
    root = tmp_path_factory.mktemp("unique")
    pack0 = load_pack0(write_pack0(root / "pack0", {"book": BOOK}))
    for path, text in {**generate_source(pack0), **generate_tests(pack0)}.items():
        write_text_atomic(root / "build" / path, text)
    return root / "build"


@pytest.fixture(params=["sqlite", "postgres"])
def store(request, build: Path, tmp_path: Path):
    """(the service, the database it uses) on a fresh SQLite file or a fresh, migrated PostgreSQL database."""
    if request.param == "postgres":
        database = request.getfixturevalue("database")
        deploy_to(build, load_pack0(build.parent / "pack0"), database)
        running = Service(build, MODULE, tmp_path, DATABASE_URL=database)
    else:
        database = str(tmp_path / "db.sqlite3")
        running = Service(build, MODULE, tmp_path, DATABASE_PATH=database)
    yield running, database
    running.stop()


BOOK_A = {"isbn": "9780306406157", "title": "Dune", "year": 1965, "catalog_id": "7d444840-9dc0-11d1-b245-5ffdce74fad2"}
BOOK_B = {"isbn": "9780441013593", "title": "Emma", "year": 1815, "catalog_id": "1b4e28ba-2fa1-41d2-883f-0016d3cca427"}
BOOK_C = {"isbn": "0306406152", "title": "Ulysses", "year": 1922}


def refused(service, method: str, path: str, body: dict, fields: list[str]) -> None:
    status, answer = service.call(method, path, body)
    assert status == 409, answer
    assert answer["error"]["code"] == "conflict"
    assert [item["field"] for item in answer["error"]["fields"]] == fields


def test_duplicates_are_409_naming_the_set_within_the_tenant_only(store):
    service, _ = store
    status, first = service.call("POST", BOOKS, {**BOOK_A, "summary": "s" * 5000})
    assert status == 201, first
    status, second = service.call("POST", BOOKS, BOOK_B)
    assert status == 201, second
    refused(service, "POST", BOOKS, {**BOOK_C, "isbn": BOOK_A["isbn"]}, ["isbn"])
    refused(service, "POST", BOOKS, {**BOOK_C, "title": "Dune", "year": 1965}, ["title", "year"])
    refused(service, "PATCH", f"{BOOKS}/{second['id']}", {"title": "Dune", "year": 1965}, ["title", "year"])
    # a uuid compares as the value it is, in any case; a long text as the whole text
    refused(service, "PATCH", f"{BOOKS}/{second['id']}", {"catalog_id": BOOK_A["catalog_id"].upper()}, ["catalog_id"])
    refused(service, "PATCH", f"{BOOKS}/{second['id']}", {"summary": "s" * 5000}, ["summary"])
    assert service.call("POST", BOOKS, {**BOOK_C, "summary": "s" * 4999})[0] == 201
    assert service.call("GET", f"{BOOKS}/{second['id']}")[1] == second
    # its own current values are no conflict; another tenant may use the same values
    assert service.call("PATCH", f"{BOOKS}/{first['id']}", {"isbn": BOOK_A["isbn"], "title": "Dune"})[0] == 200
    assert service.call("POST", BOOKS, {**BOOK_A, "summary": "s" * 5000}, tenant="other")[0] == 201
    assert service.call("GET", BOOKS)[1]["total"] == 3


def test_nulls_in_a_unique_set_are_distinct_on_both_stores(store):
    service, _ = store
    # (shelf, title) twice with no shelf: NULL equals nothing in SQL, on SQLite and PostgreSQL alike
    status, first = service.call("POST", BOOKS, {**BOOK_A, "title": "Same", "shelf": None})
    assert status == 201, first
    assert service.call("POST", BOOKS, {**BOOK_B, "title": "Same"})[0] == 201
    assert service.call("POST", BOOKS, {**BOOK_C, "title": "Other", "shelf": "A1"})[0] == 201
    refused(service, "PATCH", f"{BOOKS}/{first['id']}", {"shelf": "A1", "title": "Other"}, ["shelf", "title"])


def test_generated_suite_keeps_records_distinct_and_checks_each_set(store, build: Path):
    """The generated integration tests (paging, filters, sorting, one duplicate test per set) pass on this store."""
    _service, database = store
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    env.pop("TEST_DATABASE_URL", None)
    if database.startswith("postgres"):
        env["TEST_DATABASE_URL"] = database
    argv = [sys.executable, "-m", "pytest", "tests/integration", "-p", "no:cacheprovider", "-o", "addopts="]
    argv += ["-v", "-k", "duplicate or pages or filters_by or sorts"]
    done = subprocess.run(argv, cwd=build, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout[-3000:]
    passed = [line for line in done.stdout.splitlines() if "::test_duplicate_of_a_unique_set" in line]
    assert len(passed) == 5 and all("PASSED" in line for line in passed), passed
