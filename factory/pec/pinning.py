"""What verify can prove, and with which key (issue #31 item 2).

An unsigned chain of hashes shows that the files agree with each other, not who made them: whoever can write
the folder can change a file and re-hash the chain. A signature proves more only when the key that checks it is
not the output's own choice, so the key is pinned: --public-key, else `public_key` in lai-factory.toml or
pyproject.toml, else the key this machine first signed this output with (recorded outside the output, in the
user cache folder beside trust.py's key). With a pinned key a stripped signature is missing and a foreign one
is bad. Freshness: this machine records the last evidence it wrote per output; an older output put back in its
place is stale, and `verify --expect-pack0 DIR` checks the evidence was built from that Pack0 as it is now.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from factory.fsutil import sha256_file, write_json_atomic
from factory.pack0.names import source_file_names
from factory.trust import key_dir

RECORDS = "outputs"  # under key_dir(): one file per output folder, by the sha256 of its absolute path


def _record_path(out: Path) -> Path:
    name = hashlib.sha256(str(out.resolve()).encode("utf-8", "surrogateescape")).hexdigest()
    return key_dir() / RECORDS / f"{name}.json"


def machine_record(out: Path) -> dict:
    try:
        record = json.loads(_record_path(out).read_text(encoding="utf-8"))
    except (OSError, ValueError, RuntimeError):
        return {}
    return record if isinstance(record, dict) else {}


def remember_evidence(out: Path, manifest_sha256: str, built_at: str, public_pem: str | None) -> None:
    """After the evidence is written: its manifest digest and time, and at the first signing the public key."""
    record = machine_record(out)
    record.update({"out": str(out.resolve()), "manifest_sha256": manifest_sha256, "built_at": built_at})
    if public_pem and "public_key_pem" not in record:
        record["public_key_pem"] = public_pem
    try:
        write_json_atomic(_record_path(out), record)
    except (OSError, RuntimeError):  # no user cache folder: nothing is pinned or remembered here
        return


def forget_output(out: Path) -> None:
    """Forget what this machine recorded for an output folder (its pin and last evidence), as for a new one."""
    _record_path(out).unlink(missing_ok=True)
    _record_path(out).with_suffix(".pub").unlink(missing_ok=True)


@dataclass(frozen=True)
class Pin:
    key: Path | None  # the public key verify checks with, or None
    source: str  # where it comes from: "--public-key", a settings file, "this machine's first signing"


def _machine_pin(out: Path) -> Path | None:
    """The key pinned at this output's first signing on this machine, as a file signing code can read."""
    pem = machine_record(out).get("public_key_pem")
    if not isinstance(pem, str):
        return None
    path = _record_path(out).with_suffix(".pub")
    try:
        if not path.is_file() or path.read_text(encoding="utf-8") != pem:
            path.write_text(pem, encoding="utf-8")
    except OSError:
        return None
    return path


def pinned_key(out: Path, configured: tuple[object, str] | None) -> Pin:
    """The key pinned for this output: the configured one (lai-factory.toml, pyproject.toml, LAI_PUBLIC_KEY),
    else the one this machine first signed it with; Pin(None, "") when none is."""
    if configured is not None and configured[0]:
        return Pin(Path(str(configured[0])), configured[1])
    machine = _machine_pin(out)
    return Pin(machine, "pinned on this machine at the output's first signing") if machine else Pin(None, "")


def _key_id(path: Path) -> str | None:
    from factory.pec.signing import key_id

    try:
        return key_id(path, private=False)
    except (OSError, ValueError, TypeError):
        return None


def key_in_effect(out: Path, given: Path | None, configured: tuple[object, str] | None) -> tuple[Pin, list[str]]:
    """(the key to check with, problems): --public-key when given, which must be the pinned key if one is (an
    attacker who re-signs the output also hands over their own .pub); else the pinned key."""
    pin = pinned_key(out, configured)
    if given is None:
        return pin, []
    if pin.key is not None and _key_id(given) != _key_id(pin.key):
        found = _key_id(given) or "unreadable"
        problem = f"foreign key: --public-key {given} (id {found[:16]}) is not the key pinned ({pin.source})"
        return Pin(given, "--public-key, not the pinned key"), [problem]
    return Pin(given, "--public-key"), []


def _signed_by(build: Path) -> list[str]:
    """The key ids the DSSE envelope names (what a signed output says it expects), or [] when unsigned."""
    try:
        document = json.loads((build / "provenance.dsse.json").read_text(encoding="utf-8"))
        return [str(signature["keyid"]) for signature in document["signatures"]]
    except (OSError, ValueError, KeyError, TypeError):
        return []


def stale_problems(out: Path) -> list[str]:
    """An output older than the last evidence this machine wrote here (an older approved output put back)."""
    record, manifest = machine_record(out), out / "build/manifest.json"
    report = out / "build/run_report.json"
    if not record.get("manifest_sha256") or not manifest.is_file():
        return []
    if sha256_file(manifest) == record["manifest_sha256"]:
        return []
    try:
        built = json.loads(report.read_text(encoding="utf-8"))["generated_at"]
    except (OSError, ValueError, KeyError, TypeError):
        return []
    if str(built) <= str(record.get("built_at", "")):  # (the same second: two fast builds)
        return [
            f"stale: build/manifest.json (built {built}; this machine wrote newer evidence here at "
            f"{record['built_at']}: an older output was put back)"
        ]
    return []


def pack0_problems(out: Path, expected: Path) -> list[str]:
    """The evidence against a Pack0 folder as it is now: each of its own files must be the one built from."""
    try:
        report = json.loads((out / "build/run_report.json").read_text(encoding="utf-8"))
        built = {item["path"]: item["sha256"] for item in report["pack0"]["files"]}
    except (OSError, ValueError, KeyError, TypeError):
        return ["missing: build/run_report.json (no Pack0 to compare with)"]
    names = source_file_names(expected)
    problems = [
        f"stale: {name} (the evidence was built from another version of {expected.name}/{name})"
        for name in names
        if built.get(name) != sha256_file(expected / name)
    ]
    sources = {name for name in built if name not in _DERIVED and not name.rsplit("/", 1)[-1].startswith(".")}
    problems += [f"stale: {name} (built from it; {expected} has none)" for name in sorted(sources - set(names))]
    return problems


_DERIVED = frozenset({"contracts/openapi.json", "02_INVENTORY/manifest.json"})


def proof_lines(out: Path, pin: Pin, intact: bool) -> list[str]:
    """What this verification proves, one line each: signed or not, by which key, checked against what."""
    build = out / "build"
    signers = _signed_by(build)
    try:
        report = json.loads((build / "run_report.json").read_text(encoding="utf-8"))
        built = (
            f"built: {report['generated_at']} from Pack0 {report['pack0']['dir']} (inventory sha256 "
            f"{report['pack0']['inventory_sha256'][:16]}...)"
        )
    except (OSError, ValueError, KeyError, TypeError):
        built = "built: unknown (no readable build/run_report.json)"
    if not signers and not (build / "manifest.json.sig").is_file():
        signed = (
            "unsigned: NOT tamper-evident: the hashes show the files agree with each other, not who made them "
            "(anyone who can write this folder can change a file and re-hash the chain); sign with --sign-key"
        )
    elif pin.key is None:
        signed = (
            f"signed by key {', '.join(signers) or '(no key id)'} but NOT checked: no key is pinned "
            "(pass --public-key, or set public_key in lai-factory.toml)"
        )
    else:
        checked = "checked" if intact else "NOT valid"
        signed = f"signed by key {', '.join(signers) or '(no key id)'}: {checked} with {pin.key} ({pin.source})"
    return [signed, built]


def checked(
    out: Path, given: Path | None, configured: tuple[object, str] | None, expect_pack0: Path | None = None
) -> tuple[list[str], list[str]]:
    """(problems, what is proven): verify with the pinned key, the output's freshness, the expected Pack0."""
    from factory.pec.verify import TEAM_PACK_MANIFEST, verify_output, verify_team_pack

    pin, problems = key_in_effect(out, given, configured)
    team_pack = (out / TEAM_PACK_MANIFEST).is_file()
    problems += verify_team_pack(out, pin.key) if team_pack else verify_output(out, pin.key)
    problems += stale_problems(out) if not team_pack else []
    problems += pack0_problems(out, expect_pack0) if expect_pack0 is not None else []
    return sorted(set(problems)), proof_lines(out, pin, not problems)
