"""`lai-pack status OUT`: a build's state in a few lines a person reads in a terminal (for an output of
several modules, the summary and then each module's lines)."""

from __future__ import annotations

import json
from pathlib import Path

from factory.errors import InputError
from factory.gates.result import GATE_ORDER
from factory.pec.pinning import checked
from factory.settings import effective_settings


def _read(path: Path) -> dict:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("no evidence here: not a finished lai-pack output", file=str(path)) from None


def status_lines(out: Path) -> list[str]:
    if not (out / "build").is_dir() and (out / "summary.json").is_file():
        return _many_status_lines(out, _read(out / "summary.json"))
    return _module_status_lines(out)


def _many_status_lines(out: Path, summary: dict) -> list[str]:
    lines = [f"{summary['approved']} of {summary['total']} modules approved ({out / 'summary.json'})"]
    for module in summary["modules"]:
        last_run = f"exit {module['exit_code']}: {module['result']}"
        if not (out / module["module"] / "build/approval.json").is_file():
            lines += ["", f"{module['module']}: no evidence (last run {last_run})"]
            continue
        lines += ["", *_module_status_lines(out / module["module"])]
        if module["exit_code"] != 0:
            # The evidence on disk is an earlier run's: say how the last one ended.
            lines.append(f"last run: {last_run}")
    return lines


def _module_status_lines(out: Path) -> list[str]:
    build = out / "build"
    report, approval = _read(build / "run_report.json"), _read(build / "approval.json")
    tests, heal, usage = report["tests"], report["heal"], report["usage"]
    counts = tests["counts"]
    kinds = ", ".join(f"{kind} {value['passed']}" for kind, value in sorted(tests["by_kind"].items()))
    failed_gates = [
        f"{name} ({approval['gates'][name]})"
        for name in GATE_ORDER
        if approval["gates"][name] not in ("passed", "waived")
    ]
    waived = [waiver["gate"] for waiver in approval["waivers"]]
    problems, proven = checked(out, None, effective_settings(Path.cwd(), {}).get("public_key"))
    verdicts = ", ".join(f"{name} {approval['gates'][name]}" for name in GATE_ORDER)
    lines = [
        f"{report['module']}: {'APPROVED' if approval['approved'] else 'NOT APPROVED'} "
        f"(provider {report['provider']}, model {report['model']})",
        f"tests:    {counts['passed']} passed, {counts['failed']} failed, {counts['error']} errors "
        f"({kinds}); sandbox {tests['sandbox']}",
        f"gates:    {verdicts}",
        f"heal:     {heal['tries']} of {heal['max_tries']} tries; {heal['stop_reason']}",
        f"cost:     {usage['requests']} requests, {usage['input_tokens'] + usage['output_tokens']} tokens, "
        f"${usage['cost_usd']:.4f}",
        f"evidence: {'intact' if not problems else f'{len(problems)} problem(s): run lai-pack verify'}",
        *(f"          {line}" for line in proven),
    ]
    if failed_gates:
        lines.append(f"failed:   {', '.join(failed_gates)}")
    if waived:
        lines.append(f"waived:   {', '.join(waived)}")
    lines += [f"reason:   {reason}" for reason in approval["reasons"]]
    return lines
