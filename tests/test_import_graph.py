"""factory/ imports one way (issue 24): no import circle among its modules, and none among its rooms (its
subpackages and top-level modules, where an import from a lower room to a higher one closes a circle) but the
upward imports listed with their reasons. Read from the source with ast: nothing is imported, so a circle that
happens to work in today's import order is found too.

Every import statement counts, wherever it stands: at module level, inside a function (a deferred import only
moves the circle to the first call, and it still ties the two modules: neither can be changed or moved alone) and
under `if TYPE_CHECKING:` (it names a dependency of the module's interface). What Python imports on its own does
not: `import factory.llm.usage` also runs factory/llm/__init__.py, but the module did not choose it (safe while
no package's __init__ imports a factory module, which the test checks). The generated service's templates
(factory/engine/templates/) are text for a build, not factory modules: test_service_imports.py checks them."""

from __future__ import annotations

import ast
import itertools
from collections.abc import Set
from functools import cache
from pathlib import Path

from conftest import ROOT
from import_graph import circles

TOP = "factory"
TEMPLATES = Path(TOP, "engine", "templates")  # the generated service and its tests, copied into a build


def module_name(relative: Path) -> str:
    parts = relative.with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def factory_sources(root: Path = ROOT) -> dict[str, tuple[str, bool]]:
    """{module name: (its source, whether it is a package's __init__)} for every module of factory/."""
    sources = {}
    for path in sorted((root / TOP).rglob("*.py")):
        relative = path.relative_to(root)
        if not relative.is_relative_to(TEMPLATES):
            sources[module_name(relative)] = (path.read_text(encoding="utf-8"), path.name == "__init__.py")
    return sources


def imported_modules(node: ast.AST, package: str, modules: Set[str]) -> set[str]:
    """The modules of `modules` one statement imports: `import a.b` -> a.b; `from a import b` -> a.b when that is
    a module, else a (b is a name defined in a). package: the importing module's, for relative imports."""
    if isinstance(node, ast.Import):
        return {alias.name for alias in node.names} & modules
    if not isinstance(node, ast.ImportFrom):
        return set()
    base = node.module or ""
    if node.level:  # relative: from the module's own package, one level up for each dot after the first
        parts = package.split(".")
        base = ".".join([*parts[: len(parts) - node.level + 1], *([node.module] if node.module else [])])
    named = {f"{base}.{alias.name}" for alias in node.names}
    return (named & modules) | ({base} & modules if named - modules else set())


def import_graph(sources: dict[str, tuple[str, bool]]) -> tuple[dict[str, set[str]], dict[tuple[str, str], str]]:
    """({module: the factory modules it imports}, {(module, imported): file:line of an import of it})."""
    modules = frozenset(sources)
    graph: dict[str, set[str]] = {}
    lines: dict[tuple[str, str], str] = {}
    for name, (text, is_package) in sources.items():
        found = _module_imports(name, text, is_package, modules)
        graph[name] = set(found)
        lines.update(((name, target), where) for target, where in found.items())
    return graph, lines


@cache  # the tests that plant an import change one module: the others are parsed once
def _module_imports(name: str, text: str, is_package: bool, modules: frozenset[str]) -> dict[str, str]:
    """{imported module: file:line of an import of it (a module-level one before any nested)} for one module."""
    package = name if is_package else name.rpartition(".")[0]
    path = name.replace(".", "/") + ("/__init__.py" if is_package else ".py")
    found: dict[str, str] = {}
    for node in ast.walk(ast.parse(text, filename=path)):
        for target in sorted(imported_modules(node, package, modules) - {name}):
            found.setdefault(target, f"{path}:{node.lineno}")
    return found


def described(circle: list[str], lines: dict[tuple[str, str], str]) -> str:
    """A circle as the imports that close it, each `file:line imports module`, so the reader can open them."""
    steps = [f"{lines[module, target]} imports {target}" for module, target in itertools.pairwise(circle)]
    return " -> ".join(circle) + "\n    " + "\n    ".join(steps)


def circles_in(sources: dict[str, tuple[str, bool]]) -> list[str]:
    graph, lines = import_graph(sources)
    return [described(circle, lines) for circle in circles(graph)]


def test_factory_has_no_import_circle():
    sources = factory_sources()
    found = circles_in(sources)
    assert not found, f"{len(found)} import circle(s) in factory/:\n" + "\n".join(found)
    graph, _ = import_graph(sources)
    # Every import of a module runs its packages' __init__ first: one that imported a factory module would tie
    # each module under it to that module, an edge the graph above does not draw.
    assert {name: graph[name] for name, (_, is_package) in sources.items() if is_package and graph[name]} == {}


def room(module: str) -> str:
    """The room a module stands in, as issue 24 counts floors: a subpackage of factory/ (factory.llm.gateway ->
    factory.llm) or a top-level module (factory.config)."""
    return ".".join(module.split(".")[:2])


def room_graph(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    rooms: dict[str, set[str]] = {room(name): set() for name in graph}
    for name, targets in graph.items():
        rooms[room(name)] |= {room(target) for target in targets} - {room(name)}
    return rooms


# Imports from a lower room to a higher one, known and not yet moved: each with why it is there. The list must
# shrink, never grow: an edge that is gone fails the test too, so it is struck off here.
UPWARD = {
    ("factory.pack0", "factory.engine"): "loading a Pack0 checks what the engine can build from it: a sample value "
    "for every field (engine/samples.py), test file names (engine/testgen.py), the service's own validator "
    "(engine/templates.py); engine/ imports pack0/ everywhere",
}


def room_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The circles among rooms once the known upward imports are set aside."""
    rooms = room_graph(graph)
    for low, high in UPWARD:
        rooms[low].discard(high)
    return circles(rooms)


def test_factory_rooms_import_one_way_but_for_the_known_upward_imports():
    graph = import_graph(factory_sources())[0]
    rooms = room_graph(graph)
    assert {edge for edge in UPWARD if edge[1] not in rooms[edge[0]]} == set(), "gone: strike it off UPWARD"
    found = room_circles(graph)
    assert not found, "rooms of factory/ in a circle (a room imports one above it):\n" + "\n".join(
        " -> ".join(loop) for loop in found
    )


def test_a_circle_in_a_small_graph_is_found_once_with_its_loop():
    graph = {"a": {"b"}, "b": {"c", "d"}, "c": {"a"}, "d": set(), "e": {"a", "e"}}
    assert circles(graph) == [["a", "b", "c", "a"], ["e", "e"]]
    assert circles({"a": {"b"}, "b": set()}) == []


def test_imports_resolve_to_modules_absolute_relative_and_names_defined_in_them():
    modules = {"factory.llm", "factory.llm.usage", "factory.config", "factory.runner.sandbox"}

    def resolved(statement: str, package: str = "factory.llm") -> set[str]:
        return imported_modules(ast.parse(statement).body[0], package, modules)

    assert resolved("import factory.llm.usage") == {"factory.llm.usage"}
    assert resolved("from factory.llm import usage") == {"factory.llm.usage"}
    assert resolved("from factory.config import BuildConfig, code_digest") == {"factory.config"}
    assert resolved("from .usage import Usage") == {"factory.llm.usage"}
    assert resolved("from ..runner.sandbox import resolve_sandbox") == {"factory.runner.sandbox"}
    assert resolved("from . import usage") == {"factory.llm.usage"}
    assert resolved("import os.path") == resolved("from pathlib import Path") == set()


def test_a_planted_upward_import_between_rooms_is_found():
    """No module circle, but a room circle: settings (at the bottom) importing a name of the deploy code, which
    imports settings' plain names."""
    sources = factory_sources()
    plant = "def later():\n    from factory.deploy.schema import migration_name\n"
    sources["factory.settings"] = (sources["factory.settings"][0] + plant, False)
    graph = import_graph(sources)[0]
    assert circles(graph) == []
    assert room_circles(graph) == [["factory.deploy", "factory.settings", "factory.deploy"]]


def test_a_planted_circle_is_found_at_module_level_in_a_function_and_for_type_hints_only():
    """Each planted import closes a circle through factory/ as it stands: settings is at the bottom, and the
    config module imports it."""
    for plant in (
        "from factory.config import BuildConfig\n",
        "def later():\n    from factory.config import BuildConfig\n",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from factory.config import BuildConfig\n",
    ):
        sources = factory_sources()
        text, is_package = sources["factory.settings"]
        sources["factory.settings"] = (text + plant, is_package)
        found = circles_in(sources)
        assert len(found) == 1 and found[0].startswith("factory.config -> "), found
        assert "factory/settings.py:" in found[0] and " imports factory.config" in found[0], found
