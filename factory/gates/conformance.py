"""The conformance gate: the factory's own checks of the running service, derived from the Pack0 alone.

The model writes the service and its tests; this gate trusts neither. conformance_plan.py derives what to
check from the contracts (tenants, persistence across a restart, the database's constraints, validation on
create and update, uniqueness, references and their delete rules, lists, statuses and shapes);
conformance_driver.py runs it inside the sandbox against the service started the way the fuzzer starts it;
this module judges the answers' statuses and shapes against the Pack0's OpenAPI document, remembers a run by
the hash of everything it depends on, and turns findings into the gate's result and the Healer's failure text.
"""

from __future__ import annotations

import base64
import json
import os
import zlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING

from factory.fsutil import sha256_bytes
from factory.gates.contracts_fuzz import one_line, service_files
from factory.gates.result import GateResult

if TYPE_CHECKING:
    from factory.pack0.models import Pack0

DRIVER = Path(__file__).with_name("conformance_driver.py")
PLAN = Path(__file__).with_name("conformance_plan.py")
CACHE_FOLDER, RUN_KIND = "conformance", "conformance"
# Starting the service twice, then a few requests per record: generous, so a slow machine is not a finding.
BASE_SECONDS, SECONDS_PER_ENTITY = 90, 15


@dataclass
class ConformanceRun:
    checks: int = 0
    findings: list[dict] = field(default_factory=list)
    error: str = ""
    seconds: float = 0.0
    service_log: str = ""
    reused_key: str = ""

    @property
    def passed(self) -> bool:
        return not self.findings and not self.error

    def summary(self) -> str:
        reused = f" (this code's run, reused: key {self.reused_key[:12]})" if self.reused_key else ""
        if self.error:
            return f"the conformance checks could not run: {one_line(self.error, 300)}"
        if self.passed:
            return f"{self.checks} conformance checks passed{reused}"
        return f"{len(self.findings)} of {self.checks} conformance checks failed{reused}"

    def detail_lines(self) -> list[str]:
        """One line per finding: operation, check, what was sent, what came back, the curl that reproduces it."""
        lines = [
            f"{item['operation']}: {item['check']}: sent {one_line(item['sent'], 160)}; got "
            f"{one_line(item['got'], 200)}; expected {one_line(item['expected'], 120)}"
            + (f" | reproduce: {one_line(item['curl'], 500)}" if item.get("curl") else "")
            for item in self.findings
        ]
        return lines + ([f"conformance error: {one_line(self.error, 300)}"] if self.error else [])

    def failure_text(self) -> str:
        """What the Healer reads: each finding in full, and the service's log (its tracebacks)."""
        blocks = [
            f"CONFORMANCE FAILURE {item['operation']}: {item['check']}\nsent: {item['sent']}\ngot: {item['got']}\n"
            f"expected: {item['expected']}\n"
            + (f"reproduce ($BASE is the service's URL):\n{item['curl']}\n" if item.get("curl") else "")
            for item in self.findings
        ]
        blocks += [f"CONFORMANCE ERROR: {self.error}\n"] if self.error else []
        return "\n".join(blocks) + f"\nService log:\n{self.service_log}\n"

    def as_dict(self) -> dict:
        return {**asdict(self), "passed": self.passed}


def status_and_shape_findings(contract: dict, exchanges: list[dict]) -> list[dict]:
    """Every answer's status is one its operation declares, and its JSON body fits that response's schema."""
    from jsonschema import Draft202012Validator

    findings, components = [], contract.get("components", {})
    for exchange in exchanges:
        method, _, path = exchange["operation"].partition(" ")
        operation = contract.get("paths", {}).get(path, {}).get(method.lower())
        if not isinstance(operation, dict):
            continue  # not an operation of the document (a table, the service itself)
        responses = operation.get("responses", {})
        status = str(exchange["status"])
        response = responses.get(status) or responses.get("default")
        finding = {"operation": exchange["operation"], "sent": "", "curl": exchange.get("curl", "")}
        if response is None:
            wanted = f"one of the declared statuses {', '.join(responses)}"
            findings.append(
                {
                    **finding,
                    "check": "statuses: the answer's status is declared",
                    "got": f"{status} {one_line(json.dumps(exchange['body']), 200)}",
                    "expected": wanted,
                }
            )
            continue
        schema = response.get("content", {}).get("application/json", {}).get("schema")
        if schema is None:
            continue
        error = next(
            iter(Draft202012Validator({**schema, "components": components}).iter_errors(exchange["body"])), None
        )
        if error is not None:
            path_text = "/".join(str(part) for part in error.absolute_path) or "the body"
            findings.append(
                {
                    **finding,
                    "check": "shapes: the answer's body fits its declared schema",
                    "got": f"{status}: at {path_text}: {one_line(error.message, 200)}",
                    "expected": f"the {status} response schema of the contract",
                }
            )
    return findings


def unreached_findings(contract: dict, exchanges: list[dict]) -> list[dict]:
    """Every operation of the API reached with a valid request (a 2xx) at least once: one never reached was
    only ever checked against refusals, which is no check of what it does."""
    reached = {exchange["operation"] for exchange in exchanges if 200 <= int(exchange["status"]) < 300}
    findings = []
    for path, methods in contract.get("paths", {}).items():
        for method, operation in methods.items():
            label = f"{method.upper()} {path}"
            if not path.startswith("/api/") or not isinstance(operation, dict) or label in reached:
                continue
            findings.append(
                {
                    "operation": label,
                    "check": "every operation reached with a valid request",
                    "sent": "",
                    "got": "no 2xx answer in the whole run",
                    "expected": "at least one request it accepts",
                    "curl": "",
                }
            )
    return findings


def longest_conformance_seconds(pack0: Pack0) -> int:
    return BASE_SECONDS + SECONDS_PER_ENTITY * len(pack0.entities)


def run_conformance(build_dir: Path, pack0_dir: Path, pack0: Pack0, sandbox: str) -> ConformanceRun:
    """Start the service in the sandbox and hold it to the plan; the statuses and shapes judged here."""
    from factory.gates.conformance_plan import conformance_plan
    from factory.runner.sandbox import run_sandboxed

    plan = base64.b64encode(zlib.compress(json.dumps(conformance_plan(pack0)).encode())).decode()
    argv = ["{python}", "-c", DRIVER.read_text(encoding="utf-8"), pack0.package, plan]
    env = {"PYTHONDONTWRITEBYTECODE": "1", "PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": "/tmp"}
    timeout = longest_conformance_seconds(pack0)
    code, timed_out, output = run_sandboxed(argv, build_dir, sandbox, timeout, env)
    if timed_out:
        return ConformanceRun(error=f"the conformance checks did not finish within {timeout} s")
    try:
        result = json.loads(output.strip().splitlines()[-1])
    except (IndexError, ValueError):
        result = None
    if code != 0 or not isinstance(result, dict):
        return ConformanceRun(error=f"the conformance driver failed (exit {code}): {output.strip()[-1500:]}")
    contract = json.loads(_contract_text(pack0_dir, pack0))
    shapes = status_and_shape_findings(contract, result["exchanges"])
    if not any(finding["check"] == "start-up" for finding in result["findings"]):  # else it is the one finding
        shapes += unreached_findings(contract, result["exchanges"])
    return ConformanceRun(
        checks=result["checks"] + len(result["exchanges"]),
        findings=result["findings"] + shapes,
        seconds=result["seconds"],
        service_log=result["service_log"],
    )


def _contract_text(pack0_dir: Path, pack0: Pack0) -> str:
    """The Pack0's OpenAPI document (the contracts gate holds the service's copy equal to it); a Pack0 without
    one yet gets the document the factory derives from its contracts."""
    path = pack0_dir / "contracts" / "openapi.json"
    if path.is_file():
        return path.read_text(encoding="utf-8")
    from factory.engine.codegen import contract_text

    return contract_text(pack0)


def conformance_key(build_dir: Path, pack0_dir: Path, pack0: Pack0, sandbox: str) -> str:
    """What a run depends on: the service's files, the plan (from the Pack0), the contract it is judged by,
    the driver and this module, the Python that runs the service and the sandbox."""
    from factory.gates.conformance_plan import conformance_plan
    from factory.llm.cache import content_key
    from factory.results_cache import interpreter

    code = sha256_bytes(DRIVER.read_bytes() + b"\0" + PLAN.read_bytes() + b"\0" + Path(__file__).read_bytes())
    contract = sha256_bytes(_contract_text(pack0_dir, pack0).encode())
    return content_key(
        {
            "src": service_files(build_dir),
            "plan": conformance_plan(pack0),
            "contract": contract,
            "code": code,
            "python": interpreter(),
            "sandbox": sandbox,
        }
    )


def conformance_once(
    build_dir: Path,
    pack0_dir: Path,
    pack0: Pack0,
    sandbox: str,
    cache_dir: Path | None,
    say: Callable[[str], None] | None = None,
) -> ConformanceRun:
    """run_conformance, or the remembered run of exactly this code against this Pack0 (findings included:
    the same code fails the same way)."""
    if cache_dir is None:
        return run_conformance(build_dir, pack0_dir, pack0, sandbox)
    from factory.results_cache import SharedResults

    key = conformance_key(build_dir, pack0_dir, pack0, sandbox)
    cache = SharedResults(cache_dir, CACHE_FOLDER)
    wait = longest_conformance_seconds(pack0)
    with cache.one_at_a_time(RUN_KIND, key, wait_seconds=wait, say=say, what="conformance checks"):
        stored = cache.recall(RUN_KIND, [key]).get(key)
        run = _stored_run(stored, key) if isinstance(stored, dict) else None
        if run is None:
            run = run_conformance(build_dir, pack0_dir, pack0, sandbox)
            if not run.error:  # an error (a timeout, a crash) may be the machine's: never remembered
                cache.remember(RUN_KIND, {key: run.as_dict()})
    return run


def _stored_run(data: dict, key: str) -> ConformanceRun | None:
    try:
        fields = {name: value for name, value in data.items() if name not in ("passed", "reused_key")}
        return ConformanceRun(**fields, reused_key=key)
    except TypeError:
        return None


def conformance_gate(
    build_dir: Path,
    pack0_dir: Path,
    pack0: Pack0,
    sandbox: str = "none",
    cache_dir: Path | None = None,
    say: Callable[[str], None] | None = None,
) -> GateResult:
    run = conformance_once(build_dir, pack0_dir, pack0, sandbox, cache_dir, say)
    tool = ("lai-pack conformance (Pack0-derived checks)", version("lai-factory"))
    status = "passed" if run.passed else "failed"
    return GateResult("conformance", status, run.summary(), *tool, details=run.detail_lines(), findings=run.findings)
