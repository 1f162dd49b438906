"""LLM mode against the local Messages API server (tests/fake_llm.py) with a 5-entity Pack0:
requests, tokens, cache-read share of input (target >= 50%), output tokens per generated line (files the
factory writes itself excluded), budget headroom and wall time for a full build, a no-op re-run and a
one-entity edit. The server counts cache reads as the API does (minimum cacheable length per model).

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
    started, wall_start = time.perf_counter(), time.time()
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
    total = summarize(read_ledger(ledger))
    sent = usage["input_tokens"] + usage["cache_write_tokens"] + usage["cache_read_tokens"]
    share = f"{usage['cache_read_tokens'] / sent:.0%}" if sent else "-"
    lines = generated_lines(out / "build", since=wall_start)
    per_line = f"{usage['output_tokens'] / lines:.1f}" if lines and usage["output_tokens"] else "-"
    budgets = json.loads((pack0 / "budgets.json").read_text())
    used = total["input_tokens"] + total["output_tokens"] + total["cache_write_tokens"]
    headroom = f"{1 - used / budgets['token_budget']:.0%} tok, ${budgets['cost_budget_usd'] - total['cost_usd']:.2f}"
    print(
        f"{label:<16} {len(server.requests):>4} {usage['input_tokens']:>7} {usage['output_tokens']:>7} "
        f"{usage['cache_read_tokens']:>7} {usage['cache_write_tokens']:>7} {share:>6} {per_line:>6} "
        f"{headroom:>18} {elapsed:>6.2f}s  exit {done.returncode}"
    )


FACTORY_WRITTEN = ("openapi.json", "contract_openapi.json")


def generated_lines(build: Path, since: float) -> int:
    """Lines of the files written in this phase under src/ and tests/ (the OpenAPI copies the factory
    writes itself excluded)."""
    files = [p for root in ("src", "tests") for p in (build / root).rglob("*") if p.is_file()]
    files = [p for p in files if p.stat().st_mtime >= since]
    return sum(
        len(p.read_text(errors="ignore").splitlines())
        for p in files
        if p.name not in FACTORY_WRITTEN and "__pycache__" not in p.parts
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
        print(
            f"{'phase':<16} {'req':>4} {'input':>7} {'output':>7} {'c.read':>7} {'c.write':>7} {'read%':>6} "
            f"{'out/ln':>6} {'budget headroom':>18} {'wall':>7}"
        )
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
