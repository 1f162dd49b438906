"""Where records live: SQLite at DATABASE_PATH (the embedded default, standard library only) or PostgreSQL at
DATABASE_URL (storage_pg.py, imported only then: its driver is optional). This module is the SQLite dialect
and the choice between the two (open_store); what both share is in records.py (values, rows, the schema check)
and query.py (the SQL of lists and references). Both keep each resource in the typed table tables.json
describes, the same tables deploy/migrations create, and both check on start that the schema is the one this
service expects. Every query is scoped by tenant: a row is only ever read or changed by its tenant.

A store's methods (create, list, get, update, delete, ping, close) are what handlers.py calls; a batch that
must be all-or-nothing needs a method here and in storage_pg.py running its work in one _transaction.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import uuid
from datetime import date, datetime
from pathlib import Path

from .errors import StartupError, StoreError, StoreUnavailable, duplicate
from .query import check_references, delete_dependents, list_sql, quoted
from .records import TABLES, now, record_of, schema_problem, stamp_text, storable

# Imported from here by callers older than the split (and the generated tests): the store's errors.
__all__ = ["StartupError", "Store", "StoreError", "StoreUnavailable", "default_database_path", "open_store"]


def default_database_path(module):
    """Outside the build folder (a build is evidence: using the service must not change it): a per-user folder."""
    base = os.environ.get("XDG_DATA_HOME") or os.path.join(os.path.expanduser("~"), ".local", "share")
    return os.path.join(base, "lai-services", module, "data.sqlite3")


def open_store(database, module):
    """PostgreSQL for a postgres:// or postgresql:// URL, else SQLite at this path."""
    if database is None:
        url = os.environ.get("DATABASE_URL", "")
        database = url if url.startswith(("postgres://", "postgresql://")) else os.environ.get("DATABASE_PATH")
    if database and str(database).startswith(("postgres://", "postgresql://")):
        from .storage_pg import PostgresStore

        return PostgresStore(database)
    path = database or default_database_path(module)
    try:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        return Store(path)
    except (OSError, sqlite3.DatabaseError) as error:  # a folder it may not write, a file that is no database
        raise StartupError(f"cannot use the SQLite database at {path}: {error} (set DATABASE_PATH)") from None


def _sqlite_unique(table, message):
    """The unique set a SQLite 'UNIQUE constraint failed: t.tenant_id, t.a, t.b' message is about, or None."""
    columns = [part.rsplit(".", 1)[-1] for part in message.rsplit(": ", 1)[-1].split(", ")]
    for fields in table["unique"].values():
        if columns == ["tenant_id", *fields]:
            return fields
    return None


def _sqlite_field(table, message):
    """Which field a SQLite constraint message is about ('CHECK constraint failed: <name>', '... t.field')."""
    name = message.rsplit(": ", 1)[-1].strip()
    return table["checks"].get(name) or name.rsplit(".", 1)[-1]


_ANY_TABLE = {"checks": {}, "unique": {}}  # a statement on several tables: no field to name from the message


def _create_private(path):
    """A new database file is made 0600 (only the service's user reads the rows); SQLite gives its -wal and
    -shm files the same mode. An existing file keeps the mode its owner chose."""
    if str(path) == ":memory:" or os.path.exists(path):
        return
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    os.chmod(path, 0o600)  # the umask could only have removed bits; make it exact


class Store:
    """SQLite: one connection, one writer at a time; the tables made from tables.json on first use."""

    def __init__(self, path):
        self.path = path
        self.tables = {table["resource"]: table for table in TABLES["tables"]}
        self._lock = threading.Lock()
        _create_private(path)
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA foreign_keys=ON")  # off by default, per connection: references are keys
            self._prepare()
        except BaseException:
            self._db.close()
            raise

    def _prepare(self):
        names = {row[0] for row in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if "lai_schema_migrations" not in names:
            if names:
                raise StartupError(f"{self.path} holds tables of another service (no lai_schema_migrations): move it")
            self._db.execute("BEGIN")
            for table in TABLES["tables"]:
                for statement in table["sqlite"]:
                    self._db.execute(statement)
            self._db.execute(
                "CREATE TABLE lai_schema_migrations (version TEXT PRIMARY KEY, name TEXT NOT NULL, "
                "checksum TEXT NOT NULL, applied_at TEXT NOT NULL)"
            )
            self._db.executemany(
                "INSERT INTO lai_schema_migrations VALUES (?, ?, ?, ?)",
                [(t["version"], t["migration"], t["sha256"], stamp_text(now())) for t in TABLES["tables"]],
            )
            self._db.execute("COMMIT")
        applied = self._db.execute("SELECT version, name, checksum FROM lai_schema_migrations ORDER BY version")
        problem = schema_problem(applied.fetchall(), self.path)
        if problem:
            raise StartupError(problem)

    def close(self):
        with self._lock:
            self._db.close()

    def ping(self):
        with self._lock:
            return self._db.execute("SELECT 1").fetchone() == (1,)

    def _run(self, table, statement, params):
        try:
            return self._db.execute(statement, params)
        except sqlite3.IntegrityError as error:
            message = str(error)
            fields = _sqlite_unique(table, message) if message.startswith("UNIQUE") else None
            if fields:
                raise duplicate(fields) from None
            status = 409 if message.startswith(("UNIQUE", "FOREIGN KEY")) else 422
            raise StoreError(
                status, "conflict" if status == 409 else "validation_error", message, _sqlite_field(table, message)
            ) from None
        except sqlite3.OperationalError as error:
            raise StoreUnavailable(f"the database failed: {error}") from None

    @staticmethod
    def _params(table, values):
        return [
            json.dumps(values[n])
            if table["columns"][n] == "array" and values[n] is not None  # a nullable array's null is SQL NULL
            else values[n].isoformat()
            if isinstance(values[n], (date, datetime))
            else values[n]
            for n in values
        ]

    def _select(self, table):
        columns = ", ".join(quoted(name) for name in table["columns"])
        return f'SELECT id, created_at, updated_at{", " if columns else ""}{columns} FROM "{table["resource"]}"'

    def _transaction(self, work):
        """work() in one SQLite transaction (the caller holds the lock): all of it or nothing."""
        self._db.execute("BEGIN IMMEDIATE")
        try:
            result = work()
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")
        return result

    def _fetch(self, statement, params):
        return self._run(_ANY_TABLE, statement, params).fetchall()

    def _check_references(self, table, tenant_id, values):
        check_references(table, values, tenant_id, self._fetch, "?")

    def create(self, resource, tenant_id, fields):
        table = self.tables[resource]
        values = storable(table, fields)
        record_id, stamp = str(uuid.uuid4()), stamp_text(now())
        names = ", ".join(quoted(name) for name in ["id", "tenant_id", *values, "created_at", "updated_at"])
        params = [record_id, tenant_id, *self._params(table, values), stamp, stamp]
        statement = f'INSERT INTO "{resource}" ({names}) VALUES ({", ".join("?" for _ in params)})'

        def work():
            self._check_references(table, tenant_id, values)
            self._run(table, statement, params)
            row = self._db.execute(self._select(table) + " WHERE tenant_id = ? AND id = ?", (tenant_id, record_id))
            return record_of(table, row.fetchone())

        with self._lock:
            return self._transaction(work)

    def list(self, resource, tenant_id, limit, offset, filters=None, sort=()):
        table = self.tables[resource]
        conditions, values, order = list_sql(table, filters or {}, sort, "sqlite")
        params = (tenant_id, *self._params(table, values))
        with self._lock:
            total = self._db.execute(f'SELECT COUNT(*) FROM "{resource}" WHERE tenant_id = ?{conditions}', params)
            total = total.fetchone()[0]
            rows = self._db.execute(
                self._select(table) + f" WHERE tenant_id = ?{conditions} ORDER BY {order} LIMIT ? OFFSET ?",
                (*params, limit, offset),
            ).fetchall()
        return [record_of(table, row) for row in rows], total

    def get(self, resource, tenant_id, record_id):
        table = self.tables[resource]
        with self._lock:
            row = self._db.execute(self._select(table) + " WHERE tenant_id = ? AND id = ?", (tenant_id, record_id))
            row = row.fetchone()
        return record_of(table, row) if row else None

    def update(self, resource, tenant_id, record_id, changes):
        table = self.tables[resource]
        values = storable(table, changes)
        assignments = "".join(f"{quoted(name)} = ?, " for name in values)

        def work():
            exists = self._fetch(f'SELECT 1 FROM "{resource}" WHERE tenant_id = ? AND id = ?', (tenant_id, record_id))
            if not exists:  # another tenant's record is not found, whatever the body refers to
                return False
            self._check_references(table, tenant_id, values)
            self._run(
                table,
                f'UPDATE "{resource}" SET {assignments}updated_at = ? WHERE tenant_id = ? AND id = ?',
                (*self._params(table, values), stamp_text(now()), tenant_id, record_id),
            )
            return True

        with self._lock:
            if not self._transaction(work):
                return None
        return self.get(resource, tenant_id, record_id)

    def delete(self, resource, tenant_id, record_id):
        def work():
            where = f'FROM "{resource}" WHERE tenant_id = ? AND id = ?'
            if not self._fetch(f"SELECT 1 {where}", (tenant_id, record_id)):
                return False
            execute = lambda statement, params: self._run(_ANY_TABLE, statement, params)  # noqa: E731
            delete_dependents(
                self.tables, resource, [record_id], tenant_id, self._fetch, execute, "?", stamp_text(now())
            )
            self._run(self.tables[resource], f"DELETE {where}", (tenant_id, record_id))
            return True

        with self._lock:
            return self._transaction(work)
