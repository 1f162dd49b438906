"""Issue #26: the generated service, run with LAI_JWT_SECRET, trusts only verified bearer tokens (a real process)."""

from __future__ import annotations

import base64
import http.client
import json
from pathlib import Path

import jwt
import pytest
from conftest import service_by_hand

from factory.service_auth import mint_token, new_test_secret

SECRET = new_test_secret()


def call(port, method, path, token=None, body=None, extra=None):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": "application/json", **({"Authorization": f"Bearer {token}"} if token else {})}
    headers.update(extra or {})
    connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = connection.getresponse()
    raw = response.read()
    connection.close()
    return response.status, response.getheader("WWW-Authenticate"), (json.loads(raw) if raw else None)


@pytest.fixture
def port(crm_source: Path, tmp_path: Path):
    database = str(tmp_path / "db.sqlite3")
    with service_by_hand(crm_source / "build", tmp_path, DATABASE_PATH=database, LAI_JWT_SECRET=SECRET) as bound:
        yield bound


def _collection(crm_source: Path):
    contract = json.loads((crm_source / "build/src/crm_contacts/openapi.json").read_text())  # what it serves
    return next(p for p in contract["paths"] if "{" not in p and p not in ("/health", "/openapi.json", "/"))


def _forged_claims(token):
    claims = jwt.decode(token, options={"verify_signature": False})
    return {**claims, "app_metadata": {"tenant_id": "other", "role": "write"}}


def _b64(data):
    return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()


def test_tokens_decide_tenant_and_role(port: int, crm_source: Path):
    path = _collection(crm_source)
    status, challenge, _ = call(port, "GET", path)
    assert status == 401 and challenge.startswith("Bearer")
    # The old header alone no longer picks a tenant.
    assert call(port, "GET", path, extra={"X-Tenant-ID": "acme"})[0] == 401
    acme, other = mint_token(SECRET, "acme"), mint_token(SECRET, "other")
    assert call(port, "GET", path, acme)[2]["total"] == 0
    assert call(port, "GET", path, other)[2]["total"] == 0
    # A read-only token may list but not write: 403, not 401.
    reader = mint_token(SECRET, "acme", role="read")
    assert call(port, "GET", path, reader)[0] == 200
    assert call(port, "POST", path, reader, body={})[0] == 403
    # X-Tenant-ID next to a valid token does not change the tenant the token names.
    assert call(port, "GET", path, other, extra={"X-Tenant-ID": "acme"})[0] == 200


@pytest.mark.parametrize("attack", ["expired", "wrong_key", "alg_none", "tampered", "no_tenant", "bad_role", "hs_rs"])
def test_forged_tokens_are_refused(port: int, crm_source: Path, attack: str):
    good = mint_token(SECRET, "acme")
    header, payload, signature = good.split(".")
    token = {
        "expired": lambda: mint_token(SECRET, "acme", lifetime_s=-3600),
        "wrong_key": lambda: mint_token(new_test_secret(), "acme"),
        "alg_none": lambda: f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{payload}.",
        "tampered": lambda: f"{header}.{_b64(_forged_claims(good))}.{signature}",
        "no_tenant": lambda: mint_token(SECRET, "acme", app_metadata={"role": "write"}),
        "bad_role": lambda: mint_token(SECRET, "acme", app_metadata={"tenant_id": "acme", "role": "admin"}),
        # HS/RS confusion: a token claiming RS256 signed with the secret as if it were a public key.
        "hs_rs": lambda: f"{_b64({'alg': 'RS256', 'typ': 'JWT'})}.{payload}.{signature}",
    }[attack]()
    status, challenge, body = call(port, "GET", _collection(crm_source), token)
    assert status == 401, (attack, body)
    assert challenge and challenge.startswith('Bearer error="invalid_token"')


def _raw(port, request: bytes) -> bytes:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks)


def test_browser_headers_and_non_canonical_targets(port: int):
    answer = _raw(port, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
    head = answer.split(b"\r\n\r\n")[0].decode().lower()
    assert "frame-ancestors 'none'" in head and "x-frame-options: deny" in head
    assert "x-content-type-options: nosniff" in head and "referrer-policy: no-referrer" in head
    server = next(line for line in head.splitlines() if line.startswith("server:"))
    assert "python" not in server, server
    for target in (b"//health", b"http://127.0.0.1/health"):
        answer = _raw(port, b"GET " + target + b" HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        assert answer.startswith(b"HTTP/1.1 400"), (target, answer[:200])


def test_sqlite_file_is_private(port: int, tmp_path: Path):
    call(port, "GET", "/health")
    for name in ("db.sqlite3", "db.sqlite3-wal", "db.sqlite3-shm"):
        if (tmp_path / name).exists():
            assert (tmp_path / name).stat().st_mode & 0o777 == 0o600, name


def test_oversized_headers_are_refused_and_health_answers(port: int):
    # 99 header lines of 4 KB (~400 KB): accepted by http.server alone; the head's budget refuses it.
    header = b"".join(b"X-Pad-%d: %s\r\n" % (i, b"a" * 4096) for i in range(99))
    answer = _raw(port, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n" + header + b"Connection: close\r\n\r\n")
    assert answer.startswith(b"HTTP/1.1 431"), answer[:200]
    small = _raw(
        port, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: " + b"a" * 20000 + b"\r\nConnection: close\r\n\r\n"
    )
    assert small.startswith(b"HTTP/1.1 200"), small[:200]
