"""The system prompts of the four agents, in one place, and the prompt text each slice is asked with.

The shared context names the module and its entities but not their fields: it is the prompt prefix every
agent reuses (prompt caching), and editing one entity's fields must not change it.
"""

from __future__ import annotations

import json

from factory.pack0.models import Entity, Pack0

REPLY_RULES = (
    "Reply by calling the tool with one JSON object. File paths are relative to the build folder and never "
    "contain '..'. Return each file whole."
)

CONVENTIONS = """Conventions every slice follows:
- src/{package}/ is a stdlib-only Python package. src/{package}/resources/__init__.py imports one module per
  entity and defines MODULE_NAME and RESOURCES (the modules, in order). Each entity module defines NAME, PLURAL,
  TITLE and SCHEMA (the entity's contract, exactly as given).
- The core serves, for each resource, /api/v1/<PLURAL> (POST create, GET list with limit/offset) and
  /api/v1/<PLURAL>/<id> (GET, PATCH, DELETE); X-Tenant-ID on every request (400 without it); a tenant never sees
  or changes another tenant's rows (404); bodies validated against SCHEMA (422 naming each field); GET /health;
  GET /openapi.json from src/{package}/openapi.json (written by the factory); a page at /; SQLite at
  DATABASE_PATH; server.make_server(host, port, database_path) and server.start_in_thread(server).
- Tests live in tests/unit, tests/integration, tests/contract, tests/e2e; tests/contract_openapi.json is the
  contract (written by the factory); contract tests are named test_operation_matches_contract[<operationId>].
"""

CODEGEN_SYSTEM = "You are CodeGen. Write the slice of the service you are asked for. " + REPLY_RULES
TESTGEN_SYSTEM = (
    "You are TestGen. Write pytest tests for the slice you are asked for: unit tests of validation, integration "
    "tests over HTTP against the service on 127.0.0.1 at a random port, contract tests checking every response "
    "against the contract, and (core slice) an E2E flow across two tenants and .test_commands.json. " + REPLY_RULES
)
HEALER_SYSTEM = (
    "You are the Healer. You get the code, the tests and the full failure output. Find the cause and return "
    "only the files to change, each whole, with a one-line diagnosis. " + REPLY_RULES
)
DEPLOYER_SYSTEM = (
    "You are the Deployer. From the contracts, write PostgreSQL migrations under deploy/migrations/ "
    "(NNNN_create_<plural>.up.sql and .down.sql: one table per entity with tenant_id and an index on it; for the "
    "supabase target, row-level security by the tenant_id claim of auth.jwt()), and deploy/deploy.sh, "
    "deploy/rollback.sh, deploy/healthcheck.sh and deploy/health_checks.json. " + REPLY_RULES
)


def shared_context(pack0: Pack0) -> str:
    entities = "\n".join(f"- {e.name} (resource {e.plural}, title {e.title})" for e in pack0.entities)
    return (
        f"Module: {pack0.module} (Python package {pack0.package})\nTitle: {pack0.meta.title}\n"
        f"Brief: {pack0.meta.brief or '-'}\nEntities:\n{entities}\n\n{CONVENTIONS.format(package=pack0.package)}"
    )


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
