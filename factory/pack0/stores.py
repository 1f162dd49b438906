"""What both stores of the generated service can keep, beyond what its validation accepts: one place for the
loader (a contract's fixed values and the generated tests' samples must be storable), the OpenAPI document
(which declares these limits) and the service's records.py (which refuses the rest, 422)."""

from __future__ import annotations

import re

# An integer field is a signed 64-bit column.
INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
# A date-time is kept as its UTC instant, through Python's datetime: years 1-9999. What could leave that range
# is refused: on the first day no offset ahead of UTC, on the last none behind it, nor its leap second (kept as
# the next second, as PostgreSQL keeps one). ECMA 262 and Python read it alike.
DATE_TIME_RANGE_PATTERN = "^(?!0001-01-01[Tt][^+]*[+](?!00:00)|9999-12-31[Tt]([^-]*-(?!00:00)|23:59:60))"
DATE_TIME_RANGE_RULE = "0001-01-01 takes no offset ahead of UTC, 9999-12-31 none behind it and no leap second"


def store_problem(spec: dict, value: object) -> str | None:
    """Why neither store keeps this value of a field the service's validation accepts it for, or None."""
    types = spec["type"] if isinstance(spec.get("type"), list) else [spec.get("type")]
    number = isinstance(value, int | float) and not isinstance(value, bool)
    if "integer" in types and number and not INT64_MIN <= value <= INT64_MAX:
        return "is outside the 64-bit integer range the stores keep"
    if spec.get("format") == "date-time" and isinstance(value, str) and not re.match(DATE_TIME_RANGE_PATTERN, value):
        return f"is an instant outside years 1-9999 UTC, which the stores cannot keep ({DATE_TIME_RANGE_RULE})"
    return None


def int64_range_problem(spec: dict) -> str | None:
    """Why no 64-bit integer fits an integer field's bounds, or None."""
    low = max(spec.get("minimum", INT64_MIN), spec.get("exclusiveMinimum", INT64_MIN - 1) + 1)
    high = min(spec.get("maximum", INT64_MAX), spec.get("exclusiveMaximum", INT64_MAX + 1) - 1)
    if low > INT64_MAX or high < INT64_MIN:
        return f"no 64-bit integer (the stores' range, {INT64_MIN} to {INT64_MAX}) fits its bounds"
    return None
