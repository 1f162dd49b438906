"""The compose target's stack, exercised by the docker gate: PostgreSQL, a one-shot migrate (deploy.sh), and the
built service on that PostgreSQL, on a private network with no way out. A create and a read go through the
service; the row is in PostgreSQL; rollback.sh leaves the schema as it was before the deploy.

There is no compose plugin and no registry here, so the containers are started through the docker SDK the
way deploy/docker-compose.yml wires them, and PostgreSQL runs from the base image (scripts/docker-engine.sh
base-image installs it) instead of the postgres:16 image the compose file names."""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from pathlib import Path

from factory.deploy.migrations import generate_migrations
from factory.deploy.scripts import EXECUTABLE_SCRIPTS, generate_scripts
from factory.fsutil import write_file_set
from factory.pack0.models import Pack0

READY_TIMEOUT_S = 60
STEP_TIMEOUT_S = 120
_START_POSTGRES = (
    'bin="$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1)"; mkdir -p /tmp/pg; chown postgres /tmp/pg; '
    'runuser -u postgres -- "$bin/initdb" -D /tmp/pg/data -U app -A trust -E UTF8 --locale=C --no-sync >/dev/null; '
    'echo "host all all all trust" >> /tmp/pg/data/pg_hba.conf; '
    'exec runuser -u postgres -- "$bin/postgres" -D /tmp/pg/data -c listen_addresses=* -k /tmp/pg -c fsync=off'
)


def has_postgres(client, image: str) -> bool:
    """Does this image carry PostgreSQL (server and psql)? The local base image does; python:3.12-slim not."""
    probe = "ls /usr/lib/postgresql/*/bin/initdb >/dev/null && command -v psql >/dev/null"
    try:
        client.containers.run(image, ["sh", "-c", probe], remove=True, network_mode="none")
    except Exception:  # noqa: BLE001 - ContainerError, ImageNotFound, an engine error: all mean "no"
        return False
    return True


def _sql(container, query: str) -> str:
    done = container.exec_run(["psql", "-h", "127.0.0.1", "-U", "app", "-d", "postgres", "-XtA", "-c", query])
    if done.exit_code != 0:
        raise RuntimeError(f"psql in the database container: {done.output.decode('utf-8', 'replace').strip()}")
    return done.output.decode("utf-8", "replace").strip()


def _schema(container) -> str:
    done = container.exec_run(["pg_dump", "--schema-only", "-h", "127.0.0.1", "-U", "app", "postgres"])
    if done.exit_code != 0:
        raise RuntimeError(f"pg_dump: {done.output.decode('utf-8', 'replace').strip()[-300:]}")
    lines = done.output.decode("utf-8", "replace").splitlines()
    return "\n".join(line for line in lines if not line.startswith(("\\restrict", "\\unrestrict")))


def _wait_ready(container) -> float:
    started = time.monotonic()
    while time.monotonic() - started < READY_TIMEOUT_S:
        container.reload()
        if container.status not in ("created", "running"):
            raise RuntimeError(f"PostgreSQL stopped: {container.logs(tail=10).decode('utf-8', 'replace')}")
        if (
            container.exec_run(["psql", "-h", "127.0.0.1", "-U", "app", "-d", "postgres", "-c", "SELECT 1"]).exit_code
            == 0
        ):
            return time.monotonic() - started
        time.sleep(0.25)
    raise RuntimeError(f"PostgreSQL did not answer within {READY_TIMEOUT_S}s")


def _one_shot(client, image: str, script: str, network: str, url: str, deploy_dir: Path) -> str:
    """deploy.sh or rollback.sh in a container of its own, as compose's migrate service runs it."""
    container = client.containers.run(
        image,
        ["bash", f"/deploy/{script}"],
        detach=True,
        network=network,
        environment={"DATABASE_URL": url},
        volumes={str(deploy_dir): {"bind": "/deploy", "mode": "ro"}},
    )
    try:
        code = container.wait(timeout=STEP_TIMEOUT_S)["StatusCode"]
        output = container.logs().decode("utf-8", "replace").strip()
        if code != 0:
            raise RuntimeError(f"{script} exited {code}: {output[-300:]}")
        return output
    finally:
        container.remove(force=True)


def exercise_compose_stack(client, image_id: str, pack0: Pack0, base_image: str, wait_healthy, create_and_read):
    """Details lines of a passing run; RuntimeError (or a docker error) says what failed."""
    if not has_postgres(client, base_image):
        return [f"compose stack not exercised: {base_image} has no PostgreSQL (scripts/docker-engine.sh base-image)"]
    suffix = uuid.uuid4().hex[:10]
    network = client.networks.create(f"lai-gate-{suffix}", driver="bridge", internal=True)
    scratch = Path(tempfile.mkdtemp(prefix="lai-gate-deploy-"))
    containers = []
    try:
        files = {**generate_migrations(pack0, "compose"), **generate_scripts(pack0)}
        write_file_set(scratch, files, allowed_roots=("deploy",), executable=EXECUTABLE_SCRIPTS)
        db_name = f"lai-gate-db-{suffix}"
        database = client.containers.run(
            base_image, ["bash", "-c", _START_POSTGRES], detach=True, name=db_name, network=network.name
        )
        containers.append(database)
        ready_s = _wait_ready(database)
        url = f"postgresql://app@{db_name}:5432/postgres"
        before = _schema(database)
        deployed = _one_shot(client, base_image, "deploy.sh", network.name, url, scratch / "deploy")
        applied = next((line for line in deployed.splitlines() if "migration(s) applied" in line), deployed[-80:])
        service = client.containers.run(image_id, detach=True, network=network.name, environment={"DATABASE_URL": url})
        containers.append(service)
        health_s = wait_healthy(service)
        entity = pack0.entities[0]
        record_id = create_and_read(service, entity)
        stored = _sql(database, f"SELECT count(*) FROM \"{entity.plural}\" WHERE id = '{record_id}'")
        if stored != "1":
            raise RuntimeError(f"the record the service created is not in PostgreSQL ({stored} rows)")
        service.remove(force=True)
        containers.remove(service)
        _one_shot(client, base_image, "rollback.sh", network.name, url, scratch / "deploy")
        if _schema(database) != before:
            raise RuntimeError("after rollback.sh the schema is not as before the deploy")
        return [
            f"compose stack: PostgreSQL ready after {ready_s:.1f}s",
            f"compose stack: migrate {applied.removeprefix('deploy: ')}",
            f"compose stack: service healthy on PostgreSQL after {health_s:.1f}s",
            f"compose stack: created and read {entity.plural}/{record_id}, the row is in PostgreSQL",
            "compose stack: rollback left the schema as before",
        ]
    finally:
        for container in containers:
            container.remove(force=True)
        network.remove()
        shutil.rmtree(scratch, ignore_errors=True)
