"""Generated code is untrusted: in the sandbox it cannot reach the host's loopback or write outside the
build folder, and a test that hangs or spawns a crowd of processes ends as a failed run, every process gone."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
import uuid
from pathlib import Path

import pytest
from conftest import ROOT, machine_docker

from factory.runner.run import run_tests
from factory.runner.sandbox import bwrap_works, docker_sandbox_image

with machine_docker():
    DOCKER_IMAGE = docker_sandbox_image()

SANDBOXES = [
    pytest.param(
        "docker",
        marks=pytest.mark.skipif(
            not DOCKER_IMAGE, reason="no Docker engine with an image in LAI_SANDBOX_IMAGE / LAI_BASE_IMAGE"
        ),
    ),
    pytest.param(
        "bwrap",
        marks=pytest.mark.skipif(not bwrap_works(), reason="bubblewrap cannot run here: apt-get install -y bubblewrap"),
    ),
]


@pytest.fixture(autouse=True)
def _engine_for_the_docker_sandbox(request: pytest.FixtureRequest):
    """The docker cases run with the machine's engine and image (conftest keeps them from other tests)."""
    callspec = getattr(request.node, "callspec", None)
    if callspec is not None and callspec.params.get("sandbox") == "docker":
        with machine_docker():
            yield
    else:
        yield


def build_with_test(crm_output: Path, tmp_path: Path, body: str) -> Path:
    """A copy of a real build whose test command runs one planted test."""
    build = tmp_path / "build"
    shutil.copytree(crm_output / "build", build)
    (build / "tests/evil").mkdir()
    (build / "tests/evil/test_planted.py").write_text(body)
    commands = json.loads((build / ".test_commands.json").read_text())
    commands["commands"][0]["argv"][3] = "tests/evil"
    (build / ".test_commands.json").write_text(json.dumps(commands))
    return build


@pytest.fixture
def host_server():
    """A server on the host's 127.0.0.1 that generated code must not reach from the sandbox."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    stop = threading.Event()

    def accept():
        while not stop.is_set():
            try:
                connection, _ = listener.accept()
                connection.close()
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    listener.close()


@pytest.mark.parametrize("sandbox", SANDBOXES)
def test_the_host_loopback_is_out_of_reach(crm_output: Path, tmp_path: Path, host_server: int, sandbox: str):
    body = f"import socket\n\ndef test_reach_host():\n    socket.create_connection(('127.0.0.1', {host_server}), 2)\n"
    build = build_with_test(crm_output, tmp_path, body)
    inside = run_tests(build, tmp_path / "inside.txt", sandbox=sandbox)
    assert not inside.passed and inside.failures[0]["test"].endswith("test_reach_host")
    assert "OSError" in (tmp_path / "inside.txt").read_text() or "refused" in (tmp_path / "inside.txt").read_text()
    outside = run_tests(build, tmp_path / "outside.txt", sandbox="none")
    assert outside.passed, "the planted test does reach the host without the sandbox"


@pytest.mark.parametrize("sandbox", SANDBOXES)
def test_nothing_outside_the_build_can_be_written(crm_output: Path, tmp_path: Path, sandbox: str):
    target = Path.home() / f"lai-sandbox-{uuid.uuid4().hex[:8]}"
    # Inside the factory's package, which the sandbox binds read-only (a checkout under /tmp, as in CI, is
    # otherwise only a folder of the sandbox's private /tmp: a write there lands in it, not on the host).
    in_repo = ROOT / "factory" / f"lai-sandbox-{uuid.uuid4().hex[:8]}"
    beside = tmp_path / "beside.txt"  # under /tmp: the sandbox's /tmp is private, so it lands there, not here
    body = (
        "from pathlib import Path\n\n"
        f"def test_write_home():\n    Path({str(target)!r}).write_text('x')\n\n"
        f"def test_write_the_factory():\n    Path({str(in_repo)!r}).write_text('x')\n\n"
        f"def test_write_beside_the_build():\n    Path({str(beside)!r}).write_text('x')\n\n"
        "def test_write_inside_the_build():\n    Path('inside.txt').write_text('ok')\n"
    )
    build = build_with_test(crm_output, tmp_path, body)
    run = run_tests(build, tmp_path / "out.txt", sandbox=sandbox)
    failed = sorted(failure["test"].rsplit("::", 1)[1] for failure in run.failures)
    if sandbox == "bwrap":  # read-only there; in a container the writes land in the container's own files
        assert failed == ["test_write_home", "test_write_the_factory"]
        assert "Read-only file system" in (tmp_path / "out.txt").read_text()
    assert not target.exists() and not in_repo.exists() and not beside.exists()
    assert (build / "inside.txt").read_text() == "ok"


def _marker_processes(marker: str) -> list[str]:
    listing = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    return [line for line in listing.splitlines() if marker in line and "ps -eo" not in line]


@pytest.mark.parametrize("sandbox", [*SANDBOXES, "none"])
def test_a_hanging_test_that_spawns_processes_is_ended_with_all_of_them(crm_output, tmp_path, sandbox):
    marker = f"lai-hang-{uuid.uuid4().hex[:8]}"
    body = (
        "import subprocess, time\n\n"
        "def test_hang():\n"
        f"    children = [subprocess.Popen(['sleep', '3600', '{marker}']) for _ in range(50)]\n"
        "    time.sleep(3600)\n"
    )
    build = build_with_test(crm_output, tmp_path, body)
    started = time.monotonic()
    run = run_tests(build, tmp_path / "out.txt", sandbox=sandbox, timeout_s=5)
    assert time.monotonic() - started < 30
    assert run.timed_out and not run.passed
    assert any("timed out after 5s" in failure["message"] for failure in run.failures)
    time.sleep(0.5)
    assert _marker_processes(marker) == []
