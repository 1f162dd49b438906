"""Issue #27: the page walks every entity of each example Pack0, whatever its fields: its list shows the record,
its detail names every field, and saving its edit form untouched changes nothing (every control shows the stored
value so that it reads back as the same JSON: a format, a number, a nullable, a reference, an array)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT
from frontend_harness import Service, browser, go, open_page, rows, skip_without_browser, tenant, write_build

from factory.engine.samples import valid_record
from factory.pack0.load import load_pack0

skip_without_browser()
__all__ = ["browser", "tenant"]  # fixtures, used by name

EXAMPLES = sorted(path.name for path in (ROOT / "examples").iterdir() if (path / "pack0.json").is_file())


def create_parents_first(service: Service, tenant: str, pack0) -> dict[str, dict]:
    """One valid record per entity (the engine's samples), each reference pointing at its parent's record."""
    created: dict[str, dict] = {}
    waiting = list(pack0.entities)
    while waiting:
        entity = next(e for e in waiting if all(p in created for p, _ in e.references.values()))
        body = valid_record(entity)
        for field, (parent, _on_delete) in entity.references.items():
            body[field] = created[parent]["id"]
        status, record = service.api(tenant, "POST", entity.plural, body)
        assert status == 201, (entity.name, record)
        created[entity.name] = record
        waiting.remove(entity)
    return created


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_entity_lists_shows_and_round_trips_its_edit_form(example: str, browser, tenant: str, tmp_path: Path):
    pack0 = load_pack0(ROOT / "examples" / example)
    service = Service(*write_build(ROOT / "examples" / example, tmp_path / "build"), tmp_path)
    try:
        created = create_parents_first(service, tenant, pack0)
        context, page, problems = open_page(browser, service.url + "/", tenant)
        patches: list[dict] = []
        page.on("request", lambda r: patches.append(json.loads(r.post_data)) if r.method == "PATCH" else None)
        for entity in pack0.entities:
            record = created[entity.name]
            go(page, service, f"/{entity.plural}")
            assert page.inner_text(".pager .total") == "1–1 of 1", entity.name
            assert rows(page)[0][0] == record["id"][:8]
            go(page, service, f"/{entity.plural}/{record['id']}")
            shown = [dt.inner_text() for dt in page.query_selector_all("#main dt")]
            assert set(entity.properties) <= set(shown), entity.name
            go(page, service, f"/{entity.plural}/{record['id']}/edit")
            page.wait_for_selector("form.record")
            page.click("button[type=submit]")
            page.wait_for_selector("#main h2:not(:has-text('Edit'))")
            _, stored = service.api(tenant, "GET", f"{entity.plural}/{record['id']}")
            assert {k: stored.get(k) for k in entity.properties} == {k: record.get(k) for k in entity.properties}
        context.close()
        assert patches == [{}] * len(pack0.entities)  # nothing the user left alone was sent
        assert problems == []
    finally:
        service.stop()
