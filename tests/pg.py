"""A real PostgreSQL for the tests: started once per session with scripts/postgres.sh (or taken from
LAI_TEST_DATABASE_URL), one fresh database per test, and the Supabase pieces deploy scripts rely on."""

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

ROOT = Path(__file__).resolve().parent.parent

# What Supabase provides and the migrations rely on: auth.jwt() reads the request's JWT claims, and a
# role that is not the table owner (owners and superusers bypass row-level security).
AUTH_SHIM = """
CREATE SCHEMA IF NOT EXISTS auth;
CREATE OR REPLACE FUNCTION auth.jwt() RETURNS jsonb LANGUAGE sql STABLE AS
  $$ SELECT coalesce(nullif(current_setting('request.jwt.claims', true), ''), '{}')::jsonb $$;
DO $$ BEGIN CREATE ROLE app_user NOLOGIN; EXCEPTION WHEN duplicate_object THEN NULL; END $$;
GRANT USAGE ON SCHEMA auth TO app_user;
"""


def as_tenant(tenant: str, sql: str) -> str:
    """SQL run as app_user with the tenant's claims set, as Supabase runs a request."""
    claims = json.dumps({"tenant_id": tenant})
    return f"SET ROLE app_user; SELECT set_config('request.jwt.claims', '{claims}', false); {sql}"


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


def sample_insert(entity, tenant: str) -> str:
    """An INSERT of a valid record (from the contract) for this tenant."""
    from factory.deploy.migrations import quote_ident, quote_literal
    from factory.engine.samples import valid_record

    record = valid_record(entity)
    columns = ["tenant_id", *record]
    values = [quote_literal(tenant)] + [
        f"{quote_literal(json.dumps(value))}::jsonb" if isinstance(value, list) else quote_literal(value)
        for value in record.values()
    ]
    table = quote_ident(entity.plural)
    return f"INSERT INTO {table} ({', '.join(map(quote_ident, columns))}) VALUES ({', '.join(values)})"


def deploy_to(build: Path, pack0, url: str) -> None:
    """Write this Pack0's deploy files into build/deploy and run deploy.sh against url."""
    from factory.deploy.migrations import generate_migrations
    from factory.deploy.scripts import EXECUTABLE_SCRIPTS, generate_scripts
    from factory.fsutil import write_file_set

    files = {**generate_migrations(pack0, "compose"), **generate_scripts(pack0)}
    write_file_set(build, files, allowed_roots=("deploy",), executable=EXECUTABLE_SCRIPTS)
    done = run_script(build, "deploy.sh", url)
    assert done.returncode == 0, done.stderr


class Service:
    """The generated service run by hand (python -m <package>) on a random port, with its database settings."""

    def __init__(self, build: Path, package: str, workdir: Path, **env: str) -> None:
        import sys
        import time

        port_file = workdir / f"port-{uuid.uuid4().hex[:6]}"
        full_env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "DATABASE_PATH")}
        full_env.update({"PYTHONPATH": str(build / "src"), "PYTHONDONTWRITEBYTECODE": "1", **env})
        argv = [sys.executable, "-m", package, "--port", "0", "--port-file", str(port_file)]
        self.process = subprocess.Popen(argv, env=full_env, cwd=workdir, stderr=subprocess.PIPE, text=True)
        deadline = time.monotonic() + 20
        while not (port_file.is_file() and port_file.read_text()):
            if self.process.poll() is not None:
                raise RuntimeError(self.process.stderr.read().strip())
            assert time.monotonic() < deadline, "the service did not start"
            time.sleep(0.05)
        self.port = int(port_file.read_text())

    def call(self, method: str, path: str, body=None, tenant: str | None = "acme") -> tuple[int, object]:
        import http.client

        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = {"Content-Type": "application/json", **({"X-Tenant-ID": tenant} if tenant else {})}
        connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = connection.getresponse()
        raw = response.read()
        connection.close()
        return response.status, (json.loads(raw) if raw else None)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)
        self.process.stderr.close()


def refusal(build: Path, package: str, workdir: Path, **env: str) -> str:
    """What the service prints when it refuses to start (it must exit 1 with one line)."""
    import sys

    full_env = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "DATABASE_PATH")}
    full_env.update({"PYTHONPATH": str(build / "src"), "PYTHONDONTWRITEBYTECODE": "1", **env})
    done = subprocess.run(
        [sys.executable, "-m", package, "--port", "0"],
        env=full_env,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]
