"""Issue #27 item 2: every contract keyword becomes the input that fits it, and the page sends the JSON type the
contract declares (the two defects the issue names: a nullable integer sent as a string, and an untouched
checkbox sending false for a boolean whose default is true). A hand-written Pack0 with one field per kind."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from frontend_harness import Service, browser, go, open_page, skip_without_browser, tenant, write_build

from factory.fsutil import write_text_atomic
from factory.pack0.generate import generate_pack0

skip_without_browser()
__all__ = ["browser", "tenant"]  # fixtures, used by name

GADGET = {
    "$id": "urn:lai-factory:gadget-shop:gadget",
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "title": "Gadget",
    "additionalProperties": False,
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 40},
        "floor": {"type": ["integer", "null"], "minimum": -5, "maximum": 200},
        "weight": {"type": "number", "minimum": 0, "multipleOf": 0.5},
        "active": {"type": "boolean", "default": True},
        "checked": {"type": ["boolean", "null"]},
        "kind": {"type": "string", "enum": ["small", "large"]},
        "seen_at": {"type": "string", "format": "date-time"},
        "opens": {"type": "string", "format": "time"},
        "contact": {"type": "string", "format": "email"},
        "site": {"type": "string", "format": "uri"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["name"],
}
TIME_ZONE = "Europe/Berlin"  # not UTC, so a date-time the page did not convert would be stored hours off


def berlin_offset() -> str:
    """Berlin's UTC offset today, as RFC 3339 writes it ("+01:00"): what the page sends with a time of day."""
    minutes = int(datetime.now(ZoneInfo(TIME_ZONE)).utcoffset() / timedelta(minutes=1))
    return f"+{minutes // 60:02d}:{minutes % 60:02d}"


@pytest.fixture(scope="module")
def service(tmp_path_factory: pytest.TempPathFactory):
    pack0 = tmp_path_factory.mktemp("gadget-pack0")
    for path, text in generate_pack0("gadget-shop").items():
        if not path.startswith("contracts/"):
            write_text_atomic(pack0 / path, text)
    write_text_atomic(pack0 / "contracts" / "gadget.schema.json", json.dumps(GADGET))
    build = write_build(pack0, tmp_path_factory.mktemp("gadget-build"))
    running = Service(*build, tmp_path_factory.mktemp("gadget-service"))
    yield running
    running.stop()


@pytest.fixture
def page(browser, service: Service, tenant: str):
    context, opened, problems = open_page(browser, service.url + "/", tenant, timezone_id=TIME_ZONE)
    yield opened
    context.close()
    assert problems == []


def control(page, name: str) -> dict:
    """The form control of a field, as the browser has it."""
    return page.eval_on_selector(
        f"#f-{name}",
        """c => ({tag: c.tagName, type: c.type, min: c.min, max: c.max, step: c.step, maxLength: c.maxLength,
                  required: c.required, checked: c.checked, options: [...(c.options || [])].map(o => o.text)})""",
    )


def test_each_field_gets_the_input_its_schema_declares(page, service: Service):
    go(page, service, "/gadgets/new")
    assert {k: control(page, "name")[k] for k in ("type", "maxLength", "required")} == {
        "type": "text",
        "maxLength": 40,
        "required": True,
    }
    floor = control(page, "floor")
    assert (floor["type"], floor["min"], floor["max"], floor["step"], floor["required"]) == (
        "number",
        "-5",
        "200",
        "1",
        False,
    )
    assert (control(page, "weight")["min"], control(page, "weight")["step"]) == ("0", "0.5")
    assert (control(page, "active")["type"], control(page, "active")["checked"]) == ("checkbox", True)
    assert control(page, "checked")["options"] == ["(empty: null)", "true", "false"]  # nullable: tri-state
    assert control(page, "kind")["options"] == ["(not set)", "small", "large"]
    types = {name: control(page, name)["type"] for name in ("seen_at", "opens", "contact", "site")}
    assert types == {"seen_at": "datetime-local", "opens": "time", "contact": "email", "site": "url"}
    assert control(page, "tags")["tag"] == "TEXTAREA"
    assert "your local time; sent as UTC" in page.inner_text("#f-seen_at-hint")
    assert f"your time zone (UTC{berlin_offset()})" in page.inner_text("#f-opens-hint")


def test_values_are_sent_as_the_contracts_types(page, service: Service, tenant: str):
    go(page, service, "/gadgets/new")
    page.fill("#f-name", "Lamp")
    page.fill("#f-floor", "3")
    page.fill("#f-weight", "2.5")
    page.select_option("#f-kind", label="large")
    page.fill("#f-seen_at", "2026-05-01T10:30:00")
    page.fill("#f-opens", "09:15:00")
    page.fill("#f-contact", "shop@example.org")
    page.fill("#f-site", "https://example.org/lamp")
    page.fill("#f-tags", "red\nsmall ")
    page.click("button[type=submit]")  # "active" left untouched: its default (true) must be what is sent
    page.wait_for_selector("#main h2:has-text('Gadget: Lamp')")
    [stored] = service.api(tenant, "GET", "gadgets")[1]["items"]
    assert {k: stored.get(k) for k in GADGET["properties"]} == {
        "name": "Lamp",
        "floor": 3,
        "weight": 2.5,
        "active": True,
        "checked": None,
        "kind": "large",
        "seen_at": stored["seen_at"],
        "opens": "09:15:00" + berlin_offset(),
        "contact": "shop@example.org",
        "site": "https://example.org/lamp",
        "tags": ["red", "small"],
    }
    assert stored["seen_at"].startswith("2026-05-01T08:30:00")  # 10:30 in Berlin (summer time) is 08:30 UTC


def test_clearing_a_nullable_field_in_an_edit_sends_null(page, service: Service, tenant: str):
    body = {"name": "Desk", "floor": 7, "active": False, "opens": "08:00:00Z", "seen_at": "2026-01-10T12:00:00Z"}
    status, gadget = service.api(tenant, "POST", "gadgets", body)
    assert status == 201
    go(page, service, f"/gadgets/{gadget['id']}/edit")
    assert page.input_value("#f-floor") == "7"
    noon_utc = datetime(2026, 1, 10, 12, tzinfo=UTC).astimezone(ZoneInfo(TIME_ZONE))
    local_today = datetime.now(UTC).replace(hour=8, minute=0, second=0).astimezone(ZoneInfo(TIME_ZONE))
    assert page.input_value("#f-seen_at") == noon_utc.strftime("%Y-%m-%dT%H:%M") == "2026-01-10T13:00"
    assert page.input_value("#f-opens") == local_today.strftime("%H:%M:%S")  # shown in local time
    assert control(page, "active")["checked"] is False  # an edit shows the record, not the default
    sent: list[dict] = []
    page.on("request", lambda r: sent.append(json.loads(r.post_data)) if r.method == "PATCH" else None)
    page.fill("#f-floor", "")
    page.click("button[type=submit]")
    page.wait_for_selector("#main h2:has-text('Gadget: Desk')")
    assert sent == [{"floor": None}]
    _, stored = service.api(tenant, "GET", f"gadgets/{gadget['id']}")
    # What was left alone, though shown converted (a time, a date-time), is stored as it was.
    assert (stored["floor"], stored["active"], stored["name"]) == (None, False, "Desk")
    assert (stored["opens"], stored["seen_at"]) == (gadget["opens"], gadget["seen_at"])
