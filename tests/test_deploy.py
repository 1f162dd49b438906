"""Deploy artifacts on a real PostgreSQL: deploy, idempotent re-deploy, tenant isolation, exact rollback."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from conftest import read_json, run_cli
from pg import AUTH_SHIM, as_tenant, psql, run_script, sample_insert, schema_dump

from factory.deploy.migrations import generate_migrations
from factory.deploy.scripts import EXECUTABLE_SCRIPTS, generate_scripts
from factory.fsutil import write_file_set
from factory.pack0.generate import generate_pack0
from factory.pack0.load import load_pack0

EXAMPLE_MODULES = ("crm-contacts", "meetcore", "invoices", "tasks")


def deploy_files(tmp_path: Path, module: str, target: str) -> Path:
    pack0_dir = tmp_path / "pack0"
    for path, text in generate_pack0(module).items():
        (pack0_dir / path).parent.mkdir(parents=True, exist_ok=True)
        (pack0_dir / path).write_text(text)
    pack0 = load_pack0(pack0_dir)
    build = tmp_path / "build"
    files = {**generate_migrations(pack0, target), **generate_scripts(pack0)}
    write_file_set(build, files, allowed_roots=("deploy",), executable=EXECUTABLE_SCRIPTS)
    return build


def test_auto_deploy_writes_the_deploy_artifacts(tmp_path: Path):
    out = tmp_path / "out"
    result = run_cli("auto-full", "--module", "crm-contacts", "--out", out, "--auto-deploy", "--waive", "docker-build")
    assert result.returncode == 0, result.stdout + result.stderr
    deploy = out / "build/deploy"
    assert sorted(p.name for p in (deploy / "migrations").iterdir()) == [
        "0001_create_companies.down.sql",
        "0001_create_companies.up.sql",
        "0002_create_contacts.down.sql",
        "0002_create_contacts.up.sql",
    ]
    assert all(os.access(deploy / name, os.X_OK) for name in ("deploy.sh", "rollback.sh", "healthcheck.sh"))
    assert read_json(deploy / "applied.json") == {
        "applied": False,
        "reason": "DATABASE_URL is not set; run deploy/deploy.sh yourself",
    }
    listed = {item["path"] for item in read_json(out / "build/manifest.json")["artifacts"]}
    assert {"deploy/deploy.sh", "deploy/rollback.sh", "deploy/migrations/0002_create_contacts.up.sql"} <= listed


def test_a_deleted_deploy_file_is_written_again_and_another_targets_files_go(tmp_path: Path):
    out = tmp_path / "out"
    build = ("auto-full", "--module", "crm-contacts", "--out", out, "--auto-deploy", "--waive", "docker-build")
    assert run_cli(*build).returncode == 0
    deploy = out / "build/deploy"
    files = {path: path.read_bytes() for path in deploy.rglob("*") if path.is_file() and path.name != "applied.json"}
    for path in (deploy / "migrations/0002_create_contacts.up.sql", deploy / "healthcheck.sh"):
        path.unlink()
        # Only deploy.sh and rollback.sh were the deploy task's targets: the evidence was derived again without
        # the file, and approved a deploy that creates no contacts table.
        again = run_cli(*build)
        assert again.returncode == 0, again.stdout + again.stderr
        assert path.read_bytes() == files[path]
    assert run_cli(*build, "--deploy-target", "supabase").returncode == 0
    assert (deploy / "supabase").is_dir()
    assert run_cli(*build).returncode == 0
    assert {path: path.read_bytes() for path in files} == files and not (deploy / "supabase").exists()
    listed = {item["path"] for item in read_json(out / "build/manifest.json")["artifacts"]}
    assert not [path for path in listed if path.startswith("deploy/supabase")]
    assert run_cli("verify", out).returncode == 0


def test_deploy_script_without_database_url_says_so(tmp_path: Path):
    build = deploy_files(tmp_path, "tasks", "compose")
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    done = subprocess.run([str(build / "deploy/deploy.sh")], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 2
    assert "DATABASE_URL is not set" in done.stderr


def assert_round_trip(build: Path, pack0, database: str, *, rls: bool) -> None:
    """deploy -> objects, constraints (and RLS) exist -> tenants isolated -> health -> re-deploy changes
    nothing -> rollback -> the schema is exactly as before."""
    before = schema_dump(database)
    first = run_script(build, "deploy.sh", database)
    assert first.returncode == 0, first.stderr
    assert f"{len(pack0.entities)} migration(s) applied" in first.stdout
    assert "health: FAIL" not in first.stdout + first.stderr and "health: ok" in first.stdout
    for entity in pack0.entities:
        table = entity.plural
        assert psql(database, f"SELECT to_regclass('public.{table}') IS NOT NULL") == "t"
        index = f"SELECT count(*) FROM pg_indexes WHERE tablename = '{table}' AND indexdef LIKE '%(tenant_id)%'"
        assert psql(database, index) == "1"
        checks = f"SELECT count(*) FROM pg_constraint WHERE conrelid = 'public.{table}'::regclass AND contype = 'c'"
        assert int(psql(database, checks)) >= 1
        if rls:
            assert psql(database, f"SELECT relrowsecurity FROM pg_class WHERE oid = 'public.{table}'::regclass") == "t"
            assert psql(database, f"SELECT count(*) FROM pg_policies WHERE tablename = '{table}'") == "1"
            psql(database, f"GRANT ALL ON {table} TO app_user")
            psql(database, as_tenant("tenant-a", sample_insert(entity, "tenant-a")))
            count = f"SELECT count(*) FROM {table}"
            assert psql(database, as_tenant("tenant-a", count)).splitlines()[-1] == "1"
            assert psql(database, as_tenant("tenant-b", count)).splitlines()[-1] == "0"
            assert psql(database, as_tenant("tenant-b", f"DELETE FROM {table} RETURNING id")).splitlines()[1:] == []
            with pytest.raises(RuntimeError, match="row-level security"):
                psql(database, as_tenant("tenant-b", sample_insert(entity, "tenant-a")))
            psql(database, f"REVOKE ALL ON {table} FROM app_user; DELETE FROM {table}")
    second = run_script(build, "deploy.sh", database)
    assert second.returncode == 0 and "0 migration(s) applied" in second.stdout
    assert "postgres@" not in first.stdout + first.stderr + second.stdout + second.stderr
    rolled = run_script(build, "rollback.sh", database)
    assert rolled.returncode == 0, rolled.stderr
    assert schema_dump(database) == before


@pytest.mark.parametrize("module", EXAMPLE_MODULES)
def test_supabase_round_trip_on_postgres(tmp_path: Path, database: str, module: str):
    psql(database, AUTH_SHIM)
    build = deploy_files(tmp_path, module, "supabase")
    pack0 = load_pack0(tmp_path / "pack0")
    assert_round_trip(build, pack0, database, rls=True)
    supabase_layout = sorted(p.name for p in (build / "deploy/supabase/migrations").iterdir())
    assert supabase_layout == [f"2026010100000{i}_create_{e.plural}.sql" for i, e in enumerate(pack0.entities, 1)]


def test_compose_round_trip_on_postgres(tmp_path: Path, database: str):
    build = deploy_files(tmp_path, "invoices", "compose")
    assert_round_trip(build, load_pack0(tmp_path / "pack0"), database, rls=False)


def test_contract_rules_become_constraints(tmp_path: Path, database: str):
    build = deploy_files(tmp_path, "crm-contacts", "compose")
    assert run_script(build, "deploy.sh", database).returncode == 0
    psql(database, "INSERT INTO contacts (tenant_id, first_name, last_name, email) VALUES ('a', 'Ada', 'L', 'a@x.io')")
    with pytest.raises(RuntimeError, match="check constraint"):
        psql(
            database,
            "INSERT INTO contacts (tenant_id, first_name, last_name, email, status) "
            "VALUES ('a', 'Ada', 'L', 'a@x.io', 'not-a-status')",
        )
    with pytest.raises(RuntimeError, match="null value"):
        psql(database, "INSERT INTO contacts (tenant_id, first_name, last_name) VALUES ('a', 'Ada', 'L')")
    with pytest.raises(RuntimeError, match='check constraint "check_2"'):
        psql(
            database,
            f"INSERT INTO contacts (tenant_id, first_name, last_name, email) VALUES ('a', '{'x' * 121}', "
            "'L', 'a@x.io')",
        )


def test_compose_target_wires_postgres_migrations_and_the_service(tmp_path: Path):
    yaml = pytest.importorskip("yaml", reason="PyYAML is needed to read the compose file")
    out = tmp_path / "out"
    result = run_cli("auto-full", "--module", "tasks", "--out", out, "--auto-deploy", "--waive", "docker-build")
    assert result.returncode == 0, result.stdout + result.stderr
    compose = yaml.safe_load((out / "build/deploy/docker-compose.yml").read_text())
    services = compose["services"]
    assert set(services) == {"db", "migrate", "tasks"}
    assert "healthcheck" in services["db"] and "healthcheck" in services["tasks"]
    assert services["migrate"]["depends_on"]["db"]["condition"] == "service_healthy"
    assert services["tasks"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    assert services["migrate"]["environment"]["DATABASE_URL"].startswith("postgresql://app:${POSTGRES_PASSWORD")
