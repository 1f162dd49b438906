"""A list request's query: paging, equality filters on the scalar fields, and sort=field,-other.

Every parameter is declared in the OpenAPI document (factory/pack0/openapi.py derives the same rules); anything
else is refused with 422, so a misspelt filter never silently returns everything.
"""

from __future__ import annotations

import re

from .validation import check_value

PAGING = ("limit", "offset", "sort")
SCALARS = ("string", "integer", "number", "boolean")
_INTEGER = re.compile(r"-?[0-9]{1,25}")
_NUMBER = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?")
MAX_NUMBER_TEXT = 1000


class QueryError(ValueError):
    def __init__(self, name, message):
        super().__init__(message)
        self.name = name


def scalar_type(spec):
    """The one scalar type a field holds (null aside), or None for arrays and mixed types."""
    types = spec.get("type")
    types = [kind for kind in (types if isinstance(types, list) else [types]) if kind != "null"]
    return types[0] if len(types) == 1 and types[0] in SCALARS else None


def query_fields(schema):
    """The fields a list can be filtered and sorted by (a field named like a paging parameter cannot)."""
    return [name for name, spec in schema["properties"].items() if scalar_type(spec) and name not in PAGING]


def _parse(spec, text):
    kind = scalar_type(spec)
    if kind == "string":
        return text
    if kind == "boolean":
        if text not in ("true", "false"):
            raise ValueError("must be true or false")
        return text == "true"
    if kind == "integer" and _INTEGER.fullmatch(text):
        return int(text)
    if kind == "number" and len(text) <= MAX_NUMBER_TEXT and _NUMBER.fullmatch(text):
        value = float(text)
        if value not in (float("inf"), float("-inf")):
            return int(text) if _INTEGER.fullmatch(text) else value
    raise ValueError(f"must be a{'n' if kind == 'integer' else ''} {kind}")


def list_query(schema, query):
    """(filters {field: value}, sort [(field, descending)]) from parsed query pairs; QueryError naming the
    parameter when one is unknown, repeated or invalid. limit and offset are read by the caller."""
    fields = query_fields(schema)
    seen, filters, sort = set(), {}, []
    for name, text in query:
        if name in seen:
            raise QueryError(name, "must be given at most once")
        seen.add(name)
        if name in ("limit", "offset"):
            continue
        if name == "sort":
            sort = _sort(fields, text)
        elif name in fields:
            spec = schema["properties"][name]
            if "\x00" in text:  # no store keeps a NUL: refused as in a body (the OpenAPI declares it)
                raise QueryError(name, "must not contain NUL characters")
            try:
                value = _parse(spec, text)
            except ValueError as error:
                raise QueryError(name, str(error)) from None
            problem = check_value(spec, value)
            if problem:
                raise QueryError(name, problem)
            filters[name] = value
        else:
            raise QueryError(name, "is not a parameter of this list (filters: " + ", ".join(fields) + ")")
    return filters, sort


def _sort(fields, text):
    keys = {}
    for part in text.split(","):
        name = part[1:] if part.startswith("-") else part
        if name not in fields:
            raise QueryError("sort", "must be field names, a leading - for descending: " + ", ".join(fields))
        # A repeated name is redundant, not wrong (the OpenAPI pattern allows it): its first place decides the
        # order, and dropping the rest keeps ORDER BY within the databases' term limits (sort=a,a,... x3000).
        keys.setdefault(name, part.startswith("-"))
    return list(keys.items())
