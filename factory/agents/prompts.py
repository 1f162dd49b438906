"""The system prompts of the five agents, in one place, the Pack0 context every agent reads, and the prompt
text each slice is asked with.

The context is three blocks, most stable first, each a prompt-cache breakpoint: the conventions and the
reference architecture (the same for every module, long enough for any model's minimum cacheable prefix),
then the module's plan and entity list, then its SRS. Editing one entity's fields changes none of them.
"""

from __future__ import annotations

import json
from functools import cache

from factory.pack0.models import Budgets, Entity, Pack0, Pack0Meta

REPLY_RULES = (
    "Reply by calling the tool with one JSON object. File paths are relative to the build folder and never "
    "contain '..'. Return each file whole."
)

CONVENTIONS = """Conventions every slice follows (PACKAGE is the module's Python package, named below):
- src/PACKAGE/ is a stdlib-only Python package. src/PACKAGE/resources/__init__.py imports one module per
  entity and defines MODULE_NAME and RESOURCES (the modules, in order). Each entity module defines NAME, PLURAL,
  TITLE and SCHEMA (the entity's contract, exactly as given).
- The core serves, for each resource, /api/v1/<PLURAL> (POST create, GET list with limit/offset) and
  /api/v1/<PLURAL>/<id> (GET, PATCH, DELETE); X-Tenant-ID on every request (400 without it); a tenant never sees
  or changes another tenant's rows (404); bodies validated against SCHEMA (422 naming each field); GET /health;
  GET /openapi.json from src/PACKAGE/openapi.json (written by the factory); a page at /; rows in the typed
  tables of src/PACKAGE/tables.json (written by the factory, the schema deploy/migrations create): SQLite at
  DATABASE_PATH (storage.py), PostgreSQL at DATABASE_URL (storage_pg.py, row-level security per tenant);
  server.make_server(host, port, database_path) and server.start_in_thread(server). A request passes
  framing.py -> routing.py -> identity.py -> handlers.py -> the store (records.py, query.py shared by both).
- A field with "x-references" holds the id of a record of that entity in the same tenant (query.py, and
  tables.json's "references"/"referenced_by"): a create or update naming any other id is a 409 naming the field;
  deleting a referenced record follows "x-on-delete" (restrict: 409 naming <resource>.<field>; cascade; set-null),
  all in one transaction.
- Tests live in tests/unit, tests/integration, tests/contract, tests/e2e; tests/contract_openapi.json is the
  contract (written by the factory); contract tests are named test_operation_matches_contract[<operationId>].
"""

ARCHITECTURE_INTRO = """Reference architecture: the files below are a working build of a one-entity example module
(package `example`, entity `note`). Follow the same structure, names and style for the module you are asked
about; only the entities and their fields differ.
"""

CODEGEN_SYSTEM = "You are CodeGen. Write the slice of the service you are asked for. " + REPLY_RULES
TESTGEN_SYSTEM = (
    "You are TestGen. Write pytest tests for the slice you are asked for: unit tests of validation, integration "
    "tests over HTTP against the service on 127.0.0.1 at a random port, contract tests checking every response "
    "against the contract, and (core slice) an E2E flow across two tenants and .test_commands.json. " + REPLY_RULES
)
HEALER_SYSTEM = (
    "You are the Healer. You get the failing tests with their output, the files the failure implicates and the "
    "contracts they concern. Find the cause and return only the files to change, each whole, with a one-line "
    "diagnosis. Ask for nothing else: files left out were judged unrelated. " + REPLY_RULES
)
DEPLOYER_SYSTEM = (
    "You are the Deployer. The factory writes the PostgreSQL migrations (deploy/migrations/NNNN_create_<plural>"
    ".up.sql and .down.sql) from the contracts itself. Write deploy/deploy.sh (applies the pending migrations in "
    "order, recording version, name and the sha256 of each up file in lai_schema_migrations), deploy/rollback.sh, "
    "deploy/healthcheck.sh and deploy/health_checks.json. " + REPLY_RULES
)
ARCHITECT_SYSTEM = (
    "You are the Architect. From a module name and a brief, design the module's Pack0: a title, the software "
    "requirements (SRS, Markdown), the build plan (PLAN, Markdown) and the entities. Each entity has a "
    "lower_snake_case name and a contract: a JSON Schema (draft 2020-12) object with title (CamelCase), "
    "description, type object, additionalProperties false, required and properties. Fields are lower_snake_case; "
    "each has type string, integer, number, boolean or array (of one scalar type, under items) and may use enum, "
    "format (email, date, date-time, uuid, uri), minLength, maxLength, pattern, minimum, maximum, minItems, "
    "maxItems, title, description, default. Never declare id, tenant_id, created_at or updated_at: the service "
    "adds them. Model what the brief needs, with realistic constraints. Reply by calling the tool with one JSON "
    "object."
)


_EXAMPLE_CONTRACT = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "Note",
    "description": "A short note a team keeps.",
    "type": "object",
    "additionalProperties": False,
    "required": ["title", "priority"],
    "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": 120},
        "body": {"type": "string", "maxLength": 2000},
        "priority": {"type": "integer", "minimum": 1, "maximum": 5},
        "status": {"type": "string", "enum": ["open", "done"]},
        "due": {"type": "string", "format": "date"},
        "tags": {"type": "array", "items": {"type": "string", "maxLength": 40}, "maxItems": 10},
        "pinned": {"type": "boolean"},
    },
    "x-plural": "notes",
}


@cache
def reference_architecture() -> str:
    """The first context block: conventions and the engine's build of a fixed example module. The same for
    every module and edit, and longer than any model's minimum cacheable prefix (4096 tokens)."""
    from factory.engine.codegen import generate_core, generate_entity_source
    from factory.engine.testgen import generate_core_tests, generate_entity_tests

    note = Entity(name="note", plural="notes", title="Note", schema=_EXAMPLE_CONTRACT)
    example = Pack0(Pack0Meta(module="example", title="Example"), Budgets(), (note,))
    core = generate_core(example)
    chosen = {
        **generate_entity_source(example, note),
        **{path: core[path] for path in ("src/example/resources/__init__.py", "src/example/storage.py")},
        **generate_entity_tests(example, note),
        **{path: text for path, text in generate_core_tests(example).items() if path == "tests/conftest.py"},
    }
    return f"{CONVENTIONS}\n{ARCHITECTURE_INTRO}\n{files_block(chosen)}\n"


def module_block(pack0: Pack0) -> str:
    """The second context block: the module, its entity list and its build plan."""
    entities = "\n".join(f"- {e.name} (resource {e.plural}, title {e.title})" for e in pack0.entities)
    plan = pack0.document("docs/PLAN.md") or "(no docs/PLAN.md in this Pack0)"
    return (
        f"Module: {pack0.module} (Python package {pack0.package}: PACKAGE above)\nTitle: {pack0.meta.title}\n"
        f"Brief: {pack0.meta.brief or '-'}\nEntities:\n{entities}\n\n{plan}"
    )


def context_blocks(pack0: Pack0) -> tuple[str, ...]:
    srs = pack0.document("docs/SRS.md") or "(no docs/SRS.md in this Pack0)"
    return (reference_architecture(), module_block(pack0), f"Software requirements (docs/SRS.md):\n{srs}")


def contract_text(entity: Entity) -> str:
    return f"Contract of {entity.name}:\n{json.dumps(entity.schema, indent=1, sort_keys=True)}\n"


def slice_prompt(agent: str, pack0: Pack0, slice_name: str) -> str:
    if slice_name == "core":
        what = (
            "the core slice (everything but the entity modules)"
            if agent == "codegen"
            else (
                "the core slice: tests/conftest.py, tests/e2e/, tests/contract/test_service_contract.py, "
                ".test_commands.json"
            )
        )
        return f"Write {what}."
    entity = next(e for e in pack0.entities if e.name == slice_name)
    return f"Write the slice of entity {entity.name}.\n{contract_text(entity)}"


def all_contracts(pack0: Pack0) -> str:
    return "".join(contract_text(entity) for entity in pack0.entities)


def files_block(files: dict[str, str]) -> str:
    return "\n".join(f"--- {path}\n{content}" for path, content in sorted(files.items()))


def architect_prompt(module: str, brief: str) -> str:
    return f"Design the Pack0 of module {module}.\nBrief: {brief or '(none: infer the purpose from the name)'}\n"
