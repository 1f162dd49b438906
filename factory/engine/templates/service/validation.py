"""Checks a request body against an entity contract (the JSON Schema subset Pack0 allows).

Standard library only: the service has no run-time dependencies.
"""

from __future__ import annotations

import json
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
        # JSON Schema counts 4138.0 as an integer; the service stores it as 4138 (see with_integers).
        return (isinstance(value, int) and not isinstance(value, bool)) or (
            isinstance(value, float) and value.is_integer()
        )
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


def _as_integer(spec, value):
    if spec.get("type") == "integer" and isinstance(value, float):
        return int(value)
    if spec.get("type") == "array" and isinstance(value, list):
        return [_as_integer(spec["items"], item) for item in value]
    return value


def with_integers(schema, body):
    """A valid body with its integer-valued numbers (4138.0) as integers (4138), as they are stored."""
    properties = schema["properties"]
    return {name: _as_integer(properties[name], value) for name, value in body.items()}


# Decoding a request body. JSON that Python accepts but other clients choke on is refused here, so it is
# never stored and never sent back: NaN and Infinity, numbers too large for a float, lone surrogates,
# and nesting deep enough to exhaust a recursive parser.


class InvalidJson(ValueError):
    """The body is not JSON at all (the service answers 400)."""


class RejectedJson(ValueError):
    """The body is JSON the contract can never accept (the service answers 422)."""


_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


def nesting_depth(text, stop_after):
    """How deeply arrays and objects nest in JSON text (counting stops past stop_after)."""
    depth = deepest = 0
    for char in _NOT_BRACKET.sub("", _JSON_STRING.sub("", text)):
        depth += 1 if char in "[{" else -1
        if depth > deepest:
            deepest = depth
            if deepest > stop_after:
                break
    return deepest


def _reject_constant(name):
    raise RejectedJson(f"{name} is not a JSON number")


def decode_json(raw, max_depth, max_digits):
    """The value of a UTF-8 JSON body; InvalidJson or RejectedJson (with a sentence) when it cannot be used."""

    def number(text):
        if len(text) > max_digits:
            raise RejectedJson(f"numbers may have at most {max_digits} characters")
        value = float(text)
        if value in (float("inf"), float("-inf")):
            raise RejectedJson(f"{text} is too large for a number")
        return value

    def integer(text):
        if len(text) > max_digits:
            raise RejectedJson(f"numbers may have at most {max_digits} characters")
        return int(text)

    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidJson("the body is not UTF-8") from None
    if nesting_depth(text, max_depth) > max_depth:
        raise RejectedJson(f"the body nests arrays and objects deeper than {max_depth}")
    try:
        value = json.loads(text, parse_float=number, parse_int=integer, parse_constant=_reject_constant)
    except RejectedJson:
        raise
    except RecursionError:
        raise RejectedJson(f"the body nests arrays and objects deeper than {max_depth}") from None
    except ValueError:
        raise InvalidJson("the body is not valid JSON") from None
    try:
        json.dumps(value, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        raise RejectedJson("the body has a lone surrogate (\\uD800-\\uDFFF) in a string") from None
    return value
