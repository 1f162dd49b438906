"""The generated service really works when started by hand: python -m <package> on 127.0.0.1."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import build_env, service_by_hand


def call(port: int, method: str, path: str, body=None, tenant: str | None = "acme") -> tuple[int, object]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = {"Content-Type": "application/json", **({"X-Tenant-ID": tenant} if tenant else {})}
    connection.request(method, path, body=json.dumps(body) if body is not None else None, headers=headers)
    response = connection.getresponse()
    raw = response.read()
    connection.close()
    is_json = response.getheader("Content-Type", "").startswith("application/json")
    return response.status, (json.loads(raw) if raw and is_json else raw)


@pytest.fixture
def service_port(crm_output: Path, tmp_path: Path):
    database = tmp_path / "by-hand.sqlite3"
    with service_by_hand(crm_output / "build", tmp_path, DATABASE_PATH=str(database)) as bound:
        yield bound
    assert database.is_file(), "the service must store its rows in DATABASE_PATH"


def test_service_serves_health_contract_and_page(service_port: int, crm_output: Path):
    assert call(service_port, "GET", "/health", tenant=None) == (200, {"status": "ok", "module": "crm-contacts"})
    contract = json.loads((crm_output / "pack0/pack0-crm-contacts-0.0.1/contracts/openapi.json").read_text())
    assert call(service_port, "GET", "/openapi.json", tenant=None) == (200, contract)
    status, page = call(service_port, "GET", "/", tenant=None)
    assert status == 200 and b'src="/static/app.js"' in page
    status, script = call(service_port, "GET", "/static/app.js", tenant=None)
    assert status == 200 and b'fetch("/openapi.json")' in script  # the page is drawn from the contract


def test_crud_with_tenant_isolation_and_validation(service_port: int):
    body = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "status": "lead"}
    status, created = call(service_port, "POST", "/api/v1/contacts", body)
    assert status == 201 and created["first_name"] == "Ada"
    item = f"/api/v1/contacts/{created['id']}"
    assert call(service_port, "GET", item, tenant="rival")[0] == 404
    assert call(service_port, "PATCH", item, {"status": "customer"}, tenant="rival")[0] == 404
    assert call(service_port, "GET", "/api/v1/contacts", tenant="rival")[1]["total"] == 0
    status, updated = call(service_port, "PATCH", item, {"status": "customer"})
    assert status == 200 and updated["status"] == "customer"
    status, error = call(service_port, "POST", "/api/v1/contacts", {"first_name": "X", "email": "nope", "age": 3})
    assert status == 422
    assert sorted(f["field"] for f in error["error"]["fields"]) == ["age", "email", "last_name"]
    assert call(service_port, "GET", "/api/v1/contacts", tenant=None)[0] == 400
    assert call(service_port, "DELETE", item)[0] == 204
    assert call(service_port, "GET", item)[0] == 404


def test_generated_tests_fail_when_the_tenant_filter_is_removed(crm_output: Path, tmp_path: Path):
    import shutil

    build = tmp_path / "build"
    shutil.copytree(crm_output / "build", build)
    storage = build / "src/crm_contacts/storage.py"
    text = storage.read_text()
    broken = text.replace("WHERE tenant_id = ? AND id = ?", "WHERE (tenant_id = ? OR 1) AND id = ?")
    assert broken != text
    storage.write_text(broken)
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "tests", "-q", "-p", "no:cacheprovider", "--rootdir", "."],
        cwd=build,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"},
    )
    assert result.returncode == 1
    assert "test_other_tenant_cannot_see_or_change_the_record" in result.stdout
    assert "test_two_tenants_full_flow" in result.stdout


def test_the_generated_suite_ignores_the_pytest_configuration_around_the_build(crm_output: Path, tmp_path: Path):
    """The README's first command builds inside this checkout, whose addopts (`-n auto`) is not the generated
    suite's: the build's test command must run the same wherever the build sits."""
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = --no-such-option\n", encoding="utf-8")
    build = tmp_path / "build"
    shutil.copytree(crm_output / "build", build)
    command = json.loads((build / ".test_commands.json").read_text(encoding="utf-8"))["commands"][0]
    argv = [sys.executable if part == "{python}" else part for part in command["argv"]]
    ran = subprocess.run(
        argv,
        cwd=build / command["cwd"],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=build_env(build),
    )
    assert ran.returncode == 0, ran.stdout[-2000:] + ran.stderr[-2000:]
    assert "passed" in ran.stdout
