"""Contracts gate: the OpenAPI document is valid, the running service implements every operation, every
operation is covered by a passing contract test, and schemathesis fuzzing the running service finds nothing."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ElementTree
from importlib.metadata import version
from pathlib import Path

from factory.deploy.schema import migration_order
from factory.engine.samples import valid_record
from factory.gates.contracts_fuzz import fuzz_service_once
from factory.gates.result import GateResult
from factory.pack0.models import Pack0
from factory.pack0.openapi import API_PREFIX, operations
from factory.runner.sandbox import run_sandboxed

SUCCESS_STATUS = {"get": 200, "post": 201, "patch": 200, "delete": 204}
PROBE_TIMEOUT_S = 60


PROBE = Path(__file__).with_name("contracts_probe.py")


def probe_plan(pack0: Pack0) -> list[dict]:
    """Each operation the way a client would call it: health, then per entity (parents first) create, list, get,
    update, and the deletes last, children first. A reference names the record the plan made of its parent
    ("refs": field -> collection); one to a parent not made yet (a cycle, never required) is left out."""
    plan = [{"op": "health", "method": "get", "path": "/health", "body": None, "refs": {}}]
    deletes, made = [], set()
    plurals = {entity.name: entity.plural for entity in pack0.entities}
    for entity in migration_order(pack0.entities):
        record = valid_record(entity)
        refs = {}
        for field, (target, _rule) in entity.references.items():
            if target in made:
                refs[field] = f"{API_PREFIX}/{plurals[target]}"
            elif field in entity.required:
                record[field] = None  # nullable: the loader refuses a cycle of required references
            else:
                del record[field]
        first_field = next(iter(record))
        steps = []
        for method, path, op_id in operations(entity):
            body = record if method == "post" else {first_field: record[first_field]} if method == "patch" else None
            step_refs = {key: value for key, value in refs.items() if body is not None and key in body}
            steps.append({"op": op_id, "method": method, "path": path, "body": body, "refs": step_refs})
        order = {"post": 0, "get": 1, "patch": 2}
        plan += sorted((step for step in steps if step["method"] != "delete"), key=lambda step: order[step["method"]])
        deletes += [step for step in steps if step["method"] == "delete"]
        made.add(entity.name)
    return plan + deletes[::-1]


def probe_operations(build_dir: Path, pack0: Pack0, sandbox: str = "none") -> list[str]:
    """Call every operation on the real service, started inside the sandbox; one line per misbehaviour."""
    plan = probe_plan(pack0)
    argv = ["{python}", "-c", PROBE.read_text(encoding="utf-8"), pack0.package, json.dumps(plan)]
    env = {"PYTHONDONTWRITEBYTECODE": "1", "PATH": os.environ.get("PATH", "/usr/bin:/bin")}
    code, timed_out, output = run_sandboxed(argv, build_dir, sandbox, PROBE_TIMEOUT_S, env)
    if code != 0 or timed_out:
        raise RuntimeError(f"the service could not be probed: {output.strip()[-400:]}")
    answered = {result["op"]: result["status"] for result in json.loads(output.strip().splitlines()[-1])}
    return [
        f"{step['op']}: {step['method'].upper()} {step['path']} answered {answered[step['op']]}"
        for step in plan
        if answered[step["op"]] != SUCCESS_STATUS[step["method"]]
    ]


def covered_operations(junit_xml: Path) -> set[str]:
    """operationIds with a passing test_operation_matches_contract[<id>] under tests/contract/."""
    covered = set()
    for case in ElementTree.parse(junit_xml).getroot().iter("testcase"):
        name = case.get("name", "")
        in_contract = case.get("classname", "").startswith("tests.contract.")
        passed = not any(child.tag in ("failure", "error", "skipped") for child in case)
        if in_contract and passed and name.startswith("test_operation_matches_contract["):
            covered.add(name[len("test_operation_matches_contract[") : -1])
    return covered


def contracts_gate(
    build_dir: Path,
    pack0_dir: Path,
    pack0: Pack0,
    junit_xml: Path,
    sandbox: str = "none",
    cache_dir: Path | None = None,
    owned: dict[str, set[str]] | None = None,
) -> GateResult:
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

    from factory.gates.openapi_validity import OpenAPI31Validator

    tool = ("schemathesis, openapi-spec-validator", f"{version('schemathesis')}, {version('openapi-spec-validator')}")
    contract = json.loads((pack0_dir / "contracts" / "openapi.json").read_text(encoding="utf-8"))
    try:
        validate(contract, cls=OpenAPI31Validator)
    except OpenAPIValidationError as error:
        return GateResult("contracts", "failed", f"contracts/openapi.json is not valid OpenAPI: {error.message}", *tool)
    served = build_dir / "src" / pack0.package / "openapi.json"
    if not served.is_file() or json.loads(served.read_text(encoding="utf-8")) != contract:
        return GateResult(
            "contracts", "failed", f"{served.relative_to(build_dir)} differs from Pack0's contract", *tool
        )
    op_ids = ["health", *(op_id for entity in pack0.entities for _m, _p, op_id in operations(entity))]
    problems = probe_operations(build_dir, pack0, sandbox)
    covered = covered_operations(junit_xml) if junit_xml.is_file() else set()
    problems += [f"{op_id}: no passing contract test" for op_id in op_ids if op_id not in covered]
    if problems:
        return GateResult("contracts", "failed", f"{len(problems)} operation problem(s)", *tool, details=problems)
    fuzzed = fuzz_service_once(build_dir, pack0, sandbox, cache_dir, owned=owned)
    if not fuzzed.passed:
        return GateResult("contracts", "failed", fuzzed.summary(), *tool, details=fuzzed.detail_lines())
    return GateResult(
        "contracts", "passed", f"{len(op_ids)} operations implemented and covered; {fuzzed.summary()}", *tool
    )
