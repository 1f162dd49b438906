"""Hostile agent replies, through the local Messages API server: each is refused with a clear message, and
nothing is written outside the build folder (the file system around it is listed before and after)."""

from __future__ import annotations

import json
import shutil
import uuid
from pathlib import Path

import pytest
from conftest import factory_env, read_json, run_cli
from fake_llm import EngineBackedModel, FakeModelServer, Scripted

KEY = "sk-ant-hostile-" + "Jq7Wm2Xc9Rv4Tb6Ny"


def reply(*files: tuple[str, str]) -> Scripted:
    return Scripted(json.dumps({"files": [{"path": p, "content": c} for p, c in files], "notes": ""}))


def snapshot(root: Path, skip: tuple[Path, ...]) -> dict[str, int]:
    """Every path under root (outside the skipped folders) with its size: what 'around the build' holds."""
    return {
        path.relative_to(root).as_posix(): (path.stat().st_size if path.is_file() else -1)
        for path in root.rglob("*")
        if not any(path == folder or folder in path.parents for folder in skip)
    }


ESCAPE = f"escape-{uuid.uuid4().hex[:8]}.py"
CASES = {
    "absolute": ([reply((f"/tmp/{ESCAPE}", "x = 1\n"))], "must be relative"),
    "dotdot": ([reply((f"src/../../{ESCAPE}", "x = 1\n"))], "must be relative, without '..'"),
    "outside-roots": ([reply((f"docs/{ESCAPE}", "x = 1\n"))], "must be under src"),
    "symlink": ([reply((f"src/link/{ESCAPE}", "x = 1\n"))], "resolves outside the build folder"),
    "device": ([reply(("src/crm_contacts/con.py", "x = 1\n"))], "a device name"),
    "folder": ([reply(("src/crm_contacts/", "x = 1\n"))], "names a folder"),
    "existing-folder": ([reply(("src/already", "x = 1\n"))], "something other than a regular file"),
    "repeated": ([reply(("src/a.py", "1"), ("src/a.py", "2"))] * 2, "path src/a.py appears twice"),
    "too-big-file": ([reply(("src/big.py", "x" * 6_500_000))], "larger than 6000000 bytes"),
    "ten-megabytes": ([Scripted(json.dumps({"files": [], "notes": "x" * 10_000_000}))], "(limit 8000000); stopped"),
    "not-json": ([Scripted("I will not do that.", as_tool=False)] * 2, "codegen reply is not JSON"),
}


@pytest.fixture(scope="module")
def crm_pack0(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("pack0")
    assert run_cli("pack0", "--module", "crm-contacts", "--out", folder).returncode == 0
    return folder / "pack0-crm-contacts-0.0.1"


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile_reply_is_refused_and_nothing_escapes(tmp_path: Path, crm_pack0: Path, case: str):
    answers, message = CASES[case]
    pack0 = tmp_path / crm_pack0.name
    shutil.copytree(crm_pack0, pack0)
    out, outside = tmp_path / "out", tmp_path / "outside"
    (out / "build/src/already").mkdir(parents=True)
    outside.mkdir()
    (out / "build/src/link").symlink_to(outside)
    script = EngineBackedModel(pack0)
    script.before = list(answers)
    server = FakeModelServer(script, api_key=KEY).start()
    env = factory_env(ANTHROPIC_API_KEY=KEY, ANTHROPIC_BASE_URL=server.url, LAI_CACHE_DIR=str(tmp_path / "cache"))
    around = snapshot(tmp_path, skip=(out, tmp_path / "cache"))
    try:
        result = run_cli("auto-build", "--module", "crm-contacts", "--pack0", pack0, "--out", out, env=env)
    finally:
        server.stop()
    assert result.returncode == 1
    assert message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
    assert snapshot(tmp_path, skip=(out, tmp_path / "cache")) == around
    assert list(outside.iterdir()) == []
    assert not Path("/tmp", ESCAPE).exists()
    # The run ended: its NOT APPROVED evidence names the stage that refused the reply (README "Checking the
    # evidence"); nothing else was written.
    evidence = ["approval.json", "manifest.json", "pipeline_result.json", "provenance.json", "run_report.json"]
    assert sorted(p.name for p in (out / "build").iterdir()) == [".factory_logs", *evidence, "src"]
    assert read_json(out / "build/approval.json")["reasons"][0].startswith("stage codegen."), result.stdout
    assert sorted(p.name for p in (out / "build/src").iterdir()) == ["already", "link"]
