"""The docker-build gate for real: build, run with no network, health, one request. Needs an engine and
the local base image (scripts/docker-engine.sh start && scripts/docker-engine.sh base-image)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import factory_env, machine_docker, read_json, run_cli

from factory.gates.docker_build import BASE_IMAGE_ENV, docker_build_gate
from factory.pack0.load import load_pack0
from factory.runner.engine_ping import engine_answers
from factory.runner.sandbox import bwrap_works

with machine_docker():
    BASE_IMAGE = os.environ.get(BASE_IMAGE_ENV, "lai-python-base:bookworm")
    ENGINE_ANSWERS = engine_answers()
    BASE_IMAGE_PRESENT = (
        ENGINE_ANSWERS
        and subprocess.run(["docker", "image", "inspect", BASE_IMAGE], capture_output=True, check=False).returncode == 0
    )

pytestmark = [
    pytest.mark.skipif(not ENGINE_ANSWERS, reason="no Docker engine answers: run scripts/docker-engine.sh start"),
    pytest.mark.skipif(
        ENGINE_ANSWERS and not BASE_IMAGE_PRESENT,
        reason=f"base image {BASE_IMAGE} missing: run scripts/docker-engine.sh base-image",
    ),
    pytest.mark.usefixtures("docker_engine"),
]


@pytest.mark.parametrize("module", ["crm-contacts", "meetcore", "invoices", "tasks"])
def test_every_example_is_approved_with_the_docker_gate_passing(tmp_path: Path, module: str):
    out = tmp_path / "out"
    # crm-contacts runs its tests and fuzzer in the docker sandbox too (auto picks it: an engine and an image);
    # the others in bwrap where it works, whose results the suite has (a container per run costs ~3x the CPU).
    sandbox = ("--sandbox", "bwrap") if module != "crm-contacts" and bwrap_works() else ()
    # The sandbox's image comes from the environment only (not --base-image): the image found above, also when
    # the machine's engine runs without LAI_BASE_IMAGE set (auto would pick bwrap then).
    env = factory_env(LAI_BASE_IMAGE=BASE_IMAGE)
    result = run_cli("auto-full", "--module", module, "--out", out, "--base-image", BASE_IMAGE, *sandbox, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    expected_sandbox = "docker" if not sandbox else "bwrap"
    assert read_json(out / "build/run_report.json")["tests"]["sandbox"] == expected_sandbox
    approval = read_json(out / "build/approval.json")
    assert approval["approved"] is True and approval["waivers"] == []
    gate = read_json(out / "build/.factory_logs/gates/docker-build.json")
    assert gate["status"] == "passed"
    assert any(line.startswith("image sha256:") for line in gate["details"])
    assert any(line.startswith("created and read ") for line in gate["details"])
    # The compose target's stack: PostgreSQL, migrate (deploy.sh), the service on it, rollback.
    assert "compose stack: rollback left the schema as before" in gate["details"]
    assert any(line.endswith("the row is in PostgreSQL") for line in gate["details"])
    assert f"base image {BASE_IMAGE}" in gate["details"]


@pytest.fixture
def build_copy(crm_output: Path, tmp_path: Path) -> Path:
    shutil.copytree(crm_output / "build", tmp_path / "build")
    return tmp_path / "build"


def test_a_broken_build_fails_with_the_log_tail(build_copy: Path, crm_output: Path):
    dockerfile = build_copy / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text().replace("WORKDIR /app", "WORKDIR /app\nRUN exit 3"))
    pack0 = load_pack0(crm_output / "pack0/pack0-crm-contacts-0.0.1")
    result = docker_build_gate(build_copy, "lai-test-broken:0", pack0, BASE_IMAGE)
    assert result.status == "failed"
    assert "docker build failed" in result.reason
    assert any("exit 3" in line for line in result.details)


def test_an_image_that_does_not_serve_fails(build_copy: Path, crm_output: Path):
    server = build_copy / "src/crm_contacts/__main__.py"
    server.write_text("raise SystemExit('refusing to start')\n")
    pack0 = load_pack0(crm_output / "pack0/pack0-crm-contacts-0.0.1")
    result = docker_build_gate(build_copy, "lai-test-dead:0", pack0, BASE_IMAGE)
    assert result.status == "failed"
    assert "the image does not serve" in result.reason and "refusing to start" in result.reason
