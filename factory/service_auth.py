"""The factory's side of the generated service's bearer tokens (issue #26): mint one for a test or a harness.

A build's test secret is made per run (new_test_secret) and passed to the service as LAI_JWT_SECRET, so no
secret is ever a literal in the repository or the build for the secret-scan gate to flag.
"""

from __future__ import annotations

import secrets
import time

import jwt  # PyJWT: the same library the generated service verifies with

TENANT_CLAIM = "app_metadata"  # the service's default claim path is app_metadata.tenant_id / app_metadata.role


def new_test_secret():
    return secrets.token_urlsafe(32)


def mint_token(secret, tenant, role="write", lifetime_s=600, **extra_claims):
    now = int(time.time())
    claims = {"sub": f"test-{tenant}", "iat": now, "exp": now + lifetime_s, **extra_claims}
    claims.setdefault(TENANT_CLAIM, {"tenant_id": tenant, "role": role})
    return jwt.encode(claims, secret, algorithm="HS256")
