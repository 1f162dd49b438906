"""The suite's forked lai-pack runs (tests/cli_zygote.py) behave as new processes in what the tests read:
exit code, both streams, the environment and the working folder a run is given."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import cli_zygote
import pytest
from conftest import factory_env, run_cli


def both(*args: str, env: dict[str, str] | None = None, cwd: Path | None = None):
    forked = run_cli(*args, env=env, cwd=cwd)
    fresh = run_cli(*args, env=env, cwd=cwd, fresh=True)
    return forked, fresh


def test_a_forked_run_and_a_new_process_agree(tmp_path: Path):
    env = factory_env(LAI_MODEL="claude-test-model", LAI_CACHE_DIR="relative-cache")
    cases = [
        ("config",),  # settings from the run's environment, the cache folder resolved in its working folder
        ("status", str(tmp_path / "nowhere")),  # exit 2, one line on stderr
        ("no-such-command",),  # argparse: usage on stderr, exit 2
        ("--version",),
    ]
    runs = {args: both(*args, env=env, cwd=tmp_path) for args in cases}
    for args, (forked, fresh) in runs.items():
        assert (forked.returncode, forked.stdout, forked.stderr) == (fresh.returncode, fresh.stdout, fresh.stderr), args
    assert "claude-test-model" in runs[("config",)][0].stdout
    assert [forked.returncode for forked, _ in runs.values()] == [0, 2, 2, 0]


def test_a_large_environment_reaches_a_forked_run_whole():
    # 800 kB of variables (a real process takes them; each under the kernel's 128 kB limit for one string)
    env = factory_env(**{f"LAI_TEST_LARGE_{n}": f"{n}" * 100_000 for n in range(8)}, LAI_MODEL="claude-large-env")
    forked, fresh = both("config", env=env)
    assert (forked.returncode, forked.stdout, forked.stderr) == (fresh.returncode, fresh.stdout, fresh.stderr)
    assert forked.returncode == 0 and "claude-large-env" in forked.stdout


def zygote_or_skip() -> None:
    if cli_zygote.zygote_for(factory_env()) is None:
        pytest.skip("the zygote cannot start here (tests/cli_zygote.py said why): lai-pack runs in new processes")


def test_a_run_whose_interpreter_settings_differ_gets_a_new_process():
    zygote_or_skip()
    env = factory_env()
    assert cli_zygote.zygote_for({**env, "PYTHONHASHSEED": "7"}) is None
    assert cli_zygote.zygote_for({**env, "LC_ALL": "C.UTF-8", "LANG": "x"}) is None


def test_bytes_that_are_not_utf8_reach_stdout_as_in_a_new_process():
    # A real process writes them back as it got them (its streams' error handler under this locale); text
    # mode then cannot decode them, whichever way lai-pack ran. A fork that wrote with another handler crashed.
    env = factory_env(LAI_MODEL="claude-\udcff")
    real = subprocess.run([sys.executable, "-m", "factory.cli", "config"], capture_output=True, env=env, check=False)
    assert real.returncode == 0 and b"claude-\xff" in real.stdout, real.stderr
    for fresh in (False, True):
        with pytest.raises(UnicodeDecodeError):
            run_cli("config", env=env, fresh=fresh)


def test_a_zygote_whose_test_worker_is_gone_stops_and_leaves_no_socket_behind(tmp_path: Path):
    zygote_or_skip()
    started = subprocess.run(
        [sys.executable, "-c", "import cli_zygote, os; z = cli_zygote.Zygote(); print(z.process.pid, z.folder)"],
        capture_output=True,
        text=True,
        cwd=Path(__file__).parent,
        check=True,
    )  # the worker exits without stopping it (as a killed one would)
    pid, folder = started.stdout.split()
    deadline = time.monotonic() + 30
    while (Path("/proc", pid).exists() or Path(folder).exists()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not Path(folder).exists(), os.listdir(folder)
