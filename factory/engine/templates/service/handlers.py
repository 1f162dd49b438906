"""One function per operation: the request's body and query checked against the contract, then the store.

Every handler is handler(store, request, route, identity) -> (status, content_type, body_bytes, headers), and
raises ApiError for what the client got wrong (the store raises StoreError for what the database refused).
identity is None for the service's own routes (health, contract, page).

Where what is coming plugs in:
- user hooks: around the store calls below (before create/update with the checked fields, after with the
  record), one call site per operation, so a hook sees exactly what the store keeps and returns;
- ETag / If-Match: get and update (a record's updated_at is its version), answered in the headers dict;
- expand (a referenced record inline): after the store's get/list, from the references in tables.json;
- batches: one more operation here calling a store method that runs all of it in one transaction;
- query operators: listing.py parses them, query.py turns them into SQL; _list here only passes them on.
"""

from __future__ import annotations

import re
from http import HTTPStatus
from pathlib import Path
from urllib.parse import parse_qsl

from . import limits
from .errors import ApiError, invalid_query, json_bytes, not_found
from .listing import QueryError, list_query
from .resources import MODULE_NAME
from .static_files import read_page
from .validation import InvalidJson, RejectedJson, decode_json, validate_body, with_defaults, with_integers

PACKAGE_DIR = Path(__file__).resolve().parent
RECORD_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
WHOLE_NUMBER = re.compile(r"[0-9]{1,12}")
MAX_QUERY_FIELDS = 64


def _json(status, payload):
    return status, "application/json", json_bytes(payload), {}


def _page_param(query, name, default, low, high):
    """A whole number from low to high, in ASCII digits; absent means default, anything else is a 422."""
    values = [value for key, value in query if key == name]
    if not values:
        return default
    rule = f"must be one whole number from {low} to {high}"
    if len(values) > 1 or not WHOLE_NUMBER.fullmatch(values[0]) or not low <= int(values[0]) <= high:
        raise invalid_query(name, rule)
    return int(values[0])


def _query(text):
    try:
        return parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_QUERY_FIELDS)
    except ValueError:
        raise invalid_query("(query)", f"must have at most {MAX_QUERY_FIELDS} fields") from None


def _require_json(headers):
    values = headers.get_all("Content-Type") or []
    media_type, _, parameters = (values[0] if len(values) == 1 else "").partition(";")
    charset = parameters.strip().lower().replace(" ", "")
    # RFC 9110: a parameter's value may be a quoted string.
    if media_type.strip().lower() != "application/json" or charset not in ("", "charset=utf-8", 'charset="utf-8"'):
        raise ApiError(HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "the body must be application/json")


def _body(resource, request, *, partial):
    """The request's JSON body, checked against the resource's contract (a 415, 400 or 422 when it is not)."""
    _require_json(request.headers)
    try:
        body = decode_json(request.body, limits.MAX_JSON_DEPTH, limits.MAX_NUMBER_DIGITS)
    except InvalidJson as error:
        raise ApiError(HTTPStatus.BAD_REQUEST, "invalid_json", str(error)) from None
    except RejectedJson as error:
        raise ApiError(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "validation_error",
            str(error),
            [{"field": "(body)", "message": str(error)}],
        ) from None
    problems = validate_body(resource.SCHEMA, body, partial=partial)
    if problems:
        raise ApiError(HTTPStatus.UNPROCESSABLE_ENTITY, "validation_error", "the body breaks the contract", problems)
    return with_integers(resource.SCHEMA, body)


def _record_id(route):
    if not RECORD_ID.fullmatch(route.record_id):
        raise not_found(route.resource.NAME)
    return route.record_id.lower()


def health(store, _request, _route, _identity):
    store.ping()
    return _json(HTTPStatus.OK, {"status": "ok", "module": MODULE_NAME})


def contract(_store, _request, _route, _identity):
    return HTTPStatus.OK, "application/json", (PACKAGE_DIR / "openapi.json").read_bytes(), {}


def page(_store, request, _route, _identity):
    content_type, body = read_page(request.path)
    return HTTPStatus.OK, content_type, body, {}


def list_records(store, request, route, identity):
    query = _query(request.query)
    limit = _page_param(query, "limit", limits.DEFAULT_PAGE_LIMIT, 1, limits.MAX_PAGE_LIMIT)
    offset = _page_param(query, "offset", 0, 0, limits.MAX_PAGE_OFFSET)
    try:
        filters, sort = list_query(route.resource.SCHEMA, query)
    except QueryError as error:
        raise invalid_query(error.name, str(error)) from None
    items, total = store.list(route.resource.PLURAL, identity.tenant, limit, offset, filters, sort)
    return _json(HTTPStatus.OK, {"items": items, "total": total, "limit": limit, "offset": offset})


def create_record(store, request, route, identity):
    fields = with_defaults(route.resource.SCHEMA, _body(route.resource, request, partial=False))
    return _json(HTTPStatus.CREATED, store.create(route.resource.PLURAL, identity.tenant, fields))


def get_record(store, request, route, identity):
    # A record read takes no parameters: an unknown one is refused as a list refuses it, not ignored.
    for name, _value in _query(request.query):
        raise invalid_query(name, "is not a parameter of this operation (it takes none)")
    record = store.get(route.resource.PLURAL, identity.tenant, _record_id(route))
    if record is None:
        raise not_found(route.resource.NAME)
    return _json(HTTPStatus.OK, record)


def update_record(store, request, route, identity):
    changes = _body(route.resource, request, partial=True)
    record = store.update(route.resource.PLURAL, identity.tenant, _record_id(route), changes)
    if record is None:
        raise not_found(route.resource.NAME)
    return _json(HTTPStatus.OK, record)


def delete_record(store, _request, route, identity):
    if not store.delete(route.resource.PLURAL, identity.tenant, _record_id(route)):
        raise not_found(route.resource.NAME)
    return HTTPStatus.NO_CONTENT, None, b"", {}


# routing.py's operation names -> their handlers.
HANDLERS = {
    "health": health,
    "contract": contract,
    "page": page,
    "list": list_records,
    "create": create_record,
    "get": get_record,
    "update": update_record,
    "delete": delete_record,
}
