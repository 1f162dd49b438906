"""method + path -> Route(operation, resource, record id), or a 404 (no such path) / 405 (with Allow) ApiError.

Pure: no headers, no body, no store. An operation is a name handlers.py maps to a function. A new route
(a batch endpoint, /me) is one more entry in a table below and one function in handlers.py.
"""

from __future__ import annotations

from http import HTTPStatus
from typing import NamedTuple

from . import limits
from .errors import ApiError, not_found
from .static_files import PAGES

# Paths outside the API prefix that answer without a tenant.
SERVICE_ROUTES = {
    "/health": {"GET": "health"},
    "/openapi.json": {"GET": "contract"},
    **{path: {"GET": "page"} for path in PAGES},  # the admin page and its scripts
}
COLLECTION_METHODS = {"GET": "list", "POST": "create"}
ITEM_METHODS = {"GET": "get", "PATCH": "update", "DELETE": "delete"}


class Route(NamedTuple):
    operation: str
    resource: object = None  # the resources/ module of a resource route; None for the service's own paths
    record_id: object = None  # the path's record id, unchecked (the handler decides what an unknown one is)


def _methods(path, resources):
    """(the operations this path allows by method, resource, record id); None for an unknown path."""
    if path in SERVICE_ROUTES:
        return SERVICE_ROUTES[path], None, None
    prefix = limits.API_PREFIX + "/"
    if not path.startswith(prefix):
        return None
    parts = path[len(prefix) :].split("/")
    resource = resources.get(parts[0])
    if resource is None or len(parts) > 2 or (len(parts) == 2 and not parts[1]):
        return None
    if len(parts) == 1:
        return COLLECTION_METHODS, resource, None
    return ITEM_METHODS, resource, parts[1]


def route(method, path, resources):
    """resources: {plural: resource module}."""
    found = _methods(path, resources)
    if found is None:
        raise not_found("path")
    operations, resource, record_id = found
    if method not in operations:
        allowed = ", ".join(sorted(operations))
        raise ApiError(
            HTTPStatus.METHOD_NOT_ALLOWED,
            "method_not_allowed",
            f"{method} is not allowed here; allowed: {allowed}",
            headers={"Allow": allowed},
        )
    return Route(operations[method], resource, record_id)
