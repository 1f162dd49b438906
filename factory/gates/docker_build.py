"""Docker-build gate, through the docker SDK: build the image, run it with networking disabled, wait for
/health inside it, make one real create-and-read request with a tenant header, remove the container.
No engine answering means 'unavailable'; a failing build, start, health check or request is 'failed'."""

from __future__ import annotations

import json
import os
import time
from importlib.metadata import version
from pathlib import Path

from factory.engine.samples import valid_record
from factory.gates.compose_stack import exercise_compose_stack
from factory.gates.result import GateResult
from factory.pack0.models import Pack0

BASE_IMAGE_ENV = "LAI_BASE_IMAGE"
DOCKERFILE_DEFAULT_BASE = "python:3.12-slim"
BUILD_TIMEOUT_S = 900
HEALTH_TIMEOUT_S = 60
# Run inside the container (stdlib only): what a client of the service would do.
_HEALTH_PROBE = "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"
_CREATE_AND_READ = """
import json, sys, urllib.request
base = 'http://127.0.0.1:8000/api/v1/' + sys.argv[1]
headers = {'Content-Type': 'application/json', 'X-Tenant-ID': 'docker-gate'}
created = json.load(urllib.request.urlopen(urllib.request.Request(base, sys.argv[2].encode(), headers)))
read = json.load(urllib.request.urlopen(urllib.request.Request(base + '/' + created['id'], headers=headers)))
assert read == created, (read, created)
print(created['id'])
"""


INSTRUCTIONS = {
    "ADD",
    "ARG",
    "CMD",
    "COPY",
    "ENTRYPOINT",
    "ENV",
    "EXPOSE",
    "FROM",
    "HEALTHCHECK",
    "LABEL",
    "MAINTAINER",
    "ONBUILD",
    "RUN",
    "SHELL",
    "STOPSIGNAL",
    "USER",
    "VOLUME",
    "WORKDIR",
}


def check_dockerfile(text: str) -> list[str]:
    """What is wrong with a Dockerfile, read statically (so it is caught even with no engine)."""
    lines, continued = [], ""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = continued + raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            continued = line[:-1] + " "
            continue
        continued = ""
        lines.append((number, line.split(None, 1)[0].upper(), line))
    problems = [f"line {n}: unknown instruction {word}" for n, word, _ in lines if word not in INSTRUCTIONS]
    words = [word for _, word, _ in lines]
    if not words or words[0] not in ("FROM", "ARG"):
        problems.append("the first instruction must be FROM (or ARG before FROM)")
    for required in ("FROM", "USER", "EXPOSE", "HEALTHCHECK"):
        if required not in words:
            problems.append(f"no {required} instruction")
    if "CMD" not in words and "ENTRYPOINT" not in words:
        problems.append("no CMD or ENTRYPOINT")
    users = [line.split(None, 1)[1].split(":")[0] if " " in line else "" for _, word, line in lines if word == "USER"]
    if users and users[-1] in ("root", "0"):
        problems.append("the image runs as root (the last USER is root)")
    return problems


def _wait_healthy(container) -> float:
    from docker.errors import APIError

    started = time.monotonic()
    while time.monotonic() - started < HEALTH_TIMEOUT_S:
        container.reload()
        if container.status not in ("created", "running"):
            logs = container.logs(tail=10).decode("utf-8", "replace").strip()
            raise RuntimeError(f"the container stopped ({container.status}): {logs}")
        try:
            if container.exec_run(["python3", "-c", _HEALTH_PROBE]).exit_code == 0:
                return time.monotonic() - started
        except APIError:  # it stopped between the status check and the probe: the next check says why
            pass
        time.sleep(0.25)
    raise RuntimeError(f"/health did not answer within {HEALTH_TIMEOUT_S}s")


def _create_and_read(container, entity) -> str:
    """Create one record through the service inside the container and read it back; its id."""
    probe = ["python3", "-c", _CREATE_AND_READ, entity.plural, json.dumps(valid_record(entity))]
    result = container.exec_run(probe)
    output = result.output.decode("utf-8", "replace").strip()
    if result.exit_code != 0:
        raise RuntimeError(f"create-and-read of {entity.plural} failed: {output[-300:]}")
    return output.splitlines()[-1]


def _run_and_probe(client, image_id: str, pack0: Pack0) -> list[str]:
    """Start the image with no network, wait for /health inside it, create and read one record."""
    container = client.containers.run(image_id, detach=True, network_disabled=True)
    try:
        health_s = _wait_healthy(container)
        entity = pack0.entities[0]
        return [
            f"healthy after {health_s:.1f}s",
            f"created and read {entity.plural}/{_create_and_read(container, entity)}",
        ]
    finally:
        container.remove(force=True)


def docker_build_gate(build_dir: Path, image_tag: str, pack0: Pack0, base_image: str | None = None) -> GateResult:
    try:
        import docker
        from docker.errors import BuildError, DockerException
    except ImportError:
        return GateResult("docker-build", "unavailable", "the docker SDK is not installed", tool="docker SDK")
    tool_version = version("docker")
    static = check_dockerfile((build_dir / "Dockerfile").read_text(encoding="utf-8"))
    if static:
        return GateResult("docker-build", "failed", "the Dockerfile is broken", "docker SDK", tool_version, static)
    try:
        client = docker.from_env(timeout=5)
        engine = client.version().get("Version", "?")
    except DockerException as error:
        reason = f"no Docker engine answers ({str(error).splitlines()[0][:160]})"
        return GateResult("docker-build", "unavailable", reason, "docker SDK", tool_version)
    base = base_image or os.environ.get(BASE_IMAGE_ENV) or None
    details = [f"engine {engine}", f"base image {base or DOCKERFILE_DEFAULT_BASE + ' (Dockerfile default)'}"]
    started = time.monotonic()
    try:
        client.api.timeout = BUILD_TIMEOUT_S
        image, _ = client.images.build(
            path=str(build_dir.resolve()),
            tag=image_tag,
            buildargs={"BASE_IMAGE": base} if base else {},
            rm=True,
            forcerm=True,
        )
    except BuildError as error:
        tail = [str(chunk.get("stream", chunk.get("error", ""))).rstrip() for chunk in error.build_log][-15:]
        reason = f"docker build failed: {error.msg}"
        return GateResult("docker-build", "failed", reason, "docker SDK", tool_version, details + tail)
    except DockerException as error:
        reason = f"docker build failed: {error}"
        return GateResult("docker-build", "failed", reason, "docker SDK", tool_version, details)
    details += [f"image {image.id}", f"built in {time.monotonic() - started:.1f}s"]
    try:
        details += _run_and_probe(client, image.id, pack0)
    except (DockerException, RuntimeError) as error:
        reason = f"the image does not serve: {error}"
        return GateResult("docker-build", "failed", reason, "docker SDK", tool_version, details)
    try:  # the compose target's stack: PostgreSQL, migrate, the service on it, rollback
        stack_base = base or DOCKERFILE_DEFAULT_BASE
        details += exercise_compose_stack(client, image.id, pack0, stack_base, _wait_healthy, _create_and_read)
    except (DockerException, RuntimeError) as error:
        reason = f"the compose stack failed: {error}"
        return GateResult("docker-build", "failed", reason, "docker SDK", tool_version, details)
    return GateResult(
        "docker-build", "passed", f"built {image_tag}, healthy, served a request", "docker SDK", tool_version, details
    )
