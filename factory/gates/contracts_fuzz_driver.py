"""Run inside the sandbox by the contracts gate: start the generated service (python -m PACKAGE) on
127.0.0.1, fuzz it with schemathesis against its own OpenAPI document, print the findings as one JSON line.

Usage: python -c "<this file>" PACKAGE SETTINGS_JSON
  settings: {"seed", "max_examples", "max_seconds", "workers", "tenant", "operations" (operationIds or null: all)}
Only the standard library and schemathesis: it runs with the interpreter and site-packages of the sandbox.
"""

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

MAX_FINDINGS = 50
SERVICE_LOG_CHARS = 12_000


def start_service(package, temp):
    port_file = Path(temp) / "port"
    log = open(Path(temp) / "service.log", "w+b")  # noqa: SIM115 - read back after the run
    env = {**os.environ, "PYTHONPATH": os.path.abspath("src"), "DATABASE_PATH": f"{temp}/fuzz.sqlite3"}
    argv = [sys.executable, "-m", package, "--host", "127.0.0.1", "--port", "0", "--port-file", str(port_file)]
    process = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        if port_file.is_file() and port_file.read_text().strip():
            base = f"http://127.0.0.1:{port_file.read_text().strip()}"
            try:
                urllib.request.urlopen(f"{base}/health", timeout=5).read()
                return process, log, base
            except OSError:
                pass
        time.sleep(0.05)
    process.kill()
    log.seek(0)
    raise SystemExit(f"the service did not start: {log.read().decode('utf-8', 'replace')[-2000:]}")


def config(settings, base):
    from schemathesis.config import SchemathesisConfig

    return SchemathesisConfig.from_dict(
        {
            "seed": settings["seed"],
            "workers": settings["workers"],
            "base-url": base,
            "headers": {"X-Tenant-ID": settings["tenant"]},
            "request-timeout": 10,
            # Reproducible: the same seed and cases every run, and nothing remembered between runs.
            "cache": {"enabled": False},
            "generation": {"deterministic": True, "max-examples": settings["max_examples"], "database": "none"},
            "phases": {name: {"enabled": True} for name in ("examples", "coverage", "fuzzing", "stateful")},
            "checks": {"enabled": True},
        }
    )


def findings_of(recorder):
    for checks in recorder.checks.values():
        for check in checks:
            if check.failure_info is None:
                continue
            failure = check.failure_info.failure
            yield {
                "operation": failure.operation or recorder.label,
                "check": check.name,
                "code": failure.code,
                "title": failure.title,
                "message": (failure.message or "").strip()[:500],
                "curl": check.failure_info.code_sample,
            }


def known_codec_intervals():
    """hypothesis finds which characters a codec encodes by trying all 1.1M of them, and keeps the answer in a
    file under its storage folder: here that is this run's temporary folder, so every run paid for it again
    (1.4 s of CPU, a fifth of fuzzing crm-contacts). For UTF-8 the answer is known: every code point but the
    surrogates, each of which decodes back to itself (tests/test_fuzz_gate.py compares it with hypothesis' own).
    Other codecs keep hypothesis' computation."""
    import functools

    from hypothesis.internal import charmap
    from hypothesis.internal.intervalsets import IntervalSet

    computed = charmap.intervals_from_codec
    known = {"utf-8": (IntervalSet([(0, 0xD7FF), (0xE000, sys.maxunicode)]), IntervalSet([]))}

    @functools.cache
    def intervals_from_codec(codec_name):
        return known[codec_name] if codec_name in known else computed(codec_name)

    charmap.intervals_from_codec = intervals_from_codec


def fuzz(contract, settings, base):
    import schemathesis
    from schemathesis.engine import events, from_schema

    known_codec_intervals()
    schema = schemathesis.openapi.from_path(contract, config=config(settings, base))
    if settings.get("operations") is not None:  # only these operations (the others' results are known)
        schema = schema.include(operation_id=settings["operations"])
    schema.config.base_url = base
    stream = from_schema(schema).execute()
    timer = threading.Timer(settings["max_seconds"], stream.stop)
    timer.start()
    findings, errors, seen, operations, stop = [], [], set(), set(), "completed"
    try:
        for event in stream:
            if isinstance(event, (events.ScenarioFinished, events.FuzzScenarioFinished)):
                operations.update(case.value.operation.label for case in event.recorder.cases.values())
                for finding in findings_of(event.recorder):
                    key = (finding["operation"], finding["code"], finding["check"])
                    if key not in seen and len(findings) < MAX_FINDINGS:
                        seen.add(key)
                        findings.append(finding)
            elif isinstance(event, events.NonFatalError):
                errors.append(f"{event.label}: {event.info.title}: {event.info.message}"[:500])
            elif isinstance(event, events.FatalError):
                errors.append(f"fatal: {type(event.exception).__name__}: {event.exception}"[:500])
            elif isinstance(event, events.EngineFinished):
                stop = str(event.stop_reason)
    finally:
        timer.cancel()
    return {"findings": findings, "errors": errors, "operations": sorted(operations), "stop": stop}


def main():
    package, settings = sys.argv[1], json.loads(sys.argv[2])
    started = time.monotonic()
    build, contract = os.getcwd(), os.path.abspath(f"src/{package}/openapi.json")
    with tempfile.TemporaryDirectory() as temp:
        process, log, base = start_service(package, temp)
        os.chdir(temp)  # whatever the fuzzer writes stays out of the build folder
        try:
            result = fuzz(contract, settings, base)
            if process.poll() is not None:
                result["errors"].append(f"the service exited (code {process.returncode}) while it was fuzzed")
            elif result["stop"] == "server_unavailable":
                result["errors"].append("the service stopped answering while it was fuzzed")
        finally:
            os.chdir(build)
            process.terminate()
            process.wait(10)
        log.seek(0)
        result["service_log"] = log.read().decode("utf-8", "replace")[-SERVICE_LOG_CHARS:]
        log.close()
    result["seconds"] = round(time.monotonic() - started, 1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
