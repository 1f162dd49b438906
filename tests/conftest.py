"""Shared helpers: run lai-pack as a user would (a subprocess), and one approved build to inspect."""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import json
import os
import subprocess
import sys
from pathlib import Path

import cli_zygote
import pytest
import tiers

ROOT = Path(__file__).resolve().parent.parent


# The reply and fuzz-result cache every build of the suite shares unless a test gives its own (a build run in
# another folder would otherwise start a cache there, and fuzz code the suite has fuzzed already).
SHARED_CACHE = ROOT / "cache"

# The Docker engine is for the tests about it (the docker gate, the docker sandbox: they take the `docker_engine`
# fixture). With an engine and LAI_BASE_IMAGE, every other build would also build and run an image and run its
# tests and fuzzer in containers: ~3x a build's CPU, on a suite that is CPU-bound on 2 cores. They build as on a
# machine with no engine instead (the docker gate `unavailable`, waived), which the suite must pass on anyway.
DOCKER_VARIABLES = ("DOCKER_HOST", "LAI_BASE_IMAGE", "LAI_SANDBOX_IMAGE")
# Kept in the environment: xdist's workers start from the controller's, which has them removed already.
os.environ.setdefault("LAI_TESTS_MACHINE_DOCKER", json.dumps({name: os.environ.get(name) for name in DOCKER_VARIABLES}))
MACHINE_DOCKER = json.loads(os.environ["LAI_TESTS_MACHINE_DOCKER"])
NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/docker.sock", "LAI_BASE_IMAGE": None, "LAI_SANDBOX_IMAGE": None}


def _set_environment(values: dict[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


_set_environment(NO_ENGINE)


@contextlib.contextmanager
def machine_docker():
    """The machine's own Docker settings for a while (to ask at collection whether its engine answers)."""
    _set_environment(MACHINE_DOCKER)
    try:
        yield
    finally:
        _set_environment(NO_ENGINE)


@pytest.fixture
def docker_engine():
    """This test uses the machine's Docker engine and base image, as a user's build would."""
    with machine_docker():
        yield


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """Two workers per core for `-n auto`: the suite is CPU-bound (both cores busy throughout), and a test often
    waits on what it started (a service, the fuzzer, a container). Measured on 2 cores on 2026-11-26: early,
    4 workers 481 s, 8 workers 510 s, 2 workers 600-700 s; late, with the longest files first, 4 workers 255 s,
    6 workers 258 s."""
    return 2 * len(os.sched_getaffinity(0))


# The longest test files first (the docker gate's ~100 s of wall time, mostly in the engine's containers; then by
# CPU seconds per file, measured on 2 cores on 2026-11-27: 39, 36, 26, 24, 19, 19, 18, 16, 15, 15, 14, 13; the
# last two wait on their services more than they compute):
# xdist hands out whole files (--dist loadfile) in collection order (--no-loadscope-reorder: by default it sorts
# them by their number of tests, which put these few-test files last), and a long file handed out last ends
# last, with the other workers idle. The rest keep their order.
LONGEST_FIRST = (
    "test_docker_gate.py",
    "test_llm_mode.py",
    "test_fuzz_gate.py",
    "test_odd_file_names.py",
    "test_heal.py",
    "test_leak_and_export.py",
    "test_incremental.py",
    "test_verify.py",
    "test_evidence_gaps.py",
    "test_crash_safety.py",
    "test_shared_results.py",
    "test_deploy.py",
    "test_evidence_state_machine.py",
    "test_hostile.py",
    "test_many.py",
)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    rank = {name: place for place, name in enumerate(LONGEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))
    for item in items:  # the quick tier: `-m quick` (tests/tiers.py says which files and why)
        if item.path.name in tiers.QUICK:
            item.add_marker(pytest.mark.quick)


def factory_env(**extra: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in ("ANTHROPIC_API_KEY", "DATABASE_URL")}
    env.setdefault("LAI_CACHE_DIR", str(SHARED_CACHE))
    env.update(extra)
    return env


def build_env(build: Path) -> dict[str, str]:
    """The environment that runs a build's own code by hand: its src/ importable, no bytecode left in it."""
    return {**os.environ, "PYTHONPATH": str(build / "src"), "PYTHONDONTWRITEBYTECODE": "1"}


@contextlib.contextmanager
def service_by_hand(build: Path, cwd: Path, package: str = "crm_contacts", **env: str):
    """A build's service started as its README says (python -m PACKAGE --port 0), the port it bound."""
    import time

    port_file = cwd / "port"
    argv = [sys.executable, "-m", package, "--port", "0", "--port-file", str(port_file)]
    process = subprocess.Popen(argv, env={**build_env(build), **env}, cwd=cwd, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 15
        while not (port_file.is_file() and port_file.read_text()):
            assert process.poll() is None, process.stderr.read()
            assert time.monotonic() < deadline, "the service did not start"
            time.sleep(0.05)
        yield int(port_file.read_text())
    finally:
        process.terminate()
        process.wait(timeout=10)


_SEEDED: list[Path] = []  # the caches seed_fuzz_results made during the running test


def _copy_entries(source: Path, target: Path) -> None:
    from factory.results_cache import text_cache  # the factory's own reader: text entries only, never unpickled

    with text_cache(source) as read, text_cache(target) as write:
        for key in list(read):
            value = read.get(key)
            if value is not None and write.get(key) != value:
                write.set(key, value)


@pytest.fixture(autouse=True)
def _share_fuzz_results():
    """After a test that fuzzed in a cache of its own: its fuzz results go to the suite's cache too, so a later
    test of the same code (the LLM-mode tests build the same modules) does not fuzz it again. Entries are sealed
    with this machine's key whichever folder holds them."""
    yield
    from factory.gates.contracts_fuzz import FUZZ_CACHE_FOLDER

    while _SEEDED:
        folder = _SEEDED.pop() / FUZZ_CACHE_FOLDER
        if folder.is_dir():
            _copy_entries(folder, SHARED_CACHE / FUZZ_CACHE_FOLDER)


def seed_fuzz_results(cache: Path, with_results: bool = False) -> Path:
    """A test's own cache (to count its model calls) starting with the fuzz results the suite already has, as a
    restored cache/ would: code fuzzed before is not fuzzed again; changed code is. with_results: the shared test,
    secret-scan and contracts results too. Copied entry by entry through diskcache, so a build writing the shared
    cache meanwhile cannot tear the copy."""
    from factory.gates.contracts_fuzz import FUZZ_CACHE_FOLDER
    from factory.results_cache import RESULTS_FOLDER

    for folder in (FUZZ_CACHE_FOLDER, *((RESULTS_FOLDER,) if with_results else ())):
        if (SHARED_CACHE / folder).is_dir():
            _copy_entries(SHARED_CACHE / folder, cache / folder)
    _SEEDED.append(cache)
    return cache


# LAI_TESTS_FRESH_PROCESSES=1: every run_cli in a new process (tests/cli_zygote.py says what a fork changes).
FORKED_RUNS = os.environ.get("LAI_TESTS_FRESH_PROCESSES", "") != "1"
atexit.register(cli_zygote.stop)


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path | None = None, fresh: bool = False
) -> subprocess.CompletedProcess:
    """`python -m factory.cli ARGS`, as a user runs lai-pack. A fork of a process that has the libraries
    imported already, unless fresh: a new interpreter (for a test about what a process loads, or one that
    compares two processes' outputs, which must not share a hash seed)."""
    argv = [sys.executable, "-m", "factory.cli", *map(str, args)]
    env, cwd = env or factory_env(), cwd or ROOT
    zygote = cli_zygote.zygote_for(env) if FORKED_RUNS and not fresh else None
    if zygote is not None:
        return zygote.run(argv, env=env, cwd=cwd, timeout=600)
    return subprocess.run(argv, capture_output=True, text=True, env=env, cwd=cwd, timeout=600, check=False)


def run_doit(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """doit in a checkout, as a developer runs it (the dodo.py at the root; cwd is where it reads settings)."""
    return subprocess.run(
        [sys.executable, "-m", "doit", "--file", str(ROOT / "dodo.py"), "--dir", str(cwd or ROOT), *map(str, args)],
        capture_output=True,
        text=True,
        env=env or factory_env(),
        timeout=600,
        check=False,
    )


def read_json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def executed_stages(stdout: str) -> list[str]:
    """The stages doit ran (not the ones it found up to date)."""
    return [line[2:].strip() for line in stdout.splitlines() if line.startswith("▶ ")]


@pytest.fixture(scope="session")
def crm_output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One approved offline auto-full of crm-contacts. Read it; never change it (copy or build your own)."""
    out = tmp_path_factory.mktemp("crm") / "output"
    # One xdist worker at a time: the second then reuses the first's fuzz run of this very code.
    SHARED_CACHE.mkdir(exist_ok=True)
    with open(SHARED_CACHE / ".crm-output.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        result = run_cli("auto-full", "--module", "crm-contacts", "--out", out, "--waive", "docker-build")
    assert result.returncode == 0, result.stdout + result.stderr
    return out


@pytest.fixture(scope="session")
def crm_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """crm-contacts' service source at build/src/ as in an output folder, from the generators alone: the very
    files an approved offline build holds (test_factory_owns_build.py checks it), in well under a second instead
    of a build. For the tests of the service's behaviour, which need its code, not a build's tests, gates and
    evidence. (Its pack0/ is only the generator's input: a build's own Pack0 folder differs.)"""
    from factory.engine.codegen import generate_source
    from factory.fsutil import write_text_atomic
    from factory.pack0.generate import generate_pack0
    from factory.pack0.load import load_pack0

    out = tmp_path_factory.mktemp("crm-source")
    pack0_folder = out / "pack0" / "pack0-crm-contacts-0.0.1"
    for path, text in generate_pack0("crm-contacts").items():
        write_text_atomic(pack0_folder / path, text)
    for path, text in generate_source(load_pack0(pack0_folder)).items():
        write_text_atomic(out / "build" / path, text)
    return out


from pg import database, postgres_url  # noqa: E402, F401 - fixtures shared by the deploy tests
