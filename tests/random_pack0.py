"""Random valid Pack0s (hypothesis): names at the edges of the rules, every field type, keyword, format and
pattern the contract language has, defaults, examples, nullable fields, x-unique strings and references (each
delete rule; some x-unique alone or in a set with a string, self-references too). Shared by the property test
and benchmarks/random_pack0s.py, which builds many more of them."""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

from hypothesis import strategies as st

from factory.cli import main
from factory.engine.samples import candidates
from factory.fsutil import DEVICE_NAMES, write_text_atomic
from factory.pack0.generate import generate_pack0
from factory.pack0.models import RESERVED_FIELDS, STRING_FORMATS, default_plural

# Python keywords, builtins and stdlib modules, SQL reserved words, and the longest names the rules allow.
EDGE_ENTITY_NAMES = ["import", "class", "type", "json", "order", "from", "user", "select", "a", "e" + "x" * 40]
EDGE_ENTITY_NAMES += ["import_module", "resources", "test", "conftest", "server", "storage", "validation"]
EDGE_FIELD_NAMES = ["class", "from", "order", "select", "type", "data", "json", "def", "f" + "x" * 62, "n"]
EDGE_MODULE_NAMES = ["data-import", "class", "json", "m" + "x" * 39, "order-from-user", "ab"]
PATTERNS = [
    r"^[A-Z]{3}-[0-9]{4}$",
    r"^(97[89])?\d{9}[\dX]$",  # ISBN
    r"^[0-9]{13}$",  # EAN-13
    r"^[A-HJ-NPR-Z0-9]{17}$",  # VIN
    r"^[A-Z]{2}$",
    r"^[a-z]+(-[a-z]+)*$",
    r"^\+?[0-9 ]{7,15}$",
    r"[aeiou]",
]
TEXT = st.text(st.characters(exclude_categories=("Cs",)), min_size=1, max_size=8)

entity_names = st.sampled_from(EDGE_ENTITY_NAMES) | st.from_regex(r"[a-z][a-z0-9_]{0,40}", fullmatch=True).filter(
    lambda name: name not in DEVICE_NAMES
)
field_names = st.sampled_from(EDGE_FIELD_NAMES) | st.from_regex(r"[a-z][a-z0-9_]{0,62}", fullmatch=True).filter(
    lambda name: name not in RESERVED_FIELDS
)
module_names = st.sampled_from(EDGE_MODULE_NAMES) | st.from_regex(
    r"[a-z][a-z0-9]{1,12}(-[a-z0-9]{1,8}){0,2}", fullmatch=True
)


@st.composite
def string_spec(draw) -> dict:
    kind = draw(st.sampled_from(["plain", "format", "pattern", "enum", "const"]))
    spec: dict = {"type": "string"}
    if kind == "format":
        spec["format"] = draw(st.sampled_from(STRING_FORMATS))
    elif kind == "pattern":
        spec["pattern"] = draw(st.sampled_from(PATTERNS))
    elif kind == "enum":
        spec["enum"] = draw(st.lists(TEXT, min_size=1, max_size=4, unique=True))
    elif kind == "const":
        spec["const"] = draw(TEXT)
    if kind in ("plain", "pattern", "format") and draw(st.booleans()):
        spec["minLength"] = draw(st.integers(0, 2))
        spec["maxLength"] = draw(st.integers(60, 300))
    return spec


@st.composite
def number_spec(draw, kind: str) -> dict:
    spec: dict = {"type": kind}
    low = draw(st.none() | st.integers(-1000, 1000))
    if low is not None:
        spec[draw(st.sampled_from(["minimum", "exclusiveMinimum"]))] = low
    if draw(st.booleans()):
        high = (low if low is not None else 0) + draw(st.integers(20, 5000))
        spec[draw(st.sampled_from(["maximum", "exclusiveMaximum"]))] = high
    steps = st.integers(1, 7) if kind == "integer" else st.sampled_from([0.5, 0.25, 2, 2.5])
    if draw(st.booleans()):
        spec["multipleOf"] = draw(steps)
    if draw(st.integers(0, 5)) == 0:  # a fixed set or a single value instead of a range
        values = st.integers(-50, 50) if kind == "integer" else st.sampled_from([0.5, 1, 2.25, -3.75, 100])
        spec = {"type": kind, **({"enum": draw(st.lists(values, min_size=1, max_size=3, unique=True))})}
        if draw(st.booleans()):
            spec = {"type": kind, "const": spec["enum"][0]}
    return spec


@st.composite
def scalar_spec(draw) -> dict:
    kind = draw(st.sampled_from(["string", "integer", "number", "boolean"]))
    if kind == "string":
        return draw(string_spec())
    if kind == "boolean":
        return draw(st.sampled_from([{"type": "boolean"}, {"type": "boolean", "const": True}]))
    return draw(number_spec(kind))


@st.composite
def field_spec(draw, name: str) -> dict:
    if draw(st.integers(0, 4)) == 0:
        items = draw(scalar_spec())
        if draw(st.integers(0, 3)) == 0:
            items["type"] = [items["type"], "null"]
        spec: dict = {"type": "array", "items": items}
        low = draw(st.integers(0, 2))
        spec.update(minItems=low, maxItems=low + draw(st.integers(0, 4)))
        if draw(st.booleans()):
            spec["uniqueItems"] = True
    else:
        spec = draw(scalar_spec())
    if draw(st.integers(0, 3)) == 0 and "const" not in spec:
        spec["type"] = [spec["type"], "null"]
        if "enum" in spec:  # a missing value reads back as null, so a nullable enum lists it
            spec["enum"] = [*spec["enum"], None]
    try:
        valid = candidates(name, spec)
    except Exception:  # noqa: BLE001 - an unsatisfiable draw: the loader must refuse it, checked separately
        return spec
    if draw(st.integers(0, 2)) == 0:
        spec["default"] = draw(st.sampled_from([*valid, *([None] if isinstance(spec["type"], list) else [])]))
    if draw(st.integers(0, 4)) == 0:
        spec["examples"] = valid[:2]
    return spec


def _may_be_unique(name: str, spec: dict) -> bool:
    if spec["type"] != "string" or "enum" in spec or "const" in spec:
        return False
    try:
        return len(candidates(name, spec)) >= 5  # well above the 3 records a test keeps
    except Exception:  # noqa: BLE001 - an unsatisfiable draw is refused at load anyway
        return False


@st.composite
def entity_contract(draw, name: str, title: str, plural_edges: bool) -> dict:
    names = draw(st.lists(field_names, min_size=1, max_size=6, unique=True))
    properties = {field: draw(field_spec(field)) for field in names}
    required = [field for field in names if draw(st.booleans())]
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        "type": "object",
        "additionalProperties": False,
        "required": required,
        "properties": properties,
    }
    unique = [field for field in names if _may_be_unique(field, properties[field])]
    if unique and draw(st.integers(0, 2)) == 0:  # x-unique on a string with room for distinct test records
        properties[draw(st.sampled_from(unique))]["x-unique"] = True
    if draw(st.integers(0, 3)) == 0:
        edges = ["order", "select", "p" + "x" * 40] if plural_edges else []
        schema["x-plural"] = draw(st.sampled_from([*edges, f"{name[:30]}_list"]))
    return schema


@st.composite
def random_pack0(draw) -> tuple[str, dict[str, dict]]:
    """(module name, {entity name: contract})."""
    module = draw(module_names)
    entities = draw(st.lists(entity_names, min_size=1, max_size=3, unique_by=default_plural))
    contracts = {}
    for index, name in enumerate(entities):
        title = "".join(part.capitalize() for part in name.split("_"))[:50] + f"E{index}"
        contracts[name] = draw(entity_contract(name, title, plural_edges=index == 0))
        if draw(st.booleans()):
            add_reference(draw, contracts[name], name, draw(st.sampled_from(entities[: index + 1])))
    return module, contracts


def add_reference(draw, schema: dict, name: str, target: str) -> None:
    """A reference to an earlier entity or to itself (nullable then): never a cycle of required references."""
    nullable = target == name or draw(st.booleans())
    spec = {"type": ["string", "null"] if nullable else "string", "format": "uuid", "x-references": target}
    rule = draw(st.sampled_from([None, "restrict", "cascade", *(["set-null"] if nullable else [])]))
    if rule:
        spec["x-on-delete"] = rule
    field = f"ref_{target}"[:63]
    if field not in schema["properties"]:
        schema["properties"][field] = spec
        if draw(st.booleans()):
            schema["required"].append(field)
        how = draw(st.integers(0, 3))
        others = [key for key, other in schema["properties"].items() if key != field and _may_be_unique(key, other)]
        if how == 0:  # one record per parent (a self-reference: one child each)
            spec["x-unique"] = True
        elif how == 1 and others:  # a name unique under its parent
            schema.setdefault("x-unique", []).append([field, draw(st.sampled_from(others))])


def write_random_pack0(root: Path, module: str, contracts: dict[str, dict]) -> Path:
    """A Pack0 folder: the generated meta files and docs, and these contracts instead of the catalog's."""
    for path, text in generate_pack0(module).items():
        if not path.startswith("contracts/"):
            write_text_atomic(root / path, text)
    for name, schema in contracts.items():
        write_text_atomic(root / "contracts" / f"{name}.schema.json", json.dumps(schema, indent=2) + "\n")
    return root


def build(pack0: Path, module: str, out: Path) -> tuple[int, str]:
    """An offline auto-build, in this process; (exit code, what it printed)."""
    stdout, stderr = io.StringIO(), io.StringIO()
    argv = ["auto-build", "--module", module, "--pack0", str(pack0), "--out", str(out), "--waive", "docker-build"]
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        code = main([*argv, "--quiet"])
    return code, stdout.getvalue() + stderr.getvalue()


def approved(out: Path) -> bool:
    approval = out / "build" / "approval.json"
    return approval.is_file() and json.loads(approval.read_text(encoding="utf-8")).get("approved") is True


def contracts_gate_status(out: Path) -> str | None:
    gate = out / "build" / ".factory_logs" / "gates" / "contracts.json"
    return json.loads(gate.read_text(encoding="utf-8")).get("status") if gate.is_file() else None
