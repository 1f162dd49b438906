"""The system prompts of the four agents, in one place, and the shared Pack0 context they all read."""

from __future__ import annotations

import json

from factory.pack0.models import Pack0

REPLY_RULES = (
    "Answer with one JSON object and nothing else. File paths are relative to the build folder and never "
    "contain '..'. Return each file whole."
)

CODEGEN_SYSTEM = (
    "You are CodeGen. From the Pack0 contracts, write a multi-tenant HTTP service using only the Python "
    "standard library, under src/<package>/: for each entity, create, list (limit/offset), get, update (PATCH) "
    "and delete at /api/v1/<plural>; X-Tenant-ID on every request, and no tenant may see another's rows "
    "(404); bodies validated against the contract (422 naming the fields); GET /health; GET /openapi.json; "
    "a page at /; SQLite storage at DATABASE_PATH. Also write Dockerfile, .dockerignore, docker-compose.yml "
    'and requirements.txt. Reply: {"files": [{"path", "content"}], "notes"}. ' + REPLY_RULES
)
TESTGEN_SYSTEM = (
    "You are TestGen. Write pytest tests under tests/{unit,integration,contract,e2e}/ for the service: unit "
    "tests of validation, integration tests over HTTP against the service started on 127.0.0.1 at a random "
    "port, contract tests checking every response against the OpenAPI schemas, and an E2E flow across two "
    'tenants. Also write .test_commands.json. Reply: {"files": [{"path", "content"}], "notes"}. ' + REPLY_RULES
)
HEALER_SYSTEM = (
    "You are the Healer. You get the code, the tests and the full failure output. Find the cause and return "
    'only the files to change, each whole. Reply: {"diagnosis", "files": [{"path", "content"}]}. ' + REPLY_RULES
)
DEPLOYER_SYSTEM = (
    "You are the Deployer. From the contracts, write PostgreSQL migrations under deploy/migrations/ (one table "
    "per entity with tenant_id and an index on it; row-level security per tenant for Supabase), with a down "
    "migration for each, and deploy/deploy.sh, deploy/rollback.sh and deploy/health_checks.json. "
    'Reply: {"files": [{"path", "content"}], "notes"}. ' + REPLY_RULES
)


def pack0_context(pack0: Pack0) -> str:
    """The part every agent shares (and a model may cache): the module and its contracts."""
    contracts = {entity.name: entity.schema for entity in pack0.entities}
    return (
        f"Module: {pack0.module} (Python package {pack0.package})\nTitle: {pack0.meta.title}\n"
        f"Brief: {pack0.meta.brief or '-'}\nContracts:\n{json.dumps(contracts, indent=1, sort_keys=True)}\n"
    )


def files_block(files: dict[str, str]) -> str:
    return "\n".join(f"--- {path}\n{content}" for path, content in sorted(files.items()))
