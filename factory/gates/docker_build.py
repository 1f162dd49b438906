"""Docker-build gate: builds the image through the docker SDK. No engine answering means 'unavailable'."""

from __future__ import annotations

import os
from importlib.metadata import version
from pathlib import Path

from factory.gates.result import GateResult

BASE_IMAGE_ENV = "LAI_BASE_IMAGE"
BUILD_TIMEOUT_S = 600


def engine_answers() -> bool:
    """A quick look: is a Docker engine reachable right now?"""
    try:
        import docker
        from docker.errors import DockerException
    except ImportError:
        return False
    try:
        return bool(docker.from_env(timeout=2).ping())
    except DockerException:
        return False


def docker_build_gate(build_dir: Path, image_tag: str) -> GateResult:
    try:
        import docker
        from docker.errors import BuildError, DockerException
    except ImportError:
        return GateResult("docker-build", "unavailable", "the docker SDK is not installed", tool="docker SDK")
    tool_version = version("docker")
    try:
        client = docker.from_env(timeout=5)
        engine = client.version().get("Version", "?")
    except DockerException as error:
        reason = f"no Docker engine answers ({str(error).splitlines()[0][:160]})"
        return GateResult("docker-build", "unavailable", reason, "docker SDK", tool_version)
    base_image = os.environ.get(BASE_IMAGE_ENV)
    build_args = {"BASE_IMAGE": base_image} if base_image else {}
    try:
        client.api.timeout = BUILD_TIMEOUT_S
        image, _logs = client.images.build(path=str(build_dir), tag=image_tag, buildargs=build_args, rm=True)
    except BuildError as error:
        tail = [str(chunk.get("stream", chunk.get("error", ""))).rstrip() for chunk in error.build_log][-15:]
        return GateResult(
            "docker-build", "failed", f"docker build failed: {error.msg}", "docker SDK", tool_version, tail
        )
    except DockerException as error:
        return GateResult("docker-build", "failed", f"docker build failed: {error}", "docker SDK", tool_version)
    details = [f"engine {engine}", f"image {image.id}", f"base {base_image or 'python:3.12-slim (Dockerfile default)'}"]
    return GateResult("docker-build", "passed", f"built {image_tag}", "docker SDK", tool_version, details)
