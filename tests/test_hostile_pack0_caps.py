"""Hostile Pack0 inputs (issue #31 item 5): one line naming the file, exit 2, no traceback, nothing built."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from conftest import ROOT, run_cli

from factory.pack0.caps import MAX_JSON_DEPTH, json_depth

CLINIC = ROOT / "benchmarks/pack0s/pack0-clinic-0.0.1"


@pytest.fixture
def pack0(tmp_path: Path) -> Path:
    copy = tmp_path / "pack0-clinic-0.0.1"
    shutil.copytree(CLINIC, copy)
    return copy


def _build(pack0: Path, out: Path):
    return run_cli("auto-build", "--module", "clinic", "--pack0", pack0, "--out", out, "--waive", "docker-build")


def _refused(result, *words: str) -> None:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
    assert all(word in result.stderr for word in words), result.stderr


def test_a_contract_nested_5000_levels_is_one_line_and_exit_2(pack0: Path, tmp_path: Path):
    contract = pack0 / "contracts/doctor.schema.json"
    text = json.dumps(json.loads(contract.read_text()))
    contract.write_text(text[:-1] + ', "x-deep": ' + "[" * 5000 + "]" * 5000 + "}")
    _refused(_build(pack0, tmp_path / "out"), "contracts/doctor.schema.json", "5001 levels")
    assert not (tmp_path / "out/build").exists()


def test_a_huge_requirement_document_is_refused(pack0: Path, tmp_path: Path):
    (pack0 / "docs").mkdir()
    (pack0 / "docs/SRS.md").write_text("# SRS\n" + "x" * 1_100_000)
    _refused(_build(pack0, tmp_path / "out"), "docs/SRS.md", "larger than")


def test_out_inside_the_pack0_and_the_reverse_are_refused(pack0: Path, tmp_path: Path):
    before = sorted(path.name for path in pack0.rglob("*"))
    _refused(_build(pack0, pack0 / "out"), "--out")
    assert sorted(path.name for path in pack0.rglob("*")) == before
    inner = tmp_path / "out/mine/pack0-clinic-0.0.1"
    shutil.copytree(pack0, inner)
    _refused(_build(inner, tmp_path / "out"), "--pack0")


def test_json_depth_counts_brackets_outside_strings_only():
    assert json_depth('{"a": [1, {"b": "[[[[{{{{"}]}') == 3
    assert json_depth("[" * (MAX_JSON_DEPTH + 1) + "]" * (MAX_JSON_DEPTH + 1)) == MAX_JSON_DEPTH + 1
    assert json_depth('"\\"[[["') == 0


def _contents(folder: Path) -> list[tuple[str, bytes]]:
    files = [path for path in folder.rglob("*") if path.is_file()]
    return sorted((path.relative_to(folder).as_posix(), path.read_bytes()) for path in files)


def test_out_on_a_folder_that_is_not_a_lai_pack_output_is_refused_unchanged(tmp_path: Path):
    mine = tmp_path / "mine"
    (mine / "docs").mkdir(parents=True)
    (mine / "docs/.notes.abcdefgh.tmp").write_text("my draft\n")
    (mine / "thesis.md").write_text("mine\n")
    before = sorted(
        (path.relative_to(mine).as_posix(), path.read_bytes()) for path in mine.rglob("*") if path.is_file()
    )
    result = run_cli("auto-full", "--module", "crm-contacts", "--out", mine, "--waive", "docker-build")
    _refused(result, "--out", "not a lai-pack output")
    assert _contents(mine) == before


def test_a_settings_file_that_weakens_the_build_is_named_in_its_first_lines(crm_output: Path, tmp_path: Path):
    out = tmp_path / "out"
    shutil.copytree(crm_output, out)
    work = tmp_path / "work"
    work.mkdir()
    (work / "lai-factory.toml").write_text('waive = ["docker-build", "secret-scan"]\n')
    result = run_cli("auto-full", "--module", "crm-contacts", "--out", out, cwd=work)
    assert result.returncode == 0, result.stdout + result.stderr
    notice = result.stderr.splitlines()[0]
    assert "weaken this build: waive=docker-build,secret-scan" in notice and "lai-factory.toml" in notice
