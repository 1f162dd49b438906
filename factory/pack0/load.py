"""Reading a Pack0 from disk: every file checked, the first problem reported as one line (file + field)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import TypeVar

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import BaseModel, ValidationError

from factory.errors import InputError
from factory.pack0.caps import MAX_PACK0_FILE_BYTES, check_json_depth, check_sizes
from factory.pack0.generate import (
    BUDGETS_FILE,
    META_FILE,
    SCHEMA_SUFFIX,
    derived_files,
)
from factory.pack0.models import (
    ENTITY_NAME_PATTERN,
    NAME_RULE_BROKEN,
    TYPE_RULE,
    Budgets,
    Entity,
    EntitySchema,
    Pack0,
    Pack0Meta,
    default_plural,
    name_problem,
    unique_problem,
)
from factory.pack0.names import REQUIREMENT_DOCUMENTS, source_file_names
from factory.pack0.openapi import schema_name_taken

ModelT = TypeVar("ModelT", bound=BaseModel)


def _field_path(location: tuple) -> str:
    # pydantic adds the name of a union member or a validator as the last step: not a field.
    parts = [str(part) for part in location if not str(part).startswith(("literal[", "function-"))]
    return ".".join(parts)


class _NotFinite(Exception):
    """NaN, Infinity, or a number too large for a float: no JSON number a service can store and compare."""


def _refuse_constant(name: str) -> object:
    raise _NotFinite(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise _NotFinite(f"the number {text[:40]} is too large")
    return value


def _read_json(root: Path, relative: str) -> object:
    path = root / relative
    if not path.is_file():
        raise InputError("file is missing", file=str(path))
    if path.stat().st_size > MAX_PACK0_FILE_BYTES:
        raise InputError(f"file is larger than {MAX_PACK0_FILE_BYTES} bytes", file=str(path))
    try:
        text = path.read_text(encoding="utf-8")
        check_json_depth(text, path)
        return json.loads(text, parse_constant=_refuse_constant, parse_float=_finite_float)
    except _NotFinite as error:
        raise InputError(str(error), file=str(path)) from None
    except UnicodeDecodeError:
        raise InputError("file is not UTF-8 text", file=str(path)) from None
    except json.JSONDecodeError as error:
        message = f"invalid JSON at line {error.lineno} column {error.colno}: {error.msg}"
        raise InputError(message, file=str(path)) from None
    except ValueError as error:  # e.g. an integer with more digits than Python converts
        raise InputError(f"invalid JSON: {error}", file=str(path)) from None


def _validate(model: type[ModelT], data: object, path: Path) -> ModelT:
    if not isinstance(data, dict):
        raise InputError(f"expected a JSON object, found {type(data).__name__}", file=str(path))
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        message = first["msg"].removeprefix("Value error, ")
        location = first["loc"]
        if first["type"] == "extra_forbidden":
            message = "keyword not supported here (see the contract rules in README.md)"
        elif first["type"] == "string_pattern_mismatch" and location[-1:] == ("[key]",):
            message = f"field name {location[-2]!r} must be lower_snake_case: 1-63 of a-z 0-9 _, starting with a letter"
            location = location[:-1]
        elif first["type"] == "string_pattern_mismatch" and location == ("title",) and model is EntitySchema:
            message = "must be CamelCase: a capital letter, then up to 60 letters and digits (e.g. BookLoan)"
        raise InputError(message, file=str(path), field=_field_path(location)) from None


def _load_entity(root: Path, schema_file: Path) -> Entity:
    relative = schema_file.relative_to(root).as_posix()
    name = schema_file.name.removesuffix(SCHEMA_SUFFIX)
    problem = name_problem(name, ENTITY_NAME_PATTERN.pattern)
    if problem == NAME_RULE_BROKEN:
        problem = "must be lower_snake_case (1-41 of a-z 0-9 _), starting with a letter"
    if problem:
        raise InputError(f"entity name {name!r} {problem}", file=str(schema_file))
    data = _read_json(root, relative)
    if isinstance(data, dict):
        try:
            Draft202012Validator.check_schema(data)
        except SchemaError as error:
            field = ".".join(str(part) for part in error.absolute_path)
            message = f"not a valid JSON Schema: {error.message}"
            if error.absolute_path and error.absolute_path[-1] == "type":
                message = TYPE_RULE  # the meta-schema's own words ("not valid under any of the given schemas") say less
            raise InputError(message, file=str(schema_file), field=field) from None
    contract = _validate(EntitySchema, data, schema_file)
    problem = unique_problem(data)
    if problem:
        raise InputError(problem[1], file=str(schema_file), field=problem[0])
    entity = Entity(name=name, plural=contract.plural or default_plural(name), title=contract.title, schema=data)
    _check_samples(entity, schema_file)
    return entity


def _check_samples(entity: Entity, schema_file: Path) -> None:
    """Every field must have a value the service accepts (the generated tests need one): refuse it here, not
    in a later stage after files were written."""
    from factory.engine.samples import entity_cases

    try:
        entity_cases(entity)
    except InputError as error:
        raise InputError(str(error), file=str(schema_file)) from None


# Checking a contract (jsonschema's check_schema above all) costs far more than reading it, and every slice's
# task loads the Pack0: the last result per folder is kept, keyed by the bytes of every file it read.
_LOADED: dict[Path, tuple[tuple, Pack0]] = {}


def _contents_key(root: Path) -> tuple | None:
    paths = [root / META_FILE, root / BUDGETS_FILE, *sorted((root / "contracts").glob(f"*{SCHEMA_SUFFIX}"))]
    try:
        if any(path.stat().st_size > MAX_PACK0_FILE_BYTES for path in paths):
            return None  # not cached: the loader reports it
        return tuple((path.name, path.read_bytes()) for path in paths)
    except OSError:
        return None


def load_pack0(root: Path) -> Pack0:
    """Load and validate the Pack0 in `root` (once per content: an unchanged Pack0 is not checked again).
    Raises InputError naming the file and field."""
    if root.is_dir():
        check_sizes(root, source_file_names(root))
    key = _contents_key(root) if root.is_dir() else None
    cached = _LOADED.get(root.resolve())
    if key is not None and cached is not None and cached[0] == key:
        return cached[1]
    pack0 = _load_pack0(root)
    if key is not None:
        _LOADED[root.resolve()] = (key, pack0)
    return pack0


def _load_pack0(root: Path) -> Pack0:
    if not root.is_dir():
        raise InputError("Pack0 folder not found", file=str(root))
    meta = _validate(Pack0Meta, _read_json(root, META_FILE), root / META_FILE)
    budgets = _validate(Budgets, _read_json(root, BUDGETS_FILE), root / BUDGETS_FILE)
    schema_files = sorted((root / "contracts").glob(f"*{SCHEMA_SUFFIX}"))
    if not schema_files:
        raise InputError(f"no entity contracts (contracts/*{SCHEMA_SUFFIX})", file=str(root / "contracts"))
    entities = tuple(_load_entity(root, path) for path in schema_files)
    seen: dict[str, str] = {}
    for entity in entities:
        for key in (entity.plural, entity.title):
            if key in seen:
                raise InputError(
                    f"'{key}' is used by both {seen[key]} and {entity.name}",
                    file=str(root / "contracts" / f"{entity.name}{SCHEMA_SUFFIX}"),
                    field="x-plural" if key == entity.plural else "title",
                )
            seen[key] = entity.name
    _check_generated_names(root, entities)
    _check_references(root, entities)
    return Pack0(meta=meta, budgets=budgets, entities=entities, documents=_documents(root))


def _check_generated_names(root: Path, entities: tuple[Entity, ...]) -> None:
    """No title is a name the OpenAPI document gives another schema, and no plural names a core test file: the
    one would overwrite the other."""
    from factory.engine.testgen import CORE_CONTRACT_TEST, entity_test_paths

    names_by_title = {entity.title: entity.name for entity in entities}
    for entity in entities:
        where = str(root / "contracts" / f"{entity.name}{SCHEMA_SUFFIX}")
        taken = schema_name_taken(entity.title, names_by_title)
        if taken:
            raise InputError(
                f"'{entity.title}' is the OpenAPI document's name for {taken}: choose another title",
                file=where,
                field="title",
            )
        if CORE_CONTRACT_TEST in entity_test_paths(entity.plural):
            raise InputError(
                f"'{entity.plural}' names the generated tests' own {CORE_CONTRACT_TEST}: choose another plural",
                file=where,
                field="x-plural",
            )


def _check_references(root: Path, entities: tuple[Entity, ...]) -> None:
    """Every x-references names an entity of this Pack0, and no cycle of required references exists (its
    first record could never be created)."""
    names = {entity.name for entity in entities}
    required: dict[str, list[tuple[str, str]]] = {}
    for entity in entities:
        for field, (target, _rule) in entity.references.items():
            if target not in names:
                raise InputError(
                    f"x-references names {target!r}, which is not an entity of this Pack0 ({', '.join(sorted(names))})",
                    file=str(root / "contracts" / f"{entity.name}{SCHEMA_SUFFIX}"),
                    field=f"properties.{field}.x-references",
                )
            if entity.reference_is_required(field):
                required.setdefault(entity.name, []).append((field, target))
    cycle = reference_cycle(required)
    if cycle:
        entity, field = cycle[0]
        path = " -> ".join(f"{name}.{via}" for name, via in cycle) + f" -> {entity}"
        raise InputError(
            f"required references form a cycle ({path}): no first record can be created; make one of them "
            'optional or nullable ("type": ["string", "null"])',
            file=str(root / "contracts" / f"{entity}{SCHEMA_SUFFIX}"),
            field=f"properties.{field}.x-references",
        )
    for entity in entities:
        _check_room_for_own_parents(root, entities, entity)


def own_parent_path(entities: tuple[Entity, ...], entity: Entity) -> list[tuple[str, str]]:
    """A path of references from the entity back to itself whose last one is required, as [(entity, field), ...]
    (the generated tests then make a record of it as a parent of another of its own), or []."""
    by_name = {other.name: other for other in entities}
    paths = {entity.name: []}
    queue = [entity.name]
    for name in queue:  # breadth first: the shortest path
        for field, (target, _rule) in by_name[name].references.items():
            if target == entity.name and paths[name] and by_name[name].reference_is_required(field):
                return [*paths[name], (name, field)]
            if target not in paths:
                paths[target] = [*paths[name], (name, field)]
                queue.append(target)
    return []


def _check_room_for_own_parents(root: Path, entities: tuple[Entity, ...], entity: Entity) -> None:
    from factory.engine.samples import DISTINCT_RECORDS, SPARE_RECORDS, distinct_variants, valid_record

    path = own_parent_path(entities, entity) if entity.unique else []
    if not path:
        return
    try:
        distinct_variants(entity, valid_record(entity), DISTINCT_RECORDS + SPARE_RECORDS)
    except InputError as error:
        trail = " -> ".join(f"{name}.{via}" for name, via in path) + f" -> {entity.name}"
        raise InputError(
            f"{trail}: the last reference is required, so the generated tests make {entity.name} records as parents "
            f"of other {entity.name} records, and each unique set needs {DISTINCT_RECORDS + SPARE_RECORDS} distinct "
            'values (not 3): widen it, or add "examples" with more values',
            file=str(root / "contracts" / f"{entity.name}{SCHEMA_SUFFIX}"),
            field=error.field,
        ) from None


def reference_cycle(edges: dict[str, list[tuple[str, str]]]) -> list[tuple[str, str]]:
    """The first cycle in entity -> [(field, target)] as [(entity, field), ...], or [] (depth-first, sorted)."""
    state: dict[str, str] = {}
    trail: list[tuple[str, str]] = []

    def visit(name: str) -> list[tuple[str, str]]:
        state[name] = "open"
        for field, target in edges.get(name, []):
            trail.append((name, field))
            if state.get(target) == "open":
                start = next(index for index, (entity, _) in enumerate(trail) if entity == target)
                return trail[start:]
            if target not in state:
                found = visit(target)
                if found:
                    return found
            trail.pop()
        state[name] = "done"
        return []

    for name in sorted(edges):
        if name not in state:
            found = visit(name)
            if found:
                return found
    return []


def _documents(root: Path) -> tuple[tuple[str, str], ...]:
    """The requirement documents that exist (a hand-made Pack0 may have none), for the agents to read."""
    found = []
    for relative in REQUIREMENT_DOCUMENTS:
        path = root / relative
        if path.is_file() and path.stat().st_size <= MAX_PACK0_FILE_BYTES:
            found.append((relative, path.read_text(encoding="utf-8", errors="replace")))
    return tuple(found)


def read_source_files(root: Path) -> dict[str, str]:
    """The Pack0's own files (everything but the derived OpenAPI and inventory), as text by path."""
    files = {}
    for relative in source_file_names(root):
        path = root / relative
        try:
            files[relative] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise InputError("file is not UTF-8 text", file=str(path)) from None
    return files


def refreshed_derived_files(root: Path) -> dict[str, str]:
    """Load the Pack0 and compute its OpenAPI document and inventory from the files as they are now."""
    pack0 = load_pack0(root)
    return derived_files(pack0.meta, pack0.entities, read_source_files(root))
