"""Test data from a contract: valid records, and one invalid value per rule a field has. Pure."""

from __future__ import annotations

import re

from factory.errors import InputError
from factory.pack0.models import Entity

_FORMAT_SAMPLES = {
    "email": ("ada@example.com", "grace@example.org"),
    "date": ("2026-01-15", "2026-02-20"),
    "date-time": ("2026-01-15T09:30:00+00:00", "2026-02-20T16:45:00+00:00"),
    "uuid": ("1b4e28ba-2fa1-41d2-883f-0016d3cca427", "6fa459ea-ee8a-4ca4-894e-db77e160355e"),
    "uri": ("https://example.com/a", "https://example.org/b"),
}
_PATTERN_CANDIDATES = ("Sample", "sample", "SAMPLE", "A1", "abc", "123", "+1 555 0100", "a-b", "x")
UNKNOWN_FIELD = "zz_not_in_contract"


def _fit_length(text: str, spec: dict) -> str:
    low, high = spec.get("minLength", 0), spec.get("maxLength", 10_000)
    if len(text) < low:
        text = text + "x" * (low - len(text))
    return text[:high]


def _string_sample(name: str, spec: dict, variant: int) -> str:
    if "enum" in spec:
        return spec["enum"][variant % len(spec["enum"])]
    if "format" in spec:
        return _FORMAT_SAMPLES[spec["format"]][variant % 2]
    if "pattern" in spec:
        for candidate in _PATTERN_CANDIDATES[variant:] + _PATTERN_CANDIDATES[:variant]:
            fitted = _fit_length(candidate, spec)
            if re.search(spec["pattern"], fitted):
                return fitted
        raise InputError(
            f'cannot make a sample matching pattern {spec["pattern"]!r}; add "examples": [...] to the field',
            field=f"properties.{name}",
        )
    return _fit_length(f"{name} {'ab'[variant % 2]}", spec)


def _number_sample(spec: dict, variant: int) -> int | float:
    if "enum" in spec:
        return spec["enum"][variant % len(spec["enum"])]
    low = spec.get("minimum", 1)
    high = spec.get("maximum", low + 100)
    value = min(low + variant, high)
    if spec["type"] == "integer":
        return int(value) if float(value).is_integer() else int(low) + 1
    return value + 0.5 if value + 0.5 <= high else value


def sample_value(name: str, spec: dict, variant: int = 0) -> object:
    """A valid value for one field; variant 1 gives a different one where the contract allows."""
    if spec.get("examples"):
        return spec["examples"][variant % len(spec["examples"])]
    kind = spec["type"]
    if kind == "string":
        return _string_sample(name, spec, variant)
    if kind in ("integer", "number"):
        return _number_sample(spec, variant)
    if kind == "boolean":
        return spec["enum"][0] if "enum" in spec else variant == 0
    count = max(spec.get("minItems", 0), min(1, spec.get("maxItems", 1)))
    return [sample_value(name, spec["items"], variant) for _ in range(count)]


def valid_record(entity: Entity, variant: int = 0) -> dict:
    """Every field of the contract filled with a valid value."""
    return {name: sample_value(name, spec, variant) for name, spec in entity.properties.items()}


def invalid_values(name: str, spec: dict) -> list[tuple[str, object]]:
    """(rule, value) pairs: each value breaks exactly the named rule of this field."""
    kind = spec["type"]
    wrong_type = {"string": 12345, "integer": "12", "number": "1.5", "boolean": "yes", "array": "not-a-list"}
    cases: list[tuple[str, object]] = [("type", wrong_type[kind])]
    if kind == "integer":
        cases.append(("type", 1.5))
    if "enum" in spec:
        cases.append(("enum", "not-an-option" if kind == "string" else -987654321))
    if "maxLength" in spec:
        cases.append(("maxLength", "x" * (spec["maxLength"] + 1)))
    if spec.get("minLength", 0) > 0:
        cases.append(("minLength", "x" * (spec["minLength"] - 1)))
    if "minimum" in spec:
        cases.append(("minimum", spec["minimum"] - 1))
    if "maximum" in spec:
        cases.append(("maximum", spec["maximum"] + 1))
    if "format" in spec:
        cases.append(("format", f"not-a-{spec['format']}"))
    if "pattern" in spec and not re.search(spec["pattern"], "!!~~!!"):
        cases.append(("pattern", "!!~~!!"))
    if "maxItems" in spec:
        cases.append(("maxItems", [sample_value(name, spec["items"])] * (spec["maxItems"] + 1)))
    if kind == "array":
        cases.append(("items", [wrong_type[spec["items"]["type"]]]))
    return cases


def entity_cases(entity: Entity) -> dict:
    """Everything the generated tests need about one entity, as JSON-ready data."""
    valid = valid_record(entity)
    invalid = [
        {"field": name, "rule": rule, "value": value}
        for name, spec in entity.properties.items()
        for rule, value in invalid_values(name, spec)
    ]
    # Update an optional field when there is one, so the update test also covers partial bodies.
    update_field = next((name for name in entity.properties if name not in entity.required), next(iter(valid)))
    return {
        "resource": entity.plural,
        "name": entity.name,
        "title": entity.title,
        "required": entity.required,
        "valid": valid,
        "valid_alt": valid_record(entity, 1),
        "minimal": {name: valid[name] for name in entity.required},
        "update": {update_field: sample_value(update_field, entity.properties[update_field], 1)},
        "invalid": invalid,
        "unknown_field": UNKNOWN_FIELD,
    }
