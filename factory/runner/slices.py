"""Test results as build products: the generated suite in slices (core, and one per entity), each slice's
result keyed by the content of the files its tests exercise, so a passing result whose inputs did not change
is reused instead of re-run (as Bazel reuses test results). Pure: file contents in, plans out.

- An entity slice owns the files its CodeGen and TestGen replies wrote; its tests exercise those, and the
  core's files (server, storage, fixtures, ...), with any OpenAPI document cut down to the entity's own
  operations and the schemas they use. Another entity's change leaves its key as it was.
- The service's table document (tables.json: every table's DDL, checks and references) is cut the same way:
  an entity's tests see its own table and the tables linked to it by references (a delete can cascade
  through them), so a one-field edit changes only the keys of the entities it touches.
- References link entities: a child's tests make its parents through the parents' endpoints (their resource
  module, their test cases), and a delete can reach the children. An entity's key therefore covers the own
  files and contract part of every entity a chain of references links it to, either way; an entity that
  nothing links keeps its key as it was.
- The core slice owns every other file (E2E across every entity, the fixtures): its key covers every file,
  so its tests re-run after any change, and a change to the core re-runs every slice.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from factory.pack0.models import Entity

CORE = "core"


@dataclass(frozen=True)
class SlicePlan:
    name: str
    tests: tuple[str, ...]  # the test modules (paths inside build/) whose results are this slice's
    key: str  # what a cached result must have been made from
    inputs: dict[str, str]  # the key's parts, by name, for the test report


def _digest(data: object) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def _is_test_module(path: str) -> bool:
    name = path.rsplit("/", 1)[-1]
    return (
        path.startswith("tests/") and name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py"))
    )


def _refs(node: object) -> set[str]:
    if isinstance(node, dict):
        found = {node["$ref"]} if isinstance(node.get("$ref"), str) else set()
        return found.union(*(_refs(value) for key, value in node.items() if key != "$ref"))
    if isinstance(node, list):
        return set().union(*(_refs(value) for value in node))
    return set()


def openapi_part(document: dict, plural: str) -> dict:
    """The part of an OpenAPI document an entity's tests can see: everything but other entities' paths and
    the components only they use."""
    prefix = f"/api/v1/{plural}"
    paths = {
        path: item
        for path, item in document.get("paths", {}).items()
        if path == prefix or path.startswith(prefix + "/")
    }
    rest = {key: value for key, value in document.items() if key not in ("paths", "components")}
    components: dict[str, dict] = {}
    pending = _refs(paths) | _refs(rest)
    while pending:
        ref = pending.pop()
        parts = ref.removeprefix("#/").split("/")
        if len(parts) != 3 or parts[0] != "components" or parts[2] in components.get(parts[1], {}):
            continue
        target = document.get("components", {}).get(parts[1], {}).get(parts[2])
        components.setdefault(parts[1], {})[parts[2]] = target
        pending |= _refs(target)
    return {"rest": rest, "paths": paths, "components": components}


def _json_object(text: str) -> dict | None:
    if not text.lstrip().startswith("{"):
        return None
    try:
        data = json.loads(text)
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _is_openapi(data: dict) -> bool:
    return "openapi" in data and isinstance(data.get("paths"), dict)


def _is_tables(data: dict) -> bool:
    """A table document (the generated service's tables.json)."""
    tables = data.get("tables")
    return isinstance(tables, list) and all(isinstance(t, dict) and isinstance(t.get("resource"), str) for t in tables)


def _linked_names(table: dict) -> set[str]:
    references = table.get("references")
    parents = [ref.get("resource") for ref in references.values()] if isinstance(references, dict) else []
    children = table.get("referenced_by")
    kids = [ref.get("resource") for ref in children] if isinstance(children, list) else []
    return {name for name in [*parents, *kids] if isinstance(name, str)}


def table_parts(document: dict, plurals: list[str]) -> dict[str, dict]:
    """For each entity, the part of a table document its tests can see: everything but the tables that no
    chain of references links to the entity's own."""
    tables = {table["resource"]: table for table in document["tables"]}
    links: dict[str, set[str]] = {name: set() for name in tables}
    for name, table in tables.items():
        for other in _linked_names(table) & tables.keys():
            links[name].add(other)
            links[other].add(name)
    rest = {key: value for key, value in document.items() if key != "tables"}
    parts = {}
    for plural in plurals:
        seen, pending = set(), [plural] if plural in tables else []
        while pending:
            name = pending.pop()
            if name not in seen:
                seen.add(name)
                pending += links[name]
        parts[plural] = {"rest": rest, "tables": [tables[name] for name in sorted(seen)]}
    return parts


def linked_entities(entities: list[Entity]) -> dict[str, list[str]]:
    """For each entity, the others a chain of references links it to, either way (sorted; itself left out)."""
    links: dict[str, set[str]] = {entity.name: set() for entity in entities}
    for entity in entities:
        for spec in entity.schema.get("properties", {}).values():
            target = spec.get("x-references") if isinstance(spec, dict) else None
            if target in links and target != entity.name:
                links[entity.name].add(target)
                links[target].add(entity.name)
    closure = {}
    for name in links:
        seen, pending = set(), [name]
        while pending:
            current = pending.pop()
            if current not in seen:
                seen.add(current)
                pending += links[current]
        closure[name] = sorted(seen - {name})
    return closure


def plan(files: dict[str, str], owned: dict[str, set[str]], entities: list[Entity], setting: object) -> list[SlicePlan]:
    """The slices of a build. files: every src/ and tests/ file (and the test commands) by path; owned: the
    files each entity slice wrote; setting: whatever else a result depends on (commands, sandbox)."""
    claimed = {path: name for name, paths in owned.items() for path in paths if path in files}
    core_files = {path: text for path, text in files.items() if path not in claimed}
    objects = {path: _json_object(text) for path, text in core_files.items() if path.endswith(".json")}
    documents = {path: data for path, data in objects.items() if data is not None and _is_openapi(data)}
    table_docs = {
        path: table_parts(data, [entity.plural for entity in entities])
        for path, data in objects.items()
        if data is not None and path not in documents and _is_tables(data)
    }
    shared = _digest(
        {path: text for path, text in core_files.items() if path not in documents and path not in table_docs}
    )
    everything = _digest(files)
    slices = [
        SlicePlan(
            CORE,
            tuple(sorted(path for path in core_files if _is_test_module(path))),
            _digest([everything, setting]),
            {"all_files": everything},
        )
    ]
    by_name = {entity.name: entity for entity in entities}

    def own_files(name: str) -> dict[str, str]:
        return {path: files[path] for path, owner in claimed.items() if owner == name}

    def contract_part(name: str) -> str:
        return _digest({path: openapi_part(doc, by_name[name].plural) for path, doc in documents.items()})

    links = linked_entities(entities)
    for entity in entities:
        own, linked = own_files(entity.name), links[entity.name]
        parts = {"own_files": _digest(own), "core_files": shared, "openapi_part": contract_part(entity.name)}
        if table_docs:
            parts["tables_part"] = _digest({path: by_plural[entity.plural] for path, by_plural in table_docs.items()})
        if linked:
            parts["linked_entities"] = _digest({name: [own_files(name), contract_part(name)] for name in linked})
        tests = tuple(sorted(path for path in own if _is_test_module(path)))
        slices.append(SlicePlan(entity.name, tests, _digest([parts, setting]), parts))
    return slices


def slice_of_test(test_file: str, slices: list[SlicePlan]) -> str:
    """Which slice a test result (by its file) belongs to; the core's when no entity owns it."""
    return next((each.name for each in slices if test_file in each.tests), CORE)
