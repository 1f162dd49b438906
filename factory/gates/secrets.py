"""Secret scanning with detect-secrets (every built-in rule plus our Anthropic key rule), shared by the
secret-scan gate and `lai-pack leak-check`."""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from factory.errors import one_line
from factory.fsutil import list_files, write_json_atomic
from factory.gates.declared import NOTHING_DECLARED, Declared, declared_values
from factory.gates.key_formats import find_keys
from factory.gates.result import GateResult
from factory.pack0.generate import META_FILE, OPENAPI_FILE, SCHEMA_SUFFIX
from factory.results_cache import SharedResults
from factory.trust import seal, sealed

_ANTHROPIC_PLUGIN = Path(__file__).with_name("anthropic_detector.py")
_RULE_MODULES = (Path(__file__).with_name("key_formats.py"), Path(__file__).with_name("declared.py"))
# Logs hold raw agent replies and test output, and the evidence files are hashes the factory wrote:
# what a model generated is scanned where it lands (src, tests, deploy and the container files).
SKIPPED_DIRS = (".factory_logs",)
SHARED_KIND = "secret-scan"  # its entries in the shared results: rules digest and name+content digest
EVIDENCE_FILES = (
    *("run_report.json", "approval.json", "manifest.json", "pipeline_result.json"),
    *("provenance.json", "provenance.dsse.json", "manifest.json.sig"),  # digests and public signatures
)
# A sha256 digest is high-entropy hex by nature, and the evidence is made of them: not a secret.
_DIGEST = re.compile(r"^[0-9a-f]{64}$")


def mask(secret: str) -> str:
    """How a secret is shown: its first four characters (none of a short one) and its length."""
    shown = secret[:4] if len(secret) > 8 else ""
    return f"{shown}{'*' * 8} ({len(secret)} chars)"


@dataclass(frozen=True, order=True)
class Finding:
    path: str
    line: int
    rule: str
    masked: str  # the secret as mask() shows it: a finding never holds the secret itself

    def __str__(self) -> str:  # one printable line, whatever the file's name
        return one_line(f"{self.path}:{self.line}: {self.rule}: {self.masked}")


def _plugins() -> list[dict]:
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class

    builtin = [{"name": plugin.__name__} for plugin in get_mapping_from_secret_type_to_class().values()]
    custom = {"name": "AnthropicKeyDetector", "path": f"file://{_ANTHROPIC_PLUGIN}"}
    return [item for item in builtin if item["name"] != custom["name"]] + [custom]


# detect-secrets filters that hide real keys: any path matching .*swagger.* (it reads the whole path, so a secret
# in an output under a folder named so was never found), and any `f(key="...")` line (is_indirect_reference:
# Anthropic(api_key="sk-ant-..."), os.environ.get("K", "sk-ant-...") and str("...") were never reported).
_DROPPED_FILTERS = (".is_swagger_file", ".is_indirect_reference")


def _filters() -> list[dict]:
    """detect-secrets' own filters but the ones that hide keys (_DROPPED_FILTERS)."""
    from detect_secrets.settings import Settings

    return [{"path": path} for path in sorted(Settings().filters) if not path.endswith(_DROPPED_FILTERS)]


def _format_findings(root: Path, path: Path) -> list[Finding]:
    """The known key formats in a file, wherever they stand (factory/gates/key_formats.py)."""
    try:
        text = path.read_bytes().decode("utf-8", errors="replace")
    except OSError:
        return []
    relative = path.relative_to(root).as_posix()
    return [Finding(relative, line, rule, mask(value)) for line, rule, value in find_keys(text)]


def scan_files(root: Path, paths: list[Path], declared: Declared = NOTHING_DECLARED) -> list[Finding]:
    """Every secret detect-secrets finds in these files (sha256 digests and the Pack0's declared values
    excepted), and every known key format in them, sorted."""
    from detect_secrets import SecretsCollection
    from detect_secrets.core.plugins.util import get_mapping_from_secret_type_to_class
    from detect_secrets.settings import transient_settings

    with transient_settings({"plugins_used": _plugins(), "filters_used": _filters()}):
        get_mapping_from_secret_type_to_class.cache_clear()
        try:
            collection = SecretsCollection()
            for path in paths:
                collection.scan_file(str(path))
            found = [
                Finding(Path(name).relative_to(root).as_posix(), secret.line_number, secret.type, mask(value))
                for name, secret in collection
                for value in [secret.secret_value or ""]
                if not (secret.type == "Hex High Entropy String" and _DIGEST.match(value))
                and not declared.allows(secret.type, value)
            ]
        finally:
            get_mapping_from_secret_type_to_class.cache_clear()
    known = {(finding.path, finding.line, finding.masked) for finding in found}
    for path in paths:
        found += [each for each in _format_findings(root, path) if (each.path, each.line, each.masked) not in known]
    return sorted(found)


def _rules_digest(tool_version: str, declared: Declared) -> str:
    """What a cached scan result depends on besides the file: the tool, our own rules, the Pack0's values."""
    rules = b"".join(path.read_bytes() for path in (Path(__file__), _ANTHROPIC_PLUGIN, *_RULE_MODULES))
    return hashlib.sha256(tool_version.encode() + b"\0" + rules + declared.digest().encode()).hexdigest()


def _entry_bytes(rules: str, digest: str, findings: list) -> bytes:
    return json.dumps([rules, digest, findings], separators=(",", ":")).encode()


def _read_cache(cache_file: Path | None, rules: str) -> dict[str, list]:
    """The cached findings whose seal this machine made (factory/trust.py): the cache lives in the output
    folder, and a forged entry (no findings for a file that has some) must not hide a secret."""
    try:
        data = json.loads(cache_file.read_text(encoding="utf-8")) if cache_file else {}
    except (OSError, ValueError):
        return {}
    entries = data.get("files", {}) if isinstance(data, dict) and data.get("rules") == rules else {}
    if not isinstance(entries, dict):
        return {}
    return {
        digest: entry["findings"]
        for digest, entry in entries.items()
        if isinstance(entry, dict)
        and isinstance(entry.get("findings"), list)
        and sealed("secret-scan", _entry_bytes(rules, digest, entry["findings"]), entry.get("mac"))
    }


def _file_digest(root: Path, path: Path) -> str:
    """What a file's findings depend on: its content and its name (detect-secrets reads the file type from the
    name and skips lock files), by its path inside root."""
    name = os.fsencode(path.relative_to(root).as_posix())  # a name that is not UTF-8 too (as it is on disk)
    return hashlib.sha256(name + b"\0" + path.read_bytes()).hexdigest()


def scan_by_content(
    groups: list[tuple[Path, list[Path]]],
    tool_version: str,
    shared: SharedResults | None,
    cache_file: Path | None = None,
    declared: Declared = NOTHING_DECLARED,
) -> tuple[list[Finding], int]:
    """The findings in the files of each (root, files) group (paths relative to their root), each file (by name
    and content) scanned once and never again while a cache holds it (the output's own cache_file, then the
    machine's shared results). The caches keep masked findings only, keyed by sha256: no secret is written to
    them. Returns (findings, how many contents were scanned now)."""
    rules = _rules_digest(tool_version, declared)
    cached = _read_cache(cache_file, rules)
    digests = {(root, path): _file_digest(root, path) for root, paths in groups for path in paths}
    unknown = sorted({digest for digest in digests.values() if digest not in cached})
    if shared is not None and unknown:
        recalled = shared.recall(SHARED_KIND, [f"{rules}:{digest}" for digest in unknown])
        cached.update({key.split(":", 1)[1]: found for key, found in recalled.items() if isinstance(found, list)})
    fresh: dict[str, tuple[Path, Path]] = {}
    for key, digest in digests.items():
        if digest not in cached:
            fresh.setdefault(digest, key)
    results = {digest: cached.get(digest, []) for digest in set(digests.values())}
    for root in dict.fromkeys(root for root, _path in fresh.values()):
        owner = {path: digest for digest, (where, path) in fresh.items() if where == root}
        for finding in scan_files(root, list(owner), declared):
            results[owner[root / finding.path]].append([finding.line, finding.rule, finding.masked])
    if shared is not None and fresh:
        shared.remember(SHARED_KIND, {f"{rules}:{digest}": results[digest] for digest in fresh})
    if cache_file is not None:
        entries = {
            digest: {"findings": found, "mac": seal("secret-scan", _entry_bytes(rules, digest, found))}
            for digest, found in sorted(results.items())
        }
        write_json_atomic(cache_file, {"rules": rules, "files": entries})
    findings = sorted(
        Finding(path.relative_to(root).as_posix(), line, rule, masked)
        for (root, path), digest in digests.items()
        for line, rule, masked in results[digest]
    )
    return findings, len(fresh)


def derived_copies(build_dir: Path, pack0_dir: Path | None) -> tuple[list[Path], list[Path]]:
    """The build's copies of the Pack0's derived OpenAPI document (byte for byte), and the Pack0 files it is
    derived from. Such a copy holds nothing its sources do not, so the sources are scanned in its place: the
    document is large, and scanning it cost most of the gate."""
    derived = pack0_dir / OPENAPI_FILE if pack0_dir is not None else None
    if derived is None or not derived.is_file():
        return [], []
    text = derived.read_bytes()
    copies = [
        path
        for path in [build_dir / "tests/contract_openapi.json", *sorted(build_dir.glob("src/*/openapi.json"))]
        if path.is_file() and path.read_bytes() == text
    ]
    sources = [pack0_dir / META_FILE, *sorted((pack0_dir / "contracts").glob(f"*{SCHEMA_SUFFIX}"))]
    return copies, [path for path in sources if path.is_file()] if copies else []


def secret_scan_gate(
    build_dir: Path,
    pack0_dir: Path | None = None,
    cache_file: Path | None = None,
    say: Callable[[str], None] | None = None,
    shared: SharedResults | None = None,
) -> GateResult:
    """The build's files (and, for a copy of the derived OpenAPI document, the Pack0 files it comes from);
    with a cache_file, a file whose content was scanned before is not scanned again. The result does not
    depend on the cache (it is evidence); how much was scanned now is only said."""
    try:
        tool_version = version("detect-secrets")
    except PackageNotFoundError:
        return GateResult("secret-scan", "unavailable", "detect-secrets is not installed", tool="detect-secrets")
    copies, sources = derived_copies(build_dir, pack0_dir)
    paths = [
        path
        for path in list_files(build_dir, exclude_dirs=SKIPPED_DIRS)
        if path.relative_to(build_dir).as_posix() not in EVIDENCE_FILES and path not in copies
    ]
    # The Pack0 files by their path in the output folder (pack0/pack0-NAME-0.0.1/...).
    groups = [(build_dir, paths), *([(pack0_dir.parent.parent, sources)] if sources else [])]
    declared = declared_values([pack0_dir]) if pack0_dir is not None else NOTHING_DECLARED
    found, scanned = scan_by_content(groups, tool_version, shared, cache_file, declared)
    findings = [str(finding) for finding in found]
    status = "failed" if findings else "passed"
    checked = f"{len(paths)} files" + (f" and the {len(sources)} Pack0 files of its OpenAPI copies" if sources else "")
    reason = f"{len(findings)} secret(s) found" if findings else f"no secrets in {checked}"
    if declared.recorded:
        reason += f"; {len(declared.recorded)} value(s) recorded as false positives in the Pack0 (details)"
    findings += declared.listed()  # (the user's recorded false positives: the evidence lists each)
    if say is not None:
        say(f"scanned {scanned} file contents not scanned before; the others' findings are known")
    return GateResult("secret-scan", status, reason, "detect-secrets", tool_version, findings)
