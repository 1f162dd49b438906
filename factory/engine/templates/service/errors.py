"""The service's refusals, one vocabulary for every step of the request chain, and the JSON every answer uses.

ApiError is what framing, identity, routing and the handlers raise (status, code, message, the fields at fault);
StoreError is what both stores raise when the database refuses (server.py turns it into the same JSON error);
StartupError is the one line the service prints when it cannot serve. Imports nothing of the service: every
module may import it.
"""

from __future__ import annotations

import json
from http import HTTPStatus


class ApiError(Exception):
    def __init__(self, status, code, message, fields=None, headers=None):
        super().__init__(message)
        self.status = status
        self.headers = headers or {}
        self.body = {"error": {"code": code, "message": message}}
        if fields:
            self.body["error"]["fields"] = fields


def not_found(what="record"):
    return ApiError(HTTPStatus.NOT_FOUND, "not_found", f"no such {what}")


def invalid_query(name, message):
    fields = [{"field": name, "message": message}]
    return ApiError(HTTPStatus.UNPROCESSABLE_ENTITY, "invalid_query", f"{name} {message}", fields)


def json_bytes(payload):
    return json.dumps(payload, allow_nan=False).encode()


class StoreError(Exception):
    """The database refused a request: the client gets this status, never a 500."""

    def __init__(self, status, code, message, field=None, fields=()):
        super().__init__(message)
        self.status = status
        self.code = code
        names = [field] if field else list(fields)
        self.fields = [{"field": name, "message": message} for name in names] or None


def duplicate(fields):
    """409 naming the fields of a unique set another record of the tenant already has these values of."""
    message = f"a record of this tenant already has this {' and '.join(fields)}"
    return StoreError(409, "conflict", message, fields=fields)


class StoreUnavailable(StoreError):
    def __init__(self, message="the database is not reachable; try again"):
        super().__init__(503, "unavailable", message)


class StartupError(Exception):
    """The service cannot serve with this database; the message is the one line it prints."""
