"""Does a Docker engine answer right now? Asked with the standard library (a GET /_ping on the engine's socket),
so that checking costs a no-op re-run milliseconds, not an import of the docker SDK (the SDK only for TLS or ssh).
Here in runner/ because both the docker sandbox and the docker-build gate ask it, and the runner is the lower."""

from __future__ import annotations

import os
import socket
from urllib.parse import quote, urlsplit

DEFAULT_HOST = "unix:///var/run/docker.sock"
TIMEOUT_S = 2.0


def _connect(host: str) -> socket.socket | None:
    """A connected socket to the engine, or None when this host is not one we can reach without the SDK."""
    parts = urlsplit(host)
    if parts.scheme == "unix":
        if not os.path.exists(parts.path):
            raise OSError(f"no socket at {parts.path}")
        connection = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        connection.settimeout(TIMEOUT_S)
        connection.connect(parts.path)
        return connection
    if parts.scheme == "tcp" and not os.environ.get("DOCKER_TLS_VERIFY"):
        return socket.create_connection((parts.hostname, parts.port or 2375), timeout=TIMEOUT_S)
    return None


def _status(path: str) -> int | None:
    """The engine's HTTP status for GET path (0 when it does not answer), or None when only the SDK can ask."""
    host = os.environ.get("DOCKER_HOST") or DEFAULT_HOST
    try:
        connection = _connect(host)
        if connection is None:  # TLS or ssh: only the SDK speaks those
            return None
        with connection:
            connection.sendall(f"GET {path} HTTP/1.0\r\nHost: docker\r\n\r\n".encode())
            reply = connection.recv(64)
    except OSError:
        return 0
    return int(reply[9:12]) if reply.startswith(b"HTTP/1.") and reply[9:12].isdigit() else 0


def engine_answers_now() -> bool:
    """True when the engine of DOCKER_HOST (default: the local socket) answers its ping."""
    status = _status("/_ping")
    return engine_answers() if status is None else status == 200


def engine_answers() -> bool:
    """A quick look through the docker SDK: is a Docker engine reachable right now?"""
    try:
        import docker
        from docker.errors import DockerException
    except ImportError:
        return False
    try:
        return bool(docker.from_env(timeout=2).ping())
    except DockerException:
        return False


def image_present_now(image: str) -> bool | None:
    """True when the engine answers and has this image; None when only the SDK can ask (TLS, ssh)."""
    status = _status(f"/images/{quote(image, safe='')}/json")
    return None if status is None else status == 200
