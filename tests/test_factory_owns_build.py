"""build/ is the factory's (issue #31 item 1): a file planted there before a re-run is never tested, shipped or
attested. Where the steps' records judge it, it is moved to .lai-pack.quarantine/ and the run says so; elsewhere
the run is NOT APPROVED naming it. Either way the evidence does not hash it."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import read_json, run_cli

from factory.fsutil import remove_stale_temp_files
from factory.pec.ownership import foreign, is_fixed_output

SITECUSTOMIZE = "import os\nos.system('id > /tmp/owned')\n"
MIGRATION = "CREATE ROLE ops LOGIN SUPERUSER PASSWORD 'x';\n"


@pytest.fixture
def output(crm_output: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "out"
    shutil.copytree(crm_output, copy)
    return copy


def _rerun(out: Path):
    return run_cli("auto-full", "--module", "crm-contacts", "--out", out, "--waive", "docker-build")


def _attested(out: Path) -> set[str]:
    """Every build path the evidence names: the manifest's artifacts, run_report's outputs, provenance subjects."""
    build = out / "build"
    names = {item["path"] for item in read_json(build / "manifest.json")["artifacts"]}
    names |= {item["path"] for item in read_json(build / "run_report.json")["outputs"]}
    subjects = read_json(build / "provenance.json")["subject"]
    return names | {subject["name"].removeprefix("build/") for subject in subjects}


def test_a_planted_source_file_is_quarantined_and_never_attested(output: Path):
    (output / "build/src/sitecustomize.py").write_text(SITECUSTOMIZE)
    (output / "build/NOTES.md").write_text("mine\n")
    result = _rerun(output)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "moved build/src/sitecustomize.py to .lai-pack.quarantine/src/sitecustomize.py" in result.stderr
    assert "moved build/NOTES.md" in result.stderr
    assert not (output / "build/src/sitecustomize.py").exists()
    assert (output / ".lai-pack.quarantine/src/sitecustomize.py").read_text() == SITECUSTOMIZE
    assert not {"src/sitecustomize.py", "NOTES.md"} & _attested(output)
    verified = run_cli("verify", output)
    assert verified.returncode == 0, verified.stdout + verified.stderr


def test_a_planted_migration_no_record_judges_blocks_approval_and_is_not_hashed(output: Path):
    planted = output / "build/deploy/migrations/0009_zz_ops.up.sql"
    planted.parent.mkdir(parents=True)
    planted.write_text(MIGRATION)
    result = _rerun(output)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "not the factory's: build/deploy/migrations/0009_zz_ops.up.sql" in result.stdout
    assert read_json(output / "build/approval.json")["approved"] is False
    assert "deploy/migrations/0009_zz_ops.up.sql" not in _attested(output)


def test_foreign_is_what_no_record_names(tmp_path: Path):
    written = tmp_path / ".factory_logs/written"
    written.mkdir(parents=True)
    (written / "codegen.core.json").write_text(json.dumps(["src/m/server.py", "../escape.py", 3]))
    files = ["src/m/server.py", "src/sitecustomize.py", "manifest.json", ".factory_logs/gates/lint.json"]
    files += [".factory_logs/gates/evil.py", "../escape.py"]
    assert foreign(tmp_path, files) == ["../escape.py", ".factory_logs/gates/evil.py", "src/sitecustomize.py"]
    assert is_fixed_output(".factory_logs/stages/pec.json")
    assert not is_fixed_output(".factory_logs/stages/x/pec.json")


def test_stale_temp_files_are_removed_only_where_and_as_the_factory_names_them(tmp_path: Path):
    ours = [tmp_path / "build/src/.server.py.ab_12cd3.tmp", tmp_path / ".lai-pack.lock.k2j4h6g8.tmp"]
    users = [tmp_path / "docs/.notes.abcdefgh.tmp", tmp_path / "build/.draft.tmp", tmp_path / "docs/.x.staging/a"]
    for path in [*ours, *users]:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    (tmp_path / "pack0/.pack0-a-0.0.1.staging").mkdir(parents=True)
    assert remove_stale_temp_files(tmp_path) == 3
    assert not any(path.exists() for path in ours)
    assert all(path.exists() for path in users)
    assert not (tmp_path / "pack0/.pack0-a-0.0.1.staging").exists()


def _deploy_files(crm_output: Path, target: Path) -> Path:
    from factory.deploy.migrations import generate_migrations
    from factory.deploy.scripts import EXECUTABLE_SCRIPTS, generate_scripts
    from factory.fsutil import write_file_set
    from factory.pack0.load import load_pack0

    pack0 = load_pack0(crm_output / "pack0/pack0-crm-contacts-0.0.1")
    files = {**generate_migrations(pack0, "compose"), **generate_scripts(pack0)}
    write_file_set(target, files, allowed_roots=("deploy",), executable=EXECUTABLE_SCRIPTS)
    return target / "deploy"


def _deploy(deploy: Path):
    import os
    import subprocess

    env = {**os.environ, "DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"}  # nothing listens there
    return subprocess.run([str(deploy / "deploy.sh")], capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.skipif(shutil.which("psql") is None, reason="deploy.sh needs psql (postgresql-client)")
def test_deploy_sh_applies_only_the_migrations_the_factory_wrote(crm_output: Path, tmp_path: Path):
    deploy = _deploy_files(crm_output, tmp_path)
    as_written = _deploy(deploy)  # the check passes: it goes on to the database, which is not there
    assert "not one the factory wrote" not in as_written.stderr and "psql" in as_written.stderr
    (deploy / "migrations/0009_zz_ops.up.sql").write_text(MIGRATION)
    planted = _deploy(deploy)
    assert planted.returncode == 1
    assert "migrations/0009_zz_ops.up.sql is not one the factory wrote" in planted.stderr
    (deploy / "migrations/0009_zz_ops.up.sql").unlink()
    first = sorted((deploy / "migrations").glob("*.up.sql"))[0]
    first.write_text(first.read_text() + MIGRATION)
    changed = _deploy(deploy)
    assert changed.returncode == 1 and "not as the factory wrote it" in changed.stderr
