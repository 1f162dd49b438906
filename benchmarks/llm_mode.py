"""LLM mode against the local Messages API server (tests/fake_llm.py) with a 5-entity Pack0:
requests, tokens and wall time for a full build, a no-op re-run and a one-entity edit.

Run: python benchmarks/llm_mode.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from fake_llm import EngineBackedModel, FakeModelServer  # noqa: E402

from factory.llm.gateway import read_ledger, summarize  # noqa: E402

KEY = "sk-ant-bench-0000000000000000"
EXTRA_ENTITIES = {
    "deal": {"name": {"type": "string", "maxLength": 80}, "value": {"type": "number", "minimum": 0}},
    "ticket": {"subject": {"type": "string", "maxLength": 200}, "open": {"type": "boolean"}},
    "note": {"body": {"type": "string", "maxLength": 4000}, "pinned": {"type": "boolean"}},
}


def five_entity_pack0(folder: Path) -> Path:
    subprocess.run(
        [sys.executable, "-m", "factory.cli", "pack0", "--module", "crm-contacts", "--out", str(folder)],
        check=True,
        capture_output=True,
    )
    root = folder / "pack0-crm-contacts-0.0.1"
    for name, properties in EXTRA_ENTITIES.items():
        contract = {
            "$schema": "https://json-schema.org/draft/2020-12/schema",
            "title": name.capitalize(),
            "type": "object",
            "additionalProperties": False,
            "required": [next(iter(properties))],
            "properties": properties,
        }
        (root / f"contracts/{name}.schema.json").write_text(json.dumps(contract))
    return root


def phase(label: str, pack0: Path, out: Path, env: dict, server: FakeModelServer) -> None:
    ledger = out / "build/.factory_logs/usage.jsonl"
    before = len(read_ledger(ledger))
    server.reset()
    started = time.perf_counter()
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "factory.cli",
            "auto-build",
            "--module",
            "crm-contacts",
            "--pack0",
            str(pack0),
            "--out",
            str(out),
            "--waive",
            "docker-build",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    elapsed = time.perf_counter() - started
    usage = summarize(read_ledger(ledger)[before:])
    print(
        f"{label:<18} {len(server.requests):>8} {usage['input_tokens']:>8} {usage['output_tokens']:>8} "
        f"{usage['cache_read_tokens']:>8} {usage['cache_write_tokens']:>8} {elapsed:>7.2f}s  exit {done.returncode}"
    )


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="lai-bench-llm-") as temp:
        folder = Path(temp)
        pack0 = five_entity_pack0(folder)
        server = FakeModelServer(EngineBackedModel(pack0), api_key=KEY).start()
        env = {
            **os.environ,
            "ANTHROPIC_API_KEY": KEY,
            "ANTHROPIC_BASE_URL": server.url,
            "LAI_CACHE_DIR": str(folder / "cache"),
        }
        out = folder / "out"
        print(f"{'phase':<18} {'requests':>8} {'input':>8} {'output':>8} {'c.read':>8} {'c.write':>8} {'wall':>8}")
        phase("full build", pack0, out, env, server)
        phase("no-op re-run", pack0, out, env, server)
        contract_path = pack0 / "contracts/ticket.schema.json"
        contract = json.loads(contract_path.read_text())
        contract["properties"]["priority"] = {"type": "integer", "minimum": 1, "maximum": 5}
        contract_path.write_text(json.dumps(contract))
        phase("one-entity edit", pack0, out, env, server)
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
