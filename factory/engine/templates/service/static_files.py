"""The admin page's files, served by the service itself (no CDN, no build step; no inline script or style,
so browser_safety.py's Content-Security-Policy can be strict).

Pure table: routing.py routes every path in PAGES to the "page" operation, handlers.py answers it with
read_page(). A fixed list, never a path joined from the request: nothing outside static/ can be named.
"""

from __future__ import annotations

from pathlib import Path

STATIC_DIR = Path(__file__).resolve().parent / "static"
_HTML, _JS, _CSS = "text/html; charset=utf-8", "text/javascript; charset=utf-8", "text/css; charset=utf-8"
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


def read_page(path):
    """(content type, bytes) of the page file routed at this path (a key of PAGES)."""
    name, content_type = PAGES[path]
    return content_type, (STATIC_DIR / name).read_bytes()
