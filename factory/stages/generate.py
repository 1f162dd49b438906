"""Stages 2 and 3, CodeGen and TestGen, one slice at a time: ask the agent, check every path, write."""

from __future__ import annotations

import json
from collections.abc import Callable

from factory.agents import call
from factory.agents.replies import FileSetReply, parse_reply
from factory.config import BuildConfig
from factory.engine.codegen import contract_copy
from factory.engine.testgen import contract_copy_for_tests
from factory.fsutil import write_file_set, write_text_atomic
from factory.pack0.load import load_pack0
from factory.stages.inputs import known_slices, written_record
from factory.stages.provider import build_provider
from factory.stages.stale import forget_stale

CODEGEN_ROOTS = ("src", "Dockerfile", ".dockerignore", "docker-compose.yml", "requirements.txt", "ruff.toml")
TESTGEN_ROOTS = ("tests", ".test_commands.json")

Work = Callable[[BuildConfig, Callable[[str], None]], str]


def _write_slice(config: BuildConfig, agent: str, slice_name: str, files: dict[str, str], roots: tuple, say) -> str:
    """A slice's files, every path checked before any is written (agent replies are untrusted), and their
    list (what makes them the slice task's targets)."""
    written = write_file_set(config.layout.build_dir, files, allowed_roots=roots)
    record = written_record(config.layout.logs_dir, agent, slice_name)
    write_text_atomic(record, json.dumps(sorted(files), indent=1) + "\n")
    say(f"slice {slice_name}: {len(files)} files, {len(written)} written or changed")
    return f"{len(files)} files for slice {slice_name}"


def codegen_slice(slice_name: str) -> Work:
    def work(config: BuildConfig, say: Callable[[str], None]) -> str:
        layout = config.layout
        pack0 = load_pack0(layout.pack0_dir)
        provider = build_provider(config, pack0.budgets, say)
        reply = call.codegen(provider, pack0, slice_name, layout.raw_reply("codegen", slice_name))
        files = reply.as_dict()
        if slice_name == "core":
            files.update(contract_copy(pack0))
        return _write_slice(config, "codegen", slice_name, files, CODEGEN_ROOTS, say)

    return work


def testgen_slice(slice_name: str) -> Work:
    def work(config: BuildConfig, say: Callable[[str], None]) -> str:
        layout = config.layout
        pack0 = load_pack0(layout.pack0_dir)
        # The slice's code as CodeGen wrote it (not as the Healer may have changed it since).
        raw = layout.raw_reply("codegen", slice_name).read_text(encoding="utf-8")
        source = parse_reply("codegen", raw, FileSetReply).as_dict()
        provider = build_provider(config, pack0.budgets, say)
        reply = call.testgen(provider, pack0, slice_name, source, layout.raw_reply("testgen", slice_name))
        files = reply.as_dict()
        if slice_name == "core":
            files.update(contract_copy_for_tests(pack0))
        return _write_slice(config, "testgen", slice_name, files, TESTGEN_ROOTS, say)

    return work


def collect_raw(agent: str) -> Work:
    """{agent}_raw.txt: every slice's raw reply, in slice order, for whoever reads the logs. It runs after
    every slice: what a slice wrote and no slice writes now (an entity removed from the Pack0) goes."""

    def work(config: BuildConfig, say: Callable[[str], None]) -> str:
        layout = config.layout
        names = known_slices(layout.pack0_dir)
        removed = forget_stale(layout, agent, names, CODEGEN_ROOTS if agent == "codegen" else TESTGEN_ROOTS)
        if removed:
            say(removed)
        parts = [f"===== slice {name}\n{layout.raw_reply(agent, name).read_text(encoding='utf-8')}" for name in names]
        write_text_atomic(layout.raw_reply(agent), "\n".join(parts) + "\n")
        return f"{len(parts)} slices"

    return work
