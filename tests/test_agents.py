"""Agent replies: messy JSON is recovered, bad replies fail clearly, and no path escapes the build folder."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from factory.agents.replies import FileSetReply, HealReply, parse_reply
from factory.errors import AgentReplyError, UnsafePathError
from factory.fsutil import MAX_FILE_BYTES, write_file_set

CLEAN = '{"files": [{"path": "src/a.py", "content": "x = 1\\n"}], "notes": "ok"}'


@pytest.mark.parametrize(
    "raw",
    [
        CLEAN,
        f"Here is the code you asked for:\n{CLEAN}\nLet me know!",
        f"```json\n{CLEAN}\n```",
        '{"files": [{"path": "src/a.py", "content": "x = 1\\n"},], "notes": "ok",}',
    ],
)
def test_reply_json_is_recovered(raw: str):
    reply = parse_reply("codegen", raw, FileSetReply)
    assert reply.as_dict() == {"src/a.py": "x = 1\n"}


def test_reply_that_is_not_json_fails_clearly():
    with pytest.raises(AgentReplyError, match="codegen reply is not JSON"):
        parse_reply("codegen", "I cannot help with that.", FileSetReply)


def test_reply_of_the_wrong_shape_names_the_field():
    with pytest.raises(AgentReplyError, match=r"healer reply does not match HealReply: diagnosis: Field required"):
        parse_reply("healer", '{"files": []}', HealReply)


@pytest.mark.parametrize("path", ["/etc/passwd", "src/../../x.py", "../x.py", "docs/a.py", "", "src\\a.py"])
def test_unsafe_paths_are_refused_and_nothing_is_written(tmp_path: Path, path: str):
    build = tmp_path / "build"
    build.mkdir()
    with pytest.raises(UnsafePathError):
        write_file_set(build, {"src/ok.py": "ok", path: "bad"}, allowed_roots=("src", "tests"))
    assert list(build.rglob("*")) == []
    assert sorted(os.listdir(tmp_path)) == ["build"]


def test_a_symlink_cannot_lead_out_of_the_build(tmp_path: Path):
    build = tmp_path / "build"
    (build / "src").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    (build / "src/link").symlink_to(outside)
    with pytest.raises(UnsafePathError, match="resolves outside"):
        write_file_set(build, {"src/link/evil.py": "bad"}, allowed_roots=("src",))
    assert list(outside.iterdir()) == []


def test_oversized_file_is_refused(tmp_path: Path):
    with pytest.raises(UnsafePathError, match="larger than"):
        write_file_set(tmp_path, {"src/big.py": "x" * (MAX_FILE_BYTES + 1)}, allowed_roots=("src",))
