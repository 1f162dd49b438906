"""Attacks a stranger would make on filters, references and uniqueness: each case is a bug that was found, kept
as the behaviour that must hold. Cheap: the service's own modules, loaded from the templates, no build."""

from __future__ import annotations

import importlib
import sys
import types

import jsonschema
import pytest

from factory.engine.templates import TEMPLATES
from factory.pack0.models import Entity
from factory.pack0.openapi import list_parameters


def _service_module(name: str):
    """A module of the generated service, imported from its template as part of a throwaway package."""
    package = "lai_attack2_service"
    if package not in sys.modules:
        module = types.ModuleType(package)
        module.__path__ = [str(TEMPLATES / "service")]
        sys.modules[package] = module
    return importlib.import_module(f"{package}.{name}")


WORD = Entity(
    name="word",
    plural="words",
    title="Word",
    schema={
        "type": "object",
        "properties": {
            "vowel": {"type": "string", "pattern": "[aeiou]", "minLength": 2, "maxLength": 186},
            "code": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"},
            "note": {"type": ["string", "null"], "maxLength": 20},
        },
    },
)
TRIES = ["0" * 185, "0" * 184 + "a", "ae", "a", "a\x00e", "ABC-1234", "ABC-12345", "\x00", "", "x" * 21, "a" * 187]


@pytest.mark.parametrize("field", ["vowel", "code", "note"])
def test_a_list_filter_is_accepted_exactly_when_its_declared_schema_accepts_it(field):
    # schemathesis sent vowel=000...0 (185 characters): it read an unanchored pattern beside a length as a
    # whole-string one. The declared schema says no NUL in an allOf beside the pattern, as the bodies do,
    # which schemathesis builds whole and checks.
    listing = _service_module("listing")
    declared = {p["name"]: p["schema"] for p in list_parameters(WORD)}[field]
    if "pattern" in WORD.properties[field]:
        assert "allOf" in declared
    for text in TRIES:
        try:
            listing.list_query(WORD.schema, [(field, text)])
            accepted = True
        except listing.QueryError as error:
            assert error.name == field
            accepted = False
        assert accepted == jsonschema.Draft202012Validator(declared).is_valid(text), (field, text)
