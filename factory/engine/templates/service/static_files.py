"""The admin page's files, served by the service itself (no CDN, no build step; no inline script or style,
so a strict Content-Security-Policy holds)."""

from __future__ import annotations

from http import HTTPStatus
from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"
_HTML, _JS, _CSS = "text/html; charset=utf-8", "text/javascript; charset=utf-8", "text/css; charset=utf-8"
# A fixed list, never a path joined from the request: nothing outside static/ can be named.
PAGES = {
    "/": ("index.html", _HTML),
    "/index.html": ("index.html", _HTML),
    "/static/app.css": ("app.css", _CSS),
    "/static/app.js": ("app.js", _JS),
    "/static/api.js": ("api.js", _JS),
    "/static/contract.js": ("contract.js", _JS),
    "/static/fields.js": ("fields.js", _JS),
    "/static/views.js": ("views.js", _JS),
}


def static_handler(path):
    """A handler answering GET of the page file at this path, or None when no page file has it."""
    if path not in PAGES:
        return None
    name, content_type = PAGES[path]

    def serve():
        return HTTPStatus.OK, content_type, (STATIC_DIR / name).read_bytes(), {}

    return serve
