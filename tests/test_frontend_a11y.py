"""Issue #27 item 6: the page is usable by keyboard and screen reader (axe-core finds no serious violation on any
view) and on a phone-width screen (nothing wider than the screen but the table, which scrolls in its own box).

axe-core's axe.min.js comes from the axe-playwright-python package of the [test] extra (or AXE_CORE_JS names
another copy, e.g. npm's); without it the accessibility test skips saying so. It is injected into a context that
bypasses the CSP: the page's own strict policy would (rightly) refuse a script the test adds.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest
from conftest import ROOT
from frontend_harness import Service, browser, go, open_page, skip_without_browser, tenant, write_build

skip_without_browser()
__all__ = ["browser", "tenant"]  # fixtures, used by name


def axe_script() -> Path | None:
    if os.environ.get("AXE_CORE_JS"):
        return Path(os.environ["AXE_CORE_JS"])
    spec = importlib.util.find_spec("axe_playwright_python")
    return Path(spec.origin).parent / "axe.min.js" if spec and spec.origin else None


AXE = axe_script()
BLOCKING = ("serious", "critical")
PHONE = {"width": 390, "height": 844}


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory):
    build = write_build(ROOT / "examples/pack0-library-0.0.1", tmp_path_factory.mktemp("a11y-build"))
    running = Service(*build, tmp_path_factory.mktemp("a11y-service"))
    yield running
    running.stop()


@pytest.fixture
def records(service: Service, tenant: str) -> dict:
    """A book, a member and a loan between them, so every view has rows, links and a picker to check."""
    _, book = service.api(tenant, "POST", "books", {"title": "Solaris", "isbn": "978-0-306-40615-7"})
    _, member = service.api(tenant, "POST", "members", {"name": "Ada", "email": "ada@example.org"})
    _, loan = service.api(
        tenant, "POST", "loans", {"book_id": book["id"], "member_id": member["id"], "due_on": "2027-01-31"}
    )
    return {"book": book, "member": member, "loan": loan}


def blocking_violations(page) -> list[str]:
    page.add_script_tag(path=str(AXE))
    found = page.evaluate("async () => (await axe.run(document, {resultTypes: ['violations']})).violations")
    return [
        f"{v['id']} ({v['impact']}): {v['help']} at {[node['target'] for node in v['nodes']]}"
        for v in found
        if v["impact"] in BLOCKING
    ]


def test_no_view_has_a_serious_accessibility_violation(browser, service: Service, tenant: str, records: dict):
    if AXE is None or not AXE.is_file():
        pytest.skip(f"axe-core's axe.min.js is missing ({AXE}): pip install -e '.[test]' (axe-playwright-python)")
    context, page, problems = open_page(browser, service.url + "/", tenant, bypass_csp=True)
    loan = records["loan"]["id"]
    found = {}
    for view in ("/loans", f"/loans/{loan}", "/loans/new", f"/loans/{loan}/edit"):
        go(page, service, view)
        page.wait_for_selector("#main table, #main dl, #main form.record")
        found[view] = blocking_violations(page)
    # The service's 422 for an empty form (the browser's own checks skipped): the errors shown are checked too.
    go(page, service, "/loans/new")
    page.eval_on_selector("form.record", "form => { form.noValidate = true; }")
    page.click("button[type=submit]")
    page.wait_for_selector("#f-due_on-error:not(:empty)")
    found["/loans/new (errors)"] = blocking_violations(page)
    context.close()
    assert problems == []
    assert found == {view: [] for view in found}


def test_a_phone_width_screen_scrolls_only_the_table(browser, service: Service, tenant: str, records: dict):
    context, page, problems = open_page(browser, service.url + "/", tenant, viewport=PHONE)
    for view in ("/loans", f"/loans/{records['loan']['id']}", "/loans/new"):
        go(page, service, view)
        page.wait_for_selector("#main table, #main dl, #main form.record")
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{view} is {width}px wide on a {PHONE['width']}px screen"
    context.close()
    assert problems == []


def test_after_a_refused_save_the_focus_is_on_the_first_field_named(page_at_new_book):
    page = page_at_new_book
    page.fill("#f-title", "T")
    page.fill("#f-isbn", "978-0-306-40615-7")
    page.click("button[type=submit]")  # the records fixture already holds this isbn: a 409 naming isbn
    page.wait_for_selector("#f-isbn-error:not(:empty)")
    assert page.evaluate("() => document.activeElement.id") == "f-isbn"


@pytest.fixture
def page_at_new_book(browser, service: Service, tenant: str, records: dict):
    context, page, problems = open_page(browser, service.url + "/", tenant)
    go(page, service, "/books/new")
    yield page
    context.close()
    assert problems == []
