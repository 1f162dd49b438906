"""The Pack0's names and file layout, without its models: what a build needs to find its files and check a
module name (a no-op re-run needs no more, so it imports no pydantic)."""

from __future__ import annotations

import re
from pathlib import Path

from factory.errors import InputError
from factory.fsutil import DEVICE_NAMES, not_utf8

PACK0_VERSION = "0.0.1"
MODULE_NAME_PATTERN = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$"
NAME_RULE_BROKEN = "does not follow the naming rule"

META_FILE = "pack0.json"
BUDGETS_FILE = "budgets.json"
OPENAPI_FILE = "contracts/openapi.json"
INVENTORY_FILE = "02_INVENTORY/manifest.json"
SCHEMA_SUFFIX = ".schema.json"
DERIVED_FILES = (OPENAPI_FILE, INVENTORY_FILE)
# Part of every agent's context (so of each slice's inputs).
REQUIREMENT_DOCUMENTS = ("docs/SRS.md", "docs/PLAN.md")


def pack0_dirname(module: str, version: str = PACK0_VERSION) -> str:
    return f"pack0-{module}-{version}"


def name_problem(name: str, pattern: str) -> str | None:
    """Why a module or entity name cannot be used (it names folders, files and Python modules), or None."""
    if not re.fullmatch(pattern.removeprefix("^").removesuffix("$"), name):
        return NAME_RULE_BROKEN
    if name.split(".")[0].lower() in DEVICE_NAMES:
        return "is a reserved device name on Windows"
    return None


def source_file_names(root: Path) -> list[str]:
    """The paths of the Pack0's own files (everything but the derived OpenAPI and inventory), unread. Refuses a
    name that is not UTF-8 anywhere in the folder: the evidence could not list it."""
    names = []
    for path in sorted(root.rglob("*")):
        relative = path.relative_to(root).as_posix()
        if not_utf8(relative):
            raise InputError("a file name that is not UTF-8: rename or remove it", file=str(path))
        if path.is_file() and relative not in DERIVED_FILES and not path.name.startswith("."):
            names.append(relative)
    return names
