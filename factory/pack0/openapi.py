"""The OpenAPI 3.1 document derived from the entity contracts. Pure: entities in, dict out."""

from __future__ import annotations

import copy

from factory.pack0.field_schemas import with_date_time_range, with_int64_bounds, without_nul
from factory.pack0.list_query import list_parameters
from factory.pack0.models import Entity

# What the generated service enforces on HTTP. The OpenAPI document below declares these numbers and the
# service imports them from the limits.py rendered by service_limits_module(): one source for both.
API_PREFIX = "/api/v1"
TENANT_HEADER = "X-Tenant-ID"
TENANT_PATTERN = "^[A-Za-z0-9_.:-]+$"
TENANT_MAX_LENGTH = 128
DEFAULT_PAGE_LIMIT = 50
MAX_PAGE_LIMIT = 200
MAX_PAGE_OFFSET = 1_000_000_000
MAX_BODY_BYTES = 1_000_000
MAX_JSON_DEPTH = 32
MAX_NUMBER_DIGITS = 1000
SERVICE_LIMITS = (
    "API_PREFIX",
    "TENANT_HEADER",
    "TENANT_PATTERN",
    "TENANT_MAX_LENGTH",
    "DEFAULT_PAGE_LIMIT",
    "MAX_PAGE_LIMIT",
    "MAX_PAGE_OFFSET",
    "MAX_BODY_BYTES",
    "MAX_JSON_DEPTH",
    "MAX_NUMBER_DIGITS",
)
# Every error status the service answers with (all with the Error schema), and when.
ERROR_RESPONSES = {
    "400": "Malformed request: missing, invalid or repeated X-Tenant-ID header, bad framing, or a body that is "
    "not JSON",
    "404": "No such record for this tenant, or no such path",
    "405": "Method not allowed on this path (the Allow header lists the allowed ones)",
    "413": f"The body is larger than {MAX_BODY_BYTES} bytes",
    "409": "Conflict: another record of this tenant already has these values of a unique field set (x-unique), "
    "a referenced record (x-references) is no record of this tenant, or records of another resource still refer "
    "to this one (error.fields names the set, the field or the resource)",
    "415": "The body's Content-Type is not application/json",
    "422": f"The body or query breaks the contract (JSON nested deeper than {MAX_JSON_DEPTH}, NaN and Infinity "
    "included)",
    "503": "The database is unreachable; try again",
}

_SYSTEM_PROPERTIES = {
    "id": {"type": "string", "format": "uuid", "readOnly": True},
    "created_at": {"type": "string", "format": "date-time", "readOnly": True},
    "updated_at": {"type": "string", "format": "date-time", "readOnly": True},
}


# The document's schemas besides each entity's own (its title): no entity may be titled like one of them.
SHARED_SCHEMAS = {"Error": "an error body", "Health": "the /health answer"}
ENTITY_SCHEMAS = {
    "Input": "what a create of {name} sends",
    "Patch": "what an update of {name} sends",
    "List": "the list of {name} records",
}


def schema_name_taken(title: str, names_by_title: dict[str, str]) -> str | None:
    """What the document already names `title` (another entity's Input, Patch or List schema, or a shared one)."""
    if title in SHARED_SCHEMAS:
        return SHARED_SCHEMAS[title]
    for suffix, what in ENTITY_SCHEMAS.items():
        base = title.removesuffix(suffix)
        if base != title and base in names_by_title:
            return what.format(name=names_by_title[base])
    return None


def input_schema(entity: Entity) -> dict:
    """What a client may send on create: the contract's fields, nothing else."""
    schema = copy.deepcopy({key: value for key, value in entity.schema.items() if not key.startswith(("$", "x-"))})
    properties = schema["properties"].items()
    schema["properties"] = {
        name: with_date_time_range(without_nul(with_int64_bounds(field))) for name, field in properties
    }
    return schema


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


def _errors(*statuses: str) -> dict:
    """Error responses, written out in each operation (clients read them without resolving references)."""
    responses = {status: _json_response(ERROR_RESPONSES[status], "Error") for status in sorted(statuses)}
    if "405" in responses:
        allow = {"description": "The methods this path allows", "schema": {"type": "string"}}
        responses["405"]["headers"] = {"Allow": allow}
    return responses


def page_parameters() -> list[dict]:
    return [
        {
            "name": "limit",
            "in": "query",
            "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_LIMIT, "default": DEFAULT_PAGE_LIMIT},
        },
        {
            "name": "offset",
            "in": "query",
            "schema": {"type": "integer", "minimum": 0, "maximum": MAX_PAGE_OFFSET, "default": 0},
        },
    ]


def tenant_parameter() -> dict:
    return {
        "name": TENANT_HEADER,
        "in": "header",
        "required": True,
        "description": "The tenant every record belongs to; sent exactly once",
        "schema": {"type": "string", "pattern": TENANT_PATTERN, "minLength": 1, "maxLength": TENANT_MAX_LENGTH},
    }


def _links(entity: Entity, entities: tuple[Entity, ...] = ()) -> dict:
    """After a create, the stateful fuzzer reads, updates and deletes the record it made, and creates and lists
    the records that refer to it (a child needs its parent first: its own random id would be a 409)."""
    links = {
        f"{verb}_{entity.name}": {
            "operationId": f"{verb}_{entity.name}",
            "parameters": {"id": "$response.body#/id"},
        }
        for verb in ("get", "update", "delete")
    }
    for child in entities:
        for field, (target, _rule) in child.references.items():
            if target != entity.name:
                continue
            links[f"create_{child.name}_with_{field}"] = {
                "operationId": f"create_{child.name}",
                "requestBody": {field: "$response.body#/id"},
            }
            links[f"list_{child.plural}_by_{field}"] = {
                "operationId": f"list_{child.plural}",
                "parameters": {f"query.{field}": "$response.body#/id"},
            }
    return links


def referenced_by(entity: Entity, entities: tuple[Entity, ...]) -> list[tuple[Entity, str]]:
    """(child entity, its field) for every reference to this entity."""
    return [
        (child, field)
        for child in entities
        for field, (target, _rule) in child.references.items()
        if target == entity.name
    ]


def _entity_paths(entity: Entity, entities: tuple[Entity, ...] = ()) -> dict:
    tenant = {"$ref": "#/components/parameters/TenantId"}
    item_id = {"name": "id", "in": "path", "required": True, "schema": {"type": "string", "format": "uuid"}}
    body = {"required": True, "content": {"application/json": {"schema": _ref(f"{entity.title}Input")}}}
    patch_body = {"required": True, "content": {"application/json": {"schema": _ref(f"{entity.title}Patch")}}}
    created = _json_response(f"The created {entity.name}", entity.title)
    created["links"] = _links(entity, entities)
    # 409 (the body itself is valid): a write that would repeat a unique set's values within the tenant, or a
    # reference to no record of the tenant (create, update); records still referring to it (delete).
    conflict = ("409",) if entity.unique or entity.references else ()
    referred = ("409",) if referenced_by(entity, entities) else ()
    ops = {op_id: (method, path) for method, path, op_id in operations(entity)}
    by_id = {op_id: {"operationId": op_id, "tags": [entity.plural]} for op_id in ops}
    by_id[f"list_{entity.plural}"].update(
        parameters=[tenant, *page_parameters(), *list_parameters(entity)],
        responses={
            "200": _json_response(f"A page of {entity.plural}", f"{entity.title}List"),
            **_errors("400", "405", "413", "422", "503"),
        },
    )
    by_id[f"create_{entity.name}"].update(
        parameters=[tenant],
        requestBody=body,
        responses={"201": created, **_errors("400", "405", "413", "415", "422", "503", *conflict)},
    )
    by_id[f"get_{entity.name}"].update(
        parameters=[tenant, item_id],
        responses={
            "200": _json_response(f"One {entity.name}", entity.title),
            **_errors("400", "404", "405", "413", "503"),
        },
    )
    by_id[f"update_{entity.name}"].update(
        parameters=[tenant, item_id],
        requestBody=patch_body,
        responses={
            "200": _json_response(f"The updated {entity.name}", entity.title),
            **_errors("400", "404", "405", "413", "415", "422", "503", *conflict),
        },
    )
    by_id[f"delete_{entity.name}"].update(
        parameters=[tenant, item_id],
        responses={"204": {"description": "Deleted"}, **_errors("400", "404", "405", "413", *referred, "503")},
    )
    paths: dict[str, dict] = {}
    for op_id, (method, path) in ops.items():
        paths.setdefault(path, {})[method] = by_id[op_id]
    return paths


def service_limits_module() -> str:
    """The generated service's limits.py: the same constants this document is derived from."""
    lines = [f"{name} = {globals()[name]!r}" for name in SERVICE_LIMITS]
    statuses = tuple(int(status) for status in ERROR_RESPONSES)
    return (
        '"""What the HTTP layer enforces; the OpenAPI document declares the same numbers (both are derived from\n'
        'the factory\'s factory/pack0/openapi.py)."""\n\n' + "\n".join(lines) + f"\nERROR_STATUSES = {statuses!r}\n"
    )


def derive_openapi(module: str, title: str, version: str, entities: tuple[Entity, ...]) -> dict:
    schemas: dict[str, dict] = {"Error": ERROR_SCHEMA, "Health": HEALTH_SCHEMA}
    paths: dict[str, dict] = {
        "/health": {
            "get": {
                "operationId": "health",
                "responses": {
                    "200": _json_response("The service is up", "Health"),
                    **_errors("400", "405", "413", "503"),
                },
            }
        }
    }
    for entity in entities:
        schemas[entity.title] = record_schema(entity)
        schemas[f"{entity.title}Input"] = input_schema(entity)
        schemas[f"{entity.title}Patch"] = patch_schema(entity)
        schemas[f"{entity.title}List"] = list_schema(entity)
        paths.update(_entity_paths(entity, entities))
    return {
        "openapi": "3.1.0",
        "info": {
            "title": title,
            "version": version,
            "x-module": module,
            "x-limits": {
                "max_body_bytes": MAX_BODY_BYTES,
                "max_json_depth": MAX_JSON_DEPTH,
                "max_number_digits": MAX_NUMBER_DIGITS,
            },
        },
        "paths": paths,
        "components": {
            "parameters": {"TenantId": tenant_parameter()},
            "schemas": copy.deepcopy(schemas),
        },
    }
