"""The generated service keeps its rows in the database it deploys: PostgreSQL (row-level security, a pool) when
DATABASE_URL is one, SQLite otherwise; one schema for both; the schema version checked on start."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import build_env, factory_env, read_json, run_cli
from pg import Service, deploy_to, psql, refusal, run_script, schema_dump

from factory.deploy.schema import create_table, postgres_up, table_of
from factory.pack0.load import load_pack0

PACKAGE = "crm_contacts"
CONTACTS = "/api/v1/contacts"
ADA = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "status": "lead", "tags": ["x"]}
# The tenant condition of the PostgreSQL store, and the planted bug that drops it.
TENANT_CONDITION = 'return "tenant_id = %s", (tenant_id,)'
NO_TENANT_CONDITION = 'return "TRUE", ()'


@pytest.fixture
def build(crm_output: Path, tmp_path: Path) -> Path:
    shutil.copytree(crm_output / "build", tmp_path / "build")
    return tmp_path / "build"


@pytest.fixture
def pack0(crm_output: Path):
    return load_pack0(crm_output / "pack0/pack0-crm-contacts-0.0.1")


def plant_tenant_bug(build: Path) -> None:
    storage = build / f"src/{PACKAGE}/storage_pg.py"
    text = storage.read_text()
    assert TENANT_CONDITION in text
    storage.write_text(text.replace(TENANT_CONDITION, NO_TENANT_CONDITION))


def test_one_schema_source_gives_both_stores_the_same_columns_and_rules(pack0):
    for entity in pack0.entities:
        table = table_of(entity)
        postgres, sqlite = create_table(table, "postgres")[0], create_table(table, "sqlite")[0]
        for column in table.columns:
            assert f'"{column.name}"' in postgres and f'"{column.name}"' in sqlite
            if column.enum or column.min_length:
                name = table.check_name(column.name)
                assert f'CONSTRAINT "{name}"' in postgres and f'CONSTRAINT "{name}"' in sqlite
        assert create_table(table, "postgres")[0] in postgres_up("crm-contacts", entity)


def test_planted_tenant_bug_on_postgres_reads_changes_and_deletes_nothing_of_another_tenant(
    build: Path, pack0, database: str, tmp_path: Path
):
    deploy_to(build, pack0, database)
    plant_tenant_bug(build)
    service = Service(build, PACKAGE, tmp_path, DATABASE_URL=database)
    try:
        status, mine = service.call("POST", CONTACTS, ADA, tenant="victim")
        assert status == 201, mine
        item = f"{CONTACTS}/{mine['id']}"
        assert service.call("GET", item, tenant="attacker")[0] == 404
        assert service.call("GET", CONTACTS, tenant="attacker")[1]["total"] == 0
        assert service.call("PATCH", item, {"first_name": "Eve"}, tenant="attacker")[0] == 404
        assert service.call("DELETE", item, tenant="attacker")[0] == 404
        assert service.call("GET", item, tenant="victim") == (200, mine)
    finally:
        service.stop()
    # The row is in PostgreSQL's typed table, unchanged, and still the victim's.
    row = psql(database, f"SELECT tenant_id, first_name, status FROM contacts WHERE id = '{mine['id']}'")
    assert row == "victim|Ada|lead"


def test_the_same_planted_bug_leaks_on_sqlite_so_the_database_is_what_stops_it(build: Path, tmp_path: Path):
    plant_tenant_bug(build)
    storage = build / f"src/{PACKAGE}/storage.py"
    storage.write_text(
        storage.read_text().replace("WHERE tenant_id = ? AND id = ?", "WHERE (tenant_id = ? OR 1) AND id = ?")
    )
    service = Service(build, PACKAGE, tmp_path, DATABASE_PATH=str(tmp_path / "db.sqlite3"))
    try:
        mine = service.call("POST", CONTACTS, ADA, tenant="victim")[1]
        assert service.call("GET", f"{CONTACTS}/{mine['id']}", tenant="attacker") == (200, mine)
    finally:
        service.stop()


def test_deploy_round_trip_with_the_service_writing(build: Path, pack0, database: str, tmp_path: Path):
    before = schema_dump(database)
    deploy_to(build, pack0, database)
    service = Service(build, PACKAGE, tmp_path, DATABASE_URL=database)
    try:
        status, created = service.call("POST", CONTACTS, ADA)
        assert status == 201
        assert service.call("GET", f"{CONTACTS}/{created['id']}") == (200, created)
        # The service works as lai_service, bound by row-level security; psql as the owner sees the row.
        assert psql(database, "SELECT count(*) FROM contacts WHERE tenant_id = 'acme'") == "1"
        assert service.call("GET", "/health", tenant=None)[0] == 200
    finally:
        service.stop()
    rolled = run_script(build, "rollback.sh", database)
    assert rolled.returncode == 0, rolled.stderr
    assert schema_dump(database) == before


def test_the_service_refuses_a_database_without_its_migrations(build: Path, pack0, database: str, tmp_path: Path):
    line = refusal(build, PACKAGE, tmp_path, DATABASE_URL=database)
    assert "cannot serve" in line and ("deploy/deploy.sh" in line or "lai_service" in line)
    deploy_to(build, pack0, database)
    psql(database, "UPDATE lai_schema_migrations SET checksum = 'x' || checksum WHERE version = '0002'")
    line = refusal(build, PACKAGE, tmp_path, DATABASE_URL=database)
    assert "0002_create_contacts" in line and "postgres@" not in line


def test_the_service_refuses_a_sqlite_file_made_for_another_schema(build: Path, tmp_path: Path):
    database = tmp_path / "old.sqlite3"
    _sqlite_exec(database, "CREATE TABLE contacts (id TEXT PRIMARY KEY, tenant_id TEXT, data TEXT)")
    assert "another service" in refusal(build, PACKAGE, tmp_path, DATABASE_PATH=str(database))
    fresh = tmp_path / "fresh.sqlite3"
    Service(build, PACKAGE, tmp_path, DATABASE_PATH=str(fresh)).stop()
    _sqlite_exec(fresh, "UPDATE lai_schema_migrations SET checksum = 'changed' WHERE version = '0001'")
    assert "0001_create_companies" in refusal(build, PACKAGE, tmp_path, DATABASE_PATH=str(fresh))
    garbage = tmp_path / "not-a-database.sqlite3"
    garbage.write_bytes(b"\x00" * 4096 + b"not sqlite")
    assert "cannot use the SQLite database" in refusal(build, PACKAGE, tmp_path, DATABASE_PATH=str(garbage))


def _sqlite_exec(path: Path, sql: str) -> None:
    import sqlite3

    with sqlite3.connect(path) as connection:
        connection.execute(sql)


STORE_PROBE = """
import json, sys
from crm_contacts.storage import StoreError, open_store
store = open_store(sys.argv[1], "crm-contacts")
out = []
for fields in json.loads(sys.argv[2]):
    try:
        store.create("contacts", "t1", fields)
        out.append("stored")
    except StoreError as error:
        out.append([error.status, error.fields[0]["field"] if error.fields else None])
store.close()
print(json.dumps(out))
"""


@pytest.mark.parametrize("store", ["sqlite", "postgres"])
def test_a_row_the_database_refuses_is_a_422_naming_the_field(
    store: str, build: Path, pack0, request: pytest.FixtureRequest, tmp_path: Path
):
    if store == "postgres":
        database = request.getfixturevalue("database")
        deploy_to(build, pack0, database)
    else:
        database = str(tmp_path / "probe.sqlite3")
    cases = [
        {**ADA, "status": "not-a-status"},  # past the validator: the CHECK constraint refuses it
        {**ADA, "first_name": "x" * 121},
        {**ADA, "last_name": "nul\x00inside"},
        {"first_name": "Ada", "email": "a@b.io"},  # NOT NULL
        ADA,
    ]
    env = build_env(build)
    done = subprocess.run(
        [sys.executable, "-c", STORE_PROBE, database, json.dumps(cases)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == [
        [422, "status"],
        [422, "first_name"],
        [422, "last_name"],
        [422, "last_name"],
        "stored",
    ]


def test_a_lost_connection_is_a_503_and_the_pool_recovers(build: Path, pack0, database: str, tmp_path: Path):
    deploy_to(build, pack0, database)
    service = Service(build, PACKAGE, tmp_path, DATABASE_URL=database)
    try:
        assert service.call("GET", CONTACTS)[0] == 200
        name = database.rsplit("/", 1)[1]
        psql(
            database,
            f"SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '{name}' "
            "AND pid <> pg_backend_pid()",
        )
        statuses = [service.call("GET", CONTACTS)[0] for _ in range(3)]
        assert set(statuses) <= {200, 503} and statuses[-1] == 200, statuses
    finally:
        service.stop()


def test_the_run_stage_runs_the_generated_tests_on_both_stores(tmp_path: Path, postgres_url: str):
    out = tmp_path / "out"
    env = factory_env(LAI_TEST_DATABASE_URL=postgres_url)
    result = run_cli("auto-full", "--module", "tasks", "--out", out, "--waive", "docker-build", env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    tests = read_json(out / "build/run_report.json")["tests"]
    assert tests["stores"] == ["sqlite", "postgres"] and tests["stores_skipped"] == {}
    output = (out / "build/.factory_logs/test_output.0.txt").read_text()
    assert "$ [sqlite]" in output and "$ [postgres]" in output
    assert tests["counts"]["failed"] == tests["counts"]["error"] == 0 and tests["counts"]["passed"] > 0
    assert psql(postgres_url, "SELECT count(*) FROM pg_database WHERE datname LIKE 'lai_test_%'") == "0"


@pytest.mark.skipif(bool(os.environ.get("LAI_TEST_DATABASE_URL")), reason="LAI_TEST_DATABASE_URL gives a server")
def test_without_a_server_the_run_report_says_postgres_was_not_tested(crm_output: Path):
    tests = read_json(crm_output / "build/run_report.json")["tests"]
    assert tests["stores"] == ["sqlite"]
    assert "LAI_TEST_DATABASE_URL is not set" in tests["stores_skipped"]["postgres"]
