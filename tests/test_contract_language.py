"""The contract language: each keyword a field may use is checked at load, enforced by the service's validator,
sampled for the generated tests, and mapped to SQL where SQL can say it; what is not supported is named."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from factory.config import BuildConfig
from factory.deploy.migrations import create_table_sql
from factory.engine.codegen import generate_source
from factory.engine.regex_sample import regex_samples
from factory.engine.samples import accepted_values, entity_cases, invalid_values
from factory.engine.templates import service_validation
from factory.engine.testgen import generate_tests
from factory.errors import InputError
from factory.fsutil import write_text_atomic
from factory.pack0.generate import generate_pack0
from factory.pack0.load import load_pack0
from factory.pack0.models import Entity

check_value = service_validation().check_value
validate_body = service_validation().validate_body


def contract(properties: dict, required: list | None = None, title: str = "Thing") -> dict:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        "type": "object",
        "additionalProperties": False,
        "required": required or [],
        "properties": properties,
    }


def pack0_with(tmp_path: Path, name: str, schema: dict) -> Path:
    root = tmp_path / "pack0"
    for path, text in generate_pack0("team-tasks").items():
        write_text_atomic(root / path, text)
    (root / f"contracts/{name}.schema.json").write_text(json.dumps(schema), encoding="utf-8")
    return root


def load_error(tmp_path: Path, field_spec: dict, name: str = "thing") -> str:
    root = pack0_with(tmp_path, name, contract({"value": field_spec}))
    with pytest.raises(InputError) as caught:
        load_pack0(root)
    return str(caught.value)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"$ref": "#/$defs/x"}, "keyword '$ref' is not supported: references between schemas"),
        ({"type": "string", "allOf": [{"minLength": 1}]}, "keyword 'allOf' is not supported"),
        ({"type": "object", "properties": {}}, "keyword 'properties' is not supported: nested objects"),
        ({"type": "object"}, "'type': 'object' (a nested object) is not supported"),
        ({"type": "strin"}, "string, integer, number, boolean, array"),
        ({"type": ["string", "integer"]}, 'a list of one of them and "null"'),
        ({"type": "integer", "default": "7"}, "default '7' must be of type integer"),
        ({"type": "string", "maxLength": 3, "default": "toolong"}, "default 'toolong' must be at most 3"),
        ({"type": "string", "format": "ipv4", "examples": ["300.1.1.1"]}, "examples[0] '300.1.1.1' must be a valid"),
        ({"type": "string", "enum": ["a", "bb"], "maxLength": 1}, "enum value 'bb' must be at most 1"),
        ({"type": "integer", "const": 1.5}, "const value 1.5 must be of type integer"),
        ({"type": "integer", "exclusiveMinimum": 1, "exclusiveMaximum": 2}, "cannot make a valid sample"),
        ({"type": "integer", "minimum": 1, "maximum": 3, "multipleOf": 5}, "cannot make a valid sample"),
        ({"type": "string", "pattern": "^(?=a)b$"}, 'add "examples"'),
        ({"type": "string", "format": "phone"}, "value.format"),
        ({"type": "number", "uniqueItems": True}, "'uniqueItems' does not apply to type 'number'"),
        ({"type": "array", "items": {"type": "boolean"}, "uniqueItems": True, "minItems": 3}, "valid sample"),
        # Values the service accepts but neither store keeps (each built NOT APPROVED, found by an outside attack):
        ({"type": "integer", "minimum": 2**63}, "no 64-bit integer"),
        ({"type": "integer", "exclusiveMaximum": -(2**63)}, "no 64-bit integer"),
        ({"type": "integer", "enum": [1, 2, 2**63]}, "enum value 9223372036854775808 is outside the 64-bit"),
        ({"type": "integer", "default": -(2**63) - 1}, "default -9223372036854775809 is outside the 64-bit"),
        ({"type": "string", "format": "date-time", "default": "9999-12-31T23:59:60Z"}, "default '9999-12-31T23:59"),
        ({"type": "string", "format": "date-time", "examples": ["0001-01-01T00:30:00+01:00"]}, "outside years 1-9999"),
        ({"type": "integer", "enum": [1, 1.0, 2]}, "enum lists 1.0 twice"),
    ],
)
def test_unsupported_or_impossible_field_is_one_line_naming_file_and_field(tmp_path: Path, spec: dict, expected):
    message = load_error(tmp_path, spec)
    assert message.startswith(f"{tmp_path}/pack0/contracts/thing.schema.json: properties.value"), message
    assert expected in message
    assert "\n" not in message


def test_field_and_title_names_that_break_the_rules_say_the_rule(tmp_path: Path):
    root = pack0_with(tmp_path, "thing", contract({"firstName": {"type": "string"}}))
    with pytest.raises(InputError, match=r"properties\.firstName: field name 'firstName' must be lower_snake_case"):
        load_pack0(root)
    root = pack0_with(tmp_path, "thing", contract({"a": {"type": "string"}}, title="Book Loan"))
    with pytest.raises(InputError, match=r"thing\.schema\.json: title: must be CamelCase"):
        load_pack0(root)


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ({"type": ["string", "null"], "enum": ["a", "b"]}, "field 'value' is nullable, so its enum must list null"),
        ({"type": ["string", "null"], "const": "a"}, "field 'value' is nullable, so its const can only be null"),
    ],
)
def test_nullable_field_must_accept_the_null_a_missing_value_reads_back_as(tmp_path: Path, spec: dict, expected):
    root = pack0_with(tmp_path, "thing", contract({"value": spec}))
    with pytest.raises(InputError, match=re.escape(expected)):
        load_pack0(root)
    spec = {**spec, "enum": ["a", None]} if "enum" in spec else {**spec, "const": None}
    load_pack0(pack0_with(tmp_path, "thing", contract({"value": spec})))


@pytest.mark.parametrize("keyword", ["$defs", "allOf", "oneOf"])
def test_unsupported_entity_keyword_is_named(tmp_path: Path, keyword: str):
    value = {"x": {"type": "string"}} if keyword == "$defs" else [{"type": "object"}]
    root = pack0_with(tmp_path, "thing", {**contract({"a": {"type": "string"}}), keyword: value})
    with pytest.raises(InputError, match=re.escape(f"thing.schema.json: keyword '{keyword}' is not supported")):
        load_pack0(root)


@pytest.mark.parametrize("value", ["NaN", "Infinity", "1e999"])
def test_non_finite_number_in_a_contract_is_refused(tmp_path: Path, value: str):
    root = pack0_with(tmp_path, "thing", contract({"a": {"type": "number"}}))
    path = root / "contracts/thing.schema.json"
    path.write_text(path.read_text().replace('"number"}', f'"number", "maximum": {value}}}'))
    with pytest.raises(InputError, match=r"thing\.schema\.json: .*(not a JSON number|too large)"):
        load_pack0(root)


@pytest.mark.parametrize(
    ("fmt", "good", "bad"),
    [
        ("date", ["2026-01-01", "2024-02-29"], ["2026-W01-1", "20260101", "2026-02-29", "2026-1-01", "2026-01-01\n"]),
        (
            "date-time",
            ["2026-01-01T10:00:00Z", "2026-01-01t10:00:00.5+05:30", "2016-12-31T23:59:60Z"],
            ["20260101T100000Z", "2026-01-01 10:00:00Z", "2026-01-01T10:00:00", "2026-01-01T10:00:60Z"],
        ),
        ("time", ["10:00:00Z", "23:59:59.999-01:00"], ["10:00:00", "24:00:00Z", "10:00Z", "10:00:00+1:00"]),
        (
            "uuid",
            ["1b4e28ba-2fa1-41d2-883f-0016d3cca427", "1B4E28BA-2FA1-41D2-883F-0016D3CCA427"],
            ["{1b4e28ba-2fa1-41d2-883f-0016d3cca427}", "urn:uuid:1b4e28ba-2fa1-41d2-883f-0016d3cca427", "1b4e28ba2fa1"],
        ),
        ("email", ["a@b.io", "first.last+tag@example.com", '"a b"@x.org'], ["a@@b", ".a@b.io", "a@-b.io", "ab.io"]),
        ("uri", ["https://a.example/x?y#z", "urn:isbn:123", "http://[::1]:8/"], ["//a.b", "http://a b", "1x:y"]),
        ("ipv4", ["192.0.2.1", "0.0.0.0"], ["01.2.3.4", "256.1.1.1", "1.2.3", "\u0663.2.3.4"]),
        ("ipv6", ["::1", "2001:db8::1", "::ffff:1.2.3.4"], ["1::2::3", "fe80::1%eth0", "12345::"]),
        ("hostname", ["a", "api.example.com", "xn--bcher-kva.example"], ["a.", "-a.com", "a_b.com", "a" * 64]),
    ],
)
def test_format_is_exactly_its_rfc(fmt: str, good: list[str], bad: list[str]):
    spec = {"type": "string", "format": fmt}
    assert [value for value in good if check_value(spec, value)] == []
    assert [value for value in bad if check_value(spec, value) is None] == []


@pytest.mark.parametrize(
    ("spec", "good", "bad"),
    [
        ({"type": ["string", "null"], "maxLength": 2}, [None, "ab"], ["abc", 1]),
        ({"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 3}, [1, 2], [0, 3, 1.5]),
        ({"type": "number", "multipleOf": 0.5}, [1.5, 2, -0.5], [0.3, 1.25]),
        ({"type": "number", "multipleOf": 0.01}, [162.04, 19.99, 0.07, 1e300], [1.005, 0.30000000000000004]),
        ({"type": "number", "multipleOf": 0.1}, [0.3, 0.7, 3], [0.35, 1e-10]),
        ({"type": "integer", "multipleOf": 3}, [0, 9, -3], [4, 10]),
        ({"type": "array", "items": {"type": "number"}, "uniqueItems": True}, [[1, 2], []], [[1, 1.0], [2, 2]]),
        (
            {"type": "array", "items": {"type": ["boolean", "null"]}, "uniqueItems": True},
            [[True, 1 == 2]],
            [[None, None]],
        ),
        ({"type": "string", "const": "fixed"}, ["fixed"], ["other", ""]),
        ({"type": "string", "pattern": r"^[A-Z]{2}$"}, ["AB"], ["AB\n", "ABC"]),  # `$` is the end of the text
        ({"type": "string", "pattern": r"^\d+$"}, ["42"], ["\u0664\u0662"]),  # \d is ASCII, as in ECMA 262
        ({"type": "string", "pattern": "[$]x"}, ["a$x"], ["ax"]),
        ({"type": "boolean", "const": True}, [True], [False, 1]),
        ({"type": "number", "enum": [1, 2.5]}, [1, 1.0, 2.5], [True, 3]),
    ],
)
def test_service_enforces_each_keyword_as_json_schema_does(spec: dict, good: list, bad: list):
    assert [value for value in good if check_value(spec, value)] == []
    assert [value for value in bad if check_value(spec, value) is None] == []


def test_default_is_applied_on_create_but_never_over_a_sent_value():
    schema = contract({"a": {"type": "integer", "default": 3}, "b": {"type": ["string", "null"], "default": None}})
    module = service_validation()
    assert module.with_defaults(schema, {}) == {"a": 3, "b": None}
    assert module.with_defaults(schema, {"a": 5}) == {"a": 5, "b": None}


@pytest.mark.parametrize(
    "pattern",
    [
        r"^[A-Z]{3}-[0-9]{4}$",
        r"^(97[89])?\d{9}[\dX]$",  # ISBN-10/13
        r"^[0-9]{13}$",  # EAN-13
        r"^[A-HJ-NPR-Z0-9]{17}$",  # VIN
        r"^[A-Z]{2}$",
        r"^(?!test)[a-z]{4,8}$",
        r"(ab|cd)\1",
        r"^[^@\s]+@[^@\s]+$",
    ],
)
def test_regex_sampler_draws_matching_strings_the_same_way_every_time(pattern: str):
    first = list(regex_samples(pattern))
    assert first, pattern
    assert first == list(regex_samples(pattern))
    assert all(service_validation().check_value({"type": "string", "pattern": pattern}, text) is None for text in first)


def test_regex_sampler_gives_up_on_a_pattern_that_would_fill_memory():
    assert list(regex_samples("(a{100000}){100000}")) == []
    assert [len(text) for text in regex_samples("(ab){3000}")] == [6000]


def _entity(properties: dict, required: list | None = None) -> Entity:
    return Entity(name="thing", plural="things", title="Thing", schema=contract(properties, required))


KEYWORD_FIELDS = {
    "code": {"type": "string", "pattern": r"^[A-Z]{3}-[0-9]{4}$", "default": "ABC-0001"},
    "note": {"type": ["string", "null"], "maxLength": 20, "default": None},
    "ratio": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
    "step": {"type": "integer", "multipleOf": 5, "minimum": 1},
    "tags": {"type": "array", "items": {"type": "string", "format": "hostname"}, "uniqueItems": True, "maxItems": 3},
    "kind": {"type": "string", "const": "fixed"},
    "at": {"type": "string", "format": "time"},
    "host": {"type": "string", "format": "ipv6"},
}


def test_generated_cases_break_and_keep_every_keyword():
    entity = _entity(KEYWORD_FIELDS, ["ratio"])
    cases = entity_cases(entity)
    assert validate_body(entity.schema, cases["valid"]) == []
    assert validate_body(entity.schema, cases["valid_alt"]) == []
    broken = {(case["field"], case["rule"]) for case in cases["invalid"]}
    for field, rule in [
        ("code", "pattern"),
        ("ratio", "exclusiveMinimum"),
        ("ratio", "exclusiveMaximum"),
        ("step", "multipleOf"),
        ("tags", "uniqueItems"),
        ("tags", "maxItems"),
        ("kind", "const"),
        ("at", "format"),
        ("note", "maxLength"),
    ]:
        assert (field, rule) in broken
    for case in cases["invalid"]:  # each value is refused for its own field
        problems = validate_body(entity.schema, {**cases["valid"], case["field"]: case["value"]})
        assert [problem["field"] for problem in problems] == [case["field"]], case
    assert ("note", "null") in {(case["field"], case["rule"]) for case in cases["accepted"]}
    assert cases["defaults"] == {"code": "ABC-0001", "note": None}


def test_each_invalid_value_breaks_only_the_rule_it_names():
    spec = {"type": "integer", "minimum": 10, "maximum": 20, "multipleOf": 2, "exclusiveMaximum": 20}
    for rule, value in invalid_values("n", spec):
        if rule != "type":
            assert check_value({k: v for k, v in spec.items() if k != rule}, value) is None, (rule, value)
    assert {rule for rule, _ in accepted_values("n", spec)} >= {"minimum", "multipleOf"}


def test_migrations_carry_defaults_checks_and_nullable_columns():
    sql = create_table_sql(_entity(KEYWORD_FIELDS, ["ratio", "note"]), "compose")
    assert "\"code\" text DEFAULT 'ABC-0001'" in sql
    # NOT NULL never applies to a nullable field; maxLength is a named CHECK (its name tells the field)
    assert '"note" text DEFAULT NULL CONSTRAINT "check_2" CHECK (char_length("note") <= 20)' in sql
    assert '"note" text DEFAULT NULL NOT NULL' not in sql
    assert '"ratio" > 0' in sql and '"ratio" < 1' in sql
    assert '"step" % 5 = 0' in sql
    assert "\"kind\" = 'fixed'" in sql
    assert 'jsonb_array_length("tags") <= 3' in sql


@pytest.mark.parametrize(
    ("module", "entity"),
    [("data-import", "import"), ("class", "class"), ("web-json", "json"), ("x-types", "type")],
)
def test_keyword_builtin_and_stdlib_names_generate_valid_python(tmp_path: Path, module: str, entity: str):
    files = {**generate_source(load_pack0(_written(tmp_path, module))), **generate_tests(load_pack0(tmp_path))}
    assert f"contracts/{entity}.schema.json" in generate_pack0(module)
    for path, text in files.items():
        if path.endswith(".py"):
            compile(text, path, "exec")


def _written(root: Path, module: str) -> Path:
    for path, text in generate_pack0(module).items():
        write_text_atomic(root / path, text)
    return root


def test_long_names_and_strings_stay_within_the_line_length(tmp_path: Path):
    long_field = "f" + "x" * 62
    schema = contract(
        {
            long_field: {"type": "string", "description": "word " * 80, "pattern": "^" + "[A-Z]" * 30 + "$"},
            "wide": {"type": "string", "enum": ["\u65e5\u672c" * 40]},
        },
        title="T" + "x" * 60,
    )
    schema["x-plural"] = "p" + "x" * 40
    root = pack0_with(tmp_path, "e" + "x" * 40, schema)
    meta = json.loads((root / "pack0.json").read_text())
    (root / "pack0.json").write_text(json.dumps({**meta, "title": 'A """quoted\\ title ' + "y" * 180}))
    pack0 = load_pack0(root)
    files = {**generate_source(pack0), **generate_tests(pack0)}
    long_lines = [
        (path, line)
        for path, text in files.items()
        if path.endswith(".py")
        for line in text.splitlines()
        if len(line) > 120
    ]
    assert long_lines == []


@pytest.mark.parametrize("name", ["con", "nul", "aux", "com1", "lpt1", "prn"])
def test_device_names_are_refused_as_entity_plural_and_module(tmp_path: Path, name: str):
    root = pack0_with(tmp_path, name, contract({"a": {"type": "string"}}, title="Dev"))
    with pytest.raises(InputError, match=f"entity name '{name}' is a reserved device name"):
        load_pack0(root)
    (root / f"contracts/{name}.schema.json").unlink()
    root = pack0_with(tmp_path, "dev", {**contract({"a": {"type": "string"}}, title="Dev"), "x-plural": name})
    with pytest.raises(InputError, match=r"x-plural .* reserved device name"):
        load_pack0(root)
    with pytest.raises(InputError, match="--module: module name"):
        BuildConfig(module=name, out=tmp_path / "out").check()


@pytest.mark.parametrize("module", ["crm\n", " crm", "crm ", "cr\tm", "crm\x00"])
def test_module_names_with_control_characters_or_surrounding_space_are_refused(tmp_path: Path, module: str):
    with pytest.raises(InputError, match="--module: module name"):
        BuildConfig(module=module, out=tmp_path / "out").check()


def test_entity_file_name_with_a_trailing_newline_is_refused(tmp_path: Path):
    root = pack0_with(tmp_path, "thing\n", contract({"a": {"type": "string"}}))
    with pytest.raises(InputError, match="must be lower_snake_case"):
        load_pack0(root)


def test_openapi_check_reads_time_as_rfc3339_full_time():
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

    from factory.gates.openapi_validity import OpenAPI31Validator
    from factory.pack0.openapi import derive_openapi

    entity = _entity({"opens_at": {"type": "string", "format": "time", "default": "08:00:00Z"}})
    document = derive_openapi("m", "M", "0.0.1", (entity,))
    validate(document, cls=OpenAPI31Validator)
    entity.schema["properties"]["opens_at"]["default"] = "08:00"
    with pytest.raises(OpenAPIValidationError, match="is not a 'time'"):
        validate(derive_openapi("m", "M", "0.0.1", (entity,)), cls=OpenAPI31Validator)
