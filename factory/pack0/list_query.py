"""A list operation's query: an equality filter per scalar field and sort=field,-other, declared exactly as
the service's listing.py applies them. Pure: an entity in, OpenAPI parameters out."""

from __future__ import annotations

import copy
import re

from factory.pack0.field_schemas import (
    NO_NUL_PATTERN,
    field_types,
    with_date_time_range,
    with_int64_bounds,
    without_nul,
)
from factory.pack0.models import Entity

_SCALARS = ("string", "integer", "number", "boolean")
_LIST_WORDS = ("limit", "offset", "sort")


def _scalar_type(field: dict) -> str | None:
    types = field.get("type")
    types = [kind for kind in (types if isinstance(types, list) else [types]) if kind != "null"]
    return types[0] if len(types) == 1 and types[0] in _SCALARS else None


def query_fields(entity: Entity) -> list[str]:
    """The fields a list filters and sorts by (the service's listing.py applies the same rule)."""
    return [name for name, field in entity.properties.items() if _scalar_type(field) and name not in _LIST_WORDS]


def list_parameters(entity: Entity) -> list[dict]:
    """An equality filter per scalar field (its value valid as the field is, without NUL: the service refuses
    one there as in a body) and sort=field,-other."""
    parameters = []
    for name in query_fields(entity):
        field = with_int64_bounds(copy.deepcopy(entity.properties[name]))
        field["type"] = _scalar_type(field)
        for key in ("default", "readOnly", "writeOnly", "examples"):
            field.pop(key, None)
        if "enum" in field:
            field["enum"] = [value for value in field["enum"] if value is not None]
        if "const" in field and field["const"] is None:
            field.pop("const")
        # A pattern gets the no-NUL one beside it in allOf, as a free string's does in the bodies, a format's
        # too (no date or email holds a NUL): schemathesis 4's coverage phase pins a bare query pattern to its
        # length bounds and then loses the pattern or the format ("[aeiou]" with minLength 2, maxLength 186
        # gave 000...0; an email with "[0-9]" gave 00000) and calls the service's 422 a wrong rejection.
        # A schema with allOf is built whole and checked.
        patterned = "pattern" in field and "string" in field_types(field)
        field = without_nul(field)
        if patterned and "allOf" not in field:
            field["allOf"] = [{"pattern": NO_NUL_PATTERN}]
        field = with_date_time_range(field)
        parameters.append(
            {"name": name, "in": "query", "description": f"Only records whose {name} equals this", "schema": field}
        )
    fields = query_fields(entity)
    if fields:
        key = "-?(" + "|".join(re.escape(name) for name in fields) + ")"
        parameters.append(
            {
                "name": "sort",
                "in": "query",
                "description": "Comma-separated fields, a leading - for descending; id breaks ties "
                "(default: creation order)",
                "schema": {"type": "string", "pattern": f"^{key}(,{key})*$"},
            }
        )
    return parameters
