"""What every step of the request chain after framing sees: one request, already read and delimited.

framing.py builds it from the socket; identity.py, routing.py and handlers.py only read it. A field a later
step needs (a parsed cookie, a request id for logs) is added here, so no step reaches back into the socket.
"""

from __future__ import annotations

from typing import NamedTuple


class Request(NamedTuple):
    method: str
    path: str
    query: str  # the raw query text after "?", parsed by the handler that reads it
    headers: object  # http.client.HTTPMessage: get_all(name) gives every value of a repeated header
    body: bytes
