"""Secret scanning with detect-secrets (every built-in rule plus our Anthropic key rule), shared by the
secret-scan gate and `lai-pack leak-check`."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from factory.fsutil import list_files
from factory.gates.result import GateResult

_ANTHROPIC_PLUGIN = Path(__file__).with_name("anthropic_detector.py")
# Logs hold raw agent replies and test output, and the evidence files are hashes the factory wrote:
# what a model generated is scanned where it lands (src, tests, deploy and the container files).
SKIPPED_DIRS = (".factory_logs",)
EVIDENCE_FILES = (
    *("run_report.json", "approval.json", "manifest.json", "pipeline_result.json"),
    *("provenance.json", "provenance.dsse.json", "manifest.json.sig"),  # digests and public signatures
)
# A sha256 digest is high-entropy hex by nature, and the evidence is made of them: not a secret.
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True, order=True)
class Finding:
    path: str
    line: int
    rule: str
    secret: str

    def masked(self) -> str:
        shown = self.secret[:4] if len(self.secret) > 8 else ""
        return f"{shown}{'*' * 8} ({len(self.secret)} chars)"

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.rule}: {self.masked()}"


def _plugins() -> list[dict]:
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    builtin = [{"name": plugin.__name__} for plugin in get_mapping_from_secret_type_to_class().values()]
    custom = {"name": "AnthropicKeyDetector", "path": f"file://{_ANTHROPIC_PLUGIN}"}
    return [item for item in builtin if item["name"] != custom["name"]] + [custom]


def scan_files(root: Path, paths: list[Path]) -> list[Finding]:
    """Every secret detect-secrets finds in these files (sha256 digests excepted), sorted."""
    from detect_secrets import SecretsCollection
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.settings import transient_settings

    with transient_settings({"plugins_used": _plugins()}):
        get_mapping_from_secret_type_to_class.cache_clear()
        try:
            collection = SecretsCollection()
            for path in paths:
                collection.scan_file(str(path))
            found = [
                Finding(
                    Path(name).relative_to(root).as_posix(), secret.line_number, secret.type, secret.secret_value or ""
                )
                for name, secret in collection
            ]
        finally:
            get_mapping_from_secret_type_to_class.cache_clear()
    return sorted(f for f in found if not (f.rule == "Hex High Entropy String" and _DIGEST.match(f.secret)))


def secret_scan_gate(build_dir: Path) -> GateResult:
    try:
        tool_version = version("detect-secrets")
    except PackageNotFoundError:
        return GateResult("secret-scan", "unavailable", "detect-secrets is not installed", tool="detect-secrets")
    paths = [
        path
        for path in list_files(build_dir, exclude_dirs=SKIPPED_DIRS)
        if path.relative_to(build_dir).as_posix() not in EVIDENCE_FILES
    ]
    findings = [str(finding) for finding in scan_files(build_dir, paths)]
    status = "failed" if findings else "passed"
    reason = f"{len(findings)} secret(s) found" if findings else f"no secrets in {len(paths)} files"
    return GateResult("secret-scan", status, reason, "detect-secrets", tool_version, findings)
