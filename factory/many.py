"""Several modules in one command: each is an ordinary lai-pack run, in its own process and its own folder
(OUT/<module>/), at most N at a time; one summary at the end."""

from __future__ import annotations

import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

# Flags that name the module or the output, or shape this process's output: each child gets its own.
_PER_RUN = {"--module": 1, "--out": 1, "-j": 1, "--jobs": 1, "--json": 0, "--quiet": 0}


def child_argv(argv: list[str], module: str, out: Path) -> list[str]:
    """The user's command for one module: the same flags, its own --module and --out, quiet."""
    kept, skip = [], 0
    for token in argv:
        if skip:
            skip -= 1
            continue
        name = token.split("=", 1)[0]
        if name in _PER_RUN:
            skip = _PER_RUN[name] if "=" not in token else 0
            continue
        kept.append(token)
    return [*kept, "--module", module, "--out", str(out / module), "--quiet"]


def run_many(argv: list[str], modules: list[str], out: Path, jobs: int) -> int:
    """Runs every module; prints one line each as it ends and a summary; 0 only when all are approved."""

    def run(module: str) -> tuple[str, int, float, str]:
        started = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "factory.cli", *child_argv(argv, module, out)],
            capture_output=True,
            text=True,
            check=False,
        )
        last = (done.stdout.strip().splitlines() or done.stderr.strip().splitlines() or ["(no output)"])[-1]
        print(f"[{module}] exit {done.returncode} in {time.monotonic() - started:.1f}s: {last}", flush=True)
        return module, done.returncode, time.monotonic() - started, last

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(run, modules))
    approved = [module for module, code, _, _ in results if code == 0]
    print(
        f"summary: {len(approved)} of {len(modules)} approved in {time.monotonic() - started:.1f}s "
        f"(-j {jobs}); outputs in {out}/<module>/"
    )
    for module, code, seconds, last in results:
        print(f"  {module:<24} {'APPROVED' if code == 0 else f'exit {code}':<10} {seconds:6.1f}s  {last[:100]}")
    return 0 if len(approved) == len(modules) else max(code for _, code, _, _ in results)
