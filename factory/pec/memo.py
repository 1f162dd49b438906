"""The evidence stage's up-to-date check, remembered. A full verify (jsonschema, every hash, provenance, the
signatures) on every no-op cost more than the rest of the no-op together. After a verify that passed, a digest
of everything verify_output reads is kept beside build/, sealed with this machine's key (factory/trust.py); the
next check believes an output whose digest is the sealed one without verifying it again.

What the digest covers: every entry under build/ and pack0/ as walk() sees it (its name, type and mode bits,
link count, a file's bytes, a link's target; empty folders too), the signing key's bytes, and the verifier's
own code. A flipped byte, a run bit, a hard link, an empty folder, a new Pack0 folder, another key or changed
verifier code changes the digest; a memo this machine did not seal is not believed. Both run the full verify.
"""

from __future__ import annotations

import hashlib
import os
import stat
from contextlib import suppress
from pathlib import Path

from factory.config import code_digest
from factory.fsutil import sha256_file, write_text_atomic
from factory.trust import seal, sealed

MEMO_FILE = ".lai-pack.evidence"  # beside build/ (FACTORY_STATE): verify and export never read it
MEMO_KIND = "evidence"
# factory/ code verify_output runs (pec/ holds the evidence schemas; __init__.py the version it checks).
VERIFIER_CODE = ("pec", "fsutil.py", "errors.py", "gates/result.py", "reproducible.py", "__init__.py")


def _entry(digest: hashlib._Hash, path: Path, relative: str, status: os.stat_result) -> bool:
    """Adds one entry; returns whether it is a folder to descend into (a link to one is not followed)."""
    # fsencode: a name may be any bytes (an undecodable one is kept as it is on disk, not an error).
    digest.update(os.fsencode(relative) + f"\0{status.st_mode:o}\0{status.st_nlink}\0".encode())
    if stat.S_ISREG(status.st_mode):  # read in chunks, as verify does: a planted file may be huge
        digest.update(f"{status.st_size}\0{sha256_file(path)}\0".encode())
    elif stat.S_ISLNK(status.st_mode):
        digest.update(os.fsencode(os.readlink(path)) + b"\0")
    return stat.S_ISDIR(status.st_mode)


def _tree(digest: hashlib._Hash, root: Path, name: str) -> None:
    try:
        status = os.lstat(root)
    except FileNotFoundError:
        digest.update(os.fsencode(name) + b"\0absent\0")
        return
    stack = [(root, name)] if _entry(digest, root, name, status) else []
    while stack:
        folder, relative = stack.pop()
        with os.scandir(folder) as entries:
            listed = sorted(entries, key=lambda entry: entry.name)
        # Children after their folder, each folder's entries in name order: one walk, one digest.
        for entry in reversed(listed):
            path, child = Path(entry.path), f"{relative}/{entry.name}"
            if _entry(digest, path, child, entry.stat(follow_symlinks=False)):
                stack.append((path, child))


def fingerprint(out: Path, sign_key: str) -> bytes | None:
    """The digest of everything verify_output(out, key) reads; None when it cannot be made (then nothing is
    remembered or believed)."""
    digest = hashlib.sha256(f"{MEMO_KIND} 1\0{code_digest(*VERIFIER_CODE)}\0".encode())
    try:
        if sign_key:
            key = Path(sign_key).read_bytes()  # the public key verify checks with is made from it
            digest.update(f"key\0{len(key)}\0".encode() + key)
        for name in ("build", "pack0"):
            _tree(digest, out / name, name)
    except OSError:  # an entry that went away or cannot be read while walking: verify decides
        return None
    return digest.digest()


def _full_verify(out: Path, sign_key: str) -> bool:
    import tempfile

    from factory.pec.signing import write_public_key
    from factory.pec.verify import verify_output

    if not sign_key:
        return not verify_output(out)
    with tempfile.TemporaryDirectory(prefix="lai-pack-key-") as folder:
        public_key = write_public_key(Path(sign_key), Path(folder) / "signing.pub")
        return not verify_output(out, public_key)


def evidence_verifies(out: str, sign_key: str = "") -> bool:
    """doit's up-to-date check of the evidence stage: False makes it re-derive the evidence. With a signing
    key, the signatures must be this key's over the files as they are (a hand-rewritten one is re-signed).
    Also called after a pipeline that wrote evidence, so its first no-op re-run is already remembered."""
    folder = Path(out)
    memo = folder / MEMO_FILE
    # Taken before verifying: a change made while verify runs leaves a digest that no longer matches.
    before = fingerprint(folder, sign_key)
    try:
        # Whatever is there (any bytes, a folder) is only believed when it is this machine's seal.
        if before is not None and sealed(MEMO_KIND, before, memo.read_text("utf-8", "replace").strip()):
            return True
    except OSError:
        pass
    verified = _full_verify(folder, sign_key)
    mac = seal(MEMO_KIND, before) if verified and before is not None else ""
    with suppress(OSError):  # a memo that cannot be written or removed is only a slower next no-op
        if mac and folder.is_dir():
            write_text_atomic(memo, mac + "\n")
        elif not verified:
            memo.unlink(missing_ok=True)
    return verified
