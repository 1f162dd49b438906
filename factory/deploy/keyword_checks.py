"""The contract keywords SQL can express, as PostgreSQL CHECK expressions and a column DEFAULT. Pure.

Left to the service: `pattern` (PostgreSQL's regular expressions are POSIX, not Python's), `format` beyond the
column types (uuid, date, timestamptz), `uniqueItems` (a CHECK may not run a subquery), float `multipleOf`
(SQL's numeric modulo is exact, the contract's float rule is not).
"""

from __future__ import annotations

import json

from factory.pack0.models import base_type


def sql_literal(value: object) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, list):
        return "'" + json.dumps(value).replace("'", "''") + "'::jsonb"
    return "'" + str(value).replace("'", "''") + "'"


def keyword_checks(column: str, spec: dict) -> list[str]:
    """CHECKs for exclusiveMinimum/Maximum, integer multipleOf, const, maxLength on text and item counts."""
    checks = []
    if "exclusiveMinimum" in spec:
        checks.append(f"{column} > {sql_literal(spec['exclusiveMinimum'])}")
    if "exclusiveMaximum" in spec:
        checks.append(f"{column} < {sql_literal(spec['exclusiveMaximum'])}")
    step = spec.get("multipleOf")
    if base_type(spec) == "integer" and isinstance(step, int) and not isinstance(step, bool):
        checks.append(f"{column} % {step} = 0")
    if "const" in spec and spec["const"] is not None:
        checks.append(f"{column} = {sql_literal(spec['const'])}")
    if "minItems" in spec:
        checks.append(f"jsonb_array_length({column}) >= {spec['minItems']}")
    if "maxItems" in spec:
        checks.append(f"jsonb_array_length({column}) <= {spec['maxItems']}")
    return checks


def column_default(spec: dict) -> str:
    """` DEFAULT <value>` when the contract declares one (the service applies the same on create), else ''."""
    return f" DEFAULT {sql_literal(spec['default'])}" if "default" in spec else ""
