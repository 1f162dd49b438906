"""What the browser tests of the generated page share (issue #27): a generated service run as its own process,
a Chromium driven by Playwright, and a page opened signed in as a tenant.

Playwright drives Debian's /usr/bin/chromium (no browser download). A test module calls skip_without_browser()
first, so a machine without either skips the module saying which is missing, never passes it.
"""

from __future__ import annotations

import http.client
import itertools
import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from factory.engine.codegen import generate_source
from factory.pack0.load import load_pack0

CHROMIUM = Path("/usr/bin/chromium")
WAIT_MS = 5000  # Playwright's default is 30 s: a broken page should fail a test quickly, not stall the suite


def skip_without_browser():
    """playwright.sync_api, or a module-level skip naming what is missing."""
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright is not installed (pip install -e '.[test]')"
    )
    if not CHROMIUM.is_file():
        pytest.skip(
            f"{CHROMIUM} is missing (apt-get install chromium); the browser tests need it", allow_module_level=True
        )
    return sync_api


def write_build(pack0_dir: Path, root: Path) -> tuple[Path, str]:
    """CodeGen's source for the Pack0 written under root: (its src/ folder, the package name)."""
    pack0 = load_pack0(pack0_dir)
    for relative, text in generate_source(pack0).items():
        path = root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root / "src", pack0.package


class Service:
    """A generated service running as its own process, and a small HTTP client for checking what it stored."""

    def __init__(self, src: Path, package: str, folder: Path, extra_env: dict[str, str] | None = None):
        port_file = folder / "port"
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "PYTHONPATH": str(src),
            "DATABASE_PATH": str(folder / "db.sqlite3"),
            **(extra_env or {}),
        }
        argv = [sys.executable, "-m", package, "--host", "127.0.0.1", "--port", "0", "--port-file", str(port_file)]
        self.log = folder / "service.log"
        with self.log.open("wb") as log:  # a file, not a pipe: a chatty service can never block on a full pipe
            self.process = subprocess.Popen(argv, env=env, cwd=folder, stderr=log)
        deadline = time.monotonic() + 15
        while not (port_file.is_file() and port_file.read_text().strip()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                pytest.fail(f"the generated service did not start: {self.log.read_text()[-2000:]}")
            time.sleep(0.05)
        self.port = int(port_file.read_text())
        self.url = f"http://127.0.0.1:{self.port}"

    def call(self, method: str, path: str, body=None, headers: dict[str, str] | None = None):
        """(status, JSON body or raw bytes, response headers)."""
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        sent = {"Content-Type": "application/json", **(headers or {})}
        connection.request(method, path, body=None if body is None else json.dumps(body), headers=sent)
        response = connection.getresponse()
        raw = response.read()
        connection.close()
        is_json = raw and response.getheader("Content-Type") == "application/json"
        return response.status, (json.loads(raw) if is_json else raw), dict(response.getheaders())

    def api(self, tenant: str, method: str, path: str, body=None):
        """(status, JSON body) of /api/v1/<path> as `tenant`."""
        status, payload, _headers = self.call(method, "/api/v1/" + path, body, {"X-Tenant-ID": tenant})
        return status, payload

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser():
    sync_api = skip_without_browser()
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def tenant() -> str:
    return "t-" + uuid.uuid4().hex[:12]  # every test its own tenant: nothing one test stores shows in another


def open_page(browser, url: str, tenant: str | None = None, **context_options):
    """(context, page, problems): a fresh context at `url`, signed in as `tenant` when given. `problems` collects
    script errors, dialogs (an alert() from injected markup) and CSP violations; a test asserts it is empty.
    The strict CSP also refuses Playwright's string-evaluated waits: tests wait with locators and expect."""
    context = browser.new_context(**context_options)
    context.set_default_timeout(WAIT_MS)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on("dialog", lambda dialog: (problems.append(f"a dialog opened: {dialog.message}"), dialog.dismiss()))
    page.on("console", lambda m: problems.append(m.text) if "Content Security Policy" in m.text else None)
    page.goto(url)
    if tenant is not None:
        page.wait_for_selector("#main[data-ready]")
        page.fill("#tenant", tenant)
        page.press("#tenant", "Tab")  # change event: the page keeps the tenant and draws the view again
    page.wait_for_selector("#main[data-ready]")
    return context, page, problems


_LOADS = itertools.count()


def go(page, service: Service, hash_path: str) -> None:
    """Load the page afresh at #hash_path and wait until that view is drawn (app.js sets #main's data-ready).
    A fresh load each time: a hash-only change to the current hash would draw nothing new to wait for."""
    page.goto(f"{service.url}/?load={next(_LOADS)}#{hash_path}")
    page.wait_for_selector(f"#main[data-ready='#{hash_path}']")


def rows(page) -> list[list[str]]:
    page.wait_for_selector("#main table")
    return [[cell.inner_text() for cell in row.query_selector_all("td")] for row in page.query_selector_all("tbody tr")]
