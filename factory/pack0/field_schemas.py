"""What a contract field's schema becomes in the OpenAPI document: the limits both stores and the service
enforce beyond the contract (no NUL in a string, a signed 64-bit integer, a date-time of years 1-9999 UTC),
declared so a client (or a fuzzer) knows them. Pure: a field's schema in, a new one out."""

from __future__ import annotations

# Both stores keep an integer field in a signed 64-bit column (records.py refuses what does not fit, 422): the
# document declares that range on every integer field whose own bounds are wider; and every date-time's range.
from factory.pack0.stores import DATE_TIME_RANGE_PATTERN, INT64_MAX, INT64_MIN

# Neither store keeps a NUL character (records.py refuses it, 422): the document says so on every free string.
NO_NUL_PATTERN = "^[^\\u0000]*$"


def field_types(field: dict) -> list:
    types = field.get("type")
    return types if isinstance(types, list) else [types]


def without_nul(field: dict) -> dict:
    """A string field (or array of strings) that could hold a NUL, declared without it."""
    if "array" in field_types(field) and isinstance(field.get("items"), dict):
        return {**field, "items": without_nul(field["items"])}
    if "string" not in field_types(field) or "format" in field or "enum" in field or "const" in field:
        return field  # a format, enum or const value has no NUL already
    if "pattern" not in field:
        return {**field, "pattern": NO_NUL_PATTERN}
    return {**field, "allOf": [*field.get("allOf", []), {"pattern": NO_NUL_PATTERN}]}


def with_date_time_range(field: dict) -> dict:
    # In allOf, beside the format: schemathesis' coverage phase loses a pattern next to a format
    # (list_query.py says how).
    if field.get("format") != "date-time" or "string" not in field_types(field):
        return field
    return {**field, "allOf": [*field.get("allOf", []), {"pattern": DATE_TIME_RANGE_PATTERN}]}


def with_int64_bounds(field: dict) -> dict:
    if "integer" not in field_types(field):
        return field
    bounded = dict(field)
    if not isinstance(field.get("minimum"), int | float) or field["minimum"] < INT64_MIN:
        bounded["minimum"] = INT64_MIN
    if not isinstance(field.get("maximum"), int | float) or field["maximum"] > INT64_MAX:
        bounded["maximum"] = INT64_MAX
    return bounded
