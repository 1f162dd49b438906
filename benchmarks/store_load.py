"""The generated service under load on both stores, side by side: creates per second and p99 latency of
POST /api/v1/contacts (crm-contacts, offline build), SQLite and PostgreSQL (a fresh database, migrated by
deploy.sh, on LAI_TEST_DATABASE_URL's server or one started with scripts/postgres.sh). Bounded: N clients on
127.0.0.1 for a fixed number of requests each.

Run: python benchmarks/store_load.py [--clients 8] [--requests 250]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BODY = json.dumps({"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "status": "lead"})


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def build(out: Path) -> Path:
    argv = [sys.executable, "-m", "factory.cli", "auto-full", "--module", "crm-contacts", "--out", str(out)]
    env = {key: value for key, value in os.environ.items() if key not in ("ANTHROPIC_API_KEY", "DATABASE_URL")}
    done = subprocess.run(
        [*argv, "--auto-deploy", "--waive", "docker-build", "--quiet"], env=env, capture_output=True, text=True
    )
    if done.returncode != 0:
        raise SystemExit(f"build failed: {done.stdout}{done.stderr}")
    return out / "build"


def postgres_server(scratch: Path) -> tuple[str, list[str] | None]:
    """A server URL and, when this script started it, the command that stops it."""
    if os.environ.get("LAI_TEST_DATABASE_URL"):
        return os.environ["LAI_TEST_DATABASE_URL"], None
    data = scratch / "pg"
    scratch.chmod(0o755)
    script = str(ROOT / "scripts/postgres.sh")
    done = subprocess.run(["bash", script, "start", str(data), str(free_port())], capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"no PostgreSQL: {done.stderr.strip()}")
    return done.stdout.strip(), ["bash", script, "stop", str(data)]


def fresh_database(server: str, build_dir: Path) -> str:
    name = f"lai_bench_{uuid.uuid4().hex[:8]}"
    subprocess.run(["psql", server, "-qXc", f"CREATE DATABASE {name}"], check=True)
    url = server.rsplit("/", 1)[0] + "/" + name
    deployed = subprocess.run(
        [str(build_dir / "deploy/deploy.sh")], env={**os.environ, "DATABASE_URL": url}, capture_output=True
    )
    if deployed.returncode != 0:
        raise SystemExit(f"deploy.sh failed: {deployed.stderr.decode()}")
    return url


def start(build_dir: Path, scratch: Path, env: dict) -> tuple[subprocess.Popen, int]:
    port = free_port()
    inherited = {key: value for key, value in os.environ.items() if key not in ("DATABASE_URL", "DATABASE_PATH")}
    full = {**inherited, "PYTHONPATH": str(build_dir / "src"), "PYTHONDONTWRITEBYTECODE": "1", **env}
    process = subprocess.Popen(
        [sys.executable, "-m", "crm_contacts", "--port", str(port)], env=full, cwd=scratch, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 20
    while True:
        with socket.socket() as probe:
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return process, port
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"the service did not start: {process.stderr.read().decode()}")
        time.sleep(0.05)


def load(port: int, clients: int, requests: int) -> tuple[float, float, int]:
    """(creates per second, p99 in ms, failures) of clients x requests POSTs, one connection per client."""
    latencies: list[float] = []
    failures = [0]
    lock = threading.Lock()

    def client(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        headers = {"Content-Type": "application/json", "X-Tenant-ID": f"bench-{index % 4}"}
        mine = []
        for _ in range(requests):
            started = time.perf_counter()
            connection.request("POST", "/api/v1/contacts", BODY, headers)
            response = connection.getresponse()
            response.read()
            mine.append(time.perf_counter() - started)
            if response.status != 201:
                with lock:
                    failures[0] += 1
        connection.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(index,)) for index in range(clients)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))] * 1000
    return len(latencies) / elapsed, p99, failures[0]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--requests", type=int, default=250, help="per client")
    args = parser.parse_args()
    scratch = Path(tempfile.mkdtemp(prefix="lai-store-bench-"))
    stop = None
    results = {}
    try:
        build_dir = build(scratch / "output")
        server, stop = postgres_server(scratch)
        stores = {
            "sqlite": {"DATABASE_PATH": str(scratch / "bench.sqlite3")},
            "postgres": {"DATABASE_URL": fresh_database(server, build_dir)},
        }
        for name, env in stores.items():
            process, port = start(build_dir, scratch, env)
            try:
                results[name] = load(port, args.clients, args.requests)
            finally:
                process.terminate()
                process.wait(timeout=10)
    finally:
        if stop:
            subprocess.run(stop, check=False)
        shutil.rmtree(scratch, ignore_errors=True)
    print(f"{args.clients} clients x {args.requests} creates (POST /api/v1/contacts), crm-contacts")
    print(f"{'store':10} {'creates/s':>10} {'p99 ms':>8} {'failed':>7}")
    for name, (rate, p99, failed) in results.items():
        print(f"{name:10} {rate:10.0f} {p99:8.1f} {failed:7d}")
    return 0 if all(failed == 0 for _, _, failed in results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
