"""Bearer-token verification (issue #26): the caller's tenant and role come from a verified JWT's claims.

Pure core: verify_token(token, config) -> (tenant, role, claims) or raises AuthError; config_from_env reads the
environment once. PyJWT is imported only when a secret is configured, so SQLite mode without auth still needs
only the standard library. HS256 only for now (a JWKS source is not built yet); the algorithm list is fixed by
the service, never taken from the token's header, which is what refuses `alg: none` and HS/RS confusion.
"""

from __future__ import annotations

import os
from typing import NamedTuple

ROLES = ("read", "write")  # read: GET only; write: every operation
DEFAULT_TENANT_CLAIM = "app_metadata.tenant_id"  # where a Supabase token can carry it (set by the app's admin)
DEFAULT_ROLE_CLAIM = "app_metadata.role"
LEEWAY_SECONDS = 30


class AuthConfig(NamedTuple):
    secret: str
    tenant_claim: str = DEFAULT_TENANT_CLAIM
    role_claim: str = DEFAULT_ROLE_CLAIM
    audience: str | None = None
    issuer: str | None = None


class AuthError(Exception):
    """Why a token is refused (the text goes into WWW-Authenticate's error_description)."""


def config_from_env(environ=os.environ):
    """An AuthConfig when LAI_JWT_SECRET is set, else None (the legacy X-Tenant-ID mode)."""
    secret = environ.get("LAI_JWT_SECRET", "")
    if not secret:
        return None
    return AuthConfig(
        secret,
        environ.get("LAI_TENANT_CLAIM", DEFAULT_TENANT_CLAIM),
        environ.get("LAI_ROLE_CLAIM", DEFAULT_ROLE_CLAIM),
        environ.get("LAI_JWT_AUDIENCE") or None,
        environ.get("LAI_JWT_ISSUER") or None,
    )


def claim_at(claims, path):
    """The value at a dotted path (app_metadata.tenant_id) or None."""
    value = claims
    for part in path.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def bearer_token(header_values):
    """The token of exactly one `Authorization: Bearer <token>` header, else AuthError."""
    if len(header_values) != 1:
        raise AuthError("exactly one Authorization: Bearer header is required")
    scheme, _, token = header_values[0].partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthError("the Authorization header must be 'Bearer <token>'")
    return token.strip()


def verify_token(token, config):
    import jwt  # PyJWT; imported here so the no-auth mode needs no third-party package

    options = {"require": ["exp"], "verify_aud": config.audience is not None}
    try:
        claims = jwt.decode(
            token,
            config.secret,
            algorithms=["HS256"],
            audience=config.audience,
            issuer=config.issuer,
            leeway=LEEWAY_SECONDS,
            options=options,
        )
    except jwt.PyJWTError as error:
        raise AuthError(f"invalid token: {error}") from None
    tenant = claim_at(claims, config.tenant_claim)
    if not isinstance(tenant, str) or not tenant:
        raise AuthError(f"the token has no string claim {config.tenant_claim}")
    role = claim_at(claims, config.role_claim)
    if role not in ROLES:
        raise AuthError(f"the token's {config.role_claim} must be one of {', '.join(ROLES)}")
    return tenant, role, claims
