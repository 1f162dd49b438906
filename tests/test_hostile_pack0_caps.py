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
