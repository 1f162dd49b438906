"""Pack0 generation: module name in, the files of a complete Pack0 out. Pure (no disk, no network)."""

from __future__ import annotations

from factory.fsutil import dumps_json, sha256_bytes
from factory.pack0.catalog import CatalogEntity, entities_for_module
from factory.pack0.docs import plan_markdown, slices_markdown, srs_markdown
from factory.pack0.models import Budgets, Entity, Pack0Meta, default_plural
from factory.pack0.names import (  # the file layout, re-exported for the modules that import it from here
    BUDGETS_FILE,
    INVENTORY_FILE,
    META_FILE,
    OPENAPI_FILE,
    SCHEMA_SUFFIX,
    pack0_dirname,  # noqa: F401 - re-exported
)
from factory.pack0.openapi import derive_openapi

JSON_SCHEMA_DRAFT = "https://json-schema.org/draft/2020-12/schema"


def slices_doc_path(module: str) -> str:
    return f"docs/{module.upper().replace('-', '_')}_SLICES.md"


def schema_path(entity_name: str) -> str:
    return f"contracts/{entity_name}{SCHEMA_SUFFIX}"


def _title(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def entity_contract(module: str, entity: CatalogEntity) -> dict:
    return {
        "$schema": JSON_SCHEMA_DRAFT,
        "$id": f"urn:lai-factory:{module}:{entity.name}",
        "title": _title(entity.name),
        "description": entity.description,
        "type": "object",
        "additionalProperties": False,
        "required": list(entity.required),
        "properties": entity.properties,
        "x-plural": default_plural(entity.name),
    }


def derived_files(meta: Pack0Meta, entities: tuple[Entity, ...], source_files: dict[str, str]) -> dict[str, str]:
    """The files computed from the others: the OpenAPI document, then the inventory of everything."""
    openapi = dumps_json(derive_openapi(meta.module, meta.title, meta.version, entities))
    listed = {**source_files, OPENAPI_FILE: openapi}
    inventory = {
        "schema_version": 1,
        "module": meta.module,
        "version": meta.version,
        "files": [
            {"path": path, "sha256": sha256_bytes(text.encode("utf-8")), "size": len(text.encode("utf-8"))}
            for path, text in sorted(listed.items())
        ],
    }
    return {OPENAPI_FILE: openapi, INVENTORY_FILE: dumps_json(inventory)}


def generate_pack0(module: str, brief: str = "", budgets: Budgets | None = None) -> dict[str, str]:
    """Every file of a new Pack0 for `module` from the offline catalog, keyed by its path inside
    pack0-{module}-0.0.1/."""
    meta = Pack0Meta(module=module, title=module.replace("-", " ").title(), brief=brief)
    contracts = {item.name: entity_contract(module, item) for item in entities_for_module(module)}
    return assemble_pack0(meta, budgets or Budgets(), contracts)


def assemble_pack0(
    meta: Pack0Meta, budgets: Budgets, contracts: dict[str, dict], srs: str | None = None, plan: str | None = None
) -> dict[str, str]:
    """The files of a Pack0 from its parts (the SRS and plan written from the contracts unless given)."""
    entities = tuple(
        Entity(
            name=name,
            plural=contract.get("x-plural") or default_plural(name),
            title=contract.get("title") or _title(name),
            schema=contract,
        )
        for name, contract in contracts.items()
    )
    sources = {
        META_FILE: dumps_json(meta.model_dump(mode="json")),
        BUDGETS_FILE: dumps_json(budgets.model_dump(mode="json")),
        "docs/SRS.md": srs if srs is not None else srs_markdown(meta, budgets, entities),
        "docs/PLAN.md": plan if plan is not None else plan_markdown(meta, entities),
        slices_doc_path(meta.module): slices_markdown(meta, entities),
        **{schema_path(entity.name): dumps_json(entity.schema) for entity in entities},
    }
    return {**sources, **derived_files(meta, entities, sources)}
