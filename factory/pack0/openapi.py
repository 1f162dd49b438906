"""The OpenAPI 3.1 document derived from the entity contracts. Pure: entities in, dict out."""

from __future__ import annotations

import copy

from factory.pack0.models import Entity

API_PREFIX = "/api/v1"
TENANT_HEADER = "X-Tenant-ID"
DEFAULT_PAGE_LIMIT = 50
MAX_PAGE_LIMIT = 200

_SYSTEM_PROPERTIES = {
    "id": {"type": "string", "format": "uuid", "readOnly": True},
    "created_at": {"type": "string", "format": "date-time", "readOnly": True},
    "updated_at": {"type": "string", "format": "date-time", "readOnly": True},
}


def input_schema(entity: Entity) -> dict:
    """What a client may send on create: the contract's fields, nothing else."""
    schema = {key: value for key, value in entity.schema.items() if not key.startswith(("$", "x-"))}
    return copy.deepcopy(schema)


def patch_schema(entity: Entity) -> dict:
    """What a client may send on update: any subset of the contract's fields."""
    schema = input_schema(entity)
    schema.pop("required", None)
    return schema


def record_schema(entity: Entity) -> dict:
    """What the service returns: the contract's fields plus id and timestamps."""
    schema = input_schema(entity)
    schema["properties"] = {**copy.deepcopy(_SYSTEM_PROPERTIES), **schema["properties"]}
    schema["required"] = [*_SYSTEM_PROPERTIES, *entity.required]
    return schema


def list_schema(entity: Entity) -> dict:
    return {
        "type": "object",
        "additionalProperties": False,
        "required": ["items", "total", "limit", "offset"],
        "properties": {
            "items": {"type": "array", "items": {"$ref": f"#/components/schemas/{entity.title}"}},
            "total": {"type": "integer", "minimum": 0},
            "limit": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_LIMIT},
            "offset": {"type": "integer", "minimum": 0},
        },
    }


ERROR_SCHEMA = {
    "type": "object",
    "additionalProperties": False,
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "additionalProperties": False,
            "required": ["code", "message"],
            "properties": {
                "code": {"type": "string"},
                "message": {"type": "string"},
                "fields": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "additionalProperties": False,
                        "required": ["field", "message"],
                        "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                    },
                },
            },
        }
    },
}

HEALTH_SCHEMA = {
    "type": "object",
    "required": ["status", "module"],
    "properties": {"status": {"const": "ok"}, "module": {"type": "string"}},
}


def operations(entity: Entity) -> list[tuple[str, str, str]]:
    """(method, path, operationId) for each operation the service must implement for this entity."""
    collection = f"{API_PREFIX}/{entity.plural}"
    item = f"{collection}/{{id}}"
    return [
        ("get", collection, f"list_{entity.plural}"),
        ("post", collection, f"create_{entity.name}"),
        ("get", item, f"get_{entity.name}"),
        ("patch", item, f"update_{entity.name}"),
        ("delete", item, f"delete_{entity.name}"),
    ]


def _ref(name: str) -> dict:
    return {"$ref": f"#/components/schemas/{name}"}


def _json_response(description: str, schema_name: str) -> dict:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema_name)}}}


def _entity_paths(entity: Entity) -> dict:
    tenant = {"$ref": "#/components/parameters/TenantId"}
    item_id = {"name": "id", "in": "path", "required": True, "schema": {"type": "string"}}
    errors = {
        "400": _json_response("Missing or malformed X-Tenant-ID header or body", "Error"),
        "404": _json_response("No such record for this tenant", "Error"),
    }
    invalid = {"422": _json_response("The body breaks the contract", "Error")}
    body = {"required": True, "content": {"application/json": {"schema": _ref(f"{entity.title}Input")}}}
    patch_body = {"required": True, "content": {"application/json": {"schema": _ref(f"{entity.title}Patch")}}}
    page = [
        {
            "name": "limit",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_LIMIT},
        },
        {"name": "offset", "in": "query", "schema": {"type": "integer", "minimum": 0}},
    ]
    ops = {op_id: (method, path) for method, path, op_id in operations(entity)}
    by_id = {op_id: {"operationId": op_id, "tags": [entity.plural]} for op_id in ops}
    by_id[f"list_{entity.plural}"].update(
        parameters=[tenant, *page],
        responses={
            "200": _json_response(f"A page of {entity.plural}", f"{entity.title}List"),
            **errors,
            **invalid,
        },
    )
    by_id[f"create_{entity.name}"].update(
        parameters=[tenant],
        requestBody=body,
        responses={"201": _json_response(f"The created {entity.name}", entity.title), **errors, **invalid},
    )
    by_id[f"get_{entity.name}"].update(
        parameters=[tenant, item_id],
        responses={"200": _json_response(f"One {entity.name}", entity.title), **errors},
    )
    by_id[f"update_{entity.name}"].update(
        parameters=[tenant, item_id],
        requestBody=patch_body,
        responses={"200": _json_response(f"The updated {entity.name}", entity.title), **errors, **invalid},
    )
    by_id[f"delete_{entity.name}"].update(
        parameters=[tenant, item_id],
        responses={"204": {"description": "Deleted"}, **errors},
    )
    paths: dict[str, dict] = {}
    for op_id, (method, path) in ops.items():
        paths.setdefault(path, {})[method] = by_id[op_id]
    return paths


def derive_openapi(module: str, title: str, version: str, entities: tuple[Entity, ...]) -> dict:
    schemas: dict[str, dict] = {"Error": ERROR_SCHEMA, "Health": HEALTH_SCHEMA}
    paths: dict[str, dict] = {
        "/health": {
            "get": {
                "operationId": "health",
                "responses": {"200": _json_response("The service is up", "Health")},
            }
        }
    }
    for entity in entities:
        schemas[entity.title] = record_schema(entity)
        schemas[f"{entity.title}Input"] = input_schema(entity)
        schemas[f"{entity.title}Patch"] = patch_schema(entity)
        schemas[f"{entity.title}List"] = list_schema(entity)
        paths.update(_entity_paths(entity))
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "x-module": module},
        "paths": paths,
        "components": {
            "parameters": {
                "TenantId": {
                    "name": TENANT_HEADER,
                    "in": "header",
                    "required": True,
                    "schema": {"type": "string"},
                }
            },
            "schemas": copy.deepcopy(schemas),
        },
    }
