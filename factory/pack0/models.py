"""What a valid Pack0 is, as pydantic models. Loading turns files into these or one clear error."""

from __future__ import annotations

import keyword
import re
import sys
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

from factory.fsutil import DEVICE_NAMES

PACK0_VERSION = "0.0.1"
MODULE_NAME_PATTERN = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"
FIELD_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,62}$"
ENTITY_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9_]{0,40}$")
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


ScalarType = Literal["string", "integer", "number", "boolean"]
StringFormat = Literal["email", "date", "date-time", "uuid", "uri"]


class PropertySchema(_Strict):
    """The JSON Schema subset a contract field may use: what the engine knows how to serve."""

    type: ScalarType | Literal["array"]
    title: str | None = None
    description: str | None = None
    enum: list[str | int | float | bool] | None = Field(default=None, min_length=1)
    format: StringFormat | None = None
    pattern: str | None = None
    minLength: int | None = Field(default=None, ge=0)
    maxLength: int | None = Field(default=None, ge=1)
    minimum: float | None = None
    maximum: float | None = None
    items: PropertySchema | None = None
    minItems: int | None = Field(default=None, ge=0)
    maxItems: int | None = Field(default=None, ge=0)
    default: Any = None

    @model_validator(mode="after")
    def _keywords_fit_the_type(self) -> PropertySchema:
        string_only = ("format", "pattern", "minLength", "maxLength")
        number_only = ("minimum", "maximum")
        array_only = ("items", "minItems", "maxItems")
        allowed = {
            "string": string_only,
            "integer": number_only,
            "number": number_only,
            "boolean": (),
            "array": array_only,
        }[self.type]
        for name in (*string_only, *number_only, *array_only):
            if getattr(self, name) is not None and name not in allowed:
                raise ValueError(f"'{name}' does not apply to type '{self.type}'")
        if self.type == "array" and (self.items is None or self.items.type == "array"):
            raise ValueError("an array needs 'items' with a scalar type")
        if self.pattern is not None:
            try:
                re.compile(self.pattern)
            except re.error as error:
                raise ValueError(f"'pattern' is not a valid regular expression: {error}") from None
        _check_range(self.minLength, self.maxLength, "minLength", "maxLength")
        _check_range(self.minimum, self.maximum, "minimum", "maximum")
        _check_range(self.minItems, self.maxItems, "minItems", "maxItems")
        if self.enum is not None:
            python_types = {"string": str, "integer": int, "number": (int, float), "boolean": bool}
            expected = python_types.get(self.type)
            for value in self.enum:
                wrong_bool = isinstance(value, bool) and self.type != "boolean"
                if expected is None or wrong_bool or not isinstance(value, expected):
                    raise ValueError(f"enum value {value!r} is not of type '{self.type}'")
        return self


def _check_range(low: float | None, high: float | None, low_name: str, high_name: str) -> None:
    if low is not None and high is not None and low > high:
        raise ValueError(f"'{low_name}' ({low}) is greater than '{high_name}' ({high})")


class EntitySchema(_Strict):
    """contracts/<entity>.schema.json: one entity's fields, a draft 2020-12 JSON Schema."""

    schema_uri: Literal["https://json-schema.org/draft/2020-12/schema"] = Field(alias="$schema")
    schema_id: str | None = Field(default=None, alias="$id")
    title: Annotated[str, StringConstraints(pattern=r"^[A-Z][A-Za-z0-9]{0,60}$")]
    description: str | None = None
    type: Literal["object"]
    additionalProperties: Literal[False]
    required: list[FieldName] = Field(default_factory=list)
    properties: dict[FieldName, PropertySchema] = Field(min_length=1)
    plural: Annotated[str, StringConstraints(pattern=ENTITY_NAME_PATTERN.pattern)] | None = Field(
        default=None, alias="x-plural"
    )

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
        return self


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


def package_name(module: str) -> str:
    """The generated Python package: the module name in snake case, never shadowing the stdlib."""
    snake = module.replace("-", "_")
    if snake in sys.stdlib_module_names or keyword.iskeyword(snake) or snake in ("tests", "test"):
        return f"{snake}_module"
    return snake


def default_plural(name: str) -> str:
    if name.endswith("y") and not name.endswith(("ay", "ey", "oy", "uy")):
        return name[:-1] + "ies"
    if name.endswith(("s", "x", "ch", "sh")):
        return name + "es"
    return name + "s"
