"""References between entities (x-references): the Pack0 rules, the foreign keys in both stores' schema, and
the generated service's 409s and delete rules on SQLite and PostgreSQL, on the library example Pack0."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from conftest import ROOT, run_cli
from pg import Service, deploy_to, psql, run_script, schema_dump
from test_contract_language import contract

from factory.deploy.migrations import generate_migrations
from factory.deploy.schema import migration_order, service_tables
from factory.engine.codegen import generate_source
from factory.errors import InputError
from factory.fsutil import write_text_atomic
from factory.pack0.generate import generate_pack0
from factory.pack0.load import load_pack0
from factory.pack0.openapi import derive_openapi

LIBRARY = ROOT / "examples/pack0-library-0.0.1"
BOOKS, MEMBERS, LOANS = "/api/v1/books", "/api/v1/members", "/api/v1/loans"
ISBNS = iter(f"978-0-{number}-1-5" for number in range(10_000, 99_999))  # isbn is x-unique per tenant
MEMBER = {"name": "Ada", "email": "ada@example.com"}


def ref(target: str, nullable: bool = False, **extra) -> dict:
    return {"type": ["string", "null"] if nullable else "string", "format": "uuid", "x-references": target, **extra}


def pack0_of(tmp_path: Path, contracts: dict[str, dict]) -> Path:
    root = tmp_path / "pack0"
    for path, text in generate_pack0("team-tasks").items():
        if not path.startswith("contracts/"):
            write_text_atomic(root / path, text)
    for name, schema in contracts.items():
        write_text_atomic(root / f"contracts/{name}.schema.json", json.dumps(schema))
    return root


def load_error(tmp_path: Path, contracts: dict[str, dict]) -> str:
    with pytest.raises(InputError) as caught:
        load_pack0(pack0_of(tmp_path, contracts))
    return str(caught.value)


NAME = {"name": {"type": "string"}}


@pytest.mark.parametrize(
    ("contracts", "expected"),
    [
        ({"loan": contract({"book_id": ref("book")})}, "names 'book', which is not an entity"),
        (
            {
                "book": contract(NAME, title="Book"),
                "loan": contract({"book_id": {"type": "string", "x-references": "book"}}),
            },
            'must be {"type": "string", "format": "uuid"}',
        ),
        (
            {
                "book": contract(NAME, title="Book"),
                "loan": contract({"book_id": ref("book", **{"x-on-delete": "set-null"})}),
            },
            "'set-null' needs a nullable field",
        ),
        (
            {
                "book": contract(NAME, title="Book"),
                "loan": contract({"book_id": ref("book", **{"x-on-delete": "nullify"})}),
            },
            "x-on-delete",
        ),
        ({"book": contract({"name": {"type": "string", "x-on-delete": "cascade"}})}, "applies only to a field with"),
        (
            {
                "book": contract(NAME, title="Book"),
                "loan": contract({"book_id": ref("book", default=str(uuid.uuid4()))}),
            },
            "'default' cannot be used with 'x-references'",
        ),
        (
            {"book": contract(NAME, title="Book"), "loan": contract({"ids": {"type": "array", "items": ref("book")}})},
            "on array items is not supported",
        ),
        ({"node": contract({"parent_id": ref("node")}, ["parent_id"])}, "cycle (node.parent_id -> node)"),
        (
            {
                "alpha": contract({"beta_id": ref("beta")}, ["beta_id"], "Alpha"),
                "beta": contract({"alpha_id": ref("alpha")}, ["alpha_id"], "Beta"),
            },
            "cycle (alpha.beta_id -> beta.alpha_id -> alpha)",
        ),
    ],
)
def test_a_reference_that_cannot_work_is_one_line_naming_file_and_field(tmp_path: Path, contracts, expected):
    message = load_error(tmp_path, contracts)
    assert expected in message and "\n" not in message
    assert ".schema.json" in message and "x-" in message


def test_a_cycle_with_an_optional_or_nullable_reference_loads_and_migrates_in_order(tmp_path: Path):
    contracts = {
        "alpha": contract({"beta_id": ref("beta")}, ["beta_id"], "Alpha"),
        "beta": contract({"alpha_id": ref("alpha", nullable=True), "name": {"type": "string"}}, ["alpha_id"], "Beta"),
        "node": contract({"parent_id": ref("node", nullable=True, **{"x-on-delete": "set-null"})}, [], "Node"),
    }
    pack0 = load_pack0(pack0_of(tmp_path, contracts))
    assert [entity.name for entity in migration_order(pack0.entities)] == ["node", "beta", "alpha"]
    files = generate_migrations(pack0, "compose")
    beta_up, alpha_up = (
        files["deploy/migrations/0002_create_betas.up.sql"],
        files["deploy/migrations/0003_create_alphas.up.sql"],
    )
    # beta is made first, so its key to alpha is added by alpha's migration, and dropped first by its rollback.
    assert "FOREIGN KEY" not in beta_up
    assert (
        'ALTER TABLE "betas" ADD CONSTRAINT "ref_1" FOREIGN KEY (tenant_id, "alpha_id") REFERENCES "alphas"' in alpha_up
    )
    alpha_down = files["deploy/migrations/0003_create_alphas.down.sql"]
    assert alpha_down.index('DROP CONSTRAINT IF EXISTS "ref_1"') < alpha_down.index('DROP TABLE IF EXISTS "alphas"')
    assert (
        'REFERENCES "nodes" (tenant_id, id) ON DELETE SET NULL ("parent_id")'
        in files["deploy/migrations/0001_create_nodes.up.sql"]
    )


def test_library_migrations_carry_tenant_foreign_keys_indexes_and_parents_first():
    pack0 = load_pack0(LIBRARY)
    files = generate_migrations(pack0, "compose")
    ups = sorted(path for path in files if path.endswith(".up.sql"))
    assert ups == [
        "deploy/migrations/0001_create_books.up.sql",
        "deploy/migrations/0002_create_members.up.sql",
        "deploy/migrations/0003_create_loans.up.sql",
    ]
    loans = files[ups[2]]
    assert 'FOREIGN KEY (tenant_id, "book_id") REFERENCES "books" (tenant_id, id) ON DELETE RESTRICT' in loans
    assert 'FOREIGN KEY (tenant_id, "member_id") REFERENCES "members" (tenant_id, id) ON DELETE CASCADE' in loans
    assert 'ON "loans" (tenant_id, "book_id")' in loans and 'ON "loans" (tenant_id, "member_id")' in loans
    assert 'CONSTRAINT "books_tenant_record_key" UNIQUE (tenant_id, id)' in files[ups[0]]
    sqlite = {table["resource"]: table["sqlite"][0] for table in service_tables("library", pack0.entities)["tables"]}
    assert 'REFERENCES "books" (tenant_id, id) ON DELETE RESTRICT' in sqlite["members"]  # SQLite: the service nulls


def test_openapi_declares_the_409s_and_links_a_parent_to_its_children():
    pack0 = load_pack0(LIBRARY)
    paths = derive_openapi("library", "Library", "0.0.1", pack0.entities)["paths"]
    assert "409" in paths[LOANS]["post"]["responses"] and "409" in paths[LOANS + "/{id}"]["patch"]["responses"]
    assert "409" in paths[BOOKS + "/{id}"]["delete"]["responses"]
    assert "409" not in paths[LOANS + "/{id}"]["delete"]["responses"]  # nothing refers to a loan
    links = paths[BOOKS]["post"]["responses"]["201"]["links"]
    assert links["create_loan_with_book_id"] == {
        "operationId": "create_loan",
        "requestBody": {"book_id": "$response.body#/id"},
    }
    assert links["list_loans_by_book_id"]["parameters"] == {"query.book_id": "$response.body#/id"}
    assert paths[LOANS]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("LoanInput")


def test_sqlite_schema_refuses_a_dangling_or_cross_tenant_reference_by_itself(tmp_path: Path):
    tables = service_tables("library", load_pack0(LIBRARY).entities)["tables"]
    db = sqlite3.connect(tmp_path / "db.sqlite3", isolation_level=None)
    db.execute("PRAGMA foreign_keys=ON")
    for table in tables:
        for statement in table["sqlite"]:
            db.execute(statement)
    stamp = "2026-01-01T00:00:00+00:00"
    db.execute(
        "INSERT INTO books (id, tenant_id, title, isbn, created_at, updated_at) VALUES ('b1', 'a', 'T', 'I', ?, ?)",
        (stamp, stamp),
    )
    member = (
        "INSERT INTO members (id, tenant_id, name, email, favorite_book_id, created_at, updated_at) "
        "VALUES (?, ?, 'Ada', 'ada@example.com', ?, ?, ?)"
    )
    db.execute(member, ("m1", "a", "b1", stamp, stamp))
    for tenant, book in (("b", "b1"), ("a", "no-such-book")):
        with pytest.raises(sqlite3.IntegrityError, match="FOREIGN KEY"):
            db.execute(member, (uuid.uuid4().hex, tenant, book, stamp, stamp))
    db.close()


@pytest.fixture(scope="module")
def library_build(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The library service's source, as CodeGen writes it (no pipeline run: the service is what is tested)."""
    build = tmp_path_factory.mktemp("library") / "build"
    for path, text in generate_source(load_pack0(LIBRARY)).items():
        write_text_atomic(build / path, text)
    return build


def a_book() -> dict:
    return {"title": "Dune", "isbn": next(ISBNS)}


def walk_the_library(service: Service) -> None:
    """Every reference rule over HTTP, for two tenants."""

    def create(path, body, tenant="acme", status=201):
        code, answer = service.call("POST", path, body, tenant=tenant)
        assert code == status, answer
        return answer

    def conflict_fields(answer):
        return [item["field"] for item in answer["error"]["fields"]]

    book, member = create(BOOKS, a_book()), create(MEMBERS, MEMBER)
    loan = {"book_id": book["id"], "member_id": member["id"], "due_on": "2026-02-01"}
    # No such record, or another tenant's: the same 409 naming the field; nothing written.
    missing = create(LOANS, {**loan, "book_id": str(uuid.uuid4())}, status=409)
    assert conflict_fields(missing) == ["book_id"]
    elsewhere = create(LOANS, {**loan, "member_id": create(MEMBERS, MEMBER, tenant="umbrella")["id"]}, status=409)
    assert conflict_fields(elsewhere) == ["member_id"]
    assert create(LOANS, loan, tenant="umbrella", status=409)["error"]["fields"][0]["field"] == "book_id"
    assert service.call("GET", LOANS)[1]["total"] == 0
    made = create(LOANS, loan)
    code, answer = service.call("PATCH", f"{LOANS}/{made['id']}", {"book_id": str(uuid.uuid4())})
    assert (code, conflict_fields(answer)) == (409, ["book_id"])
    assert service.call("PATCH", f"{LOANS}/{made['id']}", {"book_id": str(uuid.uuid4())}, tenant="umbrella")[0] == 404
    assert service.call("GET", f"{LOANS}?book_id={book['id']}")[1]["total"] == 1
    assert service.call("GET", f"{LOANS}?book_id={book['id']}", tenant="umbrella")[1]["total"] == 0

    # restrict: the book on loan stays, the answer names the loans; another tenant cannot even see it.
    assert service.call("DELETE", f"{BOOKS}/{book['id']}", tenant="umbrella")[0] == 404
    code, answer = service.call("DELETE", f"{BOOKS}/{book['id']}")
    assert code == 409 and "loans" in answer["error"]["message"] and conflict_fields(answer) == ["loans.book_id"]
    # set-null: a member's favourite book is forgotten when the book goes.
    fan = create(MEMBERS, {**MEMBER, "favorite_book_id": book["id"]})
    other_book = create(BOOKS, a_book())
    create(MEMBERS, {**MEMBER, "favorite_book_id": other_book["id"]})
    assert service.call("DELETE", f"{BOOKS}/{other_book['id']}")[0] == 204
    assert service.call("GET", f"{MEMBERS}?favorite_book_id={other_book['id']}")[1]["total"] == 0
    # cascade: deleting the member deletes the loan, which frees the book.
    assert service.call("DELETE", f"{MEMBERS}/{member['id']}")[0] == 204
    assert service.call("GET", f"{LOANS}/{made['id']}")[0] == 404
    assert service.call("DELETE", f"{BOOKS}/{book['id']}")[0] == 204
    assert service.call("GET", f"{MEMBERS}/{fan['id']}")[1]["favorite_book_id"] is None


def test_references_on_sqlite(library_build: Path, tmp_path: Path):
    service = Service(library_build, "library", tmp_path, DATABASE_PATH=str(tmp_path / "db.sqlite3"))
    try:
        walk_the_library(service)
    finally:
        service.stop()


def test_a_cascade_stopped_by_a_restrict_further_down_changes_nothing(tmp_path: Path):
    contracts = {
        "box": contract(NAME, title="Box"),
        "card": contract({"box_id": ref("box", **{"x-on-delete": "cascade"})}, ["box_id"], "Card"),
        "item": contract({"box_id": ref("box", **{"x-on-delete": "cascade"})}, ["box_id"], "Item"),
        "hold": contract({"item_id": ref("item")}, ["item_id"], "Hold"),
    }
    build = tmp_path / "build"
    for path, text in generate_source(load_pack0(pack0_of(tmp_path, contracts))).items():
        write_text_atomic(build / path, text)
    service = Service(build, "team_tasks", tmp_path, DATABASE_PATH=str(tmp_path / "db.sqlite3"))
    try:
        box = service.call("POST", "/api/v1/boxes", {"name": "A"})[1]
        kept, held = (service.call("POST", "/api/v1/items", {"box_id": box["id"]})[1] for _ in range(2))
        assert service.call("POST", "/api/v1/holds", {"item_id": held["id"]})[0] == 201
        # cards come first in the delete (contract order): deleted, then put back when the hold refuses.
        assert service.call("POST", "/api/v1/cards", {"box_id": box["id"]})[0] == 201
        code, answer = service.call("DELETE", f"/api/v1/boxes/{box['id']}")
        assert code == 409 and answer["error"]["fields"][0]["field"] == "holds.item_id"
        assert service.call("GET", "/api/v1/items")[1]["total"] == 2
        assert service.call("GET", "/api/v1/cards")[1]["total"] == 1
        assert service.call("DELETE", f"/api/v1/items/{held['id']}")[0] == 409
        assert (
            service.call("DELETE", "/api/v1/holds/" + service.call("GET", "/api/v1/holds")[1]["items"][0]["id"])[0]
            == 204
        )
        assert service.call("DELETE", f"/api/v1/boxes/{box['id']}")[0] == 204
        assert service.call("GET", "/api/v1/items")[1]["total"] == 0
        assert service.call("GET", "/api/v1/cards")[1]["total"] == 0
        assert kept["box_id"] == box["id"]
    finally:
        service.stop()


def test_references_on_postgres_and_the_database_refuses_a_cross_tenant_row(
    library_build: Path, database: str, tmp_path: Path
):
    before = schema_dump(database)
    deploy_to(library_build, load_pack0(LIBRARY), database)
    service = Service(library_build, "library", tmp_path, DATABASE_URL=database)
    try:
        walk_the_library(service)
        book = service.call("POST", BOOKS, a_book(), tenant="acme")[1]
    finally:
        service.stop()
    # The key includes the tenant: even the table owner cannot make a loan point into another tenant.
    insert = (
        "INSERT INTO members (tenant_id, name, email, favorite_book_id) "
        f"VALUES ('umbrella', 'Eve', 'eve@example.com', '{book['id']}')"
    )
    with pytest.raises(RuntimeError, match="foreign key"):
        psql(database, insert)
    psql(database, "DELETE FROM loans; DELETE FROM members; DELETE FROM books")
    rolled = run_script(library_build, "rollback.sh", database)
    assert rolled.returncode == 0, rolled.stderr
    assert schema_dump(database) == before


def test_cli_refuses_a_reference_to_an_unknown_entity_with_exit_2_writing_nothing(tmp_path: Path):
    root = pack0_of(tmp_path, {"loan": contract({"book_id": ref("book")}, title="Loan")})
    out = tmp_path / "out"
    result = run_cli("auto-build", "--module", "team-tasks", "--pack0", root, "--out", out)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "loan.schema.json" in result.stderr and "x-references" in result.stderr
    assert not out.exists()


CYCLE = {
    "alpha": contract({"beta_id": ref("beta")}, ["beta_id"], "Alpha"),
    "beta": contract({"alpha_id": ref("alpha", nullable=True, **{"x-on-delete": "set-null"})}, [], "Beta"),
    "node": contract({"parent_id": ref("node", nullable=True, **{"x-on-delete": "cascade"})}, [], "Node"),
}


def walk_the_cycle(service: Service) -> None:
    """A cycle (alpha needs a beta; a beta may name an alpha) and a tree of nodes, over HTTP."""
    beta = service.call("POST", "/api/v1/betas", {})[1]
    alpha = service.call("POST", "/api/v1/alphas", {"beta_id": beta["id"]})[1]
    assert service.call("PATCH", f"/api/v1/betas/{beta['id']}", {"alpha_id": alpha["id"]})[0] == 200
    assert service.call("DELETE", f"/api/v1/betas/{beta['id']}")[0] == 409  # alpha.beta_id: restrict
    assert service.call("DELETE", f"/api/v1/alphas/{alpha['id']}")[0] == 204
    assert service.call("GET", f"/api/v1/betas/{beta['id']}")[1]["alpha_id"] is None
    root = service.call("POST", "/api/v1/nodes", {})[1]
    child = service.call("POST", "/api/v1/nodes", {"parent_id": root["id"]})[1]
    service.call("POST", "/api/v1/nodes", {"parent_id": child["id"]})
    assert service.call("GET", "/api/v1/nodes")[1]["total"] == 3
    assert service.call("DELETE", f"/api/v1/nodes/{root['id']}")[0] == 204  # the whole tree, recursively
    assert service.call("GET", "/api/v1/nodes")[1]["total"] == 0


@pytest.fixture(scope="module")
def cycle_build(tmp_path_factory: pytest.TempPathFactory):
    work = tmp_path_factory.mktemp("cycle")
    pack0 = load_pack0(pack0_of(work, CYCLE))
    for path, text in generate_source(pack0).items():
        write_text_atomic(work / "build" / path, text)
    return work / "build", pack0


def test_a_cycle_and_a_tree_of_references_work_on_sqlite(cycle_build, tmp_path: Path):
    service = Service(cycle_build[0], "team_tasks", tmp_path, DATABASE_PATH=str(tmp_path / "db.sqlite3"))
    try:
        walk_the_cycle(service)
    finally:
        service.stop()


def test_a_cycle_deploys_works_and_rolls_back_on_postgres(cycle_build, database: str, tmp_path: Path):
    build, pack0 = cycle_build
    before = schema_dump(database)
    deploy_to(build, pack0, database)
    service = Service(build, "team_tasks", tmp_path, DATABASE_URL=database)
    try:
        walk_the_cycle(service)
    finally:
        service.stop()
    rolled = run_script(build, "rollback.sh", database)
    assert rolled.returncode == 0, rolled.stderr
    assert schema_dump(database) == before


# A team may name a captain; a player must belong to a team: a team made for a test needs a player, whose own
# team is made first, so one tenant holds a team the test did not ask for, and it must not take the test's name.
LEAGUE = {
    "team": contract(
        {"name": {"type": "string", "minLength": 1, "x-unique": True}, "captain_id": ref("player", nullable=True)},
        ["name"],
        "Team",
    ),
    "player": contract(
        {"team_id": ref("team", **{"x-on-delete": "cascade"}), "shirt": {"type": "integer", "minimum": 1}},
        ["team_id", "shirt"],
        "Player",
    ),
}


def test_generated_tests_pass_where_a_record_is_made_as_a_parent_of_its_own_kind(tmp_path: Path):
    from factory.engine.testgen import generate_tests

    pack0 = load_pack0(pack0_of(tmp_path, LEAGUE))
    for path, text in {**generate_source(pack0), **generate_tests(pack0)}.items():
        write_text_atomic(tmp_path / "build" / path, text)
    env = {key: value for key, value in os.environ.items() if key != "TEST_DATABASE_URL"}
    argv = [sys.executable, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider", "-o", "addopts="]
    argv += ["-k", "tenants_full or walked or list_pages or sorts or duplicate"]  # the ones that failed
    done = subprocess.run(
        argv,
        cwd=tmp_path / "build",
        env={**env, "PYTHONDONTWRITEBYTECODE": "1", "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},  # as the factory runs it
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert " passed" in done.stdout and "failed" not in done.stdout


def test_a_unique_set_too_small_for_a_record_made_as_its_own_parent_is_refused_naming_it(tmp_path: Path):
    # Three team names serve the tests' own three teams; the teams their players need would repeat one.
    three = {"name": {"type": "string", "enum": ["a", "b", "c"], "x-unique": True}, "captain_id": ref("player", True)}
    message = load_error(tmp_path, {**LEAGUE, "team": contract(three, ["name"], "Team")})
    assert "team.schema.json: properties.name.x-unique:" in message
    assert "player.team_id" in message
    assert "\n" not in message
