"""`lai-pack export-team-pack OUT --to FILE`: Pack0 + build + evidence for another team, as a reproducible
tar.gz with its own manifest; no caches, no raw prompts or replies, and nothing leak-check flags."""

from __future__ import annotations

import gzip
import io
import json
import os
import tarfile
from pathlib import Path

from factory.errors import FactoryError
from factory.fsutil import dumps_json, sha256_file
from factory.pec.coverage import walk
from factory.pec.leaks import leak_check
from factory.pec.verify import TEAM_PACK_MANIFEST, team_pack_exclusions, verify_output
from factory.results_cache import SharedResults

SHIPPED_ROOTS = ("pack0", "build")


class ExportRefused(FactoryError):
    """leak-check found something in what would be exported."""


def select_files(out: Path) -> tuple[list[Path], list[str]]:
    """(files to ship, relative paths left out): the rule verify_team_pack accepts, applied to what the
    evidence lists (raw agent prompts and replies stay home)."""
    excluded = team_pack_exclusions(out)
    relative = [f"{root}/{path}" for root in SHIPPED_ROOTS for path in walk(out / root, f"{root}/").files]
    return [out / path for path in relative if path not in excluded], excluded


def _tar_member(name: str, data: bytes, mtime: int, executable: bool) -> tuple[tarfile.TarInfo, io.BytesIO]:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = len(data), mtime, 0o755 if executable else 0o644
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info, io.BytesIO(data)


def export_team_pack(out: Path, archive: Path, shared: SharedResults | None = None) -> int:
    """Write the archive; returns how many files it holds. Refuses, writing nothing, on any leak (the secret
    scans of files shared results hold are reused)."""
    problems = verify_output(out)
    if problems:
        raise ExportRefused(f"the output's evidence is not intact, nothing exported: {'; '.join(problems[:20])}")
    shipped, excluded = select_files(out)
    findings = leak_check(out, shipped, shared)
    if findings:
        listed = "; ".join(str(finding) for finding in findings[:20])
        raise ExportRefused(f"leak-check found {len(findings)} problem(s), nothing exported: {listed}")
    module = json.loads((out / "build/manifest.json").read_text(encoding="utf-8"))["module"]
    manifest = {
        "schema_version": 1,
        "module": module,
        "files": [
            {"path": path.relative_to(out).as_posix(), "sha256": sha256_file(path), "size": path.stat().st_size}
            for path in shipped
        ],
        "excluded": sorted(excluded),
    }
    mtime = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        tar.addfile(*_tar_member(TEAM_PACK_MANIFEST, dumps_json(manifest).encode(), mtime, False))
        for path in sorted(shipped, key=lambda p: p.relative_to(out).as_posix()):
            executable = os.access(path, os.X_OK)
            tar.addfile(*_tar_member(path.relative_to(out).as_posix(), path.read_bytes(), mtime, executable))
    archive.parent.mkdir(parents=True, exist_ok=True)
    temp = archive.with_name(archive.name + ".tmp")
    with temp.open("wb") as handle, gzip.GzipFile(filename="", mode="wb", fileobj=handle, mtime=mtime) as gz:
        gz.write(raw.getvalue())
    temp.replace(archive)
    return len(shipped) + 1
