"""The stores the generated tests run against: SQLite always; PostgreSQL too when LAI_TEST_DATABASE_URL names a
server (`scripts/postgres.sh start` prints one). For PostgreSQL each test run gets a fresh database, migrated by
the build's own deploy.sh and migrations (the same files `--auto-deploy` writes), dropped afterwards.

The sandbox has no network: the database is reached through a Unix socket in a private folder the sandbox is
given, relayed to the server. Nothing else outside the sandbox becomes reachable.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from factory.fsutil import write_file_set

if TYPE_CHECKING:  # rules/run_heal.py imports store_names to create tasks: a no-op must not load pydantic
    from factory.pack0.models import Pack0

TEST_DATABASE_ENV = "LAI_TEST_DATABASE_URL"
DEPLOY_TIMEOUT_S = 120


@dataclass(frozen=True)
class TestStore:
    """One store the tests run on: the environment the tests get, and folders the sandbox must share."""

    name: str
    env: dict = field(default_factory=dict)
    binds: tuple[str, ...] = ()


def store_names() -> list[str]:
    """Which stores a test run covers here (for doit: a change re-runs the tests)."""
    return ["sqlite", "postgres"] if os.environ.get(TEST_DATABASE_ENV) else ["sqlite"]


def skipped_stores() -> dict[str, str]:
    if os.environ.get(TEST_DATABASE_ENV):
        return {}
    return {"postgres": f"{TEST_DATABASE_ENV} is not set (scripts/postgres.sh start prints a server URL)"}


class _Relay:
    """A Unix socket (<dir>/.s.PGSQL.5432, where libpq looks) whose connections are piped to the server."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (
            (socket.AF_UNIX, f"{host}/.s.PGSQL.{port}")
            if host.startswith("/")
            else (
                socket.AF_INET,
                (host, port),
            )
        )
        self.dir = tempfile.mkdtemp(prefix="lai-pg-")
        os.chmod(self.dir, 0o755)
        self.listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.listener.bind(os.path.join(self.dir, ".s.PGSQL.5432"))
        os.chmod(os.path.join(self.dir, ".s.PGSQL.5432"), 0o777)  # the sandbox may run as another user
        self.listener.listen(64)
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, name="pg-relay", daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            try:
                server = socket.socket(self.target[0], socket.SOCK_STREAM)
                server.connect(self.target[1])
            except OSError:
                client.close()
                continue
            self._open += [client, server]
            for source, sink in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        self.listener.close()
        for connection in self._open:
            with suppress(OSError):
                connection.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def migration_files(pack0: Pack0) -> dict[str, str]:
    """The deploy.sh and migrations a PostgreSQL test database is made with (from the Pack0, not the build)."""
    from factory.deploy.migrations import generate_migrations
    from factory.deploy.scripts import generate_scripts

    return {**generate_migrations(pack0, "compose"), **generate_scripts(pack0)}


def migrations_digest(pack0: Pack0) -> str:
    """What a test result on PostgreSQL depends on besides the build's files: its migrations."""
    from factory.llm.cache import content_key

    return content_key(migration_files(pack0))


def _migrate(pack0: Pack0, url: str) -> None:
    """deploy.sh with the build's migrations (written to a scratch folder: the build is evidence)."""
    from factory.deploy.scripts import EXECUTABLE_SCRIPTS

    scratch = Path(tempfile.mkdtemp(prefix="lai-deploy-"))
    try:
        files = migration_files(pack0)
        write_file_set(scratch, files, allowed_roots=("deploy",), executable=EXECUTABLE_SCRIPTS)
        env = {**os.environ, "DATABASE_URL": url}
        done = subprocess.run(
            [str(scratch / "deploy/deploy.sh")],
            capture_output=True,
            text=True,
            env=env,
            timeout=DEPLOY_TIMEOUT_S,
            check=False,
        )
        if done.returncode != 0:
            last = (done.stderr.strip() or done.stdout.strip() or "failed").splitlines()[-1]
            raise RuntimeError(f"deploy.sh on the test database: {last}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def as_url(params: dict) -> str:
    """libpq parameters as a postgresql:// URL: the generated service takes only a URL for PostgreSQL (anything
    else is a SQLite path), so a keyword DSN ("user=... dbname=...") ran the "postgres" tests on a SQLite file
    of that name, created in build/."""
    from urllib.parse import quote, urlencode

    user, password = params.get("user") or "", params.get("password")
    auth = f"{quote(user, safe='')}{':' + quote(password, safe='') if password else ''}@" if user else ""
    query = {key: value for key, value in params.items() if key not in ("user", "password", "dbname") and value}
    return f"postgresql://{auth}/{quote(params['dbname'], safe='')}?{urlencode(query)}"


@contextmanager
def postgres_store(server_url: str, pack0: Pack0) -> Iterator[TestStore]:
    """A fresh database on the server, migrated; the tests get TEST_DATABASE_URL through the relay."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict, make_conninfo

    params = conninfo_to_dict(server_url)
    name = f"lai_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(server_url, autocommit=True, connect_timeout=10) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    relay = None
    try:
        _migrate(pack0, make_conninfo(server_url, dbname=name))
        relay = _Relay(str(params.get("host") or "127.0.0.1"), int(params.get("port") or 5432))
        relayed = make_conninfo(server_url, dbname=name, host=relay.dir, port="5432", hostaddr=None)
        test_url = as_url(conninfo_to_dict(relayed))
        yield TestStore("postgres", {"TEST_DATABASE_URL": test_url}, (relay.dir,))
    finally:
        if relay is not None:
            relay.close()
        with psycopg.connect(server_url, autocommit=True, connect_timeout=10) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def test_stores(pack0: Pack0 | None) -> Iterator[list[TestStore]]:
    """SQLite, and PostgreSQL where a server is given (and the Pack0 is known, to migrate it)."""
    server_url = os.environ.get(TEST_DATABASE_ENV)
    if not server_url or pack0 is None:
        yield [TestStore("sqlite")]
        return
    with postgres_store(server_url, pack0) as postgres:
        yield [TestStore("sqlite"), postgres]
