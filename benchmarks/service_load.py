"""Load without loss: the generated crm-contacts service under 50 concurrent clients, each creating 40
contacts on fresh connections while every client also updates one shared record. Counts connection resets,
5xx answers and records missing from the list afterwards (all must be 0); prints throughput and p50/p99.

Run: python benchmarks/service_load.py [--clients 50] [--creates 40] [--database-url postgresql://...]
Without --database-url the service keeps its rows in SQLite (a file in a temporary folder).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

MODULE, PACKAGE = "crm-contacts", "crm_contacts"
TENANT = "load"


def build(out: Path) -> Path:
    argv = [sys.executable, "-m", "factory.cli", "auto-full", "--module", MODULE, "--out", str(out), "--quiet"]
    env = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    done = subprocess.run(
        [*argv, "--waive", "docker-build", "--auto-deploy"], capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0:
        raise SystemExit(f"the build failed: {done.stdout}{done.stderr}")
    return out / "build"


def migrate(build_dir: Path, database_url: str) -> None:
    """The build's deploy.sh on the PostgreSQL database (the service refuses a schema it was not made for)."""
    env = {**os.environ, "DATABASE_URL": database_url}
    done = subprocess.run([str(build_dir / "deploy/deploy.sh")], capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        raise SystemExit(f"deploy.sh failed: {done.stderr.strip()}")


def start_service(build_dir: Path, temp: Path, database_url: str | None) -> tuple[subprocess.Popen, int]:
    port_file = temp / "port"
    env = {**os.environ, "PYTHONPATH": str(build_dir / "src"), "DATABASE_PATH": str(temp / "load.sqlite3")}
    env.pop("DATABASE_URL", None)
    if database_url:
        env["DATABASE_URL"] = database_url
    argv = [sys.executable, "-m", PACKAGE, "--host", "127.0.0.1", "--port", "0", "--port-file", str(port_file)]
    process = subprocess.Popen(argv, env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while not (port_file.is_file() and port_file.read_text()):
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit("the service did not start")
        time.sleep(0.05)
    return process, int(port_file.read_text())


class Tally:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: list[float] = []
        self.resets = 0
        self.server_errors = 0
        self.other = 0
        self.created: list[str] = []

    def add(self, seconds: float, status: int | None, created_id: str | None = None) -> None:
        with self.lock:
            self.latencies.append(seconds)
            if status is None:
                self.resets += 1
            elif status >= 500:
                self.server_errors += 1
            elif status >= 300:
                self.other += 1
            if created_id:
                self.created.append(created_id)


def call(port: int, method: str, path: str, body: dict | None) -> tuple[float, int | None, dict | None]:
    """One request on a fresh connection: (seconds, status or None when the connection failed, JSON)."""
    started = time.perf_counter()
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    headers = {"X-Tenant-ID": TENANT, "Content-Type": "application/json"}
    try:
        connection.request(method, path, json.dumps(body) if body is not None else None, headers)
        response = connection.getresponse()
        raw = response.read()
        status = response.status
    except (OSError, http.client.HTTPException):
        return time.perf_counter() - started, None, None
    finally:
        connection.close()
    return time.perf_counter() - started, status, json.loads(raw) if raw else None


def client(number: int, creates: int, port: int, shared_id: str, tally: Tally, start: threading.Event) -> None:
    start.wait()
    for index in range(creates):
        contact = {"first_name": f"C{number}", "last_name": f"N{index}", "email": f"c{number}.{index}@example.com"}
        seconds, status, record = call(port, "POST", "/api/v1/contacts", contact)
        tally.add(seconds, status, record["id"] if status == 201 else None)
        seconds, status, _ = call(port, "PATCH", f"/api/v1/companies/{shared_id}", {"employee_count": index})
        tally.add(seconds, status)


def listed_ids(port: int) -> set[str]:
    ids, offset = set(), 0
    while True:
        _seconds, status, page = call(port, "GET", f"/api/v1/contacts?limit=200&offset={offset}", None)
        if status != 200:
            raise SystemExit(f"listing answered {status}")
        ids.update(item["id"] for item in page["items"])
        offset += 200
        if offset >= page["total"]:
            return ids


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--creates", type=int, default=40)
    parser.add_argument("--database-url", help="run the service on this PostgreSQL database instead of SQLite")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lai-load-") as folder:
        temp = Path(folder)
        build_dir = build(temp / "out")
        if args.database_url:
            migrate(build_dir, args.database_url)
        process, port = start_service(build_dir, temp, args.database_url)
        try:
            _seconds, status, company = call(port, "POST", "/api/v1/companies", {"name": "Shared"})
            if status != 201:
                raise SystemExit(f"creating the shared record answered {status}")
            tally, start = Tally(), threading.Event()
            threads = [
                threading.Thread(target=client, args=(n, args.creates, port, company["id"], tally, start))
                for n in range(args.clients)
            ]
            for thread in threads:
                thread.start()
            started = time.perf_counter()
            start.set()
            for thread in threads:
                thread.join()
            wall = time.perf_counter() - started
            missing = set(tally.created) - listed_ids(port)
        finally:
            process.terminate()
            process.wait(10)
    requests = len(tally.latencies)
    store = "PostgreSQL" if args.database_url else "SQLite"
    print(f"store:              {store}")
    print(f"clients x creates:  {args.clients} x {args.creates} (+ as many updates of one shared record)")
    print(f"requests:           {requests} in {wall:.2f} s = {requests / wall:.0f} requests/s")
    print(
        f"latency:            p50 {percentile(tally.latencies, 0.5) * 1000:.1f} ms, "
        f"p99 {percentile(tally.latencies, 0.99) * 1000:.1f} ms, mean {statistics.mean(tally.latencies) * 1000:.1f} ms"
    )
    print(f"connection resets:  {tally.resets}")
    print(f"5xx answers:        {tally.server_errors}")
    print(f"other non-2xx:      {tally.other}")
    print(f"created, not listed: {len(missing)} of {len(tally.created)}")
    lost = tally.resets or tally.server_errors or tally.other or missing
    lost = lost or len(tally.created) != args.clients * args.creates
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
