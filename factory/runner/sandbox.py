"""Where generated (untrusted) code runs, and the one function that runs it there.

- docker: a container from a local image (LAI_SANDBOX_IMAGE, else LAI_BASE_IMAGE) with no network, the build
  folder mounted, the factory's site-packages read-only (for pytest and jsonschema), a process limit.
- bwrap: bubblewrap with no network, a private /tmp, only the system's runtime and the factory's Python
  read-only (bwrap.py: no home folders, caches, keys or other outputs), the build folder read-write, its own
  process namespace.
- none: a plain subprocess in its own process group: no isolation at all.
auto takes the first that works here, in that order.
"""

from __future__ import annotations

import os
import shutil
import signal
import site
import subprocess
import sys
from functools import cache
from pathlib import Path

from factory.errors import InputError
from factory.runner.bwrap import bwrap_argv
from factory.runner.process import die_with_parent
from factory.settings import SANDBOXES

SANDBOX_IMAGE_ENVS = ("LAI_SANDBOX_IMAGE", "LAI_BASE_IMAGE")
# The only variables of the factory's environment a generated test run sees (locale, time zone, programs).
PASSED_VARIABLES = ("PATH", "LANG", "LANGUAGE", "LC_ALL", "LC_CTYPE", "TZ", "SOURCE_DATE_EPOCH")
OUTPUT_CAP_BYTES = 4_000_000
CONTAINER_SITE = "/factory-site-packages"
CONTAINER_PIDS_LIMIT = 512


@cache
def bwrap_works() -> bool:
    """bwrap exists and can make the namespaces we ask for (some containers forbid them)."""
    if not shutil.which("bwrap"):
        return False
    probe = ["bwrap", "--ro-bind", "/", "/", "--unshare-net", "--unshare-pid", "--die-with-parent", "true"]
    return subprocess.run(probe, capture_output=True, check=False).returncode == 0


def docker_sandbox_image() -> str | None:
    """The image for the docker sandbox, when an engine answers and the image is there."""
    image = next((os.environ[name] for name in SANDBOX_IMAGE_ENVS if os.environ.get(name)), None)
    if image is None:
        return None
    # Asked with the standard library where it can be (a no-op re-run must not import the docker SDK).
    from factory.runner.engine_ping import image_present_now

    present = image_present_now(image)
    if present is not None:
        return image if present else None
    try:
        import docker
        from docker.errors import DockerException

        docker.from_env(timeout=3).images.get(image)
    except (ImportError, DockerException):
        return None
    return image


def resolve_sandbox(requested: str) -> str:
    if requested not in SANDBOXES:
        raise InputError(f"unknown sandbox {requested!r}; choose one of {', '.join(SANDBOXES)}", field="--sandbox")
    if requested == "auto":
        return "docker" if docker_sandbox_image() else "bwrap" if bwrap_works() else "none"
    if requested == "docker" and not docker_sandbox_image():
        raise InputError("no Docker engine with an image in LAI_SANDBOX_IMAGE or LAI_BASE_IMAGE", field="--sandbox")
    if requested == "bwrap" and not bwrap_works():
        raise InputError("bubblewrap cannot run here (apt-get install -y bubblewrap)", field="--sandbox")
    return requested


def _cap(output: bytes) -> bytes:
    if len(output) <= OUTPUT_CAP_BYTES:
        return output
    return output[: OUTPUT_CAP_BYTES // 2] + b"\n[... output cut ...]\n" + output[-OUTPUT_CAP_BYTES // 2 :]


def _run_process(argv: list[str], cwd: Path, env: dict, timeout_s: int) -> tuple[int | None, bool, bytes]:
    process = subprocess.Popen(
        argv,
        cwd=cwd,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,  # its own process group, so a timeout kills everything it started
        preexec_fn=die_with_parent,
    )
    try:
        output, _ = process.communicate(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        output, _ = process.communicate()
        return None, True, _cap(output)
    return process.returncode, False, _cap(output)


def _run_container(
    argv: list[str], build_dir: Path, env: dict, timeout_s: int, binds: tuple[str, ...] = ()
) -> tuple[int | None, bool, bytes]:
    import docker
    from requests.exceptions import ConnectionError as RequestsConnectionError
    from requests.exceptions import ReadTimeout

    client = docker.from_env(timeout=timeout_s + 30)
    volumes = {str(build_dir.resolve()): {"bind": "/build", "mode": "rw"}}
    volumes.update(
        {path: {"bind": f"{CONTAINER_SITE}{index}", "mode": "ro"} for index, path in enumerate(site.getsitepackages())}
    )
    volumes.update({path: {"bind": path, "mode": "rw"} for path in binds})
    python_path = ":".join(f"{CONTAINER_SITE}{index}" for index in range(len(site.getsitepackages())))
    container = client.containers.run(
        docker_sandbox_image(),
        argv,
        detach=True,
        network_mode="none",
        working_dir="/build",
        volumes=volumes,
        environment={**env, "PYTHONPATH": python_path, "HOME": "/tmp"},
        pids_limit=CONTAINER_PIDS_LIMIT,
    )
    try:
        try:
            code, timed_out = container.wait(timeout=timeout_s)["StatusCode"], False
        except (ReadTimeout, RequestsConnectionError):
            container.kill()
            code, timed_out = None, True
        return code, timed_out, _cap(container.logs())
    finally:
        container.remove(force=True)


def run_sandboxed(
    argv: list[str], build_dir: Path, sandbox: str, timeout_s: int, env: dict, binds: tuple[str, ...] = ()
) -> tuple[int | None, bool, str]:
    """(exit code or None on timeout, timed out, output) of argv run in build_dir inside the sandbox.
    '{python}' in argv is the interpreter: the factory's own, or the container's python3. binds: folders the
    sandbox shares too (read-write; e.g. the folder of a database's socket).
    Bytecode writing is off in every sandbox: a .pyc left in the build would run instead of its source."""
    env = {**env, "PYTHONDONTWRITEBYTECODE": "1"}
    argv = [item for part in argv for item in ((part, "-B") if part == "{python}" else (part,))]
    if sandbox == "docker":
        argv = ["python3" if part == "{python}" else part for part in argv]
        code, timed_out, output = _run_container(argv, build_dir, env, timeout_s, binds)
    else:
        argv = [sys.executable if part == "{python}" else part for part in argv]
        if sandbox == "bwrap":
            argv = bwrap_argv(argv, str(build_dir.resolve()), binds)
            env = {**env, "HOME": "/tmp"}  # the real home is not in the sandbox
        code, timed_out, output = _run_process(argv, build_dir, env, timeout_s)
    return code, timed_out, output.decode("utf-8", "replace")
