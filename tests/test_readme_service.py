"""The README's commands for running the generated service, run as written (only the port is a free one and
the PostgreSQL URL is the test's): on SQLite the evidence still verifies afterwards; on PostgreSQL the record
created with curl is there for psql."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import pytest
from conftest import ROOT, factory_env, run_cli
from pg import deploy_to

from factory.pack0.load import load_pack0

pytestmark = pytest.mark.skipif(not shutil.which("curl"), reason="curl is not installed (apt-get install -y curl)")


def readme_block(after: str) -> list[str]:
    """The shell lines of the indented block that follows the README paragraph ending with `after`
    (continuations joined, comments dropped)."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    rest = text[text.index(after) + len(after) :].split("\n\n", 2)[1]
    lines = [line[4:] for line in rest.splitlines()]
    joined = re.sub(r"\\\n\s*", "", "\n".join(lines))
    return [line.split("  #")[0].strip() for line in joined.splitlines() if not line.startswith("#")]


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def run_block(lines: list[str], cwd: Path, env: dict) -> subprocess.CompletedProcess:
    """The lines in order in one bash script; the line that starts the service (on a free port instead of 8000)
    runs in the background until the script ends, then it and all it started are stopped."""
    port = str(free_port())
    lines = [line.replace("8000", port) for line in lines]
    server = next(index for index, line in enumerate(lines) if " -m " in line and "--port" in line)
    wait = f"for _ in $(seq 1 200); do (: </dev/tcp/127.0.0.1/{port}) 2>/dev/null && break; sleep 0.1; done"
    script = [*lines[:server], f"( {lines[server]} ) >/dev/null 2>&1 &", wait, *lines[server + 1 :]]
    process = subprocess.Popen(
        ["bash", "-ec", "\n".join(script)],
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        stdout, stderr = process.communicate(timeout=60)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
    return subprocess.CompletedProcess(script, process.returncode, stdout, stderr)


def test_the_readme_run_commands_leave_the_evidence_verifiable(crm_output: Path, tmp_path: Path):
    shutil.copytree(crm_output, tmp_path / "output")
    home = tmp_path / "home"
    env = {key: value for key, value in factory_env(HOME=str(home)).items() if not key.startswith(("XDG_", "DATABASE"))}
    done = run_block(readme_block("The generated service works on its own. After command one:"), tmp_path, env)
    assert done.returncode == 0, done.stderr
    assert '"first_name": "Ada"' in done.stdout
    assert (home / ".local/share/lai-services/crm-contacts/data.sqlite3").is_file()
    assert not list((tmp_path / "output/build").rglob("*.sqlite3*"))
    verified = run_cli("verify", tmp_path / "output", env=env)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_the_readme_postgres_commands_store_the_record_where_psql_sees_it(
    crm_output: Path, tmp_path: Path, database: str
):
    shutil.copytree(crm_output, tmp_path / "output")
    pack0 = load_pack0(crm_output / "pack0/pack0-crm-contacts-0.0.1")
    deploy_to(tmp_path / "output/build", pack0, database)  # writes what --auto-deploy writes (and deploys once)
    curl = readme_block("The generated service works on its own. After command one:")[1]
    deploy, start, query = readme_block("prints its URL):")
    deploy = deploy.replace('"$(scripts/postgres.sh start)"', f"'{database}'")
    env = {key: value for key, value in factory_env(HOME=str(tmp_path / "home")).items() if key != "DATABASE_URL"}
    done = run_block([deploy, start, curl, query], tmp_path, env)
    assert done.returncode == 0, done.stderr
    assert "0 migration(s) applied" in done.stdout
    assert "acme      | Ada" in done.stdout and "ada@example.com" in done.stdout
