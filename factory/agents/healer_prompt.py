"""The Healer's prompt, kept slim: the failing tests and their output, the files the failure implicates
and the contracts they concern, under a size cap that names what it left out. Never the whole build, and
never the two OpenAPI copies (the factory writes them from the contracts)."""

from __future__ import annotations

from factory.agents.prompts import contract_text, files_block
from factory.engine.heal import implicated_paths, mentioned_paths
from factory.engine.testgen import entity_of_test_file
from factory.pack0.models import Pack0

MAX_PROMPT_FILE_CHARS = 120_000
MAX_FAILURE_CHARS = 24_000


def _factory_written(pack0: Pack0) -> set[str]:
    return {f"src/{pack0.package}/openapi.json", "tests/contract_openapi.json"}


def chosen_files(pack0: Pack0, files: dict[str, str], failure: str) -> tuple[dict[str, str], list[str]]:
    """(files to show, files left out by the size cap): named in the failure first, then implicated."""
    mentioned = mentioned_paths(failure)
    implicated = implicated_paths(pack0, failure) | mentioned
    # The browser page (src/PACKAGE/static/) is no part of the API the tests and judges call: shown only
    # when the failure names one of its files, else it would be most of every prompt.
    page = f"src/{pack0.package}/static/"
    candidates = [
        path
        for path in files
        if path in implicated
        and path not in _factory_written(pack0)
        and (not path.startswith(page) or path in mentioned)
    ]
    if not candidates:  # the failure names nothing we know: the source (not the tests) is the suspect
        candidates = [path for path in files if path.startswith("src/") and path not in _factory_written(pack0)]
    ordered = sorted(candidates, key=lambda path: (path not in mentioned, path))
    shown: dict[str, str] = {}
    left_out: list[str] = []
    size = 0
    for path in ordered:
        if size + len(files[path]) > MAX_PROMPT_FILE_CHARS:
            left_out.append(path)
            continue
        shown[path] = files[path]
        size += len(files[path])
    return shown, left_out


def concerned_contracts(pack0: Pack0, failure: str) -> str:
    tests = [path for path in mentioned_paths(failure) if path.startswith("tests/")]
    found = [entity_of_test_file(pack0, path) for path in tests]
    if not found or None in found:
        return "".join(contract_text(entity) for entity in pack0.entities)
    names = {entity.name for entity in found if entity is not None}
    return "".join(contract_text(entity) for entity in pack0.entities if entity.name in names)


def healer_prompt(pack0: Pack0, files: dict[str, str], failure: str) -> str:
    shown, left_out = chosen_files(pack0, files, failure)
    cut = (
        failure
        if len(failure) <= MAX_FAILURE_CHARS
        else "[... earlier output cut ...]\n" + failure[-MAX_FAILURE_CHARS:]
    )
    note = (
        f"\nLeft out by the size cap ({MAX_PROMPT_FILE_CHARS} characters): {', '.join(left_out)}\n" if left_out else ""
    )
    written = ", ".join(sorted(_factory_written(pack0)))
    return (
        f"{concerned_contracts(pack0, failure)}\nFailure output:\n{cut}\n\n"
        f"Implicated files ({len(shown)} of {len(files)}; {written} are written by the factory from the "
        f"contracts and are not shown):\n{files_block(shown)}\n{note}"
    )
