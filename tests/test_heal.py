"""Run + self-heal: a broken build is found, fixed surgically and logged; an unfixable one stops clearly."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from conftest import executed_stages, read_json, run_cli, run_doit

STORAGE = "src/team_tasks/storage.py"
SERVER = "src/team_tasks/server.py"


@pytest.fixture(scope="module")
def approved_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """One approved build, made at the folder each test then gets (doit's database names that folder) and set
    aside: put back at that folder, a copy is up to date exactly as a fresh build is."""
    work = tmp_path_factory.mktemp("heal")
    out = work / "out"
    result = run_cli("auto-full", "--module", "team-tasks", "--out", out, "--waive", "docker-build")
    assert result.returncode == 0, result.stdout + result.stderr
    out.rename(work / "approved")
    return out, work / "approved"


@pytest.fixture
def tasks_output(approved_build: tuple[Path, Path]) -> Path:
    out, approved = approved_build
    shutil.rmtree(out, ignore_errors=True)
    shutil.copytree(approved, out, symlinks=True)
    assert executed_stages(rerun(out).stdout) == [], "the copy is up to date, as the build it copies"
    return out


def rerun(out: Path, *extra: str):
    return run_cli("auto-full", "--module", "team-tasks", "--out", out, "--waive", "docker-build", *extra)


def break_file(out: Path, relative: str, old: str, new: str) -> None:
    path = out / "build" / relative
    text = path.read_text()
    assert old in text, f"{old!r} not in {relative}"
    path.write_text(text.replace(old, new))


def test_healer_restores_a_removed_tenant_filter(tasks_output: Path):
    break_file(tasks_output, STORAGE, "WHERE tenant_id = ? AND id = ?", "WHERE (tenant_id = ? OR 1) AND id = ?")
    result = rerun(tasks_output)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "codegen" not in executed_stages(result.stdout)
    heal_log = read_json(tasks_output / "build/pipeline_result.json")["heal_log"]
    assert len(heal_log) == 1
    assert heal_log[0]["files_changed"] == [STORAGE]
    assert heal_log[0]["outcome"] == "fixed"
    assert heal_log[0]["error_summary"].startswith("tests/")
    assert "WHERE tenant_id = ? AND id = ?" in (tasks_output / "build" / STORAGE).read_text()
    assert read_json(tasks_output / "build/run_report.json")["heal"]["tries"] == 1
    # The healed build is the new baseline: nothing re-runs.
    assert executed_stages(rerun(tasks_output).stdout) == []


def test_healer_restores_a_deleted_function(tasks_output: Path):
    path = tasks_output / "build" / SERVER
    text = path.read_text()
    path.write_text(re.sub(r"\ndef start_in_thread\(server\):\n(    .*\n)+", "\n", text))
    assert "def start_in_thread" not in path.read_text()
    result = rerun(tasks_output)
    assert result.returncode == 0, result.stdout + result.stderr
    heal_log = read_json(tasks_output / "build/pipeline_result.json")["heal_log"]
    assert [entry["files_changed"] for entry in heal_log] == [[SERVER]]
    assert "def start_in_thread" in path.read_text()
    assert "heal try 1/5" in result.stdout


def test_lint_failure_is_fixed_with_ruff(tasks_output: Path):
    break_file(tasks_output, "tests/conftest.py", "import http.client\n", "import http.client\nimport socket\n")
    result = rerun(tasks_output)
    assert result.returncode == 0, result.stdout + result.stderr
    heal_log = read_json(tasks_output / "build/pipeline_result.json")["heal_log"]
    assert [(e["problem"], e["method"], e["files_changed"]) for e in heal_log] == [
        ("lint", "ruff check --fix", ["tests/conftest.py"])
    ]
    assert "import socket" not in (tasks_output / "build/tests/conftest.py").read_text()


def test_unfixable_failure_stops_with_the_whole_heal_log(tasks_output: Path):
    extra = tasks_output / "build/tests/unit/test_user_rule.py"
    extra.write_text("def test_user_rule():\n    assert 1 + 1 == 3, 'a rule no generated file can satisfy'\n")
    # Through doit: lai-pack would move the planted file to .lai-pack.quarantine/ first (no step wrote it);
    # doit runs the stages on build/ as it is, and the evidence blocks approval on the file besides.
    result = run_doit("auto_full", "module=team-tasks", f"out={tasks_output}", "waive=docker-build")
    assert "NOT APPROVED" in result.stdout, result.stdout + result.stderr
    approval = read_json(tasks_output / "build/approval.json")
    assert "tests did not pass" in approval["reasons"]
    assert "not the factory's: build/tests/unit/test_user_rule.py" in " ".join(approval["reasons"])
    report = read_json(tasks_output / "build/run_report.json")
    assert report["tests"]["passed"] is False
    assert report["heal"]["heal_log"][0]["outcome"] == "no change proposed"
    assert "test_user_rule" in report["heal"]["heal_log"][0]["error_summary"]
    assert "proposed no change" in report["heal"]["stop_reason"]
    assert read_json(tasks_output / "build/approval.json")["approved"] is False


def test_max_heal_zero_means_no_try(tasks_output: Path):
    break_file(tasks_output, STORAGE, "WHERE tenant_id = ? AND id = ?", "WHERE (tenant_id = ? OR 1) AND id = ?")
    result = rerun(tasks_output, "--max-heal", "0")
    assert result.returncode == 1
    report = read_json(tasks_output / "build/run_report.json")
    assert report["heal"]["stop_reason"] == "heal budget exhausted after 0 of 0 tries"
    assert report["heal"]["heal_log"] == []
    assert "WHERE (tenant_id = ? OR 1)" in (tasks_output / "build" / STORAGE).read_text()


def test_a_clean_run_after_a_healed_one_keeps_no_log_of_the_old_tries(tasks_output: Path):
    break_file(tasks_output, STORAGE, "WHERE tenant_id = ? AND id = ?", "WHERE (tenant_id = ? OR 1) AND id = ?")
    assert rerun(tasks_output).returncode == 0
    logs = tasks_output / "build/.factory_logs"
    assert (logs / "healer_raw.1.txt").is_file() and (logs / "test_output.1.txt").is_file()
    # Another budget: the tests run again, and pass with no try. The old run's try logs used to stay, listed in
    # the new evidence beside a heal log of no tries.
    result = rerun(tasks_output, "--max-heal", "4")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "run_heal" in executed_stages(result.stdout)
    assert read_json(tasks_output / "build/run_report.json")["heal"]["tries"] == 0
    numbered = re.compile(r"\.factory_logs/(test_output|fuzz_output|healer_raw)\.\d+\.txt")
    on_disk = {f".factory_logs/{path.name}" for path in logs.iterdir()}
    listed = {artifact["path"] for artifact in read_json(tasks_output / "build/manifest.json")["artifacts"]}
    for names in (on_disk, listed):
        assert {name for name in names if numbered.fullmatch(name)} == {".factory_logs/test_output.0.txt"}


def test_a_failing_test_is_the_entity_s_whose_plural_names_it_not_one_whose_plural_is_a_prefix():
    from factory.engine.testgen import entity_of_test_file
    from factory.pack0.models import Entity, Pack0, Pack0Meta

    schema = {"type": "object", "properties": {"x": {"type": "string"}}}
    order = Entity("order", "orders", "Order", schema)
    line = Entity("orders_line", "orders_lines", "OrdersLine", schema)
    pack0 = Pack0(meta=Pack0Meta(module="shop", title="Shop", brief=""), budgets=None, entities=(order, line))
    assert entity_of_test_file(pack0, "tests/integration/test_orders_lines_api.py") is line
    assert entity_of_test_file(pack0, "tests/unit/test_orders_validation.py") is order
    assert entity_of_test_file(pack0, "tests/e2e/test_two_tenants_flow.py") is None
