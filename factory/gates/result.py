"""A gate's verdict. Fail-closed: only 'passed' (or a waiver the user names) lets a build be approved."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

GATE_ORDER = ("lint", "secret-scan", "contracts", "conformance", "docker-build")
STATUSES = ("passed", "failed", "unavailable")


@dataclass
class GateResult:
    name: str
    status: str
    reason: str
    tool: str = ""
    tool_version: str = ""
    details: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    # One dict per finding (operation, check, sent, got, expected, curl): the conformance gate's, for tools.
    findings: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        data = asdict(self)
        if not self.findings:  # the other gates' reports stay as they were
            data.pop("findings")
        return data
