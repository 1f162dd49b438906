"""SQLite storage. Every query is scoped by tenant: a row is only ever read or changed by its tenant."""

from __future__ import annotations

import json
import sqlite3
import threading
import uuid
from datetime import datetime, timezone


def _now():
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def _record(row):
    record_id, data, created_at, updated_at = row
    return {"id": record_id, **json.loads(data), "created_at": created_at, "updated_at": updated_at}


class Store:
    """One table per resource: id, tenant_id, the record's fields as JSON, and timestamps."""

    def __init__(self, path, tables):
        self._lock = threading.Lock()
        self._db = sqlite3.connect(path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        for table in tables:
            self._db.execute(
                f'CREATE TABLE IF NOT EXISTS "{table}" (id TEXT PRIMARY KEY, tenant_id TEXT NOT NULL, '
                "data TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL)"
            )
            self._db.execute(f'CREATE INDEX IF NOT EXISTS "{table}_tenant" ON "{table}" (tenant_id)')

    def close(self):
        with self._lock:
            self._db.close()

    def ping(self):
        with self._lock:
            return self._db.execute("SELECT 1").fetchone() == (1,)

    def create(self, table, tenant_id, fields):
        record_id = str(uuid.uuid4())
        stamp = _now()
        with self._lock:
            self._db.execute(
                f'INSERT INTO "{table}" (id, tenant_id, data, created_at, updated_at) VALUES (?, ?, ?, ?, ?)',
                (record_id, tenant_id, json.dumps(fields, sort_keys=True), stamp, stamp),
            )
        return {"id": record_id, **fields, "created_at": stamp, "updated_at": stamp}

    def list(self, table, tenant_id, limit, offset):
        with self._lock:
            total = self._db.execute(f'SELECT COUNT(*) FROM "{table}" WHERE tenant_id = ?', (tenant_id,)).fetchone()[0]
            rows = self._db.execute(
                f'SELECT id, data, created_at, updated_at FROM "{table}" WHERE tenant_id = ? '
                "ORDER BY rowid LIMIT ? OFFSET ?",
                (tenant_id, limit, offset),
            ).fetchall()
        return [_record(row) for row in rows], total

    def get(self, table, tenant_id, record_id):
        with self._lock:
            row = self._db.execute(
                f'SELECT id, data, created_at, updated_at FROM "{table}" WHERE tenant_id = ? AND id = ?',
                (tenant_id, record_id),
            ).fetchone()
        return _record(row) if row else None

    def update(self, table, tenant_id, record_id, changes):
        with self._lock:
            row = self._db.execute(
                f'SELECT data FROM "{table}" WHERE tenant_id = ? AND id = ?', (tenant_id, record_id)
            ).fetchone()
            if row is None:
                return None
            fields = {**json.loads(row[0]), **changes}
            self._db.execute(
                f'UPDATE "{table}" SET data = ?, updated_at = ? WHERE tenant_id = ? AND id = ?',
                (json.dumps(fields, sort_keys=True), _now(), tenant_id, record_id),
            )
        return self.get(table, tenant_id, record_id)

    def delete(self, table, tenant_id, record_id):
        with self._lock:
            cursor = self._db.execute(f'DELETE FROM "{table}" WHERE tenant_id = ? AND id = ?', (tenant_id, record_id))
        return cursor.rowcount == 1
