"""Attacks a stranger would make on filters, references and uniqueness: each case is a bug that was found, kept
as the behaviour that must hold. Cheap: the service's own modules, loaded from the templates, no build."""

from __future__ import annotations

import importlib
import sys
import types

import jsonschema
import pytest

from factory.engine.templates import TEMPLATES
from factory.pack0.list_query import list_parameters
from factory.pack0.models import Entity


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
            "email": {"type": "string", "format": "email", "pattern": "[0-9]", "minLength": 5, "maxLength": 100},
        },
    },
)
TRIES = ["0" * 185, "0" * 184 + "a", "ae", "a", "a\x00e", "ABC-1234", "ABC-12345", "\x00", "", "x" * 21, "a" * 187]


@pytest.mark.parametrize("field", ["vowel", "code", "note"])
@pytest.mark.quick
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


@pytest.mark.quick
def test_a_filter_with_a_format_and_a_pattern_is_declared_whole_and_refuses_what_fits_only_the_pattern():
    # email=00000 (pattern "[0-9]", minLength 5) was sent as valid: schemathesis lost the format of a bare
    # query pattern pinned to its length. With allOf beside them, it builds and checks the value whole.
    listing = _service_module("listing")
    declared = {p["name"]: p["schema"] for p in list_parameters(WORD)}["email"]
    assert declared["format"] == "email" and declared["pattern"] == "[0-9]" and declared["allOf"]
    checker = jsonschema.Draft202012Validator(declared, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    for text, valid in (("00000", False), ("a1@example.com", True)):
        assert checker.is_valid(text) == valid
        try:
            listing.list_query(WORD.schema, [("email", text)])
            accepted = True
        except listing.QueryError:
            accepted = False
        assert accepted == valid, text


@pytest.mark.quick
def test_a_repeated_sort_field_counts_once_so_a_long_sort_stays_a_valid_query():
    # sort=starts_at,starts_at,... (3000 times) was a 500: SQLite refuses that many ORDER BY terms.
    listing = _service_module("listing")
    _, sort = listing.list_query(WORD.schema, [("sort", ",".join(["-code", "vowel", "code"] * 3000))])
    assert sort == [("code", True), ("vowel", False)]


DEADLOCK_PROBE = """
import json, sys, threading
from crm_contacts.storage import StoreUnavailable, open_store
store = open_store(sys.argv[1], "crm-contacts")
ids = [store.create("contacts", "t1", json.loads(sys.argv[2]))["id"] for _ in range(2)]
barrier, results = threading.Barrier(2), []

def lock_in_order(first, second):
    tries = []
    def work(connection):
        tries.append(1)
        connection.execute("UPDATE contacts SET first_name = 'x' WHERE id = %s", (first,))
        if len(tries) == 1:
            barrier.wait()  # each holds one row and wants the other's: PostgreSQL aborts one of them
        connection.execute("UPDATE contacts SET first_name = 'y' WHERE id = %s", (second,))
    try:
        store._transaction(store.tables["contacts"], "t1", work)
        results.append(len(tries))
    except StoreUnavailable:
        results.append("503")

threads = [threading.Thread(target=lock_in_order, args=pair) for pair in (ids, ids[::-1])]
[thread.start() for thread in threads]
[thread.join() for thread in threads]
store.close()
print(json.dumps(sorted(results, key=str)))
"""


def test_a_deadlock_between_two_writers_is_retried_not_a_503(crm_output, database, tmp_path):
    # Concurrent cascades and creates on PostgreSQL deadlocked now and then: the loser answered 503.
    import json
    import shutil
    import subprocess

    from conftest import build_env
    from pg import deploy_to

    from factory.pack0.load import load_pack0

    build = tmp_path / "build"
    shutil.copytree(crm_output / "build", build)
    deploy_to(build, load_pack0(crm_output / "pack0/pack0-crm-contacts-0.0.1"), database)
    contact = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "status": "lead"}
    env = build_env(build)
    done = subprocess.run(
        [sys.executable, "-c", DEADLOCK_PROBE, database, json.dumps(contact)],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    # Both done; the one PostgreSQL aborted ran again (on a loaded machine its retry may meet the other's
    # lock once more: [1, 3] was seen).
    outcome = json.loads(done.stdout)
    assert "503" not in outcome and outcome[0] == 1 and outcome[1] >= 2, outcome


NODE = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Node",
    "type": "object",
    "additionalProperties": False,
    "required": ["name"],
    "properties": {
        "parent_id": {"type": ["string", "null"], "format": "uuid", "x-references": "node", "x-on-delete": "cascade"},
        "name": {"type": "string", "pattern": "^[a-z]+$", "maxLength": 30},
    },
    "x-unique": [["parent_id", "name"]],
}


def test_generated_duplicate_test_repeats_a_unique_set_holding_a_self_reference(tmp_path):
    # The generated test left the self-reference null in every record, and nulls never collide: it expected a 409
    # for a set that was no duplicate (a tree's "name unique under its parent" never built approved).
    import json
    import os
    import subprocess

    from factory.engine.codegen import generate_source
    from factory.engine.testgen import generate_tests
    from factory.fsutil import write_text_atomic
    from factory.pack0.generate import generate_pack0
    from factory.pack0.load import load_pack0

    for path, text in generate_pack0("tree").items():
        if not path.startswith("contracts/"):
            write_text_atomic(tmp_path / "pack0" / path, text)
    write_text_atomic(tmp_path / "pack0/contracts/node.schema.json", json.dumps(NODE))
    pack0 = load_pack0(tmp_path / "pack0")
    for path, text in {**generate_source(pack0), **generate_tests(pack0)}.items():
        write_text_atomic(tmp_path / "build" / path, text)
    env = {key: value for key, value in os.environ.items() if key != "TEST_DATABASE_URL"}
    argv = [sys.executable, "-m", "pytest", "tests/integration", "-p", "no:cacheprovider", "-o", "addopts="]
    argv += ["-v", "-k", "duplicate_of_a_unique_set"]
    done = subprocess.run(
        argv,
        cwd=tmp_path / "build",
        env={**env, "PYTHONDONTWRITEBYTECODE": "1"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stdout[-3000:]
    assert "test_duplicate_of_a_unique_set_is_409_within_the_tenant_only[parent_id-name] PASSED" in done.stdout
