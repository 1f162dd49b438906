"""The HTTP API: tenant-scoped create, list, get, update and delete for every contract resource.

Wiring only. A request passes through a visible chain, one module per step:
  framing.py (read and delimit the request, size/time limits, write the answer)
  -> routing.py (method + path -> operation, resource, record id; 404/405)
  -> identity.py (who is calling: the tenant; resource routes only)
  -> handlers.py (one function per operation: the contract's checks, then the store)
  -> storage.py / storage_pg.py (SQLite / PostgreSQL; records.py and query.py are what both share).
Every answer is JSON (the page at / aside), every limit is in limits.py, which the OpenAPI document declares.
"""

from __future__ import annotations

import sys
import threading
import traceback
from http import HTTPStatus
from http.server import ThreadingHTTPServer
from urllib.parse import urlsplit

from .errors import ApiError, StoreError, json_bytes
from .framing import BODY_TIMEOUT_S, HEADER_TIMEOUT_S, Handler
from .handlers import HANDLERS
from .identity import resolve_identity
from .request import Request
from .resources import MODULE_NAME, RESOURCES
from .routing import route
from .storage import open_store

LISTEN_BACKLOG = 1024


class Api:
    """The chain after framing, independent of the socket: handle() takes a request and returns a response."""

    def __init__(self, store):
        self.store = store
        self.resources = {resource.PLURAL: resource for resource in RESOURCES}

    def handle(self, method, target, headers, body_bytes):
        """Returns (status, content_type, body_bytes, extra_headers)."""
        try:
            url = urlsplit(target)
            request = Request(method, url.path, url.query, headers, body_bytes)
            found = route(request.method, request.path, self.resources)
            identity = resolve_identity(request) if found.resource is not None else None
            return HANDLERS[found.operation](self.store, request, found, identity)
        except ApiError as error:
            return error.status, "application/json", json_bytes(error.body), error.headers
        except StoreError as error:  # the database refused (409/422 naming the field) or is unreachable (503)
            error = ApiError(error.status, error.code, str(error), error.fields)
            return error.status, "application/json", json_bytes(error.body), error.headers
        except Exception:  # noqa: BLE001
            # Never drop the connection: the client gets a 500, the traceback goes to stderr.
            traceback.print_exc(file=sys.stderr)
            body = {"error": {"code": "internal_error", "message": "the service failed; see its log"}}
            return HTTPStatus.INTERNAL_SERVER_ERROR, "application/json", json_bytes(body), {}


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
