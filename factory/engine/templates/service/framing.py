"""One connection's HTTP/1.1: the request line and headers read under a deadline, the body delimited exactly
(http_io.py), and every answer written with its length and the standard headers in one write.

Handler.handle_one_request is the chain's first step: what it cannot frame it answers itself (a JSON 400, 413
or the like, then a lingering close); a framed request goes to server.api.handle (server.py wires the rest).
Limits of size and time live here and in limits.py (the OpenAPI document declares those): a limit on a header
an authentication scheme adds (a bearer token's length) is checked here, before identity.py reads it.
"""

from __future__ import annotations

import io
import os
import socket
import time
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler

from . import browser_safety, limits
from .errors import json_bytes
from .http_io import ClientGone, DeadlineReader, FramingError, HeadersTooLarge, read_body
from .resources import MODULE_NAME

HEADER_TIMEOUT_S = 10.0
BODY_TIMEOUT_S = 30.0
WRITE_TIMEOUT_S = 30.0
LINGER_S = 2.0  # at most this long reading away a refused body before closing; stop sooner once it goes idle
LINGER_IDLE_S = 0.25
LINGER_BYTES = 4 * limits.MAX_BODY_BYTES
# Request line + headers: nginx's default is 32 KB of headers; one read-ahead buffer (8 KB) may hold body bytes.
HEAD_BUDGET_BYTES = 8 * 1024 + 32 * 1024 + 8 * 1024


class Handler(BaseHTTPRequestHandler):
    """One connection: requests read with deadlines and exact framing; every answer JSON with a length."""

    server_version = f"{MODULE_NAME}/0.0.1"
    sys_version = ""  # Server: names the module only, not the Python version
    protocol_version = "HTTP/1.1"

    def setup(self):
        super().setup()
        self.rfile.close()
        self._reader = DeadlineReader(self.connection)
        self.rfile = io.BufferedReader(self._reader)

    def handle_one_request(self):
        self._reader.deadline = time.monotonic() + self.server.header_timeout
        self._reader.budget = HEAD_BUDGET_BYTES
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
            # The target as sent: parse_request() folds a leading "//" into "/" in self.path.
            if problem := browser_safety.target_problem(self.requestline.split(" ")[1]):
                self.send_error(HTTPStatus.BAD_REQUEST, problem)
                return
            if self.headers.defects or self.headers.get_payload():
                # The header parser stops at a line that is not "Name: value" and hides the rest (a
                # Content-Length among them): the body would then be read as the next request.
                self.send_error(HTTPStatus.BAD_REQUEST, "a header line is not Name: value")
                return
            self._reader.deadline = time.monotonic() + self.server.body_timeout
            self._reader.budget = None
            try:
                body = read_body(self.rfile, self.headers, self.command, limits.MAX_BODY_BYTES)
            except FramingError as error:
                self.close_connection = True
                payload = json_bytes({"error": {"code": error.code, "message": error.message}})
                self._answer(error.status, "application/json", payload, {})
                self._drain_before_close()
                return
            self._answer(*self.server.api.handle(self.command, self.path, self.headers, body))
        except HeadersTooLarge:
            self.close_connection = True
            self.request_version = "HTTP/1.1"
            message = "the request line and headers exceed 48 KB"
            payload = json_bytes({"error": {"code": "headers_too_large", "message": message}})
            self._answer(HTTPStatus.REQUEST_HEADER_FIELDS_TOO_LARGE, "application/json", payload, {})
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
        payload = json_bytes({"error": {"code": "bad_request", "message": text}})
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
        for name, value in {**browser_safety.SECURITY_HEADERS, **headers}.items():
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
