"""The conformance gate's plan: what to check and what to expect, derived from the Pack0 alone (contracts and
their x- keywords), never from the model's tests. Pure: Pack0 in, JSON-ready data out; the driver
(conformance_driver.py) runs it against the service, the gate (conformance.py) judges and records.
"""

from __future__ import annotations

import re

from factory.deploy.schema import migration_order, service_tables
from factory.engine.samples import entity_cases
from factory.pack0.list_query import query_fields
from factory.pack0.models import Entity, Pack0
from factory.pack0.openapi import API_PREFIX, TENANT_HEADER

# Tenants the gate calls as: A owns the records checked, B tries to reach them, the others hold delete trees.
TENANTS = ("conformance-a", "conformance-b")
UNKNOWN_PARAMETER = "lai_conformance_unknown"


def _ruled_columns(sqlite_ddl: str) -> list[str]:
    """Columns whose CHECK holds more than a type test (a length, a range, an enum): the ones a dropped CHECK
    would silently let the store keep out-of-contract values in."""
    ruled = []
    for column, check in re.findall(r'^  "([^"]+)" [^\n]*?CHECK \((.*)\),?$', sqlite_ddl, re.MULTILINE):
        if re.search(r"length\(| >= | <= | > | < | IN \(| % |json_", check):
            ruled.append(column)
    return ruled


def _entity_plan(entity: Entity, table: dict) -> dict:
    cases = entity_cases(entity)
    refs = {
        field: {"parent": target, "rule": rule, "required": entity.reference_is_required(field)}
        for field, (target, rule) in entity.references.items()
    }
    return {
        "name": entity.name,
        "path": f"{API_PREFIX}/{entity.plural}",
        "table": entity.plural,
        "fields": list(entity.properties),
        "valid": cases["valid"],
        "distinct": cases["distinct"],
        # A reference's bad format is refused as any field's; its accepted values are the parents' ids.
        "invalid": cases["invalid"],
        "accepted": cases["accepted"],
        "unique": [list(fields) for fields in entity.unique],
        "refs": refs,
        "filters": query_fields(entity),
        "not_null": [name for name in entity.required if name not in table["nullable"]],
        "ruled": _ruled_columns(table["sqlite"][0]),
        "formats": cases["formats"],
        # The contract's SQLite DDL: what the service's database must refuse, it refuses too.
        "ddl": table["sqlite"],
    }


def delete_outcome(entities: list[dict], target: str) -> dict:
    """What deleting the one record of `target` must do in a tenant holding one record of every entity, each
    reference naming that tenant's record of its parent: refused (a restrict rule holds, 409, nothing changes),
    else the record and every record cascading from it (recursively) gone and set-null references nulled."""
    by_name = {entity["name"]: entity for entity in entities}
    children = [
        (entity["name"], field, ref["rule"], ref["parent"])
        for entity in entities
        for field, ref in entity["refs"].items()
        if ref["parent"] in by_name and entity["name"] != ref["parent"]
    ]
    gone, grew = {target}, True
    while grew:
        more = {child for child, _f, rule, parent in children if parent in gone and rule == "cascade"}
        grew = not more <= gone
        gone |= more
    blocked = any(parent in gone and child not in gone and rule == "restrict" for child, _f, rule, parent in children)
    nulled = [
        [child, field]
        for child, field, rule, parent in children
        if parent in gone and child not in gone and rule == "set-null"
    ]
    return {
        "status": 409 if blocked else 204,
        "gone": [] if blocked else sorted(gone),
        "nulled": [] if blocked else nulled,
    }


def conformance_plan(pack0: Pack0) -> dict:
    """Everything the driver needs, entities parents first (as the migrations make their tables)."""
    tables = {table["resource"]: table for table in service_tables(pack0.module, pack0.entities)["tables"]}
    entities = [_entity_plan(entity, tables[entity.plural]) for entity in migration_order(pack0.entities)]
    deletes = {entity["name"]: delete_outcome(entities, entity["name"]) for entity in entities}
    return {
        "package": pack0.package,
        "tenant_header": TENANT_HEADER,
        "tenants": list(TENANTS),
        "unknown_parameter": UNKNOWN_PARAMETER,
        "entities": entities,
        "deletes": deletes,
    }
