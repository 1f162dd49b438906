"""The HTTP API: tenant-scoped create, list, get, update and delete for every contract resource."""

from __future__ import annotations

import json
import os
import re
import sys
import threading
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from .resources import MODULE_NAME, RESOURCES
from .storage import StoreError, open_store
from .validation import validate_body, with_defaults

API_PREFIX = "/api/v1/"
TENANT_HEADER = "X-Tenant-ID"
TENANT_PATTERN = re.compile(r"^[A-Za-z0-9_.:-]{1,128}$")
DEFAULT_LIMIT = 50
MAX_LIMIT = 200
MAX_BODY_BYTES = 1_000_000
PACKAGE_DIR = Path(__file__).resolve().parent


class ApiError(Exception):
    def __init__(self, status, code, message, fields=None):
        super().__init__(message)
        self.status = status
        self.body = {"error": {"code": code, "message": message}}
        if fields:
            self.body["error"]["fields"] = fields


def _not_found(what="record"):
    return ApiError(HTTPStatus.NOT_FOUND, "not_found", f"no such {what}")


def _page_param(query, name, default, low, high):
    values = query.get(name)
    if not values:
        return default
    text = values[0]
    if not text.isdigit() or not low <= int(text) <= high:
        raise ApiError(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "invalid_query",
            f"{name} must be a whole number from {low} to {high}",
            [{"field": name, "message": f"must be a whole number from {low} to {high}"}],
        )
    return int(text)


class Api:
    """Routing and rules, independent of the socket: handle() takes a request and returns a response."""

    def __init__(self, store):
        self.store = store
        self.resources = {resource.PLURAL: resource for resource in RESOURCES}

    def handle(self, method, target, headers, body_bytes):
        """Returns (status, content_type, body_bytes)."""
        try:
            return self._route(method, target, headers, body_bytes)
        except ApiError as error:
            return error.status, "application/json", json.dumps(error.body).encode()
        except StoreError as error:  # the database refused (409/422 naming the field) or is unreachable (503)
            error = ApiError(error.status, error.code, str(error), error.fields)
            return error.status, "application/json", json.dumps(error.body).encode()
        except Exception:  # noqa: BLE001
            # Never drop the connection: the client gets a 500, the traceback goes to stderr.
            traceback.print_exc(file=sys.stderr)
            body = {"error": {"code": "internal_error", "message": "the service failed; see its log"}}
            return HTTPStatus.INTERNAL_SERVER_ERROR, "application/json", json.dumps(body).encode()

    def _route(self, method, target, headers, body_bytes):
        url = urlsplit(target)
        path = url.path.rstrip("/") or "/"
        if path == "/health" and method == "GET":
            self.store.ping()
            return self._json(HTTPStatus.OK, {"status": "ok", "module": MODULE_NAME})
        if path == "/openapi.json" and method == "GET":
            return HTTPStatus.OK, "application/json", (PACKAGE_DIR / "openapi.json").read_bytes()
        if path in ("/", "/index.html") and method == "GET":
            return HTTPStatus.OK, "text/html; charset=utf-8", (PACKAGE_DIR / "static" / "index.html").read_bytes()
        if not path.startswith(API_PREFIX):
            raise _not_found("path")
        parts = path[len(API_PREFIX) :].split("/")
        resource = self.resources.get(parts[0])
        if resource is None or len(parts) > 2:
            raise _not_found("path")
        tenant_id = self._tenant(headers)
        record_id = parts[1] if len(parts) == 2 else None
        handler = {
            ("GET", False): self._list,
            ("POST", False): self._create,
            ("GET", True): self._get,
            ("PATCH", True): self._update,
            ("DELETE", True): self._delete,
        }.get((method, record_id is not None))
        if handler is None:
            raise ApiError(HTTPStatus.METHOD_NOT_ALLOWED, "method_not_allowed", f"{method} is not allowed here")
        return handler(resource, tenant_id, record_id, parse_qs(url.query), body_bytes)

    @staticmethod
    def _json(status, payload):
        return status, "application/json", json.dumps(payload).encode()

    @staticmethod
    def _tenant(headers):
        tenant_id = headers.get(TENANT_HEADER)
        if not tenant_id or not TENANT_PATTERN.match(tenant_id):
            raise ApiError(
                HTTPStatus.BAD_REQUEST,
                "missing_tenant",
                f"header {TENANT_HEADER} is required (1-128 of A-Z a-z 0-9 _.:-)",
            )
        return tenant_id

    @staticmethod
    def _body(resource, body_bytes, *, partial):
        try:
            body = json.loads(body_bytes or b"null")
        except (ValueError, UnicodeDecodeError):
            raise ApiError(HTTPStatus.BAD_REQUEST, "invalid_json", "the body is not valid JSON") from None
        problems = validate_body(resource.SCHEMA, body, partial=partial)
        if problems:
            raise ApiError(
                HTTPStatus.UNPROCESSABLE_ENTITY, "validation_error", "the body breaks the contract", problems
            )
        return body

    def _list(self, resource, tenant_id, _record_id, query, _body):
        limit = _page_param(query, "limit", DEFAULT_LIMIT, 1, MAX_LIMIT)
        offset = _page_param(query, "offset", 0, 0, 10**9)
        items, total = self.store.list(resource.PLURAL, tenant_id, limit, offset)
        return self._json(HTTPStatus.OK, {"items": items, "total": total, "limit": limit, "offset": offset})

    def _create(self, resource, tenant_id, _record_id, _query, body_bytes):
        fields = with_defaults(resource.SCHEMA, self._body(resource, body_bytes, partial=False))
        return self._json(HTTPStatus.CREATED, self.store.create(resource.PLURAL, tenant_id, fields))

    def _get(self, resource, tenant_id, record_id, _query, _body):
        record = self.store.get(resource.PLURAL, tenant_id, record_id)
        if record is None:
            raise _not_found(resource.NAME)
        return self._json(HTTPStatus.OK, record)

    def _update(self, resource, tenant_id, record_id, _query, body_bytes):
        changes = self._body(resource, body_bytes, partial=True)
        record = self.store.update(resource.PLURAL, tenant_id, record_id, changes)
        if record is None:
            raise _not_found(resource.NAME)
        return self._json(HTTPStatus.OK, record)

    def _delete(self, resource, tenant_id, record_id, _query, _body):
        if not self.store.delete(resource.PLURAL, tenant_id, record_id):
            raise _not_found(resource.NAME)
        return HTTPStatus.NO_CONTENT, None, b""


def _handler_for(api):
    class Handler(BaseHTTPRequestHandler):
        server_version = f"{MODULE_NAME}/0.0.1"
        protocol_version = "HTTP/1.1"

        def _serve(self):
            length = int(self.headers.get("Content-Length") or 0)
            if length > MAX_BODY_BYTES:
                status, content_type, payload = Api._json(
                    HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                    {"error": {"code": "too_large", "message": f"the body exceeds {MAX_BODY_BYTES} bytes"}},
                )
                self.close_connection = True
            else:
                body = self.rfile.read(length) if length else b""
                status, content_type, payload = api.handle(self.command, self.path, self.headers, body)
            self.send_response(status)
            if content_type:
                self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(payload)

        do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = _serve

        def log_message(self, format, *args):
            if os.environ.get("SERVICE_ACCESS_LOG") == "1":
                super().log_message(format, *args)

    return Handler


def make_server(host="127.0.0.1", port=0, database_path=None):
    """A ready server (port 0 picks a free one); call serve_forever(), or start_in_thread().
    database_path: a SQLite file or a PostgreSQL URL; by default DATABASE_URL when it is a PostgreSQL URL, else
    DATABASE_PATH, else a per-user data folder (never the build folder). Raises StartupError (one line)."""
    store = open_store(database_path, MODULE_NAME)
    server = ThreadingHTTPServer((host, port), _handler_for(Api(store)))
    server.daemon_threads = True
    server.store = store
    return server


def start_in_thread(server):
    thread = threading.Thread(target=server.serve_forever, name="service", daemon=True)
    thread.start()
    return thread
