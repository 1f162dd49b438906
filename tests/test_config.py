"""Settings come from pyproject.toml [tool.lai-factory], then lai-factory.toml, then env, then flags."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import factory_env, read_json, run_cli, run_doit


def settings(output: str) -> dict[str, tuple[str, str]]:
    rows = {}
    for line in output.splitlines():
        name, value, source = line.split(None, 2)
        rows[name] = (value, source)
    return rows


@pytest.mark.quick
def test_each_layer_overrides_the_one_before(tmp_path: Path):
    (tmp_path / "pyproject.toml").write_text(
        '[tool.lai-factory]\nmax_heal = 2\nmodel = "from-pyproject"\nsandbox = "none"\n'
    )
    (tmp_path / "lai-factory.toml").write_text('model = "from-own-file"\nwaive = ["docker-build"]\n')
    env = factory_env(LAI_MODEL="from-env", LAI_SANDBOX="bwrap")
    shown = settings(run_cli("config", "--sandbox", "none", env=env, cwd=tmp_path).stdout)
    assert shown["max_heal"] == ("2", f"{tmp_path / 'pyproject.toml'} [tool.lai-factory]")
    assert shown["waive"] == ("docker-build", str(tmp_path / "lai-factory.toml"))
    assert shown["model"] == ("from-env", "environment $LAI_MODEL")
    assert shown["sandbox"] == ("none", "command line")
    assert shown["provider"] == ("auto", "default")


def test_settings_reach_the_build(tmp_path: Path):
    (tmp_path / "lai-factory.toml").write_text('max_heal = 3\nwaive = ["docker-build"]\nsandbox = "none"\n')
    result = run_cli("auto-full", "--module", "tasks", "--out", tmp_path / "out", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    report = read_json(tmp_path / "out/build/run_report.json")
    assert (report["heal"]["max_tries"], report["tests"]["sandbox"]) == (3, "none")
    assert read_json(tmp_path / "out/build/approval.json")["gates"]["docker-build"] in ("waived", "passed")


def test_doit_reads_the_same_settings_and_its_variables_override_them(tmp_path: Path):
    (tmp_path / "lai-factory.toml").write_text('max_heal = 3\nwaive = ["docker-build"]\nsandbox = "bwrap"\n')
    result = run_doit("auto_full", "module=tasks", "out=out", "sandbox=none", cwd=tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    report = read_json(tmp_path / "out/build/run_report.json")
    assert (report["heal"]["max_tries"], report["tests"]["sandbox"]) == (3, "none")
    assert read_json(tmp_path / "out/build/approval.json")["gates"]["docker-build"] in ("waived", "passed")


@pytest.mark.quick
def test_a_bad_setting_is_one_line_naming_file_and_key(tmp_path: Path):
    (tmp_path / "lai-factory.toml").write_text("max_heal = 'lots'\n")
    result = run_cli("auto-full", "--module", "tasks", "--out", tmp_path / "out", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == f"lai-pack: error: {tmp_path / 'lai-factory.toml'}: max_heal: must be int"
    assert not (tmp_path / "out").exists()


def test_a_sandbox_named_that_cannot_run_here_is_one_line_before_anything_is_written(tmp_path: Path):
    """The command line's edges try a sandbox named (the settings module no longer imports the runner): no
    image of that name, so docker cannot run, whether or not an engine answers."""
    env = factory_env(LAI_SANDBOX_IMAGE="lai-no-such-image:0")
    expected = "lai-pack: error: --sandbox: no Docker engine with an image in LAI_SANDBOX_IMAGE or LAI_BASE_IMAGE"
    result = run_cli("auto-full", "--module", "tasks", "--out", tmp_path / "out", "--sandbox", "docker", env=env)
    assert (result.returncode, result.stderr.strip()) == (2, expected)
    result = run_doit("auto_full", "module=tasks", "out=doit-out", "sandbox=docker", cwd=tmp_path, env=env)
    assert (result.returncode, result.stderr.strip()) == (2, expected)
    assert not (tmp_path / "out").exists() and not (tmp_path / "doit-out").exists()
