"""After the evidence: build/report.html, a page that shows the build (a view of the evidence, not part of it)."""

from __future__ import annotations

import json
from collections.abc import Callable

from factory.config import BuildConfig
from factory.fsutil import sha256_file, write_text_atomic
from factory.pec.report import render_report
from factory.pec.verify import verify_output


def report(config: BuildConfig, say: Callable[[str], None]) -> str:
    layout = config.layout
    names = ("pipeline_result", "run_report", "approval", "manifest")
    documents = {name: json.loads(layout.evidence(name).read_text(encoding="utf-8")) for name in names}
    hashes = {name: sha256_file(layout.evidence(name)) for name in names}
    migrations_dir = layout.build_dir / "deploy" / "migrations"
    migrations = sorted(p.name for p in migrations_dir.glob("*.up.sql")) if migrations_dir.is_dir() else []
    html = render_report(
        documents["pipeline_result"],
        documents["run_report"],
        documents["approval"],
        documents["manifest"],
        hashes,
        verify_output(layout.out),
        migrations,
    )
    target = layout.build_dir / "report.html"
    write_text_atomic(target, html)
    say(f"report: {target.relative_to(layout.out).as_posix()}")
    return "report written"
