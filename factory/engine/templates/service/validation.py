"""Checks a request body against an entity contract (the JSON Schema subset Pack0 allows).

Standard library only: the service has no run-time dependencies.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from uuid import UUID

SYSTEM_FIELDS = ("id", "created_at", "updated_at", "tenant_id")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_URI = re.compile(r"^[a-zA-Z][a-zA-Z0-9+.-]*:[^\s]*$")


def _is_datetime(text):
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return False
    return "T" in text and parsed.tzinfo is not None


def _is_date(text):
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return len(text) == 10


def _is_uuid(text):
    try:
        UUID(text)
    except ValueError:
        return False
    return True


FORMAT_CHECKS = {
    "email": lambda text: bool(_EMAIL.match(text)),
    "date": _is_date,
    "date-time": _is_datetime,
    "uuid": _is_uuid,
    "uri": lambda text: bool(_URI.match(text)),
}


def _type_matches(value, expected):
    if expected == "string":
        return isinstance(value, str)
    if expected == "boolean":
        return isinstance(value, bool)
    if expected == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if expected == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if expected == "array":
        return isinstance(value, list)
    return False


def check_value(spec, value):
    """The first problem with one value, as a sentence, or None when it is valid."""
    expected = spec["type"]
    if not _type_matches(value, expected):
        return f"must be of type {expected}"
    if "enum" in spec and value not in spec["enum"]:
        return "must be one of " + ", ".join(str(option) for option in spec["enum"])
    if expected == "string":
        if "minLength" in spec and len(value) < spec["minLength"]:
            return f"must be at least {spec['minLength']} characters"
        if "maxLength" in spec and len(value) > spec["maxLength"]:
            return f"must be at most {spec['maxLength']} characters"
        if "pattern" in spec and not re.search(spec["pattern"], value):
            return f"must match {spec['pattern']}"
        check = FORMAT_CHECKS.get(spec.get("format"))
        if check and not check(value):
            return f"must be a valid {spec['format']}"
    if expected in ("integer", "number"):
        if "minimum" in spec and value < spec["minimum"]:
            return f"must be at least {spec['minimum']}"
        if "maximum" in spec and value > spec["maximum"]:
            return f"must be at most {spec['maximum']}"
    if expected == "array":
        if "minItems" in spec and len(value) < spec["minItems"]:
            return f"must have at least {spec['minItems']} items"
        if "maxItems" in spec and len(value) > spec["maxItems"]:
            return f"must have at most {spec['maxItems']} items"
        for index, item in enumerate(value):
            problem = check_value(spec["items"], item)
            if problem:
                return f"item {index} {problem}"
    return None


def validate_body(schema, body, *, partial=False):
    """Every problem with a request body as [{"field", "message"}]; empty when it is valid.

    partial=True is an update: required fields may be absent, but what is sent must be valid.
    """
    if not isinstance(body, dict):
        return [{"field": "(body)", "message": "must be a JSON object"}]
    problems = []
    properties = schema["properties"]
    for name in sorted(body):
        if name in SYSTEM_FIELDS:
            problems.append({"field": name, "message": "is read-only"})
        elif name not in properties:
            problems.append({"field": name, "message": "is not a field of this resource"})
        else:
            message = check_value(properties[name], body[name])
            if message:
                problems.append({"field": name, "message": message})
    if not partial:
        for name in schema.get("required", []):
            if name not in body:
                problems.append({"field": name, "message": "is required"})
    return problems
