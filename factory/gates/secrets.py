"""Secret-scan gate: detect-secrets with every built-in rule plus our Anthropic key rule."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from factory.fsutil import list_files
from factory.gates.result import GateResult

_ANTHROPIC_PLUGIN = Path(__file__).with_name("anthropic_detector.py")
# Logs hold raw agent replies and test output, and the evidence files are hashes the factory wrote:
# what a model generated is scanned where it lands (src, tests, deploy and the container files).
SKIPPED_DIRS = (".factory_logs",)
EVIDENCE_FILES = ("run_report.json", "approval.json", "manifest.json", "pipeline_result.json")


def _plugins() -> list[dict]:
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    builtin = [{"name": plugin.__name__} for plugin in get_mapping_from_secret_type_to_class().values()]
    names = {item["name"] for item in builtin}
    custom = [{"name": "AnthropicKeyDetector", "path": f"file://{_ANTHROPIC_PLUGIN}"}]
    return [item for item in builtin if item["name"] != "AnthropicKeyDetector"] + (
        custom if "AnthropicKeyDetector" not in names else []
    )


def scan_paths(root: Path, paths: list[Path]) -> list[str]:
    """'file:line: type' for each secret found (the secret itself is never printed)."""
    from detect_secrets import SecretsCollection
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.settings import transient_settings

    with transient_settings({"plugins_used": _plugins()}):
        get_mapping_from_secret_type_to_class.cache_clear()
        try:
            collection = SecretsCollection()
            for path in paths:
                collection.scan_file(str(path))
            found = sorted(
                f"{Path(filename).relative_to(root).as_posix()}:{secret.line_number}: {secret.type}"
                for filename, secret in collection
            )
        finally:
            get_mapping_from_secret_type_to_class.cache_clear()
    return found


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
    findings = scan_paths(build_dir, paths)
    status = "failed" if findings else "passed"
    reason = f"{len(findings)} secret(s) found" if findings else f"no secrets in {len(paths)} files"
    return GateResult("secret-scan", status, reason, "detect-secrets", tool_version, findings)
