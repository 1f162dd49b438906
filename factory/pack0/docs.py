"""The human-readable Pack0 documents (SRS, plan, slices), written from the contracts. Pure."""

from __future__ import annotations

from factory.pack0.models import Budgets, Entity, Pack0Meta
from factory.pack0.openapi import API_PREFIX, TENANT_HEADER, operations


def _field_line(name: str, spec: dict, required: bool) -> str:
    kind = spec["type"] if "format" not in spec else f"{spec['type']} ({spec['format']})"
    limits = [f"{key} {spec[key]}" for key in ("minLength", "maxLength", "minimum", "maximum") if key in spec]
    if "enum" in spec:
        limits.append("one of " + ", ".join(str(value) for value in spec["enum"]))
    extra = f"; {', '.join(limits)}" if limits else ""
    return f"| `{name}` | {kind}{extra} | {'yes' if required else 'no'} |"


def srs_markdown(meta: Pack0Meta, budgets: Budgets, entities: tuple[Entity, ...]) -> str:
    lines = [
        f"# {meta.title}: software requirements",
        "",
        f"Module `{meta.module}`, Pack0 version {meta.version}.",
        "",
        "## Purpose",
        meta.brief or f"A multi-tenant HTTP service that manages {', '.join(e.plural for e in entities)}.",
        "",
        "## Functional requirements",
    ]
    number = 0
    for entity in entities:
        for method, path, op_id in operations(entity):
            number += 1
            lines.append(f"- FR-{number:02d} `{op_id}`: {method.upper()} {path}.")
    lines += [
        f"- FR-{number + 1:02d} `health`: GET /health answers 200 when the service is up.",
        f"- FR-{number + 2:02d}: GET /openapi.json serves the contract; GET / serves a page to list and create.",
        "",
        "## Rules every operation follows",
        f"- Every `{API_PREFIX}` request carries `{TENANT_HEADER}`; without it the answer is 400.",
        "- A tenant never sees or changes another tenant's rows: those answer 404.",
        "- Bodies are validated against the entity contract; a violation answers 422 naming each field.",
        "- Lists page with `limit` (1-200, default 50) and `offset` (default 0).",
        "",
        "## Entities",
    ]
    for entity in entities:
        lines += [
            "",
            f"### {entity.title} (`{entity.plural}`)",
            "",
            "| field | type | required |",
            "|---|---|---|",
        ]
        lines += [_field_line(n, s, n in entity.required) for n, s in entity.properties.items()]
    lines += [
        "",
        "## Non-functional requirements",
        f"- Latency target: p95 under {budgets.latency_target_ms} ms for single-record operations.",
        "- Runtime: Python standard library only; storage SQLite, path from `DATABASE_PATH`.",
        f"- Self-heal: at most {budgets.max_heal_tries} tries.",
        f"- Budget: {budgets.token_budget} tokens, {budgets.cost_budget_usd} USD of model calls.",
        "",
    ]
    return "\n".join(lines)


def plan_markdown(meta: Pack0Meta, entities: tuple[Entity, ...]) -> str:
    slices = ", ".join(f"`{e.plural}`" for e in entities)
    return "\n".join(
        [
            f"# {meta.title}: build plan",
            "",
            "1. **Pack0**: contracts (one JSON Schema per entity, OpenAPI 3.1 derived), budgets, inventory.",
            f"2. **CodeGen**: the `core` slice (server, storage, validation, page), one slice per entity: {slices}.",
            "3. **TestGen**: unit (validation), integration (HTTP), contract (schemas), E2E (two tenants).",
            "4. **Run + self-heal**: run the tests; on failure the Healer fixes the implicated files and retries.",
            "5. **Gates** (fail-closed, in order): lint, secret scan, contracts, docker build.",
            "6. **PEC evidence**: run_report.json, approval.json, manifest.json.",
            "7. **Deploy** (optional): PostgreSQL migrations, deploy.sh, rollback.sh, health checks.",
            "",
        ]
    )


def slices_markdown(meta: Pack0Meta, entities: tuple[Entity, ...]) -> str:
    lines = [
        f"# {meta.title}: slices",
        "",
        "## core",
        "HTTP server and routing, tenant header check, SQLite storage, the validator, /health, /openapi.json, "
        "and the page at /. Depends only on the list of entities.",
    ]
    for entity in entities:
        lines += ["", f"## {entity.plural}", f"Contract: `contracts/{entity.name}.schema.json`.", ""]
        lines += [f"- `{op_id}`: {method.upper()} {path}" for method, path, op_id in operations(entity)]
    lines.append("")
    return "\n".join(lines)
