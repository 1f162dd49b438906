"""The generated service's modules import one way (issue 24): no import circle among the templates, each
module importable first in a fresh interpreter of a generated build, and every template listed for CodeGen."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

from factory.engine.codegen import SERVICE_TEMPLATES, generate_source
from factory.engine.templates import TEMPLATES
from factory.pack0.load import load_pack0

SERVICE = TEMPLATES / "service"
# Who may import the wiring: nobody but the entry point.
TOP = {"__main__": set(), "server": {"__main__"}}


def relative_imports(source: str) -> set[str]:
    """The sibling modules a service module imports, anywhere in it (deferred imports inside functions too):
    `from .x import y` -> x, `from . import x` -> x."""
    names = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                names.add(node.module.split(".")[0])
            else:
                names.update(alias.name for alias in node.names)
    return names


def import_graph(sources: dict[str, str]) -> dict[str, set[str]]:
    """{module: the modules of `sources` it imports} (limits, resources and the like are generated, not here)."""
    return {name: relative_imports(text) & set(sources) for name, text in sources.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import circle as [a, b, ..., a], or None."""
    state: dict[str, str] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = "open"
        for target in sorted(graph[node]):
            if state.get(target) == "open":
                return [*path[path.index(target) :], target]
            if target not in state and (cycle := visit(target, [*path, target])):
                return cycle
        state[node] = "done"
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start, [start])):
            return cycle
    return None


def template_sources() -> dict[str, str]:
    return {path.stem: path.read_text(encoding="utf-8") for path in SERVICE.glob("*.py")}


def test_the_service_templates_import_one_way():
    graph = import_graph(template_sources())
    assert find_cycle(graph) is None, find_cycle(graph)
    for module, imports in graph.items():
        for top, allowed in TOP.items():
            assert top not in imports or module in allowed, f"{module}.py imports {top}.py"


def test_a_planted_circle_is_found():
    sources = template_sources()
    # records.py is near the bottom; importing the wiring from it closes a circle through the store.
    sources["records"] += "\nfrom .storage import open_store\n"
    cycle = find_cycle(import_graph(sources))
    assert cycle is not None and cycle[0] == cycle[-1] and "records" in cycle and "storage" in cycle, cycle
    sources = template_sources()
    sources["query"] = "def deferred():\n    from .storage_pg import PostgresStore\n" + sources["query"]
    assert find_cycle(import_graph(sources)) is not None  # a deferred import counts too


def test_every_template_module_is_copied_into_a_build():
    listed = {name for name in SERVICE_TEMPLATES if name.endswith(".py")}
    assert listed == {path.name for path in SERVICE.glob("*.py")}
    assert all((SERVICE / name).is_file() for name in SERVICE_TEMPLATES)


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The library example's generated src/ (it has references: query.py's code paths are all imported)."""
    root = tmp_path_factory.mktemp("service-imports")
    pack0 = load_pack0(ROOT / "examples/pack0-library-0.0.1")
    for relative, text in generate_source(pack0).items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "src", pack0.package


# Each module imported first, alone, in a fresh interpreter: a circle that only works in one import order fails.
PROBE = """
import importlib, importlib.util, sys
package, name = sys.argv[1], sys.argv[2]
try:
    importlib.import_module(f"{package}.{name}")
except Exception as error:
    # PostgreSQL mode's driver is optional: without it storage_pg says so, after its own imports resolved.
    driver_missing = importlib.util.find_spec("psycopg") is None or importlib.util.find_spec("psycopg_pool") is None
    if not (name == "storage_pg" and driver_missing and type(error).__name__ == "StartupError"):
        raise
    assert {f"{package}.records", f"{package}.query", f"{package}.errors"} <= set(sys.modules), sorted(sys.modules)
print("ok")
"""


@pytest.mark.parametrize("module", sorted(Path(name).stem for name in SERVICE_TEMPLATES if name.endswith(".py")))
def test_each_module_imports_first_in_a_generated_build(build: tuple[Path, str], tmp_path: Path, module: str):
    src, package = build
    database = tmp_path / "data"
    result = subprocess.run(
        [sys.executable, "-c", PROBE, package, module],
        cwd=src,
        capture_output=True,
        text=True,
        check=False,
        env={"PYTHONPATH": str(src), "XDG_DATA_HOME": str(database), "PATH": "/usr/bin:/bin"},
        timeout=60,
    )
    assert result.returncode == 0 and result.stdout.strip() == "ok", result.stderr
