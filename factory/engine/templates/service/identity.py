"""Who is calling: resolve_identity(request) -> Identity(tenant, role, claims), or a 400 ApiError.

Today the tenant is the X-Tenant-ID header (limits.TENANT_HEADER), sent exactly once; there is no role and no
claims. Authentication plugs in here: verify a bearer token (its limits, such as the header's size, belong to
framing.py) and fill role and claims from it; the handlers and the stores only ever see the Identity. It is
resolved after routing and only for the resource routes, so /health, /openapi.json, the page and an unknown
path answer without a tenant.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from typing import NamedTuple

from . import auth, limits
from .errors import ApiError

AUTH_CONFIG = auth.config_from_env()  # None: no LAI_JWT_SECRET, the legacy X-Tenant-ID mode
READ_METHODS = ("GET", "HEAD")

TENANT_PATTERN = re.compile(limits.TENANT_PATTERN)


class Identity(NamedTuple):
    tenant: str
    role: object = None  # no roles yet: every caller of a tenant may do everything to its records
    claims: tuple = ()  # (name, value) pairs from a verified token, once there is one


def resolve_identity(request, config=None):
    config = config or AUTH_CONFIG
    if config is not None:
        return _from_token(request, config)
    values = request.headers.get_all(limits.TENANT_HEADER) or []
    tenant_id = values[0] if len(values) == 1 else ""
    if not TENANT_PATTERN.fullmatch(tenant_id) or len(tenant_id) > limits.TENANT_MAX_LENGTH:
        raise ApiError(
            HTTPStatus.BAD_REQUEST,
            "missing_tenant",
            f"header {limits.TENANT_HEADER} is required exactly once "
            f"(1-{limits.TENANT_MAX_LENGTH} of A-Z a-z 0-9 _.:-)",
        )
    return Identity(tenant_id)


def _from_token(request, config):
    try:
        tenant, role, claims = auth.verify_token(
            auth.bearer_token(request.headers.get_all("Authorization") or []), config
        )
    except auth.AuthError as error:
        reason = str(error).replace('"', "'")
        challenge = f'Bearer error="invalid_token", error_description="{reason}"'
        raise ApiError(
            HTTPStatus.UNAUTHORIZED, "unauthorized", reason, headers={"WWW-Authenticate": challenge}
        ) from None
    if role != "write" and request.method not in READ_METHODS:
        raise ApiError(HTTPStatus.FORBIDDEN, "forbidden", f"role {role} may only read")
    return Identity(tenant, role, tuple(sorted(claims.items())))
