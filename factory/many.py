"""Several modules in one command: each is an ordinary lai-pack run in its own process and its own folder
(OUT/<module>/), at most N at a time, then one summary (printed, and OUT/summary.json).

`lai-pack auto-full --module a --module b -j N` and `doit -n N auto_full module=a,b` run the same doit tasks
(rules/many.py): `build:<module>` runs build_module, `auto_full` runs summarise over their results."""

from __future__ import annotations

import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from factory import progress
from factory.config import BuildConfig
from factory.fsutil import write_json_atomic
from factory.runner.process import die_with_parent


@dataclass(frozen=True)
class ManyBuild:
    out: Path
    configs: tuple[BuildConfig, ...]
    # What the console shows: a line per module and the table (normal), the summary line (quiet), nothing (json).
    output: str = "normal"
    started: float = field(default_factory=time.time)

    @property
    def summary_path(self) -> Path:
        return self.out / "summary.json"

    @property
    def dep_file(self) -> Path:
        # Not the name a one-module build in OUT uses: OUT may hold one of those too.
        return self.out / ".lai-pack-many.doit.db"


def module_argv(config: BuildConfig) -> list[str]:
    """lai-pack's arguments for exactly this build: every setting spelled out, so neither the child's
    settings files nor its environment can make it build something else."""
    argv = ["auto-build", "--pack0", str(config.pack0_source)] if config.pack0_source else ["auto-full"]
    argv += ["--module", config.module, "--out", str(config.out), "--quiet"]
    argv += ["--provider", config.provider, "--model", config.model, "--cache-dir", str(config.cache_dir)]
    argv += ["--sandbox", config.sandbox, "--deploy-target", config.deploy_target]
    optional = {
        "--brief": config.brief,
        "--max-heal": config.max_heal,
        "--model-price": config.model_price,
        "--base-image": config.base_image,
        "--sign-key": config.sign_key,
        "--test-timeout": config.test_timeout,
    }
    argv += [token for flag, value in optional.items() if value not in (None, "") for token in (flag, str(value))]
    argv += [token for waiver in config.waivers for token in ("--waive", waiver)]
    return [*argv, "--auto-deploy"] if config.auto_deploy else argv


def build_module(config: BuildConfig, output: str) -> dict:
    """One module's lai-pack run in a child process. Its outcome is data for the summary, so a module that is
    not approved does not stop the others; the child dies with this process."""
    started = time.monotonic()
    done = subprocess.run(
        [sys.executable, "-m", "factory.cli", *module_argv(config)],
        capture_output=True,
        text=True,
        check=False,
        preexec_fn=die_with_parent,
    )
    # --quiet leaves one line on stdout (APPROVED / NOT APPROVED); a run that stopped earlier says why on stderr.
    lines = done.stdout.strip().splitlines() or done.stderr.strip().splitlines() or ["(no output)"]
    result = {
        "module": config.module,
        "out": str(config.out),
        "exit_code": done.returncode,
        "approved": done.returncode == 0,
        "seconds": round(time.monotonic() - started, 1),
        "result": lines[-1],
    }
    if output == "normal":
        progress.emit(f"[{config.module}] exit {done.returncode} in {result['seconds']:.1f}s: {lines[-1]}")
    return result


def summary_of(many: ManyBuild, results: dict[str, dict]) -> dict:
    """The summary as data: the modules in the order given, and the exit code of the whole command (0 when
    every module is approved, else the highest a module ended with and at least 1: a child killed by a
    signal has a negative code)."""
    modules = [results[config.module] for config in many.configs]
    approved = sum(module["approved"] for module in modules)
    return {
        "approved": approved,
        "total": len(modules),
        "seconds": round(time.time() - many.started, 1),
        "exit_code": 0 if approved == len(modules) else max(1, *(module["exit_code"] for module in modules)),
        "modules": modules,
    }


def summary_lines(summary: dict, out: Path) -> list[str]:
    lines = [
        f"summary: {summary['approved']} of {summary['total']} approved in {summary['seconds']:.1f}s; "
        f"outputs in {out}/<module>/"
    ]
    for module in summary["modules"]:
        outcome = "APPROVED" if module["approved"] else f"exit {module['exit_code']}"
        lines.append(f"  {module['module']:<24} {outcome:<10} {module['seconds']:6.1f}s  {module['result'][:100]}")
    return lines


def summarise(many: ManyBuild, results: dict[str, dict]) -> bool:
    """Writes OUT/summary.json and prints the summary; fails (doit exits 1) unless every module is approved."""
    summary = summary_of(many, results)
    write_json_atomic(many.summary_path, summary)
    shown = summary_lines(summary, many.out)
    for line in {"normal": shown, "quiet": shown[:1]}.get(many.output, []):
        progress.emit(line)
    return summary["exit_code"] == 0
