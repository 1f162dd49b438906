"""Deploy artifacts on a real PostgreSQL: deploy, idempotent re-deploy, tenant isolation, exact rollback."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

import pytest
from conftest import ROOT, read_json, run_cli

from factory.deploy.migrations import generate_migrations
from factory.deploy.scripts import EXECUTABLE_SCRIPTS, generate_scripts
from factory.fsutil import write_file_set
from factory.pack0.generate import generate_pack0
from factory.pack0.load import load_pack0

EXAMPLE_MODULES = ("crm-contacts", "meetcore", "invoices", "tasks")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="session")
def postgres_url():
    """LAI_TEST_DATABASE_URL if set; else a private server started with scripts/postgres.sh."""
    if os.environ.get("LAI_TEST_DATABASE_URL"):
        yield os.environ["LAI_TEST_DATABASE_URL"]
        return
    if not shutil.which("psql") or not shutil.which("pg_dump"):
        pytest.skip("PostgreSQL client (psql, pg_dump) not installed: apt-get install -y postgresql")
    data_dir = Path(tempfile.mkdtemp(prefix="lai-pg-")) / "data"
    data_dir.parent.chmod(0o755)  # the server runs as 'postgres' when we are root
    script = ROOT / "scripts/postgres.sh"
    started = subprocess.run(
        ["bash", str(script), "start", str(data_dir), str(_free_port())], capture_output=True, text=True, check=False
    )
    if started.returncode == 3:
        pytest.skip(started.stderr.strip())
    assert started.returncode == 0, started.stderr
    yield started.stdout.strip()
    subprocess.run(["bash", str(script), "stop", str(data_dir)], check=False)
    shutil.rmtree(data_dir.parent, ignore_errors=True)


def psql(url: str, sql: str) -> str:
    done = subprocess.run(
        ["psql", url, "-v", "ON_ERROR_STOP=1", "-X", "-q", "-tA", "-c", sql],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(done.stderr.strip())
    return done.stdout.strip()


@pytest.fixture
def database(postgres_url: str) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    psql(postgres_url, f"CREATE DATABASE {name}")
    return postgres_url.rsplit("/", 1)[0] + f"/{name}"


def schema_dump(url: str) -> str:
    dump = subprocess.run(["pg_dump", "--schema-only", url], capture_output=True, text=True, check=True).stdout
    # pg_dump brackets its output with a random \restrict key; the schema is everything else.
    return "\n".join(line for line in dump.splitlines() if not line.startswith(("\\restrict", "\\unrestrict")))


def run_script(build: Path, name: str, url: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "DATABASE_URL": url}
    return subprocess.run([str(build / "deploy" / name)], capture_output=True, text=True, env=env, check=False)


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


def test_deploy_script_without_database_url_says_so(tmp_path: Path):
    build = deploy_files(tmp_path, "tasks", "compose")
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    done = subprocess.run([str(build / "deploy/deploy.sh")], capture_output=True, text=True, env=env, check=False)
    assert done.returncode == 2
    assert "DATABASE_URL is not set" in done.stderr


@pytest.mark.parametrize("module", EXAMPLE_MODULES)
def test_deploy_redeploy_and_rollback_round_trip(tmp_path: Path, database: str, module: str):
    build = deploy_files(tmp_path, module, "compose")
    pack0 = load_pack0(tmp_path / "pack0")
    before = schema_dump(database)
    first = run_script(build, "deploy.sh", database)
    assert first.returncode == 0, first.stderr
    assert f"{len(pack0.entities)} migration(s) applied" in first.stdout
    assert "health: FAIL" not in first.stdout + first.stderr
    for entity in pack0.entities:
        assert psql(database, f"SELECT to_regclass('public.{entity.plural}') IS NOT NULL") == "t"
        assert (
            psql(
                database,
                f"SELECT count(*) FROM pg_indexes WHERE tablename = '{entity.plural}' "
                "AND indexdef LIKE '%(tenant_id)%'",
            )
            == "1"
        )
    second = run_script(build, "deploy.sh", database)
    assert second.returncode == 0 and "0 migration(s) applied" in second.stdout
    assert "postgres@" not in first.stdout + first.stderr + second.stdout
    rolled = run_script(build, "rollback.sh", database)
    assert rolled.returncode == 0, rolled.stderr
    assert schema_dump(database) == before


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


AUTH_SHIM = """
CREATE SCHEMA IF NOT EXISTS auth;
CREATE OR REPLACE FUNCTION auth.jwt() RETURNS jsonb LANGUAGE sql STABLE AS
  $$ SELECT coalesce(nullif(current_setting('request.jwt.claims', true), ''), '{}')::jsonb $$;
DO $$ BEGIN CREATE ROLE app_user NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
"""


def as_tenant(tenant: str, sql: str) -> str:
    claims = json.dumps({"tenant_id": tenant})
    return f"SET ROLE app_user; SELECT set_config('request.jwt.claims', '{claims}', false); {sql}"


def test_supabase_row_level_security_isolates_tenants(tmp_path: Path, database: str):
    build = deploy_files(tmp_path, "tasks", "supabase")
    psql(database, AUTH_SHIM)  # what Supabase provides: auth.jwt() reads the request's JWT claims
    assert run_script(build, "deploy.sh", database).returncode == 0
    assert (tmp_path / "build/deploy/supabase/migrations/20260101000002_create_tasks.sql").is_file()
    psql(database, "GRANT USAGE ON SCHEMA auth TO app_user; GRANT ALL ON tasks TO app_user")
    psql(database, as_tenant("a", "INSERT INTO tasks (tenant_id, title, status) VALUES ('a', 'mine', 'todo')"))
    assert psql(database, as_tenant("a", "SELECT count(*) FROM tasks")).splitlines()[-1] == "1"
    assert psql(database, as_tenant("b", "SELECT count(*) FROM tasks")).splitlines()[-1] == "0"
    assert psql(database, as_tenant("b", "UPDATE tasks SET title = 'stolen' RETURNING id")).splitlines()[1:] == []
    with pytest.raises(RuntimeError, match="row-level security"):
        psql(database, as_tenant("b", "INSERT INTO tasks (tenant_id, title, status) VALUES ('a', 'forged', 'todo')"))
