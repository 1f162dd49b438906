"""The generated service against hostile HTTP, over raw sockets: framing it must refuse (never re-read a body
as a request), clients that stall, bursts of connections, methods and media types it does not serve, and
JSON that Python accepts but the contract (or a strict client) cannot."""

from __future__ import annotations

import importlib
import json
import socket
import sys
import threading
import time
from pathlib import Path

import pytest

TIMEOUT_S = 0.8  # the service's header and body deadlines in these tests
CONTACT = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"}


@pytest.fixture(scope="module")
def server_module(crm_source: Path):
    # Imported in this process, so no bytecode may be written: the session's crm_source stays as generated.
    sys.path.insert(0, str(crm_source / "build" / "src"))
    writes_bytecode, sys.dont_write_bytecode = sys.dont_write_bytecode, True
    try:
        yield importlib.import_module("crm_contacts.server")
    finally:
        sys.dont_write_bytecode = writes_bytecode
        sys.path.remove(str(crm_source / "build" / "src"))


@pytest.fixture(scope="module")
def port(server_module, tmp_path_factory: pytest.TempPathFactory):
    database = tmp_path_factory.mktemp("hostile") / "service.sqlite3"
    server = server_module.make_server("127.0.0.1", 0, str(database), header_timeout=TIMEOUT_S, body_timeout=TIMEOUT_S)
    server_module.start_in_thread(server)
    yield server.server_address[1]
    server.shutdown()
    server.server_close()
    server.store.close()


def parse_responses(data: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """Every HTTP response in what the server sent: (status, headers with lower-case names, body)."""
    responses = []
    while data:
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {
            name.strip().lower(): value.strip() for name, _, value in (line.partition(":") for line in lines[1:])
        }
        length = int(headers.get("content-length", "0"))
        responses.append((status, headers, rest[:length]))
        data = rest[length:]
    return responses


def exchange(port: int, data: bytes, wait_s: float = 3.0) -> tuple[list[tuple[int, dict, bytes]], bool]:
    """Send raw bytes; read until the server closes or wait_s passes. (responses, whether it closed)."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait_s) as sock:
        sock.sendall(data)
        received, closed = b"", False
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            try:
                chunk = sock.recv(65536)
            except TimeoutError:
                break
            if not chunk:
                closed = True
                break
            received += chunk
    return parse_responses(received), closed


def request(
    method: str, path: str, body: bytes = b"", headers: dict | None = None, tenant: str | None = "acme"
) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
    if tenant is not None:
        lines.append(f"X-Tenant-ID: {tenant}")
    defaults = {"Content-Type": "application/json", "Content-Length": str(len(body)), "Connection": "close"}
    given = {**defaults, **(headers or {})}
    lines += [f"{name}: {value}" for name, value in given.items() if value is not None]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


def json_of(body: bytes):
    """Strict JSON: NaN and Infinity are errors, as in every non-Python client."""

    def refuse(name):
        raise ValueError(f"{name} is not JSON")

    return json.loads(body, parse_constant=refuse)


def only_response(port: int, data: bytes) -> tuple[int, dict, object]:
    responses, _closed = exchange(port, data, wait_s=1.5)
    assert len(responses) == 1, responses
    status, headers, body = responses[0]
    return status, headers, json_of(body) if body else None


def listed(port: int, tenant: str) -> list[dict]:
    status, _headers, body = only_response(
        port, request("GET", "/api/v1/contacts?limit=200", tenant=tenant, headers={"Connection": "close"})
    )
    assert status == 200
    return body["items"]


def chunked(payload: bytes, size: int = 7) -> bytes:
    parts = [payload[i : i + size] for i in range(0, len(payload), size)]
    return b"".join(b"%x\r\n%s\r\n" % (len(part), part) for part in parts) + b"0\r\n\r\n"


def test_chunked_body_is_decoded_and_answered_once(port: int):
    body = json.dumps(CONTACT).encode()
    data = request(
        "POST",
        "/api/v1/contacts",
        chunked(body),
        {"Content-Length": None, "Transfer-Encoding": "chunked", "Connection": "close"},
        tenant="chunky",
    )
    status, _headers, record = only_response(port, data)
    assert status == 201 and record["email"] == CONTACT["email"]
    assert [item["id"] for item in listed(port, "chunky")] == [record["id"]]


def test_a_request_smuggled_in_a_chunked_body_is_never_run(port: int):
    smuggled = request("POST", "/api/v1/contacts", json.dumps(CONTACT).encode(), tenant="victim")
    for data in (
        request(
            "POST",
            "/api/v1/contacts",
            chunked(smuggled),
            {"Content-Length": None, "Transfer-Encoding": "chunked"},
            tenant="attacker",
        ),
        request(
            "POST",
            "/api/v1/contacts",
            smuggled,
            {"Content-Length": str(len(smuggled)), "Transfer-Encoding": "chunked"},
            tenant="attacker",
        ),
        request(
            "POST",
            "/api/v1/contacts",
            smuggled,
            {"Content-Length": None, "Transfer-Encoding": "gzip, chunked"},
            tenant="attacker",
        ),
    ):
        responses, _closed = exchange(port, data, wait_s=1.5)
        assert [status for status, _h, _b in responses] == [400], responses
        json_of(responses[0][2])
    assert listed(port, "victim") == []


@pytest.mark.parametrize("length", ["abc", "1e3", "51, 51", "-1", "+5", " 0x10", "\u00b2"])
def test_an_invalid_content_length_is_400_and_the_connection_closes(port: int, length: str):
    body = json.dumps(CONTACT).encode()
    data = request("POST", "/api/v1/contacts", body, {"Content-Length": length}, tenant="lengths")
    responses, closed = exchange(port, data)
    assert [status for status, _h, _b in responses] == [400] and closed
    assert json_of(responses[0][2])["error"]["code"] == "bad_framing"
    assert listed(port, "lengths") == []


def test_two_content_length_headers_are_400_even_when_equal(port: int):
    body = json.dumps(CONTACT).encode()
    data = request("POST", "/api/v1/contacts", body, tenant="lengths").replace(
        b"\r\n\r\n", f"\r\nContent-Length: {len(body)}\r\n\r\n".encode(), 1
    )
    responses, closed = exchange(port, data)
    assert [status for status, _h, _b in responses] == [400] and closed


def test_a_post_without_any_length_is_400(port: int):
    responses, closed = exchange(port, request("POST", "/api/v1/contacts", headers={"Content-Length": None}))
    assert [status for status, _h, _b in responses] == [400] and closed
    assert json_of(responses[0][2])["error"]["code"] == "length_required"


def test_a_body_larger_than_the_limit_is_413_without_reading_it(port: int):
    data = request("POST", "/api/v1/contacts", b"", {"Content-Length": str(2_000_000)})
    responses, closed = exchange(port, data)
    assert [status for status, _h, _b in responses] == [413] and closed


def test_a_client_that_stalls_is_dropped_and_others_are_served_meanwhile(port: int):
    stalled = [
        b"GET /health HTTP/1.1\r\nHost: x\r\n",  # headers never finished
        request("POST", "/api/v1/contacts", b'{"first', {"Content-Length": "100"}),  # a body shorter than its length
    ]
    sockets = []
    for data in stalled:
        sock = socket.create_connection(("127.0.0.1", port), timeout=5)
        sock.sendall(data)
        sockets.append(sock)
    started = time.monotonic()
    status, _headers, body = only_response(port, request("GET", "/health", headers={"Content-Length": None}))
    assert (status, body["status"]) == (200, "ok")
    assert time.monotonic() - started < TIMEOUT_S / 2, "a stalled client held the others up"
    for sock in sockets:
        assert sock.recv(1024) == b"", "a stalled client must be dropped"
        assert time.monotonic() - started < TIMEOUT_S + 2
        sock.close()


def test_a_client_trickling_its_headers_is_dropped_at_the_deadline(port: int):
    sock = socket.create_connection(("127.0.0.1", port), timeout=5)
    started, dropped = time.monotonic(), False
    for byte in b"GET /health HTTP/1.1\r\nX-Slow: " + b"a" * 100:
        try:
            sock.sendall(bytes([byte]))
            time.sleep(0.05)
        except OSError:
            dropped = True
            break
        if time.monotonic() - started > TIMEOUT_S + 1:
            sock.settimeout(0.5)
            try:
                dropped = sock.recv(1024) == b""
            except TimeoutError:
                dropped = False
            break
    sock.close()
    assert dropped, "a client that sends one byte at a time must still be dropped at the header deadline"


def test_the_listen_backlog_takes_a_burst_of_connections(server_module, tmp_path: Path):
    server = server_module.make_server("127.0.0.1", 0, str(tmp_path / "backlog.sqlite3"))
    assert server.request_queue_size >= 128
    sockets = []
    try:
        # Nothing accepts yet: only the kernel's queue (the listen backlog) holds these connections.
        for _ in range(150):
            sockets.append(socket.create_connection(server.server_address, timeout=2))
        server_module.start_in_thread(server)
        for sock in sockets[:3]:
            sock.sendall(request("GET", "/health", headers={"Content-Length": None, "Connection": "close"}))
            assert parse_responses(sock.recv(4096))[0][0] == 200
    finally:
        for sock in sockets:
            sock.close()
        server.shutdown()
        server.server_close()
        server.store.close()


PATHS = {
    "/health": "GET",
    "/openapi.json": "GET",
    "/api/v1/contacts": "GET, POST",
    "/api/v1/contacts/00000000-0000-4000-8000-000000000000": "DELETE, GET, PATCH",
}


METHODS = ["HEAD", "OPTIONS", "TRACE", "PUT", "CONNECT", "PROPFIND", "POST", "PATCH", "DELETE", "GET"]


@pytest.mark.parametrize(
    ("path", "method"), [(path, method) for path in sorted(PATHS) for method in METHODS if method not in PATHS[path]]
)
def test_every_undeclared_method_is_405_json_with_allow(port: int, path: str, method: str):
    allowed = PATHS[path]
    status, headers, body = only_response(port, request(method, path, b"{}"))
    assert (status, headers["allow"], headers["content-type"]) == (405, allowed, "application/json")
    if method != "HEAD":
        assert body["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize("raw", [b"NaN", b"Infinity", b"-Infinity", b"1e999", b"-1e999", b"1" * 2000])
def test_nan_infinity_and_huge_numbers_are_422_and_never_stored(port: int, raw: bytes):
    for field in ("annual_revenue", "employee_count"):
        payload = b'{"name": "Acme", "' + field.encode() + b'": ' + raw + b"}"
        status, _headers, answer = only_response(port, request("POST", "/api/v1/companies", payload, tenant="numbers"))
        assert status == 422, answer
    status, _headers, page = only_response(port, request("GET", "/api/v1/companies", tenant="numbers"))
    assert (status, page["items"]) == (200, [])


@pytest.mark.parametrize("depth", [40, 1000, 100_000])
def test_deep_nesting_is_422_never_500(port: int, depth: int):
    for payload in (
        b"[" * depth + b"]" * depth,
        b'{"first_name": "A", "last_name": "B", "email": "a@example.com", "tags": '
        + b"[" * depth
        + b"]" * depth
        + b"}",
        b'{"a": ' * depth + b"1" + b"}" * depth,
    ):
        status, _headers, answer = only_response(port, request("POST", "/api/v1/contacts", payload, tenant="deep"))
        assert status == 422, answer


@pytest.mark.parametrize(
    "query",
    [
        "limit=%C2%B2",
        "offset=%D9%A3",
        "limit=" + "9" * 5000,
        "offset=" + "1" * 40,
        "limit=",
        "limit=1&limit=2",
        "limit=0",
        "limit=201",
        "offset=-1",
        "offset=1000000001",
        "limit=1.0",
        "limit=%201",
        "limit=1%0A",
    ],
)
def test_bad_page_parameters_are_422(port: int, query: str):
    status, _headers, answer = only_response(port, request("GET", f"/api/v1/contacts?{query}"))
    assert status == 422, answer
    assert answer["error"]["code"] == "invalid_query"


def test_declared_page_bounds_are_accepted(port: int):
    status, _headers, page = only_response(port, request("GET", "/api/v1/contacts?limit=200&offset=1000000000"))
    assert (status, page["limit"], page["offset"]) == (200, 200, 1_000_000_000)


def test_integer_valued_numbers_are_accepted_and_stored_as_integers(port: int):
    payload = b'{"name": "Acme", "employee_count": 4138.0}'
    status, _headers, created = only_response(port, request("POST", "/api/v1/companies", payload, tenant="ints"))
    assert status == 201 and created["employee_count"] == 4138 and isinstance(created["employee_count"], int)
    responses, _closed = exchange(port, request("GET", f"/api/v1/companies/{created['id']}", tenant="ints"), wait_s=1)
    assert b'"employee_count": 4138,' in responses[0][2] or b'"employee_count": 4138}' in responses[0][2]
    status, _headers, _answer = only_response(
        port, request("POST", "/api/v1/companies", b'{"name": "A", "employee_count": 41.5}', tenant="ints")
    )
    assert status == 422


@pytest.mark.parametrize(
    "content_type",
    [None, "text/plain", "application/x-www-form-urlencoded", "application/json; charset=latin-1", "application/jsonx"],
)
def test_a_body_that_is_not_json_by_its_content_type_is_415(port: int, content_type: str | None):
    data = request(
        "POST", "/api/v1/contacts", json.dumps(CONTACT).encode(), {"Content-Type": content_type}, tenant="media"
    )
    status, _headers, answer = only_response(port, data)
    assert status == 415, answer
    assert listed(port, "media") == []


def test_application_json_with_utf8_charset_is_accepted(port: int):
    data = request(
        "POST",
        "/api/v1/contacts",
        json.dumps(CONTACT).encode(),
        {"Content-Type": "Application/JSON; charset=UTF-8"},
        tenant="media-ok",
    )
    assert only_response(port, data)[0] == 201


@pytest.mark.parametrize("tenants", [["acme", "other"], ["acme", "acme"], [""], ["a" * 129], ["acme\x7f"], ["ac me"]])
def test_a_missing_invalid_or_repeated_tenant_header_is_400(port: int, tenants: list[str]):
    data = request("GET", "/api/v1/contacts", tenant=None)
    data = data.replace(
        b"\r\n\r\n", b"".join(f"\r\nX-Tenant-ID: {value}".encode("latin-1") for value in tenants) + b"\r\n\r\n", 1
    )
    status, _headers, answer = only_response(port, data)
    assert (status, answer["error"]["code"]) == (400, "missing_tenant")


@pytest.mark.parametrize(
    "line",
    [
        b"GARBAGE\r\n\r\n",
        b"GET /health\r\n\r\n",
        b"GET /health HTTP/2.0\r\n\r\n",
        b"GET /health HTTP/1.1\r\nNo colon here\r\n\r\n" + b"x" * 10,
        b"POST /api/v1/contacts HTTP/1.1\r\nX-Tenant-ID: a\r\nContent-Length : 2\r\n\r\n{}",
    ],
)
def test_a_malformed_request_is_answered_with_json(port: int, line: bytes):
    responses, closed = exchange(port, line)
    assert len(responses) == 1 and closed
    status, headers, body = responses[0]
    assert status == 400 and headers["content-type"] == "application/json"
    json_of(body)


def test_keep_alive_requests_on_one_connection_are_each_answered(port: int):
    keep = {"Content-Length": None, "Connection": None}
    data = request("GET", "/health", headers=keep) * 3
    data += request("POST", "/api/v1/contacts", json.dumps(CONTACT).encode(), tenant="pipelined")
    responses, _closed = exchange(port, data, wait_s=1)
    assert [status for status, _h, _b in responses] == [200, 200, 200, 201]


def test_many_concurrent_clients_get_answers(port: int):
    statuses = []

    def client():
        responses, _closed = exchange(
            port, request("GET", "/health", headers={"Content-Length": None, "Connection": "close"}), wait_s=5
        )
        statuses.extend(status for status, _h, _b in responses)

    threads = [threading.Thread(target=client) for _ in range(60)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert statuses == [200] * 60


@pytest.mark.parametrize(
    ("fmt", "text"),
    [
        ("date", "2026-W01-1"),
        ("date", "20260101"),
        ("date", "2026-02-30"),
        ("date-time", "20260101T100000Z"),
        ("date-time", "2026-01-01T10:00:00"),
        ("uuid", "{12345678-1234-5678-1234-567812345678}"),
        ("uuid", "urn:uuid:12345678-1234-5678-1234-567812345678"),
        ("uuid", "12345678123456781234567812345678"),
        ("email", "no-at-sign.example.com"),
        ("email", "a@b@example.com"),
        ("uri", "not a uri"),
        ("uri", "//no-scheme.example.com"),
    ],
)
def test_formats_are_checked_exactly_as_declared(server_module, fmt: str, text: str):
    validation = importlib.import_module("crm_contacts.validation")
    assert validation.check_value({"type": "string", "format": fmt}, text) == f"must be a valid {fmt}"


def test_an_email_that_is_not_one_is_422_over_http(port: int):
    body = json.dumps({**CONTACT, "email": "no-at-sign.example.com"}).encode()
    status, _headers, answer = only_response(port, request("POST", "/api/v1/contacts", body, tenant="formats"))
    assert (status, answer["error"]["fields"][0]["field"]) == (422, "email")
