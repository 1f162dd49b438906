"""build/report.html: one self-contained page (no network, no script) that shows a build to a person:
the stage timeline, test counts, every heal try with its diff, the gates, the evidence chain, the deploy plan."""

from __future__ import annotations

from html import escape

from factory.gates.result import GATE_ORDER

STYLE = """
body { font: 15px/1.45 system-ui, sans-serif; margin: 2rem auto; max-width: 70rem; color: #1d2430; }
h1 { margin-bottom: .2rem; } h2 { margin-top: 2rem; border-bottom: 1px solid #dde; padding-bottom: .2rem; }
.verdict { display: inline-block; padding: .2rem .7rem; border-radius: .3rem; color: #fff; font-weight: 600; }
.ok { background: #1f7a3a; } .bad { background: #b3261e; } .meh { background: #8a6d00; }
table { border-collapse: collapse; width: 100%; } td, th { border: 1px solid #dde; padding: .3rem .5rem;
text-align: left; vertical-align: top; } th { background: #f3f4f8; }
code, pre { font: 12.5px/1.4 ui-monospace, monospace; } pre { background: #f6f7f9; padding: .6rem;
overflow-x: auto; white-space: pre-wrap; } .sha { font: 12px ui-monospace, monospace; color: #445; }
"""
STATUS_CLASS = {"passed": "ok", "waived": "meh", "failed": "bad", "unavailable": "bad"}


def _timeline(stages: list[dict]) -> str:
    """The stages as bars on one time axis (SVG), widths proportional to their duration."""
    total = sum(stage["duration_s"] for stage in stages) or 1.0
    width, row = 900, 22
    bars, offset = [], 0.0
    for index, stage in enumerate(stages):
        x = 220 + offset / total * (width - 300)
        w = max(2.0, stage["duration_s"] / total * (width - 300))
        y = index * row
        bars.append(
            f'<text x="0" y="{y + 15}" font-size="13">{escape(stage["name"])}</text>'
            f'<rect x="{x:.1f}" y="{y + 4}" width="{w:.1f}" height="14" fill="#3b6fd4" rx="2"/>'
            f'<text x="{x + w + 6:.1f}" y="{y + 15}" font-size="12">{stage["duration_s"]:.2f} s</text>'
        )
        offset += stage["duration_s"]
    height = row * len(stages) + 4
    return f'<svg role="img" aria-label="stage timeline" width="{width}" height="{height}">{"".join(bars)}</svg>'


def _table(headers: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _tests(report: dict) -> str:
    tests = report["tests"]
    rows = [
        [escape(kind), str(c["passed"]), str(c["failed"]), str(c["error"]), str(c["skipped"])]
        for kind, c in sorted(tests["by_kind"].items())
    ]
    c = tests["counts"]
    rows.append(["<b>all</b>", str(c["passed"]), str(c["failed"]), str(c["error"]), str(c["skipped"])])
    return _table(["kind", "passed", "failed", "errors", "skipped"], rows) + (
        f"<p>Sandbox: <code>{escape(tests['sandbox'])}</code></p>"
    )


def _heal(report: dict) -> str:
    heal = report["heal"]
    parts = [f"<p>{heal['tries']} of {heal['max_tries']} tries: {escape(heal['stop_reason'])}.</p>"]
    for attempt in heal["heal_log"]:
        files = ", ".join(escape(path) for path in attempt["files_changed"]) or "none"
        parts.append(
            f"<h3>Try {attempt['number']}: {escape(attempt['outcome'])}</h3>"
            f"<p><b>Error:</b> <code>{escape(attempt['error_summary'])}</code><br>"
            f"<b>Diagnosis:</b> {escape(attempt['diagnosis'])}<br><b>Files changed:</b> {files}</p>"
            f"<pre>{escape(attempt.get('diff', '')) or '(no diff)'}</pre>"
        )
    return "".join(parts)


def _gates(report: dict, approval: dict) -> str:
    by_name = {gate["name"]: gate for gate in report["gates"]}
    rows = []
    for name in GATE_ORDER:
        gate, verdict = by_name[name], approval["gates"][name]
        badge = f'<span class="verdict {STATUS_CLASS[verdict]}">{escape(verdict)}</span>'
        tool = escape(f"{gate['tool']} {gate['tool_version']}".strip())
        details = "<br>".join(escape(line) for line in gate["details"][:8])
        rows.append(
            [escape(name), badge, tool, escape(gate["reason"]) + (f"<br><small>{details}</small>" if details else "")]
        )
    return _table(["gate", "result", "tool", "reason"], rows)


def _chain(report: dict, approval: dict, manifest: dict, hashes: dict[str, str], problems: list[str]) -> str:
    verdict = (
        '<span class="verdict ok">intact</span>'
        if not problems
        else f'<span class="verdict bad">{len(problems)} problem(s)</span>'
    )
    rows = [
        ["Pack0 inventory", f'<span class="sha">{report["pack0"]["inventory_sha256"]}</span>', "in run_report.json"],
        ["run_report.json", f'<span class="sha">{hashes["run_report"]}</span>', "in approval.json"],
        ["approval.json", f'<span class="sha">{hashes["approval"]}</span>', "in manifest.json"],
        [
            "manifest.json",
            f'<span class="sha">{hashes["manifest"]}</span>',
            f"{len(manifest['artifacts'])} artifacts listed",
        ],
    ]
    listed = "".join(f"<li>{escape(problem)}</li>" for problem in problems)
    return (
        f"<p>lai-pack verify: {verdict}</p>"
        + _table(["link", "sha256", "recorded"], rows)
        + (f"<ul>{listed}</ul>" if listed else "")
    )


def _deploy(migrations: list[str]) -> str:
    if not migrations:
        return "<p>No deploy artifacts (run with <code>--auto-deploy</code>).</p>"
    items = "".join(f"<li><code>{escape(name)}</code></li>" for name in migrations)
    how = "Applied in order by <code>deploy/deploy.sh</code>; undone by <code>deploy/rollback.sh</code>."
    return f"<p>{how}</p><ol>{items}</ol>"


def render_report(
    result: dict,
    report: dict,
    approval: dict,
    manifest: dict,
    hashes: dict[str, str],
    problems: list[str],
    migrations: list[str],
) -> str:
    verdict = "APPROVED" if approval["approved"] else "NOT APPROVED"
    badge = f'<span class="verdict {"ok" if approval["approved"] else "bad"}">{verdict}</span>'
    reasons = "".join(f"<li>{escape(reason)}</li>" for reason in approval["reasons"])
    sections = [
        ("timeline", "Stage timeline", _timeline(result["stages"])),
        ("tests", "Tests", _tests(report)),
        ("heal", "Self-heal", _heal(report)),
        ("gates", "Gates", _gates(report, approval)),
        ("evidence", "Evidence chain", _chain(report, approval, manifest, hashes, problems)),
        ("deploy", "Deploy plan", _deploy(migrations)),
    ]
    body = "".join(f'<section id="{key}"><h2>{title}</h2>{html}</section>' for key, title, html in sections)
    return (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(report["module"])}: '
        f"lai-pack report</title><style>{STYLE}</style></head><body>"
        f"<h1>{escape(report['module'])}</h1><p>{badge} &nbsp; provider <code>{escape(report['provider'])}</code>, "
        f"model <code>{escape(report['model'])}</code>, {report['generated_at']}</p>"
        f"{f'<ul>{reasons}</ul>' if reasons else ''}{body}</body></html>\n"
    )
