"""Optional Ed25519 signatures over manifest.json (the top of the evidence chain), with `cryptography`."""

from __future__ import annotations

import base64
import json
from pathlib import Path

from factory.errors import InputError
from factory.fsutil import sha256_bytes, write_text_atomic

SIGNATURE_SUFFIX = ".sig"


def keygen(folder: Path, name: str = "lai-pack") -> tuple[Path, Path]:
    """A new key pair: NAME.key (private, mode 0600) and NAME.pub, both PEM. Refuses to overwrite."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    private_path, public_path = folder / f"{name}.key", folder / f"{name}.pub"
    for path in (private_path, public_path):
        if path.exists():
            raise InputError("exists; refusing to overwrite a key", file=str(path))
    key = Ed25519PrivateKey.generate()
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    public = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    write_text_atomic(private_path, private.decode(), mode=0o600)
    write_text_atomic(public_path, public.decode())
    return private_path, public_path


def _load(path: Path, *, private: bool):
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

    try:
        data = path.read_bytes()
        key = serialization.load_pem_private_key(data, None) if private else serialization.load_pem_public_key(data)
    except (OSError, ValueError, TypeError) as error:
        raise InputError(f"cannot read the key: {error}", file=str(path)) from None
    expected = Ed25519PrivateKey if private else Ed25519PublicKey
    if not isinstance(key, expected):
        raise InputError("not an Ed25519 key (make one with `lai-pack keygen`)", file=str(path))
    return key


def sign_bytes(data: bytes, private_key: Path) -> bytes:
    return _load(private_key, private=True).sign(data)


def signs(signature: bytes, data: bytes, public_key: Path) -> bool:
    from cryptography.exceptions import InvalidSignature

    try:
        _load(public_key, private=False).verify(signature, data)
    except InvalidSignature:
        return False
    return True


def key_id(key_path: Path, *, private: bool) -> str:
    """The key's id as securesystemslib computes it: sha256 of the canonical JSON of its public metadata."""
    from cryptography.hazmat.primitives import serialization

    key = _load(key_path, private=private)
    public = key.public_key() if private else key
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw).hex()
    metadata = {"keytype": "ed25519", "keyval": {"public": raw}, "scheme": "ed25519"}
    return sha256_bytes(json.dumps(metadata, sort_keys=True, separators=(",", ":")).encode())


def public_pem(private_key: Path) -> str:
    """The public half of a private key, as PEM text (to check what this key signed)."""
    from cryptography.hazmat.primitives import serialization

    public = _load(private_key, private=True).public_key()
    return public.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def write_public_key(private_key: Path, target: Path) -> Path:
    target.write_text(public_pem(private_key), encoding="ascii")
    return target


def sign_file(path: Path, private_key: Path) -> Path:
    signature = sign_bytes(path.read_bytes(), private_key)
    target = path.with_name(path.name + SIGNATURE_SUFFIX)
    write_text_atomic(target, base64.b64encode(signature).decode() + "\n")
    return target


def signature_problem(path: Path, public_key: Path) -> str | None:
    """None when path's signature file is a valid signature of it by this key."""
    signature_path = path.with_name(path.name + SIGNATURE_SUFFIX)
    if not signature_path.is_file():
        return f"missing: {signature_path.name} (the manifest is not signed)"
    try:
        valid = signs(
            base64.b64decode(signature_path.read_text().strip(), validate=True), path.read_bytes(), public_key
        )
    except ValueError:
        valid = False
    if not valid:
        return f"bad signature: {signature_path.name} does not sign {path.name} with {public_key.name}"
    return None
