"""Checks a request body against an entity contract (the JSON Schema subset Pack0 allows).

Standard library only: the service has no run-time dependencies.
"""

from __future__ import annotations

import ipaddress
import json
import re
from datetime import date
from fractions import Fraction
from functools import lru_cache

SYSTEM_FIELDS = ("id", "created_at", "updated_at", "tenant_id")

# String formats, exactly as their RFCs define them (ASCII digits only; fullmatch, so no trailing newline).
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_TIME = re.compile(
    r"([01][0-9]|2[0-3]):([0-5][0-9]):([0-5][0-9]|60)(\.[0-9]+)?(Z|([+-])([01][0-9]|2[0-3]):([0-5][0-9]))"
)
_UUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_OCTET = r"(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"{_OCTET}(\.{_OCTET}){{3}}")
_LABEL = re.compile(r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?")
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_LOCAL_PART = re.compile(rf'{_ATEXT}(\.{_ATEXT})*|"([\x20\x21\x23-\x5b\x5d-\x7e]|\\[\x20-\x7e])*"')
# RFC 3986: scheme ":" hier-part [ "?" query ] [ "#" fragment ]
_PCT = r"%[0-9A-Fa-f]{2}"
_PCHAR = rf"([A-Za-z0-9._~!$&'()*+,;=:@-]|{_PCT})"
_USERINFO = rf"([A-Za-z0-9._~!$&'()*+,;=:-]|{_PCT})*"
_HOST = rf"(?P<literal>\[[0-9A-Za-z:.]+\])|([A-Za-z0-9._~!$&'()*+,;=-]|{_PCT})*"
_URI = re.compile(
    rf"[A-Za-z][A-Za-z0-9+.-]*:"
    rf"(//({_USERINFO}@)?({_HOST})(:[0-9]*)?(/{_PCHAR}*)*|/?({_PCHAR}+(/{_PCHAR}*)*)?)"
    rf"(\?({_PCHAR}|[/?])*)?(#({_PCHAR}|[/?])*)?"
)


def _end_anchors(pattern):
    """Each `$` outside a character class as `\\Z`: in JSON Schema's (ECMA 262) reading `$` is the end of the text,
    where Python's also matches before a final newline."""
    out, index, class_start = [], 0, None
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            out.append(pattern[index : index + 2])
            index += 2
            continue
        if class_start is None and char == "[":
            class_start = index
        elif class_start is not None and char == "]" and index > class_start + 1 + (pattern[class_start + 1] == "^"):
            class_start = None
        elif class_start is None and char == "$":
            char = "\\Z"
        out.append(char)
        index += 1
    return "".join(out)


@lru_cache(maxsize=None)
def pattern_regex(pattern):
    """A contract's `pattern` read as JSON Schema means it: `\\d`, `\\w`, `\\b` over ASCII, `$` the end of the text."""
    return re.compile(_end_anchors(pattern), re.ASCII)


def _is_date(text):
    match = _DATE.fullmatch(text)
    if not match:
        return False
    try:
        date(*(int(part) for part in match.groups()))
    except ValueError:
        return False
    return True


def _is_time(text):
    match = _TIME.fullmatch(text.upper())
    if not match:
        return False
    hour, minute, second, _fraction, _offset, sign, offset_hour, offset_minute = match.groups()
    if second != "60":
        return True
    # RFC 3339 5.7: a leap second is the last second of a UTC day, whatever the local offset.
    offset = int(offset_hour or 0) * 60 + int(offset_minute or 0)
    utc = int(hour) * 60 + int(minute) - (offset if sign == "+" else -offset)
    return utc % 1440 == 23 * 60 + 59


def _is_datetime(text):
    day, separator, time = text.upper().partition("T")
    return bool(separator) and _is_date(day) and _is_time(time)


def _is_ipv6(text):
    if "%" in text:  # a zone id names an interface of one machine: not an address
        return False
    try:
        ipaddress.IPv6Address(text)
    except ValueError:
        return False
    return True


def _is_hostname(text):
    return len(text) <= 253 and all(_LABEL.fullmatch(label) for label in text.split("."))


def _is_email(text):
    local, at, domain = text.rpartition("@")
    if not at or len(local) > 64 or len(text) > 254 or not _LOCAL_PART.fullmatch(local):
        return False
    if domain.startswith("[") and domain.endswith("]"):
        literal = domain[1:-1]
        return _IPV4.fullmatch(literal) is not None or (literal[:5].upper() == "IPV6:" and _is_ipv6(literal[5:]))
    return _is_hostname(domain)


def _is_uri(text):
    match = _URI.fullmatch(text)
    if not match:
        return False
    literal = match.group("literal")  # an IP literal host: IPv6, or the future "v..." form
    return literal is None or literal[1:2] in "vV" or _is_ipv6(literal[1:-1])


FORMAT_CHECKS = {
    "email": _is_email,
    "date": _is_date,
    "date-time": _is_datetime,
    "time": _is_time,
    "uuid": lambda text: _UUID.fullmatch(text) is not None,
    "uri": _is_uri,
    "ipv4": lambda text: _IPV4.fullmatch(text) is not None,
    "ipv6": _is_ipv6,
    "hostname": _is_hostname,
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
    if expected == "null":
        return value is None
    return False


def _types(spec):
    return spec["type"] if isinstance(spec["type"], list) else [spec["type"]]


def _json_equal(one, two):
    """Equality as JSON Schema means it: 1 == 1.0, but true != 1."""
    if isinstance(one, bool) or isinstance(two, bool):
        return isinstance(one, bool) and isinstance(two, bool) and one == two
    return one == two


def _exact(number):
    # A float as the decimal it was written as (its shortest repr): 0.1 is 1/10, not 0.1000000000000000055...
    return Fraction(repr(number)) if isinstance(number, float) else Fraction(number)


def _is_multiple(value, divisor):
    """Decimal arithmetic, as JSON's decimal text means it: 162.04 is a multiple of 0.01 (in binary floating point
    162.04 / 0.01 is 16203.999999999998)."""
    return (_exact(value) / _exact(divisor)).denominator == 1


def _string_problem(spec, value):
    if "minLength" in spec and len(value) < spec["minLength"]:
        return f"must be at least {spec['minLength']} characters"
    if "maxLength" in spec and len(value) > spec["maxLength"]:
        return f"must be at most {spec['maxLength']} characters"
    if "pattern" in spec and not pattern_regex(spec["pattern"]).search(value):
        return f"must match {spec['pattern']}"
    check = FORMAT_CHECKS.get(spec.get("format"))
    if check and not check(value):
        return f"must be a valid {spec['format']}"
    return None


def _number_problem(spec, value):
    if "minimum" in spec and value < spec["minimum"]:
        return f"must be at least {spec['minimum']}"
    if "maximum" in spec and value > spec["maximum"]:
        return f"must be at most {spec['maximum']}"
    if "exclusiveMinimum" in spec and value <= spec["exclusiveMinimum"]:
        return f"must be greater than {spec['exclusiveMinimum']}"
    if "exclusiveMaximum" in spec and value >= spec["exclusiveMaximum"]:
        return f"must be less than {spec['exclusiveMaximum']}"
    if "multipleOf" in spec and not _is_multiple(value, spec["multipleOf"]):
        return f"must be a multiple of {spec['multipleOf']}"
    return None


def _array_problem(spec, value):
    if "minItems" in spec and len(value) < spec["minItems"]:
        return f"must have at least {spec['minItems']} items"
    if "maxItems" in spec and len(value) > spec["maxItems"]:
        return f"must have at most {spec['maxItems']} items"
    for index, item in enumerate(value):
        problem = check_value(spec["items"], item)
        if problem:
            return f"item {index} {problem}"
    if spec.get("uniqueItems"):
        for index, item in enumerate(value):
            if any(_json_equal(item, earlier) for earlier in value[:index]):
                return f"must not repeat an item (item {index} repeats an earlier one)"
    return None


def check_value(spec, value):
    """The first problem with one value, as a sentence, or None when it is valid."""
    types = _types(spec)
    if not any(_type_matches(value, expected) for expected in types):
        return "must be of type " + " or ".join(types)
    if "const" in spec and not _json_equal(value, spec["const"]):
        return f"must be {json.dumps(spec['const'])}"
    if "enum" in spec and not any(_json_equal(value, option) for option in spec["enum"]):
        return "must be one of " + ", ".join(json.dumps(option) for option in spec["enum"])
    if isinstance(value, str):
        return _string_problem(spec, value)
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _number_problem(spec, value)
    if isinstance(value, list):
        return _array_problem(spec, value)
    return None


def with_defaults(schema, body):
    """A new record's fields: what was sent, plus each declared default for a field that was not."""
    defaults = {name: spec["default"] for name, spec in schema["properties"].items() if "default" in spec}
    return {**defaults, **body}


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
    types = _types(spec)
    if "integer" in types and "number" not in types and isinstance(value, float):
        return int(value)
    if "array" in types and isinstance(value, list):
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
