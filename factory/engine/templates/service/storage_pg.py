"""PostgreSQL at DATABASE_URL, through psycopg 3 and a connection pool (requirements.txt).

Tenant isolation is enforced twice: every statement carries the tenant condition, and the database's row-level
security filters every statement to the tenant set for the transaction (the tenant_id claim of
request.jwt.claims, as Supabase sets it), because the service works as a role without BYPASSRLS.

The PostgreSQL dialect only: the values, rows and schema check both stores share are in records.py, the SQL
of lists and references in query.py; storage.py's open_store imports this module for a PostgreSQL URL.
"""

from __future__ import annotations

import json
import random
import time

from .errors import StartupError, StoreError, StoreUnavailable, duplicate
from .query import check_references, delete_dependents, list_sql, quoted
from .records import TABLES, is_record_id, now, record_of, schema_problem, storable

try:
    import psycopg
    from psycopg.types.json import Jsonb
    from psycopg_pool import ConnectionPool, PoolTimeout
except ImportError as error:  # only this mode needs them
    raise StartupError(
        f"DATABASE_URL is a PostgreSQL URL but {error.name} is not installed: pip install -r requirements.txt"
    ) from None

POOL_MAX_SIZE = 10
# SQLSTATE class 40: the database rolled the transaction back (psycopg 3 does not subclass these two).
RETRYABLE = (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure, psycopg.errors.TransactionRollback)
POOL_TIMEOUT_S = 10
CONNECT_TIMEOUT_S = 10
DEADLOCK_RETRIES = 5


def _tenant_condition(tenant_id):
    """The tenant condition every statement carries (row-level security enforces it in the database too)."""
    return "tenant_id = %s", (tenant_id,)


def _field_of(table, error):
    diag = error.diag
    return table["checks"].get(diag.constraint_name or "") or diag.column_name


def _reference_of(table, error):
    constraint = error.diag.constraint_name or ""
    return next((field for field, ref in table.get("references", {}).items() if ref["constraint"] == constraint), None)


def _fetcher(connection):
    return lambda statement, params: connection.execute(statement, params).fetchall()


class PostgresStore:
    def __init__(self, url):
        self.tables = {table["resource"]: table for table in TABLES["tables"]}
        self.role = TABLES["service_role"]
        self._check(url)
        self._pool = ConnectionPool(
            url,
            min_size=1,
            max_size=POOL_MAX_SIZE,
            timeout=POOL_TIMEOUT_S,
            kwargs={"autocommit": True, "connect_timeout": CONNECT_TIMEOUT_S, "client_encoding": "utf8"},
            configure=self._configure,
            open=False,
        )
        self._pool.open()

    def _configure(self, connection):
        connection.execute(f"SET ROLE {quoted(self.role)}")

    def _check(self, url):
        """Reachable, the service's role usable and bound by row-level security, the migrations this build's."""
        try:
            # utf8 whatever the database's encoding: text comes back as str (bytes from a SQL_ASCII database)
            connection = psycopg.connect(
                url, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S, client_encoding="utf8"
            )
        except psycopg.Error as error:
            reason = str(error).strip().splitlines()[-1] if str(error).strip() else type(error).__name__
            raise StartupError(f"cannot connect to PostgreSQL at DATABASE_URL: {reason}") from None
        with connection:
            try:
                connection.execute(f"SET ROLE {quoted(self.role)}")
            except psycopg.Error:
                raise StartupError(
                    f"cannot switch to role {self.role} (deploy/deploy.sh creates it; DATABASE_URL's user must be "
                    f"a superuser or a member: GRANT {self.role} TO <user>)"
                ) from None
            bypass = connection.execute(
                "SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = current_user"
            ).fetchone()
            if bypass is None or bypass[0]:
                raise StartupError(f"role {self.role} bypasses row-level security: refusing to serve")
            try:
                applied = connection.execute(
                    "SELECT version, name, checksum FROM lai_schema_migrations ORDER BY version"
                ).fetchall()
            except psycopg.errors.UndefinedTable:
                applied = []
            except psycopg.Error as error:
                raise StartupError(f"cannot read lai_schema_migrations: {error}".splitlines()[0]) from None
        problem = schema_problem(applied, "the PostgreSQL database at DATABASE_URL")
        if problem:
            raise StartupError(problem)

    def close(self):
        self._pool.close()

    def _transaction(self, table, tenant_id, work):
        """work(connection) in one transaction with the tenant set for row-level security; database errors
        become StoreError (a refused row: 409/422 naming the field; a lost connection: 503). A transaction the
        database rolled back to break a deadlock (concurrent cascades and creates lock rows in different
        orders) is run again: it changed nothing, and the client should not see a 503 for it."""
        for attempt in range(DEADLOCK_RETRIES):
            try:
                return self._transaction_once(table, tenant_id, work)
            except RETRYABLE:
                time.sleep(random.uniform(0, 0.02 * (attempt + 1)))  # jitter: the other party goes first
        return self._transaction_once(table, tenant_id, work, retried=True)

    def _transaction_once(self, table, tenant_id, work, retried=False):
        try:
            with self._pool.connection() as connection, connection.transaction():
                claims = json.dumps({"tenant_id": tenant_id})
                connection.execute("SELECT set_config('request.jwt.claims', %s, true)", (claims,))
                return work(connection)
        except RETRYABLE:
            if not retried:
                raise
            raise StoreUnavailable() from None
        except psycopg.errors.ForeignKeyViolation as error:  # a referenced record went meanwhile (the checks ran)
            field = _reference_of(table, error)
            raise StoreError(409, "conflict", str(error).splitlines()[0], field) from None
        except psycopg.errors.UniqueViolation as error:
            fields = table["unique"].get(error.diag.constraint_name or "")
            if fields:
                raise duplicate(fields) from None
            raise StoreError(409, "conflict", "a record with this value exists", _field_of(table, error)) from None
        except (psycopg.errors.IntegrityError, psycopg.errors.DataError) as error:
            message = str(error).splitlines()[0]
            raise StoreError(422, "validation_error", message, _field_of(table, error) or "(body)") from None
        except psycopg.errors.InsufficientPrivilege as error:
            raise StoreError(403, "forbidden", str(error).splitlines()[0]) from None
        except (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout):
            raise StoreUnavailable() from None

    def ping(self):
        try:
            with self._pool.connection() as connection:
                return connection.execute("SELECT 1").fetchone() == (1,)
        except (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout):
            raise StoreUnavailable() from None

    def _select(self, table):
        columns = "".join(", " + quoted(name) for name in table["columns"])
        return f"SELECT id, created_at, updated_at{columns} FROM {quoted(table['resource'])}"

    @staticmethod
    def _params(table, values):
        # A nullable array's null is SQL NULL, not the JSON value null (which its CHECK would refuse).
        return [
            Jsonb(value) if table["columns"][name] == "array" and value is not None else value
            for name, value in values.items()
        ]

    def create(self, resource, tenant_id, fields):
        table = self.tables[resource]
        values = storable(table, fields)
        stamp = now()
        names = ", ".join(quoted(name) for name in ["tenant_id", *values, "created_at", "updated_at"])
        params = [tenant_id, *self._params(table, values), stamp, stamp]
        statement = (
            f"INSERT INTO {quoted(resource)} ({names}) VALUES ({', '.join('%s' for _ in params)}) "
            f"RETURNING id, created_at, updated_at{''.join(', ' + quoted(name) for name in table['columns'])}"
        )

        def work(connection):
            check_references(table, values, tenant_id, _fetcher(connection), "%s")
            return connection.execute(statement, params).fetchone()

        return record_of(table, self._transaction(table, tenant_id, work))

    def list(self, resource, tenant_id, limit, offset, filters=None, sort=()):
        table = self.tables[resource]
        condition, params = _tenant_condition(tenant_id)
        conditions, values, order = list_sql(table, filters or {}, sort, "postgres")
        condition += conditions
        params = (*params, *self._params(table, values))

        def work(connection):
            total = connection.execute(f"SELECT count(*) FROM {quoted(resource)} WHERE {condition}", params)
            rows = connection.execute(
                f"{self._select(table)} WHERE {condition} ORDER BY {order} LIMIT %s OFFSET %s",
                (*params, limit, offset),
            )
            return total.fetchone()[0], rows.fetchall()

        total, rows = self._transaction(table, tenant_id, work)
        return [record_of(table, row) for row in rows], total

    def get(self, resource, tenant_id, record_id):
        if not is_record_id(record_id):
            return None
        table = self.tables[resource]
        condition, params = _tenant_condition(tenant_id)
        statement = f"{self._select(table)} WHERE {condition} AND id = %s"
        row = self._transaction(
            table, tenant_id, lambda connection: connection.execute(statement, (*params, record_id)).fetchone()
        )
        return record_of(table, row) if row else None

    def update(self, resource, tenant_id, record_id, changes):
        if not is_record_id(record_id):
            return None
        table = self.tables[resource]
        values = storable(table, changes)
        condition, params = _tenant_condition(tenant_id)
        assignments = "".join(f"{quoted(name)} = %s, " for name in values)
        returning = "".join(", " + quoted(name) for name in table["columns"])
        statement = (
            f"UPDATE {quoted(resource)} SET {assignments}updated_at = %s WHERE {condition} AND id = %s "
            f"RETURNING id, created_at, updated_at{returning}"
        )
        arguments = (*self._params(table, values), now(), *params, record_id)

        def work(connection):
            exists = connection.execute(
                f"SELECT 1 FROM {quoted(resource)} WHERE {condition} AND id = %s", (*params, record_id)
            )
            if exists.fetchone() is None:  # another tenant's record is not found, whatever the body refers to
                return None
            check_references(table, values, tenant_id, _fetcher(connection), "%s")
            return connection.execute(statement, arguments).fetchone()

        row = self._transaction(table, tenant_id, work)
        return record_of(table, row) if row else None

    def delete(self, resource, tenant_id, record_id):
        if not is_record_id(record_id):
            return False
        table = self.tables[resource]
        condition, params = _tenant_condition(tenant_id)
        where = f"FROM {quoted(resource)} WHERE {condition} AND id = %s"

        def work(connection):
            if connection.execute(f"SELECT 1 {where}", (*params, record_id)).fetchone() is None:
                return False
            execute = lambda statement, values: connection.execute(statement, values)  # noqa: E731
            delete_dependents(self.tables, resource, [record_id], tenant_id, _fetcher(connection), execute, "%s", now())
            connection.execute(f"DELETE {where}", (*params, record_id))
            return True

        return self._transaction(table, tenant_id, work)
