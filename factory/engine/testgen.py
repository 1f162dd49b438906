"""Offline TestGen: unit, integration, contract and E2E tests from the Pack0 contracts. Pure."""

from __future__ import annotations

from factory.engine.codegen import contract_text
from factory.engine.samples import entity_cases
from factory.engine.templates import read_template, service_validation
from factory.errors import InputError
from factory.fsutil import dumps_json
from factory.pack0.models import Entity, Pack0

JUNIT_REPORT = ".factory_logs/junit.xml"
TEST_KINDS = ("unit", "integration", "contract", "e2e")
_PER_ENTITY = {
    "unit": ("test_unit_validation.py", "test_{plural}_validation.py"),
    "integration": ("test_integration_api.py", "test_{plural}_api.py"),
    "contract": ("test_contract_schemas.py", "test_{plural}_contract.py"),
}


def _checked_cases(pack0: Pack0, entity: Entity) -> dict:
    """The test data, after checking the valid samples really are valid for the service's validator."""
    try:
        cases = entity_cases(entity)
    except InputError as error:
        raise InputError(str(error), file=f"contracts/{entity.name}.schema.json") from None
    plurals = {other.name: other.plural for other in pack0.entities}
    # What a test must create first: each reference's parent resource, and whether a create can do without it.
    cases["references"] = {
        field: {"resource": plurals[target], "on_delete": rule, "required": entity.reference_is_required(field)}
        for field, (target, rule) in entity.references.items()
    }
    validate = service_validation().validate_body
    records = [cases["valid"], cases["valid_alt"], cases["minimal"]]
    records += [{**cases["valid"], **variant} for variant in (*cases["distinct"], *cases["spare"])]
    for record in records:
        problems = validate(entity.schema, record)
        if problems:
            first = problems[0]
            raise InputError(
                f'cannot make a valid sample: {first["message"]}; add "examples" to the field',
                file=f"contracts/{entity.name}.schema.json",
                field=f"properties.{first['field']}",
            )
    return cases


# The generated suite's own pytest configuration, so a build inside another project's checkout does not
# pick up that project's (pytest looks for it from tests/ upwards).
GENERATED_PYTEST_INI = "[pytest]\nconsole_output_style = classic\n"


def test_commands() -> dict:
    """How the tests run; '{python}' is the interpreter that runs the factory."""
    argv = [
        "{python}",
        "-m",
        "pytest",
        "tests",
        "--rootdir",
        ".",
        "-q",
        "-p",
        "no:cacheprovider",
        # Whatever pytest configuration surrounds the build (a checkout's addopts such as `-n auto`) is not
        # the generated suite's: tests/pytest.ini stops pytest's search, and addopts is cleared besides.
        "-o",
        "addopts=",
        "--junitxml",
        JUNIT_REPORT,
    ]
    return {
        "schema_version": 1,
        "commands": [
            {
                "name": "pytest",
                "argv": argv,
                "cwd": ".",
                "timeout_s": 300,
                "junit_xml": JUNIT_REPORT,
                "kinds": {kind: f"tests/{kind}/" for kind in TEST_KINDS},
            }
        ],
    }


# The core slice's service-wide contract test, beside the entities' tests/contract/test_<plural>_contract.py.
CORE_CONTRACT_TEST = "tests/contract/test_service_contract.py"


def entity_test_paths(plural: str) -> list[str]:
    """The test files an entity's slice writes (its plural names them)."""
    return [
        f"tests/cases/{plural}.json",
        *(f"tests/{kind}/{name.format(plural=plural)}" for kind, (_, name) in _PER_ENTITY.items()),
    ]


def generate_core_tests(pack0: Pack0) -> dict[str, str]:
    """The core slice's tests: fixtures, the service-wide contract test, the E2E flow, the commands."""
    return {
        "tests/conftest.py": read_template("tests/conftest.py", PACKAGE=pack0.package),
        "tests/pytest.ini": GENERATED_PYTEST_INI,
        "tests/e2e/test_two_tenants_flow.py": read_template("tests/test_e2e_two_tenants.py"),
        CORE_CONTRACT_TEST: read_template("tests/test_contract_service.py"),
        ".test_commands.json": dumps_json(test_commands()),
    }


def generate_entity_tests(pack0: Pack0, entity: Entity) -> dict[str, str]:
    """One entity's tests: its cases, and its unit, integration and contract test files."""
    cases_path, *paths = entity_test_paths(entity.plural)
    files = {cases_path: dumps_json(_checked_cases(pack0, entity))}
    for path, (template, _) in zip(paths, _PER_ENTITY.values(), strict=True):
        files[path] = read_template(f"tests/{template}", RESOURCE=entity.plural, NAME=entity.name)
    return files


def contract_copy_for_tests(pack0: Pack0) -> dict[str, str]:
    """The contract the tests check responses against: Pack0's, copied."""
    return {"tests/contract_openapi.json": contract_text(pack0)}


def generate_tests(pack0: Pack0) -> dict[str, str]:
    """Every file TestGen's slices produce, plus the contract copy, keyed by path inside build/."""
    files = {**generate_core_tests(pack0), **contract_copy_for_tests(pack0)}
    for entity in pack0.entities:
        files.update(generate_entity_tests(pack0, entity))
    return dict(sorted(files.items()))


def entity_of_test_file(pack0: Pack0, test_path: str) -> Entity | None:
    """Which entity a generated test file is about (None for the shared E2E and conftest)."""
    # By the exact file names: a plural may begin another's (orders, orders_lines).
    return next((entity for entity in pack0.entities if test_path in entity_test_paths(entity.plural)), None)
