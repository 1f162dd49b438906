"""HTTP/1.1 framing that http.server leaves loose: one exact body length (Content-Length or chunked), never
a body re-read as a request, and deadlines so a client that stalls is dropped.

Standard library only.
"""

from __future__ import annotations

import io
import re
import socket
import time

MAX_LINE_BYTES = 8192
MAX_TRAILER_LINES = 32
_LENGTH = re.compile(r"[0-9]+")
_CHUNK_LINE = re.compile(rb"([0-9A-Fa-f]{1,8})(?:[ \t]*;[^\r\n]*)?\r\n")
_BODY_METHODS = ("POST", "PUT", "PATCH")


class FramingError(Exception):
    """The request's body cannot be delimited safely: answer with this status, then close the connection."""

    def __init__(self, status, code, message):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


class ClientGone(Exception):
    """The client closed the connection before sending the whole body."""


class HeadersTooLarge(Exception):
    """The request line and headers together passed the reader's byte budget (issue #26: ~32 KB, as nginx)."""


class DeadlineReader(io.RawIOBase):
    """Socket reads that fail once `deadline` (time.monotonic) has passed, however slowly bytes trickle in."""

    def __init__(self, sock):
        super().__init__()
        self._sock = sock
        self.deadline = time.monotonic()
        self.budget = None  # bytes still allowed while reading the head; None: no cap (the body has its own)

    def readable(self):
        return True

    def readinto(self, buffer):
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("read deadline passed")
        self._sock.settimeout(remaining)
        if self.budget is None:
            return self._sock.recv_into(buffer)
        if self.budget <= 0:
            raise HeadersTooLarge()
        received = self._sock.recv_into(memoryview(buffer)[: self.budget])
        self.budget -= received
        return received


def _read_exactly(rfile, size):
    data = rfile.read(size)
    if len(data) < size:
        raise ClientGone()
    return data


def _read_chunked(rfile, max_bytes):
    parts, total = [], 0
    while True:
        match = _CHUNK_LINE.fullmatch(rfile.readline(MAX_LINE_BYTES + 1))
        if not match:
            raise FramingError(400, "bad_framing", "malformed chunk size line")
        size = int(match.group(1), 16)
        if size == 0:
            break
        total += size
        if total > max_bytes:
            raise FramingError(413, "too_large", f"the body exceeds {max_bytes} bytes")
        parts.append(_read_exactly(rfile, size))
        if _read_exactly(rfile, 2) != b"\r\n":
            raise FramingError(400, "bad_framing", "chunk data is not followed by CRLF")
    for _ in range(MAX_TRAILER_LINES):
        line = rfile.readline(MAX_LINE_BYTES + 1)
        if line == b"\r\n":
            return b"".join(parts)
        if not line.endswith(b"\r\n"):
            break
    raise FramingError(400, "bad_framing", "malformed chunked trailer")


def read_body(rfile, headers, method, max_bytes):
    """The request body, read exactly as its framing says, or FramingError / ClientGone / socket.timeout."""
    codings = headers.get_all("Transfer-Encoding") or []
    lengths = headers.get_all("Content-Length") or []
    if codings:
        if lengths:
            raise FramingError(400, "bad_framing", "Content-Length and Transfer-Encoding must not both be sent")
        if len(codings) != 1 or codings[0].strip().lower() != "chunked":
            raise FramingError(400, "bad_framing", "the only Transfer-Encoding accepted is chunked")
        return _read_chunked(rfile, max_bytes)
    if not lengths:
        if method in _BODY_METHODS:
            raise FramingError(400, "length_required", f"{method} needs a Content-Length (or chunked) body")
        return b""
    if len(lengths) != 1 or not _LENGTH.fullmatch(lengths[0].strip()):
        raise FramingError(400, "bad_framing", "Content-Length must be one whole number of bytes")
    digits = lengths[0].strip()
    if len(digits) > 18 or int(digits) > max_bytes:
        raise FramingError(413, "too_large", f"the body exceeds {max_bytes} bytes")
    return _read_exactly(rfile, int(digits))
