"""Stages 2 and 3, CodeGen and TestGen: ask the agent, check every path, write the files."""

from __future__ import annotations

from collections.abc import Callable

from factory.agents import call
from factory.config import BuildConfig
from factory.fsutil import write_file_set
from factory.llm.select import make_provider
from factory.pack0.load import load_pack0
from factory.runner.heal_loop import read_build_files

CODEGEN_ROOTS = ("src", "Dockerfile", ".dockerignore", "docker-compose.yml", "requirements.txt", "ruff.toml")
TESTGEN_ROOTS = ("tests", ".test_commands.json")


def codegen(config: BuildConfig, say: Callable[[str], None]) -> str:
    layout = config.layout
    pack0 = load_pack0(layout.pack0_dir)
    reply = call.codegen(make_provider(config.provider), pack0, layout.raw_reply("codegen"))
    written = write_file_set(layout.build_dir, reply.as_dict(), allowed_roots=CODEGEN_ROOTS)
    say(f"{len(reply.files)} files, {len(written)} written or changed")
    return f"{len(reply.files)} source files"


def testgen(config: BuildConfig, say: Callable[[str], None]) -> str:
    layout = config.layout
    pack0 = load_pack0(layout.pack0_dir)
    source = {path: text for path, text in read_build_files(layout.build_dir).items() if path.startswith("src/")}
    reply = call.testgen(make_provider(config.provider), pack0, source, layout.raw_reply("testgen"))
    written = write_file_set(layout.build_dir, reply.as_dict(), allowed_roots=TESTGEN_ROOTS)
    say(f"{len(reply.files)} files, {len(written)} written or changed")
    return f"{len(reply.files)} test files"
