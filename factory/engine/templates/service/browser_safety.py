"""Browser-facing defences (issue #26 item 5): the headers every answer carries and the request targets refused.

Pure: framing.py adds SECURITY_HEADERS to each answer and refuses a target for which target_problem() names a
reason. A target must be origin-form ("/path?query"): "//api/x" or "http://host/api/x" could slip past a
proxy's path rule that the service itself would then serve.
"""

from __future__ import annotations

SECURITY_HEADERS = {
    # Nobody may frame the page, and it runs only the service's own script and style files (static/):
    # no inline script, no inline style, so injected markup could not run even if it were rendered.
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; "
        "object-src 'none'; base-uri 'none'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


def target_problem(target):
    """Why a request target is refused, or None when it is a canonical origin-form path."""
    if not target.startswith("/"):
        return "the request target must be a path starting with / (absolute-form is not served)"
    if target.startswith("//"):
        return "the request target must not start with //"
    return None
