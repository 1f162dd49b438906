"""What both stores share below the SQL: the tables (tables.json), the values a store keeps for a JSON value
and back, a row as the record the API returns, and the check that the database's migrations are this build's.

Pure functions over plain data; the dialects (storage.py, storage_pg.py) and query.py import it, it imports
only errors.py.
"""

from __future__ import annotations

import json
import re
import uuid
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from .errors import StoreError

TABLES = json.loads((Path(__file__).resolve().parent / "tables.json").read_text(encoding="utf-8"))
INT64 = (-(2**63), 2**63 - 1)
_DATE_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})$")
# A UTC instant in years 1-9999 is what both stores keep; the OpenAPI document declares this same pattern
# (factory/pack0/openapi.py DATE_TIME_RANGE_PATTERN) on every date-time, so the two refuse alike.
DATE_TIME_RANGE = re.compile("^(?!0001-01-01[Tt][^+]*[+](?!00:00)|9999-12-31[Tt]([^-]*-(?!00:00)|23:59:60))")


def now():
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
