"""The offline Healer: finds the generated files a failure implicates and restores them from the contracts.

It is surgical: a file is returned only when the failure points at it (directly, or through the entity
whose tests failed) and its content differs from what the contracts generate.
"""

from __future__ import annotations

import re

from factory.engine.codegen import core_files, entity_files, generate_source
from factory.engine.testgen import entity_of_test_file, generate_tests
from factory.pack0.models import Pack0

_BUILD_PATH = re.compile(r"(?<![\w.-])(?:[\w./-]*/)?((?:src|tests)/[\w./-]+\.(?:py|json|html))")
_SHARED_TEST_FILES = ("tests/conftest.py", "tests/contract_openapi.json")


def mentioned_paths(failure: str) -> set[str]:
    """Build-relative paths (src/..., tests/...) named anywhere in the failure output."""
    return {match.group(1) for match in _BUILD_PATH.finditer(failure)}


def implicated_paths(pack0: Pack0, failure: str) -> set[str]:
    mentioned = mentioned_paths(failure)
    implicated = set(mentioned)
    failing_tests = {path for path in mentioned if path.startswith("tests/")}
    for test_path in failing_tests:
        entity = entity_of_test_file(pack0, test_path)
        entities = [entity] if entity else list(pack0.entities)
        for each in entities:
            implicated.update(entity_files(pack0, each))
            implicated.add(f"tests/cases/{each.plural}.json")
        implicated.update(core_files(pack0))
        implicated.update(_SHARED_TEST_FILES)
    return implicated


def propose_fix(pack0: Pack0, current: dict[str, str], failure: str) -> tuple[str, dict[str, str]]:
    """(diagnosis, files to write). Empty files when nothing generated is implicated and changed."""
    expected = {**generate_source(pack0), **generate_tests(pack0)}
    implicated = implicated_paths(pack0, failure)
    if not implicated:
        implicated = {path for path in expected if path.startswith(("src/", "tests/"))}  # what it may change
        scope = "the failure names no file, so every generated file was compared"
    else:
        scope = f"{len(implicated)} implicated file(s) compared with the contracts"
    fixes = {
        path: expected[path] for path in sorted(implicated) if path in expected and current.get(path) != expected[path]
    }
    if not fixes:
        return f"{scope}; none differs from what the contracts generate", {}
    return f"{scope}; restored {', '.join(fixes)}", fixes
