"""Generated code in the bwrap sandbox cannot read the host's secrets: it sees the system's runtime, the
factory's Python and its own build, nothing of the home folder, keys, caches or the output beside build/.
Run through the same entry point as a build's tests (run_tests -> run_sandboxed), on a copy of a real build,
with everything planted outside /tmp (the sandbox's private /tmp would hide it anyway)."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from xml.etree import ElementTree

import pytest

from factory.runner.run import run_tests
from factory.runner.sandbox import bwrap_works

pytestmark = pytest.mark.skipif(not bwrap_works(), reason="bubblewrap cannot run here: apt-get install -y bubblewrap")

SECRET = "planted-secret-the-sandbox-must-hide"

PLANTED_TESTS = """
import importlib
import socket
from pathlib import Path

import pytest

PLANTED = {planted!r}


@pytest.mark.parametrize("name", sorted(PLANTED))
def test_read(name):
    try:
        text = Path(PLANTED[name]).read_text()
    except OSError as error:
        pytest.skip(f"hidden: {{error}}")
    raise AssertionError(f"{{name}} was readable: {{text}}")


def test_environment():
    import os

    leaked = sorted(name for name, value in os.environ.items() if {secret!r} in value)
    assert not leaked, f"the factory's environment reached the tests: {{leaked}}"


def test_own_package_service_and_loopback(client):
    assert importlib.import_module("crm_contacts").__file__
    answer = client.request("GET", "/contacts")
    assert answer.status < 500
    listener = socket.create_server(("127.0.0.1", 0))
    socket.create_connection(listener.getsockname(), 2).close()
    listener.close()
"""


@pytest.fixture(scope="module")
def sandboxed_reads(crm_output: Path):
    """One sandboxed run of planted tests: {test id: outcome}, and the run itself."""
    homes = Path(tempfile.mkdtemp(prefix=".lai-sandbox-reads-", dir=Path.home()))
    var = Path(tempfile.mkdtemp(prefix="lai-sandbox-reads-", dir="/var/tmp"))
    try:
        planted = {
            "home_file": homes / ".aws/credentials",
            "sign_key": var / "keys/sign.key",
            "output_beside_build": var / "output/pack0/secret.yaml",
            "reply_cache": homes / "cache/replies/reply.json",
            "etc_shadow": Path("/etc/shadow"),
        }
        for name, path in planted.items():
            if name != "etc_shadow":
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_text(SECRET)
        build = var / "output/build"
        shutil.copytree(crm_output / "build", build)
        (build / "tests/planted").mkdir()
        contents = PLANTED_TESTS.format(planted={name: str(path) for name, path in planted.items()}, secret=SECRET)
        (build / "tests/planted/test_planted.py").write_text(contents)
        commands = json.loads((build / ".test_commands.json").read_text())
        commands["commands"][0]["argv"][3] = "tests/planted"
        (build / ".test_commands.json").write_text(json.dumps(commands))
        os.environ["LAI_PLANTED_CLOUD_TOKEN"] = SECRET  # any variable of the user's, not only the known names
        try:
            run = run_tests(build, var / "out.txt", sandbox="bwrap")
        finally:
            del os.environ["LAI_PLANTED_CLOUD_TOKEN"]
        junit = ElementTree.parse(build / commands["commands"][0]["junit_xml"])
        outcomes = {}
        for case in junit.iter("testcase"):
            found = [tag for tag in ("failure", "error", "skipped") if case.find(tag) is not None]
            outcomes[case.get("name")] = found[0] if found else "passed"
        yield outcomes, run, (var / "out.txt").read_text()
    finally:
        shutil.rmtree(homes, ignore_errors=True)
        shutil.rmtree(var, ignore_errors=True)


def hidden(sandboxed_reads, name: str) -> None:
    outcomes, _run, output = sandboxed_reads
    assert outcomes.get(f"test_read[{name}]") == "skipped", output[-3000:]


def test_a_file_in_the_home_folder_is_not_there(sandboxed_reads):
    hidden(sandboxed_reads, "home_file")


def test_the_signing_key_file_is_not_there(sandboxed_reads):
    hidden(sandboxed_reads, "sign_key")


def test_the_output_folder_beside_build_is_not_there(sandboxed_reads):
    hidden(sandboxed_reads, "output_beside_build")


def test_the_reply_cache_is_not_there(sandboxed_reads):
    hidden(sandboxed_reads, "reply_cache")


def test_etc_shadow_is_not_there(sandboxed_reads):
    hidden(sandboxed_reads, "etc_shadow")


def test_the_factorys_environment_does_not_reach_the_tests(sandboxed_reads):
    outcomes, _run, output = sandboxed_reads
    assert outcomes.get("test_environment") == "passed", output[-3000:]


def test_the_build_still_imports_its_package_serves_and_reaches_its_own_loopback(sandboxed_reads):
    outcomes, run, output = sandboxed_reads
    assert outcomes.get("test_own_package_service_and_loopback") == "passed", output[-3000:]
    assert run.sandbox == "bwrap" and run.counts["total"] == 7


def test_a_venv_and_a_checkout_under_tmp_still_run(tmp_path: Path):
    """The private /tmp must not hide the factory's own interpreter and package when they live there."""
    import subprocess
    import venv

    venv.create(tmp_path / "venv", with_pip=False, symlinks=True)
    checkout = tmp_path / "checkout"
    shutil.copytree(Path(__file__).resolve().parents[1] / "factory", checkout / "factory")
    (tmp_path / "build").mkdir()
    inner = f"import os, sys; print(sys.prefix, os.path.isdir({str(checkout / 'factory')!r}))"
    outer = (
        "import factory; from pathlib import Path; from factory.runner.sandbox import run_sandboxed\n"
        "print(factory.__file__)\n"
        f"print(run_sandboxed(['{{python}}', '-c', {inner!r}], Path({str(tmp_path / 'build')!r}), 'bwrap', 30, {{}}))"
    )
    env = {"PYTHONPATH": str(checkout), "PATH": "/usr/bin:/bin"}
    python = tmp_path / "venv/bin/python"
    result = subprocess.run([python, "-c", outer], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(str(checkout / "factory/__init__.py")), result.stdout
    assert f"(0, False, '{tmp_path / 'venv'} True\\n')" in result.stdout, result.stdout
