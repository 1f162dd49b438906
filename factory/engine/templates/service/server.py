"""The HTTP API: tenant-scoped create, list, get, update and delete for every contract resource.

Every answer is JSON (the page at / aside), every limit is in limits.py, which the OpenAPI document declares.
"""

from __future__ import annotations

import io
import json
import os
import re
import socket
import sys
import threading
import time
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from . import limits
from .http_io import ClientGone, DeadlineReader, FramingError, read_body
from .listing import QueryError, list_query
from .resources import MODULE_NAME, RESOURCES
from .static_files import static_handler
from .storage import StoreError, open_store
from .validation import InvalidJson, RejectedJson, decode_json, validate_body, with_defaults, with_integers

PACKAGE_DIR = Path(__file__).resolve().parent
TENANT_PATTERN = re.compile(limits.TENANT_PATTERN)
RECORD_ID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
WHOLE_NUMBER = re.compile(r"[0-9]{1,12}")
HEADER_TIMEOUT_S = 10.0
BODY_TIMEOUT_S = 30.0
WRITE_TIMEOUT_S = 30.0
LISTEN_BACKLOG = 1024
LINGER_S = 2.0  # at most this long reading away a refused body before closing; stop sooner once it goes idle
LINGER_IDLE_S = 0.25
LINGER_BYTES = 4 * limits.MAX_BODY_BYTES
MAX_QUERY_FIELDS = 64


class ApiError(Exception):
    def __init__(self, status, code, message, fields=None, headers=None):
        super().__init__(message)
        self.status = status
        self.headers = headers or {}
        self.body = {"error": {"code": code, "message": message}}
        if fields:
            self.body["error"]["fields"] = fields


def _not_found(what="record"):
    return ApiError(HTTPStatus.NOT_FOUND, "not_found", f"no such {what}")


def _json_bytes(payload):
    return json.dumps(payload, allow_nan=False).encode()


def _invalid_query(name, message):
    fields = [{"field": name, "message": message}]
    return ApiError(HTTPStatus.UNPROCESSABLE_ENTITY, "invalid_query", f"{name} {message}", fields)


def _page_param(query, name, default, low, high):
    """A whole number from low to high, in ASCII digits; absent means default, anything else is a 422."""
    values = [value for key, value in query if key == name]
    if not values:
        return default
    rule = f"must be one whole number from {low} to {high}"
    if len(values) > 1 or not WHOLE_NUMBER.fullmatch(values[0]) or not low <= int(values[0]) <= high:
        raise _invalid_query(name, rule)
    return int(values[0])


def _query(text):
    try:
        return parse_qsl(text, keep_blank_values=True, max_num_fields=MAX_QUERY_FIELDS)
    except ValueError:
        raise _invalid_query("(query)", f"must have at most {MAX_QUERY_FIELDS} fields") from None


class Api:
    """Routing and rules, independent of the socket: handle() takes a request and returns a response."""

    def __init__(self, store):
        self.store = store
        self.resources = {resource.PLURAL: resource for resource in RESOURCES}

    def handle(self, method, target, headers, body_bytes):
        """Returns (status, content_type, body_bytes, extra_headers)."""
        try:
            return self._route(method, target, headers, body_bytes)
        except ApiError as error:
            return error.status, "application/json", _json_bytes(error.body), error.headers
        except StoreError as error:  # the database refused (409/422 naming the field) or is unreachable (503)
            error = ApiError(error.status, error.code, str(error), error.fields)
            return error.status, "application/json", _json_bytes(error.body), error.headers
        except Exception:  # noqa: BLE001
            # Never drop the connection: the client gets a 500, the traceback goes to stderr.
            traceback.print_exc(file=sys.stderr)
            body = {"error": {"code": "internal_error", "message": "the service failed; see its log"}}
            return HTTPStatus.INTERNAL_SERVER_ERROR, "application/json", _json_bytes(body), {}

    def _methods(self, path):
        """(the handlers this path allows by method, resource, record id); None for an unknown path."""
        if path == "/health":
            return {"GET": self._health}, None, None
        if path == "/openapi.json":
            return {"GET": self._contract}, None, None
        page = static_handler(path)  # the admin page and its scripts (static_files.py)
        if page is not None:
            return {"GET": page}, None, None
        prefix = limits.API_PREFIX + "/"
        if not path.startswith(prefix):
            return None
        parts = path[len(prefix) :].split("/")
        resource = self.resources.get(parts[0])
        if resource is None or len(parts) > 2 or (len(parts) == 2 and not parts[1]):
            return None
        if len(parts) == 1:
            return {"GET": self._list, "POST": self._create}, resource, None
        return {"GET": self._get, "PATCH": self._update, "DELETE": self._delete}, resource, parts[1]

    def _route(self, method, target, headers, body_bytes):
        url = urlsplit(target)
        found = self._methods(url.path)
        if found is None:
            raise _not_found("path")
        handlers, resource, record_id = found
        if method not in handlers:
            allowed = ", ".join(sorted(handlers))
            raise ApiError(
                HTTPStatus.METHOD_NOT_ALLOWED,
                "method_not_allowed",
                f"{method} is not allowed here; allowed: {allowed}",
                headers={"Allow": allowed},
            )
        if resource is None:
            return handlers[method]()
        tenant_id = self._tenant(headers)
        if method in ("POST", "PATCH"):
            self._require_json(headers)
        return handlers[method](resource, tenant_id, record_id, url.query, body_bytes)

    def _health(self):
        self.store.ping()
        return HTTPStatus.OK, "application/json", _json_bytes({"status": "ok", "module": MODULE_NAME}), {}

    @staticmethod
    def _contract():
        return HTTPStatus.OK, "application/json", (PACKAGE_DIR / "openapi.json").read_bytes(), {}

    @staticmethod
    def _json(status, payload):
        return status, "application/json", _json_bytes(payload), {}

    @staticmethod
    def _tenant(headers):
        values = headers.get_all(limits.TENANT_HEADER) or []
        tenant_id = values[0] if len(values) == 1 else ""
        if not TENANT_PATTERN.fullmatch(tenant_id) or len(tenant_id) > limits.TENANT_MAX_LENGTH:
            raise ApiError(
                HTTPStatus.BAD_REQUEST,
                "missing_tenant",
                f"header {limits.TENANT_HEADER} is required exactly once "
                f"(1-{limits.TENANT_MAX_LENGTH} of A-Z a-z 0-9 _.:-)",
            )
        return tenant_id

    @staticmethod
    def _require_json(headers):
        values = headers.get_all("Content-Type") or []
        media_type, _, parameters = (values[0] if len(values) == 1 else "").partition(";")
        charset = parameters.strip().lower().replace(" ", "")
        # RFC 9110: a parameter's value may be a quoted string.
        if media_type.strip().lower() != "application/json" or charset not in ("", "charset=utf-8", 'charset="utf-8"'):
            raise ApiError(
                HTTPStatus.UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "the body must be application/json"
            )

    @staticmethod
    def _body(resource, body_bytes, *, partial):
        try:
            body = decode_json(body_bytes, limits.MAX_JSON_DEPTH, limits.MAX_NUMBER_DIGITS)
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
            raise ApiError(
                HTTPStatus.UNPROCESSABLE_ENTITY, "validation_error", "the body breaks the contract", problems
            )
        return with_integers(resource.SCHEMA, body)

    @staticmethod
    def _record_id(resource, record_id):
        if not RECORD_ID.fullmatch(record_id):
            raise _not_found(resource.NAME)
        return record_id.lower()

    def _list(self, resource, tenant_id, _record_id, query_text, _body):
        query = _query(query_text)
        limit = _page_param(query, "limit", limits.DEFAULT_PAGE_LIMIT, 1, limits.MAX_PAGE_LIMIT)
        offset = _page_param(query, "offset", 0, 0, limits.MAX_PAGE_OFFSET)
        try:
            filters, sort = list_query(resource.SCHEMA, query)
        except QueryError as error:
            raise _invalid_query(error.name, str(error)) from None
        items, total = self.store.list(resource.PLURAL, tenant_id, limit, offset, filters, sort)
        return self._json(HTTPStatus.OK, {"items": items, "total": total, "limit": limit, "offset": offset})

    def _create(self, resource, tenant_id, _record_id, _query, body_bytes):
        fields = with_defaults(resource.SCHEMA, self._body(resource, body_bytes, partial=False))
        return self._json(HTTPStatus.CREATED, self.store.create(resource.PLURAL, tenant_id, fields))

    def _get(self, resource, tenant_id, record_id, _query, _body):
        record = self.store.get(resource.PLURAL, tenant_id, self._record_id(resource, record_id))
        if record is None:
            raise _not_found(resource.NAME)
        return self._json(HTTPStatus.OK, record)

    def _update(self, resource, tenant_id, record_id, _query, body_bytes):
        changes = self._body(resource, body_bytes, partial=True)
        record = self.store.update(resource.PLURAL, tenant_id, self._record_id(resource, record_id), changes)
        if record is None:
            raise _not_found(resource.NAME)
        return self._json(HTTPStatus.OK, record)

    def _delete(self, resource, tenant_id, record_id, _query, _body):
        if not self.store.delete(resource.PLURAL, tenant_id, self._record_id(resource, record_id)):
            raise _not_found(resource.NAME)
        return HTTPStatus.NO_CONTENT, None, b"", {}


class Handler(BaseHTTPRequestHandler):
    """One connection: requests read with deadlines and exact framing; every answer JSON with a length."""

    server_version = f"{MODULE_NAME}/0.0.1"
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.rfile.close()
        self._reader = DeadlineReader(self.connection)
        self.rfile = io.BufferedReader(self._reader)

    def handle_one_request(self):
        self._reader.deadline = time.monotonic() + self.server.header_timeout
        try:
            self.raw_requestline = self.rfile.readline(65537)
            if not self.raw_requestline:
                self.close_connection = True
                return
            if len(self.raw_requestline) > 65536:
                self.requestline, self.request_version, self.command = "", "HTTP/1.1", ""
                self.send_error(HTTPStatus.BAD_REQUEST, "the request line is too long")
                return
            if not self.parse_request():
                return
            if self.request_version == "HTTP/0.9":
                self.send_error(HTTPStatus.BAD_REQUEST, "HTTP/0.9 is not supported")
                return
            if self.headers.defects or self.headers.get_payload():
                # The header parser stops at a line that is not "Name: value" and hides the rest (a
                # Content-Length among them): the body would then be read as the next request.
                self.send_error(HTTPStatus.BAD_REQUEST, "a header line is not Name: value")
                return
            self._reader.deadline = time.monotonic() + self.server.body_timeout
            try:
                body = read_body(self.rfile, self.headers, self.command, limits.MAX_BODY_BYTES)
            except FramingError as error:
                self.close_connection = True
                payload = _json_bytes({"error": {"code": error.code, "message": error.message}})
                self._answer(error.status, "application/json", payload, {})
                self._drain_before_close()
                return
            self._answer(*self.server.api.handle(self.command, self.path, self.headers, body))
        except (OSError, ClientGone):
            # A client that stalls past a deadline, resets, or leaves mid-body is dropped; others go on.
            self.close_connection = True

    def _drain_before_close(self):
        """The client may still be sending the body we refused: closing with unread bytes resets the connection,
        and the reset can destroy our answer before the client reads it. Half-close, then read the rest away
        (bounded in time and bytes; done once nothing arrives for LINGER_IDLE_S), as web servers' lingering close
        does."""
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_WR)
            deadline, received = time.monotonic() + LINGER_S, 0
            while received < LINGER_BYTES and (remaining := deadline - time.monotonic()) > 0:
                self.connection.settimeout(min(remaining, LINGER_IDLE_S))
                chunk = self.connection.recv(65536)
                if not chunk:
                    return
                received += len(chunk)
        except OSError:
            return

    def send_error(self, code, message=None, explain=None):
        """What http.server refuses by itself (a bad request line or headers) is answered as a JSON 400."""
        self.close_connection = True
        text = message or "the request is malformed"
        payload = _json_bytes({"error": {"code": "bad_request", "message": text}})
        self._answer(HTTPStatus.BAD_REQUEST, "application/json", payload, {})
        self._drain_before_close()

    def _answer(self, status, content_type, payload, headers):
        if self.request_version == "HTTP/0.9":  # a request line too broken to name a version: answer in 1.1
            self.request_version = "HTTP/1.1"
        self.connection.settimeout(WRITE_TIMEOUT_S)
        self.send_response(status)
        if status != HTTPStatus.NO_CONTENT:
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(payload)))
        for name, value in headers.items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        elif self.request_version == "HTTP/1.0":
            # An HTTP/1.0 client that asked to keep the connection (ab -k) waits for the close unless told.
            self.send_header("Connection", "keep-alive")
        # Headers and body in one write: two small writes wait out the peer's delayed ACK (40 ms each).
        self._headers_buffer.append(b"\r\n")
        if self.command != "HEAD" and status != HTTPStatus.NO_CONTENT:
            self._headers_buffer.append(payload)
        self.wfile.write(b"".join(self._headers_buffer))
        self._headers_buffer = []

    def log_message(self, format, *args):
        if os.environ.get("SERVICE_ACCESS_LOG") == "1":
            super().log_message(format, *args)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    # The standard library's backlog of 5 resets connections under a burst of concurrent clients.
    request_queue_size = LISTEN_BACKLOG


def make_server(host="127.0.0.1", port=0, database_path=None, header_timeout=None, body_timeout=None):
    """A ready server (port 0 picks a free one); call serve_forever(), or start_in_thread().
    database_path: a SQLite file or a PostgreSQL URL; by default DATABASE_URL when it is a PostgreSQL URL, else
    DATABASE_PATH, else a per-user data folder (never the build folder). Raises StartupError (one line).
    header_timeout / body_timeout: seconds a client has to send a request's headers / its body."""
    store = open_store(database_path, MODULE_NAME)
    server = Server((host, port), Handler)
    server.api = Api(store)
    server.header_timeout = header_timeout or HEADER_TIMEOUT_S
    server.body_timeout = body_timeout or BODY_TIMEOUT_S
    server.store = store
    return server


def start_in_thread(server):
    thread = threading.Thread(target=server.serve_forever, name="service", daemon=True)
    thread.start()
    return thread
