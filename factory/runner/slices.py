"""Test results as build products: the generated suite in slices (core, and one per entity), each slice's
result keyed by the content of the files its tests exercise, so a passing result whose inputs did not change
is reused instead of re-run (as Bazel reuses test results). Pure: file contents in, plans out.

- An entity slice owns the files its CodeGen and TestGen replies wrote; its tests exercise those, and the
  core's files (server, storage, fixtures, ...), with any OpenAPI document cut down to the entity's own
  operations and the schemas they use. Another entity's change leaves its key as it was.
- The service's table document (tables.json: every table's DDL, checks and references) is cut the same way:
  an entity's tests see its own table and the tables linked to it by references (a delete can cascade
  through them), so a one-field edit changes only the keys of the entities it touches.
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


def _openapi(text: str) -> dict | None:
    data = _json_object(text)
    return data if data is not None and "openapi" in data and isinstance(data.get("paths"), dict) else None


def _tables(text: str) -> dict | None:
    """A table document (the generated service's tables.json), or None."""
    data = _json_object(text)
    tables = data.get("tables") if data is not None else None
    if not isinstance(tables, list) or not all(
        isinstance(t, dict) and isinstance(t.get("resource"), str) for t in tables
    ):
        return None
    return data


def _linked_names(table: dict) -> set[str]:
    references = table.get("references")
    parents = [ref.get("resource") for ref in references.values()] if isinstance(references, dict) else []
    children = table.get("referenced_by")
    kids = [ref.get("resource") for ref in children] if isinstance(children, list) else []
    return {name for name in [*parents, *kids] if isinstance(name, str)}


def tables_part(document: dict, plural: str) -> dict:
    """The part of a table document an entity's tests can see: everything but the tables that no chain of
    references links to the entity's own."""
    tables = {table["resource"]: table for table in document["tables"]}
    seen, pending = set(), [plural]
    while pending:
        name = pending.pop()
        if name in seen or name not in tables:
            continue
        seen.add(name)
        pending += sorted(_linked_names(tables[name]))
        pending += [other for other, table in tables.items() if name in _linked_names(table)]
    rest = {key: value for key, value in document.items() if key != "tables"}
    return {"rest": rest, "tables": [tables[name] for name in sorted(seen)]}


def plan(files: dict[str, str], owned: dict[str, set[str]], entities: list[Entity], setting: object) -> list[SlicePlan]:
    """The slices of a build. files: every src/ and tests/ file (and the test commands) by path; owned: the
    files each entity slice wrote; setting: whatever else a result depends on (commands, sandbox)."""
    claimed = {path: name for name, paths in owned.items() for path in paths if path in files}
    core_files = {path: text for path, text in files.items() if path not in claimed}
    documents = {path: _openapi(text) for path, text in core_files.items() if path.endswith(".json")}
    documents = {path: doc for path, doc in documents.items() if doc is not None}
    table_docs = {path: _tables(text) for path, text in core_files.items() if path.endswith(".json")}
    table_docs = {path: doc for path, doc in table_docs.items() if doc is not None and path not in documents}
    everything = _digest(files)
    slices = [
        SlicePlan(
            CORE,
            tuple(sorted(path for path in core_files if _is_test_module(path))),
            _digest([everything, setting]),
            {"all_files": everything},
        )
    ]
    for entity in entities:
        own = {path: files[path] for path, name in claimed.items() if name == entity.name}
        shared = {path: text for path, text in core_files.items() if path not in documents and path not in table_docs}
        parts = {
            "own_files": _digest(own),
            "core_files": _digest(shared),
            "openapi_part": _digest({path: openapi_part(doc, entity.plural) for path, doc in documents.items()}),
        }
        if table_docs:
            parts["tables_part"] = _digest({path: tables_part(doc, entity.plural) for path, doc in table_docs.items()})
        tests = tuple(sorted(path for path in own if _is_test_module(path)))
        slices.append(SlicePlan(entity.name, tests, _digest([parts, setting]), parts))
    return slices


def slice_of_test(test_file: str, slices: list[SlicePlan]) -> str:
    """Which slice a test result (by its file) belongs to; the core's when no entity owns it."""
    return next((each.name for each in slices if test_file in each.tests), CORE)
