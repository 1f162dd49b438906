"""Access to the template files the engine copies into a build, and to the service's own validator."""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path
from types import ModuleType

TEMPLATES = Path(__file__).parent / "templates"


def read_template(relative: str, **tokens: str) -> str:
    """A template's text with each @@TOKEN@@ replaced."""
    text = (TEMPLATES / relative).read_text(encoding="utf-8")
    for name, value in tokens.items():
        text = text.replace(f"@@{name}@@", value)
    return text


@cache
def service_validation() -> ModuleType:
    """The generated service's validator, loaded from its template: samples are checked by the same code."""
    path = TEMPLATES / "service" / "validation.py"
    spec = importlib.util.spec_from_file_location("lai_factory_service_validation", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
