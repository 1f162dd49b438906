"""What a valid Pack0 is, as pydantic models. Loading turns files into these or one clear error."""

from __future__ import annotations

import keyword
import re
import sys
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, StrictBool, StringConstraints, model_validator

from factory.fsutil import DEVICE_NAMES

# Names and their rule live without pydantic (a no-op build checks a module name); used here, and re-exported.
from factory.pack0.names import MODULE_NAME_PATTERN, NAME_RULE_BROKEN, PACK0_VERSION, name_problem  # noqa: F401 - re-exported
from factory.pack0.stores import int64_range_problem, store_problem

FIELD_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
ENTITY_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
ENTITY_TITLE_PATTERN = r"^[A-Z][A-Za-z0-9]{0,60}$"
# The service adds these to every record; a contract may not declare them itself.
SYSTEM_FIELDS = ("id", "created_at", "updated_at")
RESERVED_FIELDS = (*SYSTEM_FIELDS, "tenant_id")

ModuleName = Annotated[str, StringConstraints(pattern=MODULE_NAME_PATTERN, min_length=2, max_length=40)]
FieldName = Annotated[str, StringConstraints(pattern=FIELD_NAME_PATTERN)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Pack0Meta(_Strict):
    """pack0.json: who this Pack0 is for."""

    schema_version: Literal[1] = 1
    module: ModuleName
    version: Annotated[str, StringConstraints(pattern=r"^\d+\.\d+\.\d+$")] = PACK0_VERSION
    title: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    brief: Annotated[str, StringConstraints(max_length=4000)] = ""

    @model_validator(mode="after")
    def _module_is_a_usable_folder_name(self) -> Pack0Meta:
        if self.module in DEVICE_NAMES:  # a module name must work as a folder everywhere
            raise ValueError(f"module name {self.module!r} is a reserved device name")
        return self


class Budgets(_Strict):
    """budgets.json: the limits the pipeline must stay inside."""

    max_heal_tries: int = Field(default=5, ge=0, le=20)
    token_budget: int = Field(default=2_000_000, ge=0)
    cost_budget_usd: float = Field(default=25.0, ge=0)
    latency_target_ms: int = Field(default=200, gt=0)


FIELD_TYPES = ("string", "integer", "number", "boolean", "array")
STRING_FORMATS = ("email", "date", "date-time", "time", "uuid", "uri", "ipv4", "ipv6", "hostname")
StringFormat = Literal["email", "date", "date-time", "time", "uuid", "uri", "ipv4", "ipv6", "hostname"]
ON_DELETE_RULES = ("restrict", "cascade", "set-null")
OnDelete = Literal["restrict", "cascade", "set-null"]
TYPE_RULE = (
    "'type' must be one of string, integer, number, boolean, array, or a list of one of them and \"null\" "
    '(a nullable field, e.g. ["string", "null"])'
)
# Keywords that make sense in JSON Schema but that the engine cannot serve: each gets its own reason.
UNSUPPORTED_KEYWORDS = {
    "$ref": "references between schemas are not supported; declare the field's type here",
    "$defs": "shared definitions are not supported; declare each field in full",
    "allOf": "schema composition is not supported",
    "anyOf": "schema composition is not supported",
    "oneOf": "schema composition is not supported",
    "not": "schema negation is not supported",
    "if": "conditional schemas are not supported",
    "properties": "nested objects are not supported; make the object another entity",
    "prefixItems": "tuple arrays are not supported",
}
STRING_KEYWORDS = ("format", "pattern", "minLength", "maxLength")
NUMBER_KEYWORDS = ("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "multipleOf")
ARRAY_KEYWORDS = ("items", "minItems", "maxItems", "uniqueItems")
KEYWORDS_BY_TYPE = {
    "string": STRING_KEYWORDS,
    "integer": NUMBER_KEYWORDS,
    "number": NUMBER_KEYWORDS,
    "boolean": (),
    "array": ARRAY_KEYWORDS,
}


def _refuse_unknown_keywords(model: type[BaseModel], data: object) -> None:
    """The first keyword the model does not know, named with why (before pydantic reports a missing 'type')."""
    if not isinstance(data, dict):
        return
    known = {field.alias or name for name, field in model.model_fields.items()}
    for key in data:
        if key not in known:
            reason = UNSUPPORTED_KEYWORDS.get(key, "see the contract rules in README.md")
            raise ValueError(f"keyword {key!r} is not supported: {reason}")


def _field_type(value: object) -> str | list[str]:
    if value == "object":
        raise ValueError("'type': 'object' (a nested object) is not supported; make the object another entity")
    if isinstance(value, str) and value in FIELD_TYPES:
        return value
    if isinstance(value, list) and len(value) == 2 and "null" in value:
        other = value[1] if value[0] == "null" else value[0]
        if isinstance(other, str) and other in FIELD_TYPES:
            return list(value)
    raise ValueError(TYPE_RULE)


def base_type(spec: dict) -> str:
    """A field's type without its "null": "string" for both "string" and ["string", "null"]."""
    kind = spec["type"]
    return kind if isinstance(kind, str) else next(item for item in kind if item != "null")


def is_nullable(spec: dict) -> bool:
    return isinstance(spec["type"], list)


class PropertySchema(_Strict):
    """The JSON Schema subset a contract field may use: what the engine knows how to serve."""

    type: Annotated[str | list[str], BeforeValidator(_field_type)]
    title: str | None = None
    description: str | None = None
    enum: list[Any] | None = Field(default=None, min_length=1)
    const: Any = None
    format: StringFormat | None = None
    pattern: str | None = None
    minLength: int | None = Field(default=None, ge=0)
    maxLength: int | None = Field(default=None, ge=1)
    # int | float keeps a bound exactly as written: the load-time checks run the service's own code on it.
    minimum: int | float | None = None
    maximum: int | float | None = None
    exclusiveMinimum: int | float | None = None
    exclusiveMaximum: int | float | None = None
    multipleOf: int | float | None = Field(default=None, gt=0)
    items: PropertySchema | None = None
    minItems: int | None = Field(default=None, ge=0)
    maxItems: int | None = Field(default=None, ge=0)
    uniqueItems: bool | None = None
    default: Any = None
    examples: list[Any] | None = Field(default=None, min_length=1)
    # A reference to another entity's record (by its id) in the same tenant, and what deleting that record does.
    references: Annotated[str, StringConstraints(pattern=ENTITY_NAME_PATTERN.pattern)] | None = Field(
        default=None, alias="x-references"
    )
    on_delete: OnDelete | None = Field(default=None, alias="x-on-delete")
    unique: StrictBool | None = Field(default=None, alias="x-unique")

    @model_validator(mode="before")
    @classmethod
    def _only_supported_keywords(cls, data: object) -> object:
        _refuse_unknown_keywords(cls, data)
        return data

    @model_validator(mode="after")
    def _keywords_fit_the_type(self) -> PropertySchema:
        kind = base_type({"type": self.type})
        if self.unique and kind == "array":
            raise ValueError(ARRAY_NOT_UNIQUE)
        if self.items is not None and self.items.unique is not None:
            raise ValueError("'x-unique' applies to a field, not to the items of an array")
        allowed = KEYWORDS_BY_TYPE[kind]
        for name in (*STRING_KEYWORDS, *NUMBER_KEYWORDS, *ARRAY_KEYWORDS):
            if getattr(self, name) is not None and name not in allowed:
                raise ValueError(f"'{name}' does not apply to type '{kind}'")
        if kind == "array" and (self.items is None or base_type({"type": self.items.type}) == "array"):
            raise ValueError("an array needs 'items' with a type other than array")
        if self.pattern is not None:
            from factory.engine.templates import service_validation  # the service's reading of a pattern

            try:
                service_validation().pattern_regex(self.pattern)
            except re.error as error:
                raise ValueError(f"'pattern' is not a valid regular expression: {error}") from None
        _check_range(self.minLength, self.maxLength, "minLength", "maxLength")
        _check_range(self.minimum, self.maximum, "minimum", "maximum")
        _check_range(self.exclusiveMinimum, self.exclusiveMaximum, "exclusiveMinimum", "exclusiveMaximum")
        _check_range(self.minItems, self.maxItems, "minItems", "maxItems")
        problem = int64_range_problem(self.model_dump(exclude_unset=True)) if kind == "integer" else None
        if problem:
            raise ValueError(problem)
        _check_values(self.model_dump(exclude_unset=True), self.model_fields_set)
        self._reference_fits()
        return self

    def _reference_fits(self) -> None:
        if self.on_delete is not None and self.references is None:
            raise ValueError("'x-on-delete' applies only to a field with 'x-references'")
        if self.items is not None and self.items.references is not None:
            raise ValueError("'x-references' on array items is not supported: make the list another entity")
        if self.references is None:
            return
        fixed = [word for word in ("enum", "const", "default") if word in self.model_fields_set]
        if fixed:  # ids are made by the service: a fixed one names no record of a new tenant
            raise ValueError(f"'{fixed[0]}' cannot be used with 'x-references' (a record id is made by the service)")
        if base_type({"type": self.type}) != "string" or self.format != "uuid":
            raise ValueError('a field with \'x-references\' must be {"type": "string", "format": "uuid"} (a record id)')
        if self.on_delete == "set-null" and not is_nullable({"type": self.type}):
            raise ValueError('\'x-on-delete\': \'set-null\' needs a nullable field ("type": ["string", "null"])')


def _check_range(low: float | None, high: float | None, low_name: str, high_name: str) -> None:
    if low is not None and high is not None and low > high:
        raise ValueError(f"'{low_name}' ({low}) is greater than '{high_name}' ({high})")


def value_problem(spec: dict, value: object) -> str | None:
    """Why the service would refuse this value of a field, or neither store could keep it (None: both would)."""
    from factory.engine.templates import service_validation  # the service's own rules, not a second copy

    return service_validation().check_value(spec, value) or store_problem(spec, value)


def _check_values(spec: dict, declared: set[str]) -> None:
    """enum, const, default and examples must each be a value the service itself would accept."""
    from factory.engine.templates import service_validation

    for index, value in enumerate(spec.get("enum") or []):  # a repeat is the same value to the service, not to a fuzzer
        same = (
            service_validation().check_value({"type": spec["type"], "const": old}, value)
            for old in spec["enum"][:index]
        )
        if not all(same):
            raise ValueError(f"enum lists {value!r} twice (JSON equality: 1 == 1.0)")
    for word in ("enum", "const"):
        others = {key: value for key, value in spec.items() if key != word}
        values = spec.get(word, []) if word == "enum" else [spec.get("const")]
        for value in values if word in declared else []:
            problem = value_problem(others, value)
            if problem:
                raise ValueError(f"{word} value {value!r} {problem}")
    checks = [("default", spec.get("default"))] if "default" in declared else []
    checks += [(f"examples[{index}]", value) for index, value in enumerate(spec.get("examples") or [])]
    for where, value in checks:
        problem = value_problem(spec, value)
        if problem:
            raise ValueError(f"{where} {value!r} {problem}")


class EntitySchema(_Strict):
    """contracts/<entity>.schema.json: one entity's fields, a draft 2020-12 JSON Schema."""

    schema_uri: Literal["https://json-schema.org/draft/2020-12/schema"] = Field(alias="$schema")
    schema_id: str | None = Field(default=None, alias="$id")
    title: Annotated[str, StringConstraints(pattern=ENTITY_TITLE_PATTERN)]
    description: str | None = None
    type: Literal["object"]
    additionalProperties: Literal[False]
    required: list[FieldName] = Field(default_factory=list)
    properties: dict[FieldName, PropertySchema] = Field(min_length=1)
    plural: Annotated[str, StringConstraints(pattern=ENTITY_NAME_PATTERN.pattern)] | None = Field(
        default=None, alias="x-plural"
    )
    # Sets of fields unique together per tenant; checked by unique_problem (its errors name the exact place).
    unique: Any = Field(default=None, alias="x-unique")

    @model_validator(mode="before")
    @classmethod
    def _only_supported_keywords(cls, data: object) -> object:
        _refuse_unknown_keywords(cls, data)
        return data

    @model_validator(mode="after")
    def _fields_are_consistent(self) -> EntitySchema:
        for name in self.properties:
            if name in RESERVED_FIELDS:
                raise ValueError(f"field '{name}' is reserved: the service adds it to every record")
        for name in self.required:
            if name not in self.properties:
                raise ValueError(f"required field '{name}' is not in 'properties'")
        if len(set(self.required)) != len(self.required):
            raise ValueError("'required' lists a field twice")
        for name, spec in self.properties.items():
            # A record without a nullable field reads it back as null, so null must be one of its values.
            if is_nullable({"type": spec.type}) and spec.enum is not None and None not in spec.enum:
                raise ValueError(
                    f"field '{name}' is nullable, so its enum must list null (a missing value reads as null)"
                )
            if is_nullable({"type": spec.type}) and "const" in spec.model_fields_set and spec.const is not None:
                raise ValueError(
                    f"field '{name}' is nullable, so its const can only be null (drop \"null\" from its type)"
                )
        if self.plural is not None and self.plural in DEVICE_NAMES:
            raise ValueError(f"x-plural {self.plural!r} is a reserved device name (it names files)")
        return self


ARRAY_NOT_UNIQUE = (
    "an array field cannot be x-unique: the database compares it as one JSON document, so the same items in "
    "another order or spelling would not count as a duplicate"
)


def unique_problem(schema: dict) -> tuple[str, str] | None:
    """(field path, message) for the first broken x-unique rule of a contract, or None. A field's
    `"x-unique": true` and each set of the entity's `"x-unique": [["a", "b"], ...]` are unique per tenant."""
    properties = schema.get("properties", {})
    sets = schema.get("x-unique")
    if sets is None:
        sets = []
    elif not isinstance(sets, list):
        return "x-unique", 'must be a list of field sets, e.g. [["title", "year"]] (or put "x-unique": true on a field)'
    seen = {
        frozenset([name]): f"properties.{name}.x-unique" for name, spec in properties.items() if spec.get("x-unique")
    }
    for index, fields in enumerate(sets):
        where = f"x-unique[{index}]"
        if not isinstance(fields, list) or not all(isinstance(name, str) for name in fields):
            return where, "must be a list of field names"
        if not fields:
            return where, "is an empty set of fields"
        for name in fields:
            if name not in properties:
                return where, f"field {name!r} is not in 'properties'"
            if base_type(properties[name]) == "array":
                return where, f"field {name!r}: {ARRAY_NOT_UNIQUE}"
        if len(set(fields)) != len(fields):
            return where, "lists a field twice"
        if frozenset(fields) in seen:
            return where, f"is the same set of fields as {seen[frozenset(fields)]}"
        seen[frozenset(fields)] = where
    return None


def unique_sets(schema: dict) -> list[tuple[str, ...]]:
    """The contract's unique field sets (each unique per tenant), fields first, in declaration order."""
    singles = [(name,) for name, spec in schema["properties"].items() if spec.get("x-unique") is True]
    return singles + [tuple(fields) for fields in schema.get("x-unique") or []]


@dataclass(frozen=True)
class Entity:
    """One contract entity, as the engine sees it."""

    name: str
    plural: str
    title: str
    schema: dict  # the contract exactly as written; the service validates against it

    @property
    def properties(self) -> dict[str, dict]:
        return self.schema["properties"]

    @property
    def required(self) -> list[str]:
        return list(self.schema.get("required", []))

    @property
    def references(self) -> dict[str, tuple[str, str]]:
        """field -> (the entity it refers to, its delete rule), in contract order."""
        return {
            name: (spec["x-references"], spec.get("x-on-delete", "restrict"))
            for name, spec in self.properties.items()
            if "x-references" in spec
        }

    def reference_is_required(self, field: str) -> bool:
        """A create cannot leave this reference out or null (it blocks a cycle of references)."""
        return field in self.required and not is_nullable(self.properties[field])

    @property
    def unique(self) -> list[tuple[str, ...]]:
        return unique_sets(self.schema)


@dataclass(frozen=True)
class Pack0:
    """A loaded, validated Pack0: everything later stages may read."""

    meta: Pack0Meta
    budgets: Budgets
    entities: tuple[Entity, ...]
    # The requirement documents a model reads (docs/SRS.md, docs/PLAN.md), as (path, text) pairs.
    documents: tuple[tuple[str, str], ...] = ()

    def document(self, path: str) -> str:
        return dict(self.documents).get(path, "")

    @property
    def module(self) -> str:
        return self.meta.module

    @property
    def package(self) -> str:
        return package_name(self.meta.module)


# What the generated service and its tests import besides the stdlib, and what those import (pytest, jsonschema,
# the PostgreSQL driver): a package of one of these names, first on the tests' path, would shadow it.
IMPORTED_LIBRARIES = frozenset(
    (
        *("pytest", "_pytest", "py", "pluggy", "iniconfig", "packaging", "exceptiongroup", "tomli", "colorama"),
        *("jsonschema", "jsonschema_specifications", "referencing", "rpds", "attr", "attrs", "typing_extensions"),
        *("psycopg", "psycopg_pool", "psycopg_binary", "psycopg_c"),
    )
)


def package_name(module: str) -> str:
    """The generated Python package: the module name in snake case, never shadowing the stdlib, a library the
    generated code imports, or the generated tests' own modules (conftest, test_*)."""
    snake = module.replace("-", "_")
    reserved = snake in IMPORTED_LIBRARIES or snake in ("tests", "test", "conftest") or snake.startswith("test_")
    if snake in sys.stdlib_module_names or keyword.iskeyword(snake) or reserved:
        return f"{snake}_module"
    return snake


def default_plural(name: str) -> str:
    if name.endswith("y") and not name.endswith(("ay", "ey", "oy", "uy")):
        return name[:-1] + "ies"
    if name.endswith(("s", "x", "ch", "sh")):
        return name + "es"
    return name + "s"
