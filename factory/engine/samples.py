"""Test data from a contract: valid records, values each keyword accepts, and one invalid value per rule a field
has. Pure. Every value is checked by the service's own validator before it is used, so a sample is never a guess.
"""

from __future__ import annotations

import math
import uuid
from datetime import datetime
from fractions import Fraction
from itertools import chain, islice, product

from factory.engine.regex_sample import regex_samples
from factory.errors import InputError
from factory.pack0.models import Entity, base_type, is_nullable, unique_sets, value_problem

_FORMAT_SAMPLES = {
    "email": ("ada@example.com", "grace@example.org", "a@b.io"),
    "date": ("2026-01-15", "2026-02-20", "2026-03-05"),
    # The third spellings are valid but not what a store gives back (an offset, upper case): tests compare values.
    "date-time": ("2026-01-15T09:30:00+00:00", "2026-02-20T16:45:00Z", "2026-03-01T08:00:00.25+02:00"),
    "time": ("09:30:00Z", "16:45:30+02:00", "12:00:00Z"),
    "uuid": (
        "1b4e28ba-2fa1-41d2-883f-0016d3cca427",
        "6fa459ea-ee8a-4ca4-894e-db77e160355e",
        "7D444840-9DC0-11D1-B245-5FFDCE74FAD2",
    ),
    "uri": ("https://example.com/a", "https://example.org/b", "urn:a"),
    "ipv4": ("192.0.2.10", "198.51.100.7", "203.0.113.1"),
    "ipv6": ("2001:db8::1", "2001:db8::2", "::1"),
    "hostname": ("api.example.com", "db.example.org", "a"),
}
_WRONG_TYPE = {"string": 12345, "integer": "12", "number": "1.5", "boolean": "yes", "array": "not-a-list"}
MAX_CANDIDATES = 12
# Test data stays small: a field whose smallest valid value is larger is refused at load (add "examples"), and a
# limit above these is not broken by a generated case (the value would not fit a request).
MAX_SAMPLE_CHARS = 10_000
MAX_SAMPLE_ITEMS = 1_000
UNKNOWN_FIELD = "zz_not_in_contract"
# The generated tests create up to this many records in one tenant: each unique set needs as many distinct values.
DISTINCT_RECORDS = 3
# A record made as a parent of its own kind (a team needs a player, whose team is made first) must not repeat the
# tests' own records: such parents take these further values of every unique set.
SPARE_RECORDS = 3
MAX_UNIQUE_TRIES = 20_000


def _unique(values: list) -> list:
    kept: list = []
    for value in values:
        if not any(type(value) is type(other) and value == other for other in kept):
            kept.append(value)
    return kept


def _fit_length(text: str, spec: dict) -> str:
    low, high = spec.get("minLength", 0), spec.get("maxLength", MAX_SAMPLE_CHARS)
    return (text + "x" * min(max(0, low - len(text)), MAX_SAMPLE_CHARS))[:high]


def _string_candidates(name: str, spec: dict) -> list[str]:
    drawn: list[str] = list(_FORMAT_SAMPLES.get(spec.get("format"), ()))
    if "pattern" in spec:
        drawn += list(islice(regex_samples(spec["pattern"]), MAX_CANDIDATES))
    if not drawn:
        drawn = [f"{name} a", f"{name} b", "a", "b"]
    return drawn + [_fit_length(text, spec) for text in drawn] + [text * 3 for text in drawn]


def _number_candidates(spec: dict) -> list[int | float]:
    lows = [spec[key] for key in ("minimum", "exclusiveMinimum") if key in spec]
    highs = [spec[key] for key in ("maximum", "exclusiveMaximum") if key in spec]
    low, high = (max(lows) if lows else None), (min(highs) if highs else None)
    anchors = [value for value in (low, high) if value is not None]
    if low is not None and high is not None:
        anchors.insert(1, (low + high) / 2)
    anchors += [1, 0]
    step = spec.get("multipleOf")
    drawn: list[int | float] = []
    for anchor in anchors:
        if step:
            exact = Fraction(repr(step)) if isinstance(step, float) else Fraction(step)
            base = math.ceil(Fraction(repr(anchor) if isinstance(anchor, float) else anchor) / exact)
            drawn += [float((base + offset) * exact) for offset in (0, 1, 2, -1)]
        elif base_type(spec) == "integer":
            drawn += [math.ceil(anchor) + offset for offset in (0, 1, 2, -1)]
        else:
            drawn += [anchor, anchor + 0.5, anchor + 0.25, anchor - 0.5]
    if base_type(spec) == "integer":
        return [int(value) for value in drawn if float(value).is_integer()]
    return drawn


def _array_candidates(name: str, spec: dict) -> list[list]:
    items = candidates(name, spec["items"])
    count = max(spec.get("minItems", 0), min(1, spec.get("maxItems", 1)))
    if count > MAX_SAMPLE_ITEMS:
        return []
    return [[items[(start + index) % len(items)] for index in range(count)] for start in range(len(items))]


def candidates(name: str, spec: dict) -> list:
    """Valid values for a field, best first; raises InputError when none can be made."""
    if "examples" in spec:
        drawn = list(spec["examples"])
    elif "const" in spec:
        drawn = [spec["const"]]
    elif "enum" in spec:
        drawn = list(spec["enum"])
    else:
        kind = base_type(spec)
        drawn = {
            "string": lambda: _string_candidates(name, spec),
            "integer": lambda: _number_candidates(spec),
            "number": lambda: _number_candidates(spec),
            "boolean": lambda: [True, False],
            "array": lambda: _array_candidates(name, spec),
        }[kind]()
    if is_nullable(spec):
        drawn.append(None)
    valid = _unique([value for value in drawn if value_problem(spec, value) is None])
    non_null = [value for value in valid if value is not None]
    if not valid:
        raise InputError(
            'cannot make a valid sample from its keywords; add "examples": [...] to the field',
            field=f"properties.{name}",
        )
    return non_null or valid


def sample_value(name: str, spec: dict, variant: int = 0) -> object:
    """A valid value for one field; variant 1 gives a different one where the contract allows."""
    found = candidates(name, spec)
    return found[variant % len(found)]


def valid_record(entity: Entity, variant: int = 0) -> dict:
    """Every field of the contract filled with a valid value."""
    return {name: sample_value(name, spec, variant) for name, spec in entity.properties.items()}


def _breaks_only(spec: dict, rule: str, value: object) -> bool:
    """The value is refused, and would be accepted without this one keyword."""
    without = {key: item for key, item in spec.items() if key != rule}
    return value_problem(spec, value) is not None and value_problem(without, value) is None


def _rule_breakers(name: str, spec: dict) -> dict[str, list]:
    """Candidate values per keyword; the first that breaks only that keyword is kept."""
    valid = sample_value(name, spec)
    text = valid if isinstance(valid, str) else "x"
    number = valid if isinstance(valid, (int, float)) and not isinstance(valid, bool) else 0
    step = spec.get("multipleOf", 1)
    pool = candidates(name, spec["items"]) if base_type(spec) == "array" else [None]
    most, least = min(spec.get("maxItems", 0), MAX_SAMPLE_ITEMS), spec.get("minItems", 1)
    longest = min(spec.get("maxLength", 0), MAX_SAMPLE_CHARS)
    breakers: dict[str, list] = {
        "enum": ["not-an-option", -987654321, -0.123, not valid if isinstance(valid, bool) else True],
        "const": [text + "x", number + 1, not valid if isinstance(valid, bool) else False, "x"],
        "maxLength": ["x" * (longest + 1), text + "x" * (longest + 1)],
        "minLength": [text[: spec.get("minLength", 1) - 1], "x" * (spec.get("minLength", 1) - 1)],
        "format": [f"not-a-{spec.get('format')}", text + " !", "!" + text, "x", "1"],
        "pattern": ["!!~~!!", "", " ", "x", "0", text + "\u00e9!"],
        "minimum": [spec.get("minimum", 0) - step, spec.get("minimum", 0) - 1, spec.get("minimum", 0) - 0.5],
        "maximum": [spec.get("maximum", 0) + step, spec.get("maximum", 0) + 1, spec.get("maximum", 0) + 0.5],
        "exclusiveMinimum": [spec.get("exclusiveMinimum", 0)],
        "exclusiveMaximum": [spec.get("exclusiveMaximum", 0)],
        "multipleOf": [number + step / 2, number + 1, number + 0.5],
        "maxItems": [[pool[index % len(pool)] for index in range(most + 1)], [pool[0]] * (most + 1)],
        "minItems": [pool[: least - 1], [pool[0]] * (least - 1)],
        "uniqueItems": [[pool[0]] * max(2, spec.get("minItems", 2))],
    }
    if base_type(spec) == "integer":  # an integer field's wrong values must still be integers
        for rule, values in breakers.items():
            breakers[rule] = [int(v) if isinstance(v, float) and v.is_integer() else v for v in values]
    return breakers


def invalid_values(name: str, spec: dict) -> list[tuple[str, object]]:
    """(rule, value) pairs: each value breaks exactly the named rule of this field."""
    kind = base_type(spec)
    cases: list[tuple[str, object]] = [("type", _WRONG_TYPE[kind])]
    if kind == "integer":
        cases.append(("type", 1.5))
    if not is_nullable(spec):
        cases.append(("type", None))
    for rule, values in _rule_breakers(name, spec).items():
        found = [value for value in values if rule in spec and _breaks_only(spec, rule, value)]
        cases += [(rule, found[0])] if found else []
    if kind == "array":
        cases.append(("items", [_WRONG_TYPE[base_type(spec["items"])]]))
    return [(rule, value) for rule, value in cases if value_problem(spec, value) is not None]


def accepted_values(name: str, spec: dict) -> list[tuple[str, object]]:
    """(keyword, value) pairs: values at the edge of what a keyword allows, each of which must be accepted."""
    edges: list[tuple[str, object]] = []
    if is_nullable(spec):
        edges.append(("null", None))
    edges += [("enum", option) for option in spec.get("enum", [])]
    edges += [("examples", example) for example in spec.get("examples", [])]
    if "default" in spec:
        edges.append(("default", spec["default"]))
    for bound in ("minimum", "maximum"):
        if bound in spec:
            edges.append((bound, spec[bound]))
    found = candidates(name, spec)
    for rule in ("exclusiveMinimum", "exclusiveMaximum", "multipleOf", "pattern", "format", "uniqueItems"):
        if rule in spec:
            edges.append((rule, found[-1]))
    return [(rule, value) for rule, value in edges if value_problem(spec, value) is None]


def _stored(spec: dict, value: object) -> object:
    """A value as the database compares it (a uuid in any case, a date-time as its instant, 1 and 1.0 alike)."""
    if value is None or isinstance(value, bool):
        return value
    if spec.get("format") == "uuid":
        return str(uuid.UUID(value))
    if spec.get("format") == "date-time":
        try:
            return datetime.fromisoformat(value.upper().replace("Z", "+00:00")).timestamp()
        except ValueError:  # a leap second, or more fraction digits than Python reads: compared as written
            return value
    return float(value) if isinstance(value, (int, float)) else value


def _key(entity: Entity, record: dict, fields: tuple[str, ...]) -> tuple:
    return tuple(_stored(entity.properties[name], record.get(name)) for name in fields)


def _space_error(entity: Entity, fields: tuple[str, ...], count: int) -> InputError:
    single = len(fields) == 1 and entity.properties[fields[0]].get("x-unique") is True
    where = f"properties.{fields[0]}.x-unique" if single else "x-unique"
    return InputError(
        f"the unique set {list(fields)} has fewer than {count} distinct values the generated tests can "
        f'use (they create {count} records in one tenant): widen it, or add "examples" with more values',
        field=where,
    )


def distinct_variants(entity: Entity, valid: dict, count: int = DISTINCT_RECORDS) -> list[dict]:
    """`count` partial records: the valid record with these merged in differs on every unique set (the first is
    the valid record itself). Raises InputError when a set's value space is too small."""
    sets = unique_sets(entity.schema)
    if not sets:
        return [{} for _ in range(count)]
    fields = list(dict.fromkeys(name for unique in sets for name in unique))
    pools = {name: candidates(name, entity.properties[name]) for name in fields}
    for unique in sets:
        combos: set = set()
        for values in islice(product(*(pools[name] for name in unique)), MAX_UNIQUE_TRIES):
            combos.add(_key(entity, dict(zip(unique, values, strict=True)), unique))
            if len(combos) == count:
                break
        else:
            raise _space_error(entity, unique, count)
    longest = max(len(pool) for pool in pools.values())
    diagonal = ([pool[step % len(pool)] for pool in pools.values()] for step in range(longest))
    tries = islice(chain(diagonal, product(*pools.values())), MAX_UNIQUE_TRIES)
    chosen, seen = [{}], [{_key(entity, valid, unique)} for unique in sets]
    for values in tries:
        record = {**valid, **dict(zip(fields, values, strict=True))}
        keys = [_key(entity, record, unique) for unique in sets]
        if all(key not in taken for key, taken in zip(keys, seen, strict=True)):
            chosen.append(dict(zip(fields, values, strict=True)))
            for key, taken in zip(keys, seen, strict=True):
                taken.add(key)
            if len(chosen) == count:
                return chosen
    raise _space_error(entity, sets[0], count)


def unique_cases(entity: Entity, valid: dict, variants: list[dict]) -> list[dict]:
    """Per unique set, the values that make a record a duplicate of the valid one on this set. The generated test
    keeps the valid record and variant 1, then posts variant 2 and patches variant 1 with these values: `exact`
    when both then collide on this set alone (so the 409 must name exactly its fields)."""
    sets = unique_sets(entity.schema)
    first, second = valid, {**valid, **variants[1]}
    cases = []
    for unique in sets:
        values = {name: valid[name] for name in unique}
        posted, patched = {**valid, **variants[2], **values}, {**second, **values}
        exact = all(
            _key(entity, posted, other) not in (_key(entity, first, other), _key(entity, second, other))
            and _key(entity, patched, other) != _key(entity, first, other)
            for other in sets
            if other != unique
        )
        cases.append({"fields": list(unique), "values": values, "exact": exact})
    return cases


def entity_cases(entity: Entity) -> dict:
    """Everything the generated tests need about one entity, as JSON-ready data."""
    valid = valid_record(entity)
    invalid = [
        {"field": name, "rule": rule, "value": value}
        for name, spec in entity.properties.items()
        for rule, value in invalid_values(name, spec)
    ]
    accepted = [
        {"field": name, "rule": rule, "value": value}
        for name, spec in entity.properties.items()
        if name not in entity.references  # any id but a record's of the tenant is a 409, not an accepted value
        for rule, value in accepted_values(name, spec)
    ]
    # Update an optional field when there is one, so the update test also covers partial bodies.
    update_field = next((name for name in entity.properties if name not in entity.required), next(iter(valid)))
    try:  # the first DISTINCT_RECORDS are the same either way: each is chosen in turn, in one order
        variants = distinct_variants(entity, valid, DISTINCT_RECORDS + SPARE_RECORDS)
    except InputError:  # no spare: the loader refuses that only where a record is made as a parent of its own kind
        variants = distinct_variants(entity, valid)
    variants, spare = variants[:DISTINCT_RECORDS], variants[DISTINCT_RECORDS:]
    return {
        "resource": entity.plural,
        "name": entity.name,
        "title": entity.title,
        "required": entity.required,
        "valid": valid,
        "valid_alt": valid_record(entity, 1),
        "minimal": {name: valid[name] for name in entity.required},
        "defaults": {name: spec["default"] for name, spec in entity.properties.items() if "default" in spec},
        "formats": {name: (spec.get("items") or spec).get("format") for name, spec in entity.properties.items()},
        "update": {update_field: sample_value(update_field, entity.properties[update_field], 1)},
        "invalid": invalid,
        "accepted": accepted,
        "unknown_field": UNKNOWN_FIELD,
        "distinct": variants,
        "spare": spare,
        "unique": unique_cases(entity, valid, variants),
    }
