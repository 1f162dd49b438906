"""The conformance gate (issue 25) against services a careless model could write: the reference service with
one planted defect each (the defects the issue lists, and others), its tests no help. Every one must fail the
gate with the check that names it; the reference, and a restyled but correct one, must pass.

Each service is the engine's own source for a Pack0 with one replacement; the replacement's text is asserted
to be there, so a template change cannot turn a defect into a no-op that passes for the wrong reason.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from factory.engine.codegen import generate_source
from factory.gates.conformance import (
    conformance_gate,
    run_conformance,
    status_and_shape_findings,
    unreached_findings,
)
from factory.pack0.load import load_pack0
from factory.runner.sandbox import resolve_sandbox

ROOT = Path(__file__).resolve().parents[1]
LIBRARY = ROOT / "examples/pack0-library-0.0.1"
TICKETS = ROOT / "benchmarks/pack0s/pack0-tickets-0.0.1"
TENANT_AND_ID = "WHERE tenant_id = ? AND id = ?"


def _write(folder: Path, files: dict[str, str]) -> None:
    for relative, text in files.items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def sources(tmp_path_factory) -> dict[str, Path]:
    made = {}
    for pack0_dir in (LIBRARY, TICKETS):
        folder = tmp_path_factory.mktemp(pack0_dir.name)
        _write(folder, generate_source(load_pack0(pack0_dir)))
        made[pack0_dir.name] = folder
    return made


def _service(sources: dict[str, Path], pack0_dir: Path, tmp_path: Path) -> tuple[Path, Path]:
    build = tmp_path / "build"
    shutil.copytree(sources[pack0_dir.name], build)
    return build, build / "src" / load_pack0(pack0_dir).package


def _plant(path: Path, old: str, new: str, count: int | None = None) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"the defect's text is gone from {path.name}: {old!r}"
    path.write_text(text.replace(old, new) if count is None else text.replace(old, new, count), encoding="utf-8")


def _drop_from_tables(package: Path, change) -> None:
    """tables.json is the service's schema (its SQLite DDL): a model writes it as it writes the code."""
    tables = json.loads((package / "tables.json").read_text(encoding="utf-8"))
    for table in tables["tables"]:
        table["sqlite"] = [changed for statement in table["sqlite"] if (changed := change(statement)) is not None]
    (package / "tables.json").write_text(json.dumps(tables, indent=2), encoding="utf-8")


def _judge(build: Path, pack0_dir: Path):
    return run_conformance(build, pack0_dir, load_pack0(pack0_dir), resolve_sandbox("auto"))


def _checks(run) -> set[str]:
    return {finding["check"] for finding in run.findings}


def _found(run, wanted: str) -> bool:
    return any(wanted in check for check in _checks(run))


@pytest.mark.parametrize("pack0_dir", [LIBRARY, TICKETS], ids=["library", "tickets"])
def test_the_reference_service_passes(sources, tmp_path, pack0_dir):
    build, _package = _service(sources, pack0_dir, tmp_path)
    gate = conformance_gate(build, pack0_dir, load_pack0(pack0_dir), resolve_sandbox("auto"), None)
    assert gate.status == "passed", gate.details[:5]
    assert "conformance checks passed" in gate.reason and int(gate.reason.split()[0]) > 300


def test_a_restyled_but_correct_service_passes(sources, tmp_path):
    """Other code, same behaviour: its own start-up script (the factory's interface, written differently) and
    a list that counts in Python instead of SQL."""
    build, package = _service(sources, LIBRARY, tmp_path)
    (package / "__main__.py").write_text(
        "import os, sys\n"
        "from .server import make_server\n\n"
        "def run(args):\n"
        "    options = dict(zip(args[::2], args[1::2]))\n"
        "    server = make_server(options.get('--host', '127.0.0.1'), int(options.get('--port', '8000')))\n"
        "    if '--port-file' in options:\n"
        "        open(options['--port-file'], 'w').write(str(server.server_address[1]))\n"
        "    try:\n"
        "        server.serve_forever()\n"
        "    finally:\n"
        "        server.store.close()\n\n"
        "run(sys.argv[1:])\n",
        encoding="utf-8",
    )
    _plant(
        package / "storage.py",
        "            total = total.fetchone()[0]\n",
        "            total = len(self._db.execute(f'SELECT id FROM \"{resource}\" WHERE tenant_id = ?{conditions}',"
        " params).fetchall())\n",
    )
    run = _judge(build, LIBRARY)
    assert run.passed, run.detail_lines()[:5]


DEFECTS = {
    # name: (Pack0, file under the package, text, replacement, the check that must name it)
    "a list shows every tenant's rows": (
        LIBRARY,
        "storage.py",
        "WHERE tenant_id = ?{conditions}",
        "WHERE (tenant_id = ? OR 1){conditions}",
        "tenants: a list never shows another tenant's records",
    ),
    "GET by id ignores the tenant": (
        LIBRARY,
        "storage.py",
        'row = self._db.execute(self._select(table) + " WHERE tenant_id = ? AND id = ?", (tenant_id, record_id))',
        'row = self._db.execute(self._select(table) + " WHERE (tenant_id = ? OR 1) AND id = ?",'
        " (tenant_id, record_id))",
        "tenants: another tenant's record is not found",
    ),
    "rows kept in memory": (
        LIBRARY,
        "storage.py",
        "        return Store(path)\n",
        "        return Store(':memory:')\n",
        "persistence: a record reads back the same after a restart",
    ),
    "paging off by one": (
        LIBRARY,
        "storage.py",
        "(*params, limit, offset),",
        "(*params, limit, offset + 1 if offset else 0),",
        "lists: paging under a sort",
    ),
    "a filter that ignores the tenant": (
        LIBRARY,
        "storage.py",
        'f" WHERE tenant_id = ?{conditions} ORDER BY',
        'f" WHERE (tenant_id = ? OR {bool(conditions)}){conditions} ORDER BY',
        "tenants: a list never shows another tenant's records",
    ),
    "dangling references accepted, foreign keys off": (
        LIBRARY,
        "query.py",
        "        if not found:\n            raise StoreError(",
        "        if found is None:\n            raise StoreError(",
        "references: a missing book in book_id is refused on create",
    ),
    "a cascade that leaves grandchildren": (
        TICKETS,
        "query.py",
        "            delete_dependents(tables, name, rows, tenant_id, fetch, execute, mark, stamp, gone)\n",
        "",
        "references: deleting a event leaves each ticket as x-on-delete says",
    ),
}


@pytest.mark.parametrize("name", list(DEFECTS))
def test_a_planted_defect_fails_the_gate_naming_it(sources, tmp_path, name):
    pack0_dir, relative, old, new, wanted = DEFECTS[name]
    build, package = _service(sources, pack0_dir, tmp_path)
    _plant(package / relative, old, new)
    if name.startswith(("dangling", "a cascade")):  # else SQLite's own foreign keys do what the code does not
        _plant(package / "storage.py", "PRAGMA foreign_keys=ON", "PRAGMA foreign_keys=OFF")
    run = _judge(build, pack0_dir)
    assert not run.passed
    assert _found(run, wanted), sorted(_checks(run))
    assert all(
        finding["curl"].startswith("curl ")
        for finding in run.findings
        if finding["operation"].startswith(("GET", "POST", "PATCH", "DELETE"))
    )


def test_uniqueness_not_enforced_fails_the_gate(sources, tmp_path):
    build, package = _service(sources, LIBRARY, tmp_path)
    _drop_from_tables(package, lambda statement: None if statement.startswith("CREATE UNIQUE INDEX") else statement)
    run = _judge(build, LIBRARY)
    assert _found(run, "uniqueness: a duplicate isbn is refused"), sorted(_checks(run))
    assert _found(run, "schema: the database refuses a row with duplicate isbn")


def test_a_check_dropped_from_the_sqlite_ddl_fails_the_gate(sources, tmp_path):
    """The API still refuses a long title (validation.py): only the database's own table tells."""
    build, package = _service(sources, LIBRARY, tmp_path)
    _drop_from_tables(package, lambda statement: statement.replace(' AND (length("title") <= 200)', ""))
    assert ' AND (length("title") <= 200)' not in (package / "tables.json").read_text(encoding="utf-8")
    run = _judge(build, LIBRARY)
    assert _checks(run) == {"schema: the database refuses a row with title maxLength"}, sorted(_checks(run))


def test_a_foreign_key_left_out_of_the_sqlite_ddl_fails_the_gate(sources, tmp_path):
    """The code still checks the reference: only the table's own keys tell."""
    build, package = _service(sources, LIBRARY, tmp_path)
    key = ',\n  CONSTRAINT "ref_1" FOREIGN KEY (tenant_id, "book_id") REFERENCES "books" (tenant_id, id)'
    key += " ON DELETE RESTRICT"
    assert key in (package / "tables.json").read_text(encoding="utf-8").replace("\\n", "\n").replace('\\"', '"')
    _drop_from_tables(package, lambda statement: statement.replace(key, ""))
    run = _judge(build, LIBRARY)
    assert _checks(run) == {"schema: book_id is a foreign key to books"}, sorted(_checks(run))


def test_update_without_validation_fails_the_gate(sources, tmp_path):
    build, package = _service(sources, LIBRARY, tmp_path)
    _plant(
        package / "handlers.py",
        "changes = _body(route.resource, request, partial=True)",
        "changes = json.loads(request.body or b'{}')",
    )
    _plant(
        package / "handlers.py",
        "from __future__ import annotations\n",
        "from __future__ import annotations\n\nimport json\n",
    )
    run = _judge(build, LIBRARY)
    assert _found(run, "refused on update, nothing changed"), sorted(_checks(run))


def test_a_service_that_does_not_take_the_interface_is_one_clear_finding(sources, tmp_path):
    build, package = _service(sources, LIBRARY, tmp_path)
    _plant(
        package / "__main__.py",
        '    parser.add_argument("--port-file", help="write the bound port here (useful with --port 0)")\n',
        "",
    )
    run = _judge(build, LIBRARY)
    assert len(run.findings) == 1 and run.findings[0]["check"] == "start-up"
    assert "--port-file" in run.findings[0]["got"] and "unrecognized arguments" in run.findings[0]["got"]


def test_statuses_and_shapes_are_judged_against_the_pack0s_document():
    contract = json.loads((LIBRARY / "contracts/openapi.json").read_text(encoding="utf-8"))
    book = {
        "id": "1b4e28ba-2fa1-41d2-883f-0016d3cca427",
        "isbn": "978-0-306-40615-7",
        "title": "t",
        "published_year": 1500,
        "created_at": "2026-01-01T00:00:00+00:00",
        "updated_at": "2026-01-01T00:00:00+00:00",
    }
    good = {"operation": "GET /api/v1/books/{id}", "status": 200, "body": book}
    assert status_and_shape_findings(contract, [good]) == []
    undeclared = {**good, "operation": "DELETE /api/v1/loans/{id}", "status": 409, "body": {"error": {}}}
    misshapen = {**good, "body": {**book, "published_year": "1500"}}
    checks = [finding["check"] for finding in status_and_shape_findings(contract, [undeclared, misshapen])]
    assert checks == ["statuses: the answer's status is declared", "shapes: the answer's body fits its declared schema"]


def test_an_operation_never_reached_with_a_valid_request_is_a_finding():
    contract = json.loads((LIBRARY / "contracts/openapi.json").read_text(encoding="utf-8"))
    every = [
        {"operation": f"{method.upper()} {path}", "status": 200, "body": None}
        for path, methods in contract["paths"].items()
        for method in methods
    ]
    assert unreached_findings(contract, every) == []
    refused = [{**item, "status": 404} if item["operation"] == "PATCH /api/v1/loans/{id}" else item for item in every]
    assert [finding["operation"] for finding in unreached_findings(contract, refused)] == ["PATCH /api/v1/loans/{id}"]
