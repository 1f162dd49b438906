"""Where records live: SQLite at DATABASE_PATH (the embedded default, standard library only) or PostgreSQL at
DATABASE_URL (storage_pg.py). Both keep each resource in the typed table tables.json describes, the same
tables deploy/migrations create, and both check on start that the schema is the one this service expects.
Every query is scoped by tenant: a row is only ever read or changed by its tenant."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

TABLES = json.loads((Path(__file__).resolve().parent / "tables.json").read_text(encoding="utf-8"))
INT64 = (-(2**63), 2**63 - 1)
_DATE_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$")
# A UTC instant in years 1-9999 is what both stores keep; the OpenAPI document declares this same pattern
# (factory/pack0/openapi.py DATE_TIME_RANGE_PATTERN) on every date-time, so the two refuse alike.
DATE_TIME_RANGE = re.compile("^(?!0001-01-01[Tt][^+]*[+](?!00:00)|9999-12-31[Tt]([^-]*-(?!00:00)|23:59:60))")


class StoreError(Exception):
    """The database refused a request: the client gets this status, never a 500."""

    def __init__(self, status, code, message, field=None, fields=()):
        super().__init__(message)
        self.status = status
        self.code = code
        names = [field] if field else list(fields)
        self.fields = [{"field": name, "message": message} for name in names] or None


def duplicate(fields):
    """409 naming the fields of a unique set another record of the tenant already has these values of."""
    message = f"a record of this tenant already has this {' and '.join(fields)}"
    return StoreError(409, "conflict", message, fields=fields)


class StoreUnavailable(StoreError):
    def __init__(self, message="the database is not reachable; try again"):
        super().__init__(503, "unavailable", message)


class StartupError(Exception):
    """The service cannot serve with this database; the message is the one line it prints."""


def _now():
    return datetime.now(timezone.utc)


def stamp_text(moment):
    return moment.astimezone(timezone.utc).isoformat(timespec="microseconds")


def parse_date_time(text):
    """RFC 3339 text -> an aware datetime (to the microsecond), on any Python 3.8+."""
    match = _DATE_TIME.match(text)
    if not match:
        raise ValueError(text)
    day, clock, fraction, offset = match.groups()
    offset = "+00:00" if offset in ("Z", "z") else offset
    micro = ("." + (fraction + "000000")[:6]) if fraction else ""
    leap = clock.endswith(":60")  # a leap second is the next second's instant, as PostgreSQL keeps it
    moment = datetime.fromisoformat(f"{day}T{clock[:-2] + '59' if leap else clock}{micro}{offset}")
    return moment + timedelta(seconds=1) if leap else moment


def to_value(kind, value):
    """A valid JSON value -> the value both stores keep (one canonical form: what a read gives back)."""
    if kind == "date-time":
        if not DATE_TIME_RANGE.match(value):
            raise ValueError(
                "an instant outside years 1-9999 UTC (0001-01-01 takes no offset ahead of UTC, "
                "9999-12-31 none behind it and no leap second)"
            )
        return parse_date_time(value).astimezone(timezone.utc)
    if kind == "date":
        return date.fromisoformat(value)
    if kind == "uuid":
        return str(uuid.UUID(value))
    if kind == "number":
        return float(value)
    if kind == "integer" and not INT64[0] <= value <= INT64[1]:
        raise ValueError("outside the 64-bit integer range the database keeps")
    return value


def from_value(kind, value):
    """A value as read from either store -> its JSON form."""
    if kind == "date-time":
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(value)
        return moment.astimezone(timezone.utc).isoformat()
    if kind == "date":
        return value.isoformat() if isinstance(value, date) else value
    if kind == "boolean":
        return bool(value)
    if kind == "uuid":
        return str(value)
    if kind == "array" and isinstance(value, str):
        return json.loads(value)
    return value


def _has_nul_or_surrogate(value):
    if isinstance(value, str):
        return "\x00" in value or any("\ud800" <= char <= "\udfff" for char in value)
    if isinstance(value, list):
        return any(_has_nul_or_surrogate(item) for item in value)
    return False


def storable(table, fields):
    """fields as both stores keep them, or StoreError 422 naming the first field neither store can keep."""
    values = {}
    for name, value in fields.items():
        kind = table["columns"].get(name)
        if kind is None:
            raise StoreError(422, "validation_error", "not a field of this resource", name)
        if value is None:
            values[name] = None
            continue
        if _has_nul_or_surrogate(value):
            raise StoreError(422, "validation_error", "NUL or unpaired surrogate characters cannot be stored", name)
        try:
            values[name] = to_value(kind, value)
        except (ValueError, TypeError, OverflowError) as error:
            raise StoreError(422, "validation_error", f"cannot be stored: {error}", name) from None
    return values


def list_sql(table, filters, sort, dialect):
    """(the WHERE conditions after the tenant's, the stored filter values, the ORDER BY) of a list. Names come
    from tables.json only, quoted; values are parameters. A stable order: NULLs last ascending (first
    descending) on both stores, text by code point (COLLATE "C" on PostgreSQL, SQLite's binary), id last."""
    mark = "%s" if dialect == "postgres" else "?"
    values = storable(table, filters)
    conditions = "".join(f" AND {quoted(name)} = {mark}" for name in values)
    if not sort:
        return conditions, values, "created_at, id"
    keys = []
    for name, descending in sort:
        column, direction = quoted(name), " DESC" if descending else ""
        collate = ' COLLATE "C"' if dialect == "postgres" and table["columns"][name] == "text" else ""
        keys.append(f"({column} IS NULL){direction}, {column}{collate}{direction}")
    return conditions, values, ", ".join(keys) + ", id"


def record_of(table, row):
    """A row (id, created_at, updated_at, then the columns in table order) -> the record the API returns."""
    record = {"id": str(row[0])}
    for (name, kind), value in zip(table["columns"].items(), row[3:]):  # noqa: B905 (Python 3.8 too)
        if value is not None:
            record[name] = from_value(kind, value)
        elif name in table["nullable"]:  # a nullable field reads back as null; any other as absent
            record[name] = None
    record["created_at"] = stamp_text(row[1] if isinstance(row[1], datetime) else datetime.fromisoformat(row[1]))
    record["updated_at"] = stamp_text(row[2] if isinstance(row[2], datetime) else datetime.fromisoformat(row[2]))
    return record


def schema_problem(applied, where):
    """None when the applied migrations are exactly this service's; else the one line that says why not."""
    expected = [(table["version"], table["migration"], table["sha256"]) for table in TABLES["tables"]]
    if list(map(tuple, applied)) == expected:
        return None
    if not applied:
        return f"{where} has no migrations applied: run deploy/deploy.sh first"
    have = {version: (name, checksum) for version, name, checksum in applied}
    for version, name, checksum in expected:
        if version not in have:
            return f"{where} lacks migration {name}: run deploy/deploy.sh"
        if have[version] != (name, checksum):
            return (
                f"{where} has migration {have[version][0]} (sha256 {have[version][1][:12]}), but this service was "
                f"generated for {name} (sha256 {checksum[:12]}): deploy this build's migrations"
            )
    extra = sorted(set(have) - {version for version, _, _ in expected})
    return f"{where} has migrations this service does not know ({', '.join(have[v][0] for v in extra)})"


def is_record_id(text):
    try:
        return str(uuid.UUID(text)) == text
    except (ValueError, TypeError, AttributeError):
        return False


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


def quoted(name):
    return '"' + name.replace('"', '""') + '"'


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


class Store:
    """SQLite: one connection, one writer at a time; the tables made from tables.json on first use."""

    def __init__(self, path):
        self.path = path
        self.tables = {table["resource"]: table for table in TABLES["tables"]}
        self._lock = threading.Lock()
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
                [(t["version"], t["migration"], t["sha256"], stamp_text(_now())) for t in TABLES["tables"]],
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
        from .references import check_references  # it imports this module

        check_references(table, values, tenant_id, self._fetch, "?")

    def create(self, resource, tenant_id, fields):
        table = self.tables[resource]
        values = storable(table, fields)
        record_id, stamp = str(uuid.uuid4()), stamp_text(_now())
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
                (*self._params(table, values), stamp_text(_now()), tenant_id, record_id),
            )
            return True

        with self._lock:
            if not self._transaction(work):
                return None
        return self.get(resource, tenant_id, record_id)

    def delete(self, resource, tenant_id, record_id):
        from .references import delete_dependents  # it imports this module

        def work():
            where = f'FROM "{resource}" WHERE tenant_id = ? AND id = ?'
            if not self._fetch(f"SELECT 1 {where}", (tenant_id, record_id)):
                return False
            execute = lambda statement, params: self._run(_ANY_TABLE, statement, params)  # noqa: E731
            delete_dependents(
                self.tables, resource, [record_id], tenant_id, self._fetch, execute, "?", stamp_text(_now())
            )
            self._run(self.tables[resource], f"DELETE {where}", (tenant_id, record_id))
            return True

        with self._lock:
            return self._transaction(work)
