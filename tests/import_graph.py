"""Import graphs as plain data ({module: the modules it imports}) and the circles in them: shared by the checks of
factory/ (test_import_graph.py) and of the generated service's templates (test_service_imports.py)."""

from __future__ import annotations

from collections.abc import Mapping, Set


def find_cycle(graph: Mapping[str, Set[str]]) -> list[str] | None:
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


def circles(graph: Mapping[str, Set[str]]) -> list[list[str]]:
    """Every circle, one loop [a, ..., a] for each group of modules that reach each other (a strongly connected
    component): modules tied in one knot are one finding, however many loops run through them."""
    reach = {node: _reachable(graph, node) for node in graph}
    found, seen = [], set()
    for node in sorted(graph):
        if node in seen or node not in reach[node]:
            continue
        knot = {other for other in reach[node] if node in reach[other]}
        seen |= knot
        found.append(find_cycle({member: graph[member] & knot for member in knot}))
    return found


def _reachable(graph: Mapping[str, Set[str]], start: str) -> set[str]:
    """The modules start imports, directly or through others (start itself only through a circle)."""
    seen: set[str] = set()
    todo = list(graph[start])
    while todo:
        node = todo.pop()
        if node not in seen:
            seen.add(node)
            todo.extend(graph[node])
    return seen
