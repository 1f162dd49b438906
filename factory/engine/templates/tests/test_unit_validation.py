"""Unit: the service's validator accepts what one resource's contract allows and names each field it refuses."""

import importlib

import pytest
from conftest import PACKAGE, load_cases

RESOURCE = "@@RESOURCE@@"
NAME = "@@NAME@@"
CASES = load_cases(RESOURCE)
validation = importlib.import_module(f"{PACKAGE}.validation")
resource = importlib.import_module(f"{PACKAGE}.resources.{NAME}")


def case_id(case):
    return f"{case['field']}-{case['rule']}" if case else "none"


def fields_of(problems):
    return sorted(problem["field"] for problem in problems)


def test_valid_record_is_accepted():
    assert validation.validate_body(resource.SCHEMA, CASES["valid"]) == []


def test_other_valid_record_is_accepted():
    assert validation.validate_body(resource.SCHEMA, CASES["valid_alt"]) == []


def test_required_fields_alone_are_enough():
    assert validation.validate_body(resource.SCHEMA, CASES["minimal"]) == []


@pytest.mark.parametrize("field", CASES["required"] or ["(none)"])
def test_missing_required_field_is_named(field):
    if field == "(none)":
        pytest.skip("the contract has no required field")
    body = {key: value for key, value in CASES["valid"].items() if key != field}
    assert fields_of(validation.validate_body(resource.SCHEMA, body)) == [field]


@pytest.mark.parametrize("case", CASES["invalid"], ids=case_id)
def test_invalid_value_is_refused_naming_its_field(case):
    body = {**CASES["valid"], case["field"]: case["value"]}
    assert fields_of(validation.validate_body(resource.SCHEMA, body)) == [case["field"]]


@pytest.mark.parametrize("case", CASES["accepted"] or [None], ids=case_id)
def test_value_a_keyword_allows_is_accepted(case):
    if case is None:
        pytest.skip("no keyword of this contract has an edge value to check")
    body = {**CASES["valid"], case["field"]: case["value"]}
    assert validation.validate_body(resource.SCHEMA, body) == []


def test_unknown_and_read_only_fields_are_refused():
    body = {**CASES["valid"], CASES["unknown_field"]: 1, "id": "x"}
    assert fields_of(validation.validate_body(resource.SCHEMA, body)) == sorted([CASES["unknown_field"], "id"])


def test_partial_update_skips_required_check():
    assert validation.validate_body(resource.SCHEMA, CASES["update"], partial=True) == []


def test_body_must_be_an_object():
    assert fields_of(validation.validate_body(resource.SCHEMA, [CASES["valid"]])) == ["(body)"]
