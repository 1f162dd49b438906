"""Several modules in one command: each in its own process and folder, N at a time, one summary; lai-pack -j N
and doit -n N run the same tasks."""

from __future__ import annotations

import dataclasses
import fcntl
import os
from pathlib import Path

from conftest import read_json, run_cli, run_doit

from factory.cli import build_parser, config_from_args
from factory.config import BuildConfig
from factory.many import ManyBuild, module_argv, summary_of

MODULES = ("tasks", "invoices")


def many_args(out: Path, *extra: str) -> list[str]:
    return ["auto-full", *(token for module in MODULES for token in ("--module", module)), "--out", str(out), *extra]


def logs(out: Path) -> dict[str, bytes]:
    return {module: (out / module / "build/.factory_logs/pipeline.log").read_bytes() for module in MODULES}


def test_several_modules_build_in_parallel_with_one_summary(tmp_path: Path):
    out = tmp_path / "many"
    result = run_cli(*many_args(out, "-j", "2", "--waive", "docker-build"))
    assert result.returncode == 0, result.stdout + result.stderr
    assert "summary: 2 of 2 approved" in result.stdout
    for module in MODULES:
        assert f"[{module}] exit 0 in " in result.stdout
        assert read_json(out / module / "build/approval.json")["approved"] is True
    summary = read_json(out / "summary.json")
    assert (summary["approved"], summary["total"], summary["exit_code"]) == (2, 2, 0)
    assert [module["module"] for module in summary["modules"]] == list(MODULES)
    assert summary["modules"][0]["result"].startswith("APPROVED: tasks in ")

    before = logs(out)
    as_json = run_cli(*many_args(out, "-j", "2", "--waive", "docker-build", "--json"))
    assert as_json.returncode == 0, as_json.stderr
    assert as_json.stdout == (out / "summary.json").read_text()
    assert logs(out) == before, "an immediate re-run rebuilds nothing in any module"


def test_a_module_that_fails_does_not_stop_the_others(tmp_path: Path):
    out = tmp_path / "many"
    (out / "invoices").mkdir(parents=True)
    # Another run holds invoices' folder: that module ends with exit 2, tasks is built all the same.
    holder = os.open(out / "invoices/.lai-pack.lock", os.O_RDWR | os.O_CREAT)
    fcntl.flock(holder, fcntl.LOCK_EX)
    try:
        result = run_cli(*many_args(out, "-j", "2", "--waive", "docker-build"))
    finally:
        os.close(holder)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "summary: 1 of 2 approved" in result.stdout
    assert "another lai-pack run is using" in result.stdout
    assert read_json(out / "tasks/build/approval.json")["approved"] is True
    assert [module["exit_code"] for module in read_json(out / "summary.json")["modules"]] == [0, 2]
    status = run_cli("status", out).stdout.splitlines()
    assert status[0] == f"1 of 2 modules approved ({out / 'summary.json'})"
    assert "tasks: APPROVED (provider offline, model offline-engine)" in status
    assert any(line.startswith("invoices: no evidence (last run exit 2: ") for line in status)


def test_summary_exit_code_is_the_worst_module_and_never_0_when_one_is_not_approved(tmp_path: Path):
    many = ManyBuild(tmp_path, tuple(BuildConfig(module=module, out=tmp_path / module) for module in MODULES))

    def results(*codes: int) -> dict[str, dict]:
        return {
            module: {"module": module, "exit_code": code, "approved": code == 0, "seconds": 1.0, "result": ""}
            for module, code in zip(MODULES, codes, strict=True)
        }

    assert summary_of(many, results(0, 0))["exit_code"] == 0
    assert summary_of(many, results(1, 2))["exit_code"] == 2
    # A child killed by a signal (SIGKILL: -9) is not approved: the command must not exit 0.
    assert summary_of(many, results(0, -9))["exit_code"] == 1
    assert [module["module"] for module in summary_of(many, results(0, 1))["modules"]] == list(MODULES)


def test_doit_builds_several_modules_with_the_tasks_lai_pack_runs(tmp_path: Path):
    out = tmp_path / "many"
    built = run_doit("-n", "2", "auto_full", f"module={','.join(MODULES)}", f"out={out}", "waive=docker-build")
    assert built.returncode == 0, built.stdout + built.stderr
    assert "summary: 2 of 2 approved" in built.stdout
    for module in MODULES:
        assert read_json(out / module / "build/approval.json")["approved"] is True
    before = logs(out)
    again = run_cli(*many_args(out, "--waive", "docker-build", "--quiet"))
    assert again.returncode == 0, again.stderr
    assert again.stdout.startswith("summary: 2 of 2 approved") and len(again.stdout.splitlines()) == 1
    assert logs(out) == before, "lai-pack finds doit's builds up to date: the same tasks, the same databases"


def test_several_modules_check_every_name_first(tmp_path: Path):
    out = tmp_path / "many"
    result = run_cli("auto-full", "--module", "tasks", "--module", "Bad_Name", "--out", out, "-j", "2")
    assert result.returncode == 2 and "module name 'Bad_Name'" in result.stderr
    assert not out.exists()
    from_doit = run_doit("auto_full", "module=tasks,Bad_Name", f"out={out}")
    assert from_doit.returncode == 2 and from_doit.stderr.count("\n") == 1
    assert "module name 'Bad_Name'" in from_doit.stderr
    assert not out.exists()


def test_module_argv_spells_out_every_setting(tmp_path: Path):
    key = tmp_path / "lai-pack.key"
    key.write_text("not read here")
    config = BuildConfig(
        module="tasks",
        out=tmp_path / "out/tasks",
        brief="to-do lists",
        max_heal=3,
        provider="anthropic",
        model="some-model",
        model_price="1,2,1.25,0.1",
        auto_deploy=True,
        deploy_target="supabase",
        waivers=("docker-build", "lint"),
        cache_dir=tmp_path / "cache",
        base_image="lai-python-base:bookworm",
        sign_key=key,
        sandbox="none",
        test_timeout=60,
        output="quiet",
    )
    defaults = BuildConfig(module="tasks", out=config.out)
    unset = [f.name for f in dataclasses.fields(BuildConfig) if getattr(config, f.name) == getattr(defaults, f.name)]
    # A new setting must be added here (and to module_argv): the round trip below then covers it.
    assert unset == ["module", "out", "pack0_source"]
    args = build_parser().parse_args(module_argv(config))
    assert config_from_args(args, args.module[0], args.out) == config
    from_pack0 = dataclasses.replace(config, pack0_source=tmp_path / "pack0-tasks-0.0.1", brief="")
    args = build_parser().parse_args(module_argv(from_pack0))
    assert config_from_args(args, args.module[0], args.out) == from_pack0
