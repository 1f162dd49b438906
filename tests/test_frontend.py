"""Issue #27: the generated service's page, driven in a real Chromium against a really running generated service.

Each test asserts on what the page shows and on what the API then holds (read back over HTTP, not from the page).
The library example is the module: it has an enum, a date, a unique field, a restrict and a cascade reference.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import ROOT
from frontend_harness import Service, browser, go, open_page, rows, skip_without_browser, tenant, write_build

sync_api = skip_without_browser()
__all__ = ["browser", "tenant"]  # fixtures, used by name

EXAMPLE = ROOT / "examples/pack0-library-0.0.1"
XSS = "<img src=x onerror=alert(1)>"


@pytest.fixture(scope="module")
def build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    return write_build(EXAMPLE, tmp_path_factory.mktemp("frontend-build"))


@pytest.fixture(scope="module")
def service(build: tuple[Path, str], tmp_path_factory: pytest.TempPathFactory):
    running = Service(*build, tmp_path_factory.mktemp("frontend-service"))
    yield running
    running.stop()


@pytest.fixture
def page(browser, service: Service, tenant: str):
    """A fresh browser context signed in as `tenant`; the test fails on any script error or CSP violation."""
    context, opened, problems = open_page(browser, service.url + "/", tenant)
    yield opened
    context.close()
    assert problems == []


def new_book(service: Service, tenant: str, title: str, isbn: str, **extra) -> dict:
    status, body = service.api(tenant, "POST", "books", {"title": title, "isbn": isbn, **extra})
    assert status == 201, body
    return body


def isbn(n: int) -> str:
    return f"978-0-306-{40000 + n}-7"


def test_the_page_is_served_with_a_strict_csp_and_no_inline_script(service: Service):
    status, html, _headers = service.call("GET", "/")
    assert status == 200
    # No inline script, style or event handler: only files the CSP's 'self' allows.
    assert b"<script>" not in html and b"<style" not in html and re.search(rb"\son[a-z]+=", html) is None
    status, _script, headers = service.call("GET", "/static/app.js")
    assert status == 200 and headers["Content-Type"].startswith("text/javascript")
    assert "script-src 'self';" in headers["Content-Security-Policy"]
    assert "unsafe-inline" not in headers["Content-Security-Policy"]
    assert service.call("GET", "/static/../openapi.json")[0] == 404  # only the listed files, no path joining


def test_create_from_the_form_is_stored_with_typed_values(page, service: Service, tenant: str):
    go(page, service, "/books/new")
    page.fill("#f-title", "Dune")
    page.fill("#f-isbn", isbn(1))
    page.fill("#f-published_year", "1965")
    page.click("button[type=submit]")
    page.wait_for_selector("#main h2:has-text('Book: Dune')")
    _, listed = service.api(tenant, "GET", "books")
    assert [(b["title"], b["isbn"], b["published_year"]) for b in listed["items"]] == [("Dune", isbn(1), 1965)]
    assert "Created Book" in page.inner_text("#status")


def test_a_422_is_shown_next_to_each_field_it_names_and_the_form_keeps_its_input(page, service: Service, tenant: str):
    go(page, service, "/books/new")
    page.fill("#f-isbn", isbn(2))
    page.fill("#f-published_year", "3000")
    # An old browser that skips the HTML constraints: the service's own 422 must still reach the fields.
    page.eval_on_selector("form.record", "form => { form.noValidate = true; }")
    page.click("button[type=submit]")
    page.wait_for_selector("#f-title-error:not(:empty)")
    assert page.inner_text("#f-title-error") == "is required"
    assert page.inner_text("#f-published_year-error") == "must be at most 2100"
    assert page.inner_text("#f-isbn-error") == ""
    assert page.get_attribute("#f-published_year", "aria-invalid") == "true"
    assert page.input_value("#f-isbn") == isbn(2)  # nothing typed is lost
    assert service.api(tenant, "GET", "books")[1]["total"] == 0


def test_a_409_on_a_unique_field_is_shown_next_to_it(page, service: Service, tenant: str):
    new_book(service, tenant, "First", isbn(3))
    go(page, service, "/books/new")
    page.fill("#f-title", "Second")
    page.fill("#f-isbn", isbn(3))
    page.click("button[type=submit]")
    page.wait_for_selector("#f-isbn-error:not(:empty)")
    assert "already has this isbn" in page.inner_text("#f-isbn-error")
    assert [b["title"] for b in service.api(tenant, "GET", "books")[1]["items"]] == ["First"]


def test_edit_sends_only_what_changed(page, service: Service, tenant: str):
    book = new_book(service, tenant, "Old title", isbn(4), published_year=1999)
    go(page, service, f"/books/{book['id']}/edit")
    assert page.input_value("#f-title") == "Old title"
    assert page.input_value("#f-published_year") == "1999"
    requests: list[dict] = []
    page.on("request", lambda r: requests.append(json.loads(r.post_data)) if r.method == "PATCH" else None)
    page.fill("#f-title", "New title")
    page.click("button[type=submit]")
    page.wait_for_selector("#main h2:has-text('Book: New title')")
    assert requests == [{"title": "New title"}]
    _, stored = service.api(tenant, "GET", f"books/{book['id']}")
    assert (stored["title"], stored["isbn"], stored["published_year"]) == ("New title", isbn(4), 1999)


def test_a_reference_is_picked_by_its_parents_name_and_links_back(page, service: Service, tenant: str):
    book = new_book(service, tenant, "Solaris", isbn(5))
    other = new_book(service, tenant, "Ubik", isbn(6))
    _, member = service.api(tenant, "POST", "members", {"name": "Ada", "email": "ada@example.org"})
    go(page, service, "/loans/new")
    page.fill("#f-book_id-search", "sola")
    sync_api.expect(page.locator("#f-book_id")).to_have_value(book["id"])  # the first hit is chosen
    page.wait_for_selector("#f-member_id option:has-text('Ada')", state="attached")
    page.select_option("#f-member_id", member["id"])
    page.fill("#f-due_on", "2027-01-31")
    page.click("button[type=submit]")
    page.wait_for_selector("#main h2:has-text('Loan')")
    _, loans = service.api(tenant, "GET", "loans")
    [loan] = loans["items"]
    assert (loan["book_id"], loan["member_id"], loan["due_on"], loan["status"]) == (
        book["id"],
        member["id"],
        "2027-01-31",
        "open",
    )
    other_loan = {"book_id": other["id"], "member_id": member["id"], "due_on": "2027-02-28"}
    assert service.api(tenant, "POST", "loans", other_loan)[0] == 201  # a loan the child list must leave out
    page.click("#main dd a:has-text('Solaris')")  # the record links to its parent by the parent's display field
    page.wait_for_selector("#main h2:has-text('Book: Solaris')")
    page.click("#main .children a")  # ... and the parent to its children, filtered by the reference
    assert page.inner_text(".pager .total") == "1–1 of 1"
    page.click("tbody td:nth-child(2) a")  # a list's reference cell opens the parent as well
    page.wait_for_selector("#main h2:has-text('Book: Solaris')")
    assert page.url.endswith(f"#/books/{book['id']}")


def test_delete_says_what_a_cascade_removes_then_removes_it(page, service: Service, tenant: str):
    book = new_book(service, tenant, "Emma", isbn(7))
    _, member = service.api(tenant, "POST", "members", {"name": "Bo", "email": "bo@example.org"})
    status, _ = service.api(
        tenant, "POST", "loans", {"book_id": book["id"], "member_id": member["id"], "due_on": "2027-02-01"}
    )
    assert status == 201
    go(page, service, f"/members/{member['id']}")
    page.click("button.danger:has-text('Delete')")
    page.wait_for_selector("[role=alertdialog]")
    assert "1 Loan record(s) (member_id) will be deleted too" in page.inner_text("[role=alertdialog]")
    page.click("button:has-text('Yes, delete')")
    page.wait_for_selector("#main h2:has-text('Member list')")
    assert service.api(tenant, "GET", f"members/{member['id']}")[0] == 404
    assert service.api(tenant, "GET", "loans")[1]["total"] == 0


def test_delete_refused_by_a_restrict_says_why_and_keeps_the_record(page, service: Service, tenant: str):
    book = new_book(service, tenant, "Kept", isbn(8))
    _, member = service.api(tenant, "POST", "members", {"name": "Cy", "email": "cy@example.org"})
    service.api(tenant, "POST", "loans", {"book_id": book["id"], "member_id": member["id"], "due_on": "2027-02-01"})
    go(page, service, f"/books/{book['id']}")
    page.click("button.danger:has-text('Delete')")
    assert "refused: 1 Loan record(s) (book_id) still refer to it" in page.inner_text("[role=alertdialog]")
    page.click("button:has-text('Yes, delete')")
    page.wait_for_selector("#status.error")
    assert page.inner_text("#status") != ""
    assert service.api(tenant, "GET", f"books/{book['id']}")[0] == 200


def test_a_long_list_pages_on_the_server_and_sorts_by_a_column(page, service: Service, tenant: str):
    for n in range(25):
        new_book(service, tenant, f"Book {n:02d}", isbn(100 + n))
    go(page, service, "/books")
    assert page.inner_text(".pager .total") == "1–20 of 25"
    assert len(rows(page)) == 20
    page.click(".pager a:has-text('Next')")
    page.wait_for_selector(".pager .total:has-text('21–25 of 25')")
    assert [row[3] for row in rows(page)] == [f"Book {n:02d}" for n in range(20, 25)]
    page.click("th a:has-text('title')")  # ascending; back to the first page
    page.wait_for_selector("th[aria-sort=ascending]")
    page.click("th a:has-text('title')")
    page.wait_for_selector("th[aria-sort=descending]")
    assert [row[3] for row in rows(page)][:3] == ["Book 24", "Book 23", "Book 22"]


def test_a_declared_filter_narrows_the_list(page, service: Service, tenant: str):
    book = new_book(service, tenant, "F", isbn(9))
    _, member = service.api(tenant, "POST", "members", {"name": "Di", "email": "di@example.org"})
    for status in ("open", "lost", "open"):
        body = {"book_id": book["id"], "member_id": member["id"], "due_on": "2027-03-01", "status": status}
        assert service.api(tenant, "POST", "loans", body)[0] == 201
    go(page, service, "/loans")
    assert page.inner_text(".pager .total") == "1–3 of 3"
    page.select_option("#filter-status", "lost")
    page.click("form.filters button")
    page.wait_for_selector(".pager .total:has-text('1–1 of 1')")
    assert [row[4] for row in rows(page)] == ["lost"]


def test_markup_in_a_record_is_shown_as_text_never_run(page, service: Service, tenant: str):
    book = new_book(service, tenant, XSS, isbn(10))
    go(page, service, "/books")
    assert rows(page)[0][3] == XSS
    go(page, service, f"/books/{book['id']}")
    assert XSS in page.inner_text("#main")
    assert page.query_selector("#main img") is None  # the page fixture also fails on any dialog (alert) opened


def test_two_tenants_never_see_each_others_records(page, service: Service, tenant: str):
    new_book(service, tenant, "Mine", isbn(11))
    go(page, service, "/books")
    assert [row[3] for row in rows(page)] == ["Mine"]
    other = tenant + "-other"
    new_book(service, other, "Theirs", isbn(11))
    page.fill("#tenant", other)
    page.press("#tenant", "Tab")
    sync_api.expect(page.locator("tbody td:nth-child(4)")).to_have_text(["Theirs"])
    assert [row[3] for row in rows(page)] == ["Theirs"]


def test_with_sign_in_required_the_page_sends_the_token_and_its_tenant_applies(
    build: tuple[Path, str], browser, tmp_path: Path
):
    pytest.importorskip("jwt", reason="PyJWT is not installed; the service's token mode needs it")
    from factory.service_auth import mint_token, new_test_secret

    secret = new_test_secret()
    service = Service(*build, tmp_path, {"LAI_JWT_SECRET": secret})
    try:
        token = mint_token(secret, "token-tenant")
        signed = {"Authorization": f"Bearer {token}"}
        assert service.call("POST", "/api/v1/books", {"title": "T", "isbn": isbn(12)}, signed)[0] == 201
        context, page, problems = open_page(browser, service.url + "/#/books")
        page.wait_for_selector("#status.error")
        assert "Not signed in" in page.inner_text("#status")
        page.fill("#token", token)
        page.press("#token", "Tab")
        page.wait_for_selector("tbody tr")
        assert [row[3] for row in rows(page)] == ["T"]
        context.close()
        assert problems == []
    finally:
        service.stop()


def test_the_served_contract_is_the_generated_one_and_declares_no_page_path(build: tuple[Path, str], service: Service):
    src, package = build
    status, served, _headers = service.call("GET", "/openapi.json")
    assert status == 200
    assert served == json.loads((src / package / "openapi.json").read_text(encoding="utf-8"))
    # The page's own paths answer, but they are not API operations: the contract is exactly the API plus /health.
    assert sorted(served["paths"]) == [
        "/api/v1/books",
        "/api/v1/books/{id}",
        "/api/v1/loans",
        "/api/v1/loans/{id}",
        "/api/v1/members",
        "/api/v1/members/{id}",
        "/health",
    ]
