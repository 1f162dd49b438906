"""Contracts gate: the OpenAPI document is valid, the running service implements every operation, every
operation is covered by a passing contract test, and schemathesis fuzzing the running service finds nothing."""

from __future__ import annotations

import json
import os
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

from factory.deploy.schema import migration_order
from factory.engine.samples import valid_record
from factory.fsutil import sha256_bytes
from factory.gates.contracts_fuzz import fuzz_service_once, service_files
from factory.gates.result import GateResult
from factory.pack0.models import Pack0
from factory.pack0.openapi import API_PREFIX, operations
from factory.results_cache import SharedResults, interpreter
from factory.runner.sandbox import run_sandboxed

SUCCESS_STATUS = {"get": 200, "post": 201, "patch": 200, "delete": 204}
PROBE_TIMEOUT_S = 60


PROBE = Path(__file__).with_name("contracts_probe.py")
CHECKS_KIND = "contracts-checks"  # a clean document check and probe, in the shared results


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


def _checks_key(build_dir: Path, contract_text: str, pack0: Pack0, sandbox: str, tool_versions: str) -> str:
    """What the document check and the probe depend on: the contract, the service's files, the package started
    and the Python starting it, the plan, the probe and this gate's own code, the tools and the sandbox."""
    from factory.llm.cache import content_key

    contract = sha256_bytes(contract_text.encode())
    parts = {"contract": contract, "src": service_files(build_dir), "plan": probe_plan(pack0)}
    code = sha256_bytes(PROBE.read_bytes() + b"\0" + Path(__file__).read_bytes())
    run = {"package": pack0.package, "python": interpreter(), "sandbox": sandbox}
    return content_key({**parts, **run, "probe": code, "tools": tool_versions})


def contracts_gate(
    build_dir: Path,
    pack0_dir: Path,
    pack0: Pack0,
    junit_xml: Path,
    sandbox: str = "none",
    cache_dir: Path | None = None,
    owned: dict[str, set[str]] | None = None,
    say: Callable[[str], None] | None = None,
) -> GateResult:
    tool = ("schemathesis, openapi-spec-validator", f"{version('schemathesis')}, {version('openapi-spec-validator')}")
    contract_text = (pack0_dir / "contracts" / "openapi.json").read_text(encoding="utf-8")
    contract = json.loads(contract_text)
    # A clean document check and probe of exactly these files, by any output of this machine, stands.
    shared = SharedResults(cache_dir) if cache_dir is not None else None
    key = _checks_key(build_dir, contract_text, pack0, sandbox, tool[1]) if shared is not None else ""
    checked_before = shared is not None and shared.recall(CHECKS_KIND, [key]).get(key) == {"problems": []}
    if not checked_before:
        from openapi_spec_validator import validate
        from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

        from factory.gates.openapi_validity import OpenAPI31Validator

        try:
            validate(contract, cls=OpenAPI31Validator)
        except OpenAPIValidationError as error:
            reason = f"contracts/openapi.json is not valid OpenAPI: {error.message}"
            return GateResult("contracts", "failed", reason, *tool)
    served = build_dir / "src" / pack0.package / "openapi.json"
    if not served.is_file() or json.loads(served.read_text(encoding="utf-8")) != contract:
        return GateResult(
            "contracts", "failed", f"{served.relative_to(build_dir)} differs from Pack0's contract", *tool
        )
    op_ids = ["health", *(op_id for entity in pack0.entities for _m, _p, op_id in operations(entity))]
    problems = [] if checked_before else probe_operations(build_dir, pack0, sandbox)
    if shared is not None and not checked_before and not problems:
        shared.remember(CHECKS_KIND, {key: {"problems": []}})
    covered = covered_operations(junit_xml) if junit_xml.is_file() else set()
    problems += [f"{op_id}: no passing contract test" for op_id in op_ids if op_id not in covered]
    if problems:
        return GateResult("contracts", "failed", f"{len(problems)} operation problem(s)", *tool, details=problems)
    fuzzed = fuzz_service_once(build_dir, pack0, sandbox, cache_dir, owned=owned, say=say)
    if not fuzzed.passed:
        return GateResult("contracts", "failed", fuzzed.summary(), *tool, details=fuzzed.detail_lines())
    # Said in the log, not the gate's result (evidence): a re-run after a crash found the checks of the run it
    # resumes, and must leave what a clean run leaves.
    if checked_before and say is not None:
        say(f"OpenAPI check and probe of this code reused (key {key[:12]})")
    reason = f"{len(op_ids)} operations implemented and covered; {fuzzed.summary()}"
    return GateResult("contracts", "passed", reason, *tool)
