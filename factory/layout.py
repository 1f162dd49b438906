"""Where every file of an output folder lives. The layout is fixed: users and tools rely on it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from factory.pack0.names import pack0_dirname


@dataclass(frozen=True)
class Layout:
    out: Path
    module: str

    @property
    def pack0_dir(self) -> Path:
        return self.out / "pack0" / pack0_dirname(self.module)

    @property
    def pack0_relative(self) -> str:
        """The Pack0 folder's path in the output folder, as the evidence and verify spell it."""
        return f"pack0/{pack0_dirname(self.module)}"

    @property
    def build_dir(self) -> Path:
        return self.out / "build"

    @property
    def logs_dir(self) -> Path:
        return self.build_dir / ".factory_logs"

    @property
    def dep_file(self) -> Path:
        # doit's dependency database: what makes a re-run incremental, one per output folder.
        return self.out / ".lai-pack.doit.db"

    @property
    def secret_scan_cache(self) -> Path:
        # Masked findings by file content: factory state beside the doit database, outside the evidence.
        return self.out / ".lai-pack.secret-scan.json"

    @property
    def slice_seals(self) -> Path:
        # This machine's seals of the test results a re-run may reuse (factory/trust.py), outside the evidence.
        return self.out / ".lai-pack.test-results.json"

    @property
    def pipeline_log(self) -> Path:
        return self.logs_dir / "pipeline.log"

    @property
    def test_report(self) -> Path:
        return self.logs_dir / "test_report.json"

    @property
    def junit_xml(self) -> Path:
        return self.logs_dir / "junit.xml"

    @property
    def usage_ledger(self) -> Path:
        """One line per model call: agent, slice, cached or not, tokens, cost."""
        return self.logs_dir / "usage.jsonl"

    def stage_record(self, stage: str) -> Path:
        return self.logs_dir / "stages" / f"{stage}.json"

    def gate_report(self, gate: str) -> Path:
        return self.logs_dir / "gates" / f"{gate}.json"

    def raw_reply(self, agent: str, slice_name: str = "") -> Path:
        """codegen_raw.txt (all slices, in order), or one slice's raw reply."""
        if slice_name:
            return self.logs_dir / "raw" / f"{agent}.{slice_name}.txt"
        return self.logs_dir / f"{agent}_raw.txt"

    def evidence(self, name: str) -> Path:
        """run_report, approval, manifest or pipeline_result."""
        return self.build_dir / f"{name}.json"
