"""Contracts gate: the OpenAPI document is valid, the running service implements every operation, and
every operation is covered by a passing contract test."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
import sys
import tempfile
import time
import xml.etree.ElementTree as ElementTree
from importlib.metadata import version
from pathlib import Path

from factory.engine.samples import valid_record
from factory.gates.result import GateResult
from factory.pack0.models import Pack0
from factory.pack0.openapi import TENANT_HEADER, operations
from factory.runner.process import die_with_parent

SUCCESS_STATUS = {"get": 200, "post": 201, "patch": 200, "delete": 204}
START_TIMEOUT_S = 15


def _request(port: int, method: str, path: str, body: dict | None = None) -> tuple[int, dict | None]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": "application/json", TENANT_HEADER: "contracts-gate"}
    try:
        connection.request(method.upper(), path, body=json.dumps(body) if body is not None else None, headers=headers)
        response = connection.getresponse()
        raw = response.read()
        return response.status, (json.loads(raw) if raw else None)
    finally:
        connection.close()


def _start_service(build_dir: Path, pack0: Pack0, workdir: Path) -> tuple[subprocess.Popen, int]:
    port_file = workdir / "port"
    env = {**os.environ, "PYTHONPATH": str(build_dir.resolve() / "src"), "DATABASE_PATH": str(workdir / "gate.sqlite3")}
    env.pop("ANTHROPIC_API_KEY", None)
    argv = [sys.executable, "-m", pack0.package, "--host", "127.0.0.1", "--port", "0", "--port-file", str(port_file)]
    process = subprocess.Popen(
        argv, cwd=workdir, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, preexec_fn=die_with_parent
    )
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the service exited at start: {process.stderr.read().decode()[-500:].strip()}")
        if port_file.is_file() and port_file.read_text().strip():
            return process, int(port_file.read_text())
        time.sleep(0.05)
    process.kill()
    raise RuntimeError(f"the service did not start within {START_TIMEOUT_S}s")


def probe_operations(build_dir: Path, pack0: Pack0) -> list[str]:
    """Call every operation on the real service; returns one line per operation that misbehaved."""
    problems = []
    with tempfile.TemporaryDirectory(prefix="lai-contracts-") as temp:
        process, port = _start_service(build_dir, pack0, Path(temp))
        try:
            status, body = _request(port, "get", "/health")
            if status != 200:
                problems.append(f"health: GET /health answered {status}")
            for entity in pack0.entities:
                record, record_id = valid_record(entity), None
                first_field = next(iter(record))
                for method, path, op_id in operations(entity):
                    if method == "post":
                        status, body = _request(port, method, path, record)
                        record_id = (body or {}).get("id")
                    else:
                        payload = {first_field: record[first_field]} if method == "patch" else None
                        status, body = _request(port, method, path.replace("{id}", str(record_id)), payload)
                    if status != SUCCESS_STATUS[method]:
                        problems.append(f"{op_id}: {method.upper()} {path} answered {status}")
        finally:
            process.terminate()
            process.wait(timeout=10)
    return problems


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


def contracts_gate(build_dir: Path, pack0_dir: Path, pack0: Pack0, junit_xml: Path) -> GateResult:
    from openapi_spec_validator import validate
    from openapi_spec_validator.validation.exceptions import OpenAPIValidationError

    tool = ("openapi-spec-validator", version("openapi-spec-validator"))
    contract = json.loads((pack0_dir / "contracts" / "openapi.json").read_text(encoding="utf-8"))
    try:
        validate(contract)
    except OpenAPIValidationError as error:
        return GateResult("contracts", "failed", f"contracts/openapi.json is not valid OpenAPI: {error.message}", *tool)
    served = build_dir / "src" / pack0.package / "openapi.json"
    if not served.is_file() or json.loads(served.read_text(encoding="utf-8")) != contract:
        return GateResult(
            "contracts", "failed", f"{served.relative_to(build_dir)} differs from Pack0's contract", *tool
        )
    op_ids = ["health", *(op_id for entity in pack0.entities for _m, _p, op_id in operations(entity))]
    problems = probe_operations(build_dir, pack0)
    covered = covered_operations(junit_xml) if junit_xml.is_file() else set()
    problems += [f"{op_id}: no passing contract test" for op_id in op_ids if op_id not in covered]
    if problems:
        return GateResult("contracts", "failed", f"{len(problems)} operation problem(s)", *tool, details=problems)
    return GateResult("contracts", "passed", f"{len(op_ids)} operations implemented and covered", *tool)
