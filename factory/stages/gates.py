"""Stage 5, Gates, in order: lint, secret scan, contracts, conformance, docker build. A crashing gate is 'failed'."""

from __future__ import annotations

import time
from collections.abc import Callable

from factory import reproducible
from factory.config import BuildConfig
from factory.fsutil import write_json_atomic
from factory.gates.conformance import conformance_gate
from factory.gates.contracts import contracts_gate
from factory.gates.docker_build import docker_build_gate
from factory.gates.lint import lint_gate
from factory.gates.result import GateResult
from factory.gates.secrets import secret_scan_gate
from factory.pack0.load import load_pack0
from factory.results_cache import SharedResults
from factory.runner.sandbox import resolve_sandbox
from factory.runner.test_slices import owned_files


def _evaluate(config: BuildConfig, name: str, say: Callable[[str], None]) -> GateResult:
    layout = config.layout
    if name == "lint":
        return lint_gate(layout.build_dir)
    if name == "secret-scan":
        shared = SharedResults(config.cache_dir)
        return secret_scan_gate(layout.build_dir, layout.pack0_dir, layout.secret_scan_cache, say, shared)
    if name == "contracts":
        pack0 = load_pack0(layout.pack0_dir)
        sandbox = resolve_sandbox(config.sandbox)
        owned = owned_files(layout.logs_dir, pack0.entities)  # fuzz results per slice (gates/fuzz_slices.py)
        build, junit = layout.build_dir, layout.junit_xml
        return contracts_gate(build, layout.pack0_dir, pack0, junit, sandbox, config.cache_dir, owned, say)
    if name == "conformance":
        pack0 = load_pack0(layout.pack0_dir)
        sandbox = resolve_sandbox(config.sandbox)
        return conformance_gate(layout.build_dir, layout.pack0_dir, pack0, sandbox, config.cache_dir, say)
    if name == "docker-build":
        pack0 = load_pack0(layout.pack0_dir)
        return docker_build_gate(layout.build_dir, f"lai-{config.module}:0.0.1", pack0, config.base_image)
    raise ValueError(f"unknown gate {name!r}")


def run_gate(config: BuildConfig, name: str, say: Callable[[str], None]) -> str:
    started = time.monotonic()
    try:
        result = _evaluate(config, name, say)
    except Exception as error:  # noqa: BLE001 - fail closed: a gate that crashes has not passed
        result = GateResult(name, "failed", f"the gate crashed: {type(error).__name__}: {error}")
    result.duration_s = reproducible.duration(time.monotonic() - started)
    write_json_atomic(config.layout.gate_report(name), result.as_dict())
    say(f"{name}: {result.status.upper()}: {result.reason}")
    for line in result.details[:10]:
        say(f"  {line}")
    return f"{name} {result.status}"


def gate_work(name: str) -> Callable[[BuildConfig, Callable[[str], None]], str]:
    def work(config: BuildConfig, say: Callable[[str], None]) -> str:
        return run_gate(config, name, say)

    return work
