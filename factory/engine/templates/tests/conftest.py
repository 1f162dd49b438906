"""Shared fixtures: the service started on 127.0.0.1 at a random port, and a small HTTP client."""

import functools
import http.client
import importlib
import json
import os
import re
import sys
import uuid
from datetime import datetime, timezone
from pathlib import Path

import pytest

TESTS_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(TESTS_DIR.parent / "src"))
PACKAGE = "@@PACKAGE@@"


def load_cases(resource):
    return json.loads((TESTS_DIR / "cases" / f"{resource}.json").read_text(encoding="utf-8"))


_DATE_TIME = re.compile(
    r"([0-9]{4}-[0-9]{2}-[0-9]{2})[Tt]([0-9]{2}:[0-9]{2}:[0-9]{2})(?:\.([0-9]+))?([Zz]|[+-][0-9]{2}:[0-9]{2})"
)


def _canonical_value(fmt, value):
    if isinstance(value, list):
        return [_canonical_value(fmt, item) for item in value]
    if not isinstance(value, str):
        return value
    if fmt == "uuid":
        return value.lower()
    match = _DATE_TIME.fullmatch(value) if fmt == "date-time" else None
    if match is None:
        return value
    day, clock, fraction, offset = match.groups()
    offset = "+00:00" if offset in ("Z", "z") else offset
    micro = ("." + (fraction + "000000")[:6]) if fraction else ""
    try:
        return datetime.fromisoformat(f"{day}T{clock}{micro}{offset}").astimezone(timezone.utc)
    except ValueError:  # a leap second: compared as written
        return value


def canonical(cases, record):
    """A record as values, not spellings: a date-time as its instant, a uuid in lower case (a store may give back
    `2026-01-15T09:30:00+00:00` for `...Z`, or a canonical uuid)."""
    return {key: _canonical_value(cases["formats"].get(key), value) for key, value in record.items()}


@functools.cache
def load_contract():
    """The OpenAPI contract, parsed once per test session and shared by every module (read it, never change it):
    a copy per module would make the run's memory grow with the square of the entities."""
    return json.loads((TESTS_DIR / "contract_openapi.json").read_text(encoding="utf-8"))


class Response:
    def __init__(self, status, headers, raw):
        self.status = status
        self.headers = headers
        self.raw = raw
        self.json = json.loads(raw) if raw and headers.get("Content-Type", "").startswith("application/json") else None


class Client:
    """Talks HTTP to the running service; every call names its tenant (or None for no header)."""

    def __init__(self, port):
        self.port = port

    def request(self, method, path, body=None, tenant="tenant-default", raw_body=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = {"Content-Type": "application/json"}
        if tenant is not None:
            headers["X-Tenant-ID"] = tenant
        payload = raw_body if raw_body is not None else (json.dumps(body) if body is not None else None)
        try:
            connection.request(method, path, body=payload, headers=headers)
            reply = connection.getresponse()
            return Response(reply.status, dict(reply.getheaders()), reply.read())
        finally:
            connection.close()


# (tenant, resource, the id a test case holds) -> (tenant, resource, made as a parent of its own kind, the id of the
# record of the tenant made to stand for it): the same case id always names the same parent, so records that must
# share a parent (or differ in it) still do.
_PARENTS = {}


def parent_for(client, tenant, resource, case_id, visiting=()):
    """The id of the tenant's record standing for case_id, created (with its own parents) on first use; each new one
    of a resource distinct from the others on its unique fields. One made as a parent of its own kind (a team a
    player needs, made for a team) takes spare values: the tests' own records of it take the distinct ones."""
    own_kind = resource in visiting
    key = (tenant, resource, case_id)
    if key not in _PARENTS:
        cases = load_cases(resource)
        values = cases["spare"] if own_kind and cases["spare"] else cases["distinct"]
        made = sum(1 for other in _PARENTS.values() if other[:3] == (tenant, resource, own_kind))
        body = {**cases["valid"], **values[made % len(values)]}
        _PARENTS[key] = (tenant, resource, own_kind, create_record(client, tenant, resource, body, visiting)["id"])
    return _PARENTS[key][3]


def with_parents(client, tenant, resource, body, visiting=()):
    """The body with each reference (x-references) replaced by the id of a record of this tenant (parent_for): a
    made-up id is no record of the tenant, a 409. A cycle of optional references is cut where it comes back (null,
    or left out), which the Pack0 rules make always possible."""
    body = dict(body)
    cases = load_cases(resource)
    for field, reference in cases["references"].items():
        if body.get(field) is None:
            continue
        if reference["resource"] in (*visiting, resource) and not reference["required"]:
            if field in cases["required"]:
                body[field] = None
            else:
                del body[field]
            continue
        body[field] = parent_for(client, tenant, reference["resource"], body[field], (*visiting, resource))
    return body


# (tenant, resource) -> the ids of the records create_record made, in order: the tenant's list when a test made
# its records with it (and deleted none), records made as parents of their own kind included.
_CREATED = {}


def created(tenant, resource):
    return list(_CREATED.get((tenant, resource), ()))


def create_record(client, tenant, resource, body=None, visiting=()):
    """A new record of the resource for this tenant (the valid case by default), its parents created first."""
    cases = load_cases(resource)
    payload = with_parents(client, tenant, resource, cases["valid"] if body is None else body, visiting)
    response = client.request("POST", f"/api/v1/{resource}", payload, tenant=tenant)
    assert response.status == 201, response.raw
    _CREATED.setdefault((tenant, resource), []).append(response.json["id"])
    return response.json


@pytest.fixture(scope="session")
def service(tmp_path_factory):
    """The service on a fresh SQLite file, or on the PostgreSQL database in TEST_DATABASE_URL (migrated)."""
    server_module = importlib.import_module(f"{PACKAGE}.server")
    database = os.environ.get("TEST_DATABASE_URL") or str(tmp_path_factory.mktemp("service") / "service.sqlite3")
    server = server_module.make_server("127.0.0.1", 0, database)
    server_module.start_in_thread(server)
    yield server
    server.shutdown()
    server.server_close()
    server.store.close()


@pytest.fixture
def client(service):
    return Client(service.server_address[1])


@pytest.fixture
def tenant():
    """A fresh tenant per test, so counts and lists are exact."""
    return f"tenant-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def other_tenant():
    return f"other-{uuid.uuid4().hex[:12]}"
