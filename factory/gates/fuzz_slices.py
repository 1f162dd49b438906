"""Fuzz results in slices, as test results are (factory/runner/slices.py): the core slice owns /health, each
entity slice its own operations, and each slice's result is keyed by the files that decide it (its own files,
the core's, its part of the OpenAPI document) plus the fuzzer and its settings. After a one-entity edit only
that entity's operations (and /health) are fuzzed again; a change to the core re-fuzzes every operation.

Only a clean slice result is kept (no finding, no error, the run went to its end): a finding makes the
build fail and sends code to the Healer, so it is always found again by fuzzing the code as it then is.
Plans (from the files under build/src) and the split of one run's operations by slice; the cache and the run are
in contracts_fuzz.py.
"""

from __future__ import annotations

from pathlib import Path

from factory.pack0.models import Pack0
from factory.pack0.openapi import API_PREFIX, operations
from factory.runner.slices import CORE, SlicePlan, plan
from factory.runner.test_slices import read_slice_files

HEALTH_OPERATION = "health"


def slice_operations(pack0: Pack0) -> dict[str, list[str]]:
    """The operationIds each slice fuzzes."""
    return {
        CORE: [HEALTH_OPERATION],
        **{entity.name: [op_id for _method, _path, op_id in operations(entity)] for entity in pack0.entities},
    }


def slice_of_operation(label: str, pack0: Pack0) -> str | None:
    """The slice an operation label ('GET /api/v1/books/{id}') belongs to; None when no slice owns it."""
    path = label.split(" ", 1)[-1].split("?", 1)[0].strip()
    if path == "/health":
        return CORE
    for entity in pack0.entities:
        prefix = f"{API_PREFIX}/{entity.plural}"
        if path == prefix or path.startswith(prefix + "/"):
            return entity.name
    return None


def fuzz_plans(build_dir: Path, owned: dict[str, set[str]], pack0: Pack0, setting: object) -> list[SlicePlan]:
    """Each slice's key over the service's files (src/ only: the tests do not run under the fuzzer)."""
    return plan(read_slice_files(build_dir, ("src",)), owned, list(pack0.entities), setting)


def split_operations(labels: list[str], pack0: Pack0) -> dict[str, list[str]] | None:
    """The fuzzed operations by slice; None when one belongs to no slice (then nothing is kept per slice)."""
    by_slice: dict[str, list[str]] = {}
    for label in labels:
        name = slice_of_operation(label, pack0)
        if name is None:
            return None
        by_slice.setdefault(name, []).append(label)
    return by_slice
