"""Calling an agent: one request to a provider, the raw reply kept in a log, the reply validated."""

from __future__ import annotations

from pathlib import Path

from factory.agents.prompts import (
    CODEGEN_SYSTEM,
    DEPLOYER_SYSTEM,
    HEALER_SYSTEM,
    TESTGEN_SYSTEM,
    files_block,
    pack0_context,
)
from factory.agents.replies import FileSetReply, HealReply, ReplyT, parse_reply
from factory.agents.request import AgentRequest, Provider
from factory.fsutil import write_text_atomic
from factory.pack0.models import Pack0


def call_agent(provider: Provider, request: AgentRequest, model: type[ReplyT], raw_log: Path | None) -> ReplyT:
    raw = provider.complete(request)
    if raw_log is not None:
        # Kept before parsing, so a reply that fails validation can still be read.
        write_text_atomic(raw_log, raw)
    return parse_reply(request.agent, raw, model)


def codegen(provider: Provider, pack0: Pack0, raw_log: Path | None) -> FileSetReply:
    request = AgentRequest("codegen", CODEGEN_SYSTEM, pack0_context(pack0), pack0)
    return call_agent(provider, request, FileSetReply, raw_log)


def testgen(provider: Provider, pack0: Pack0, source: dict[str, str], raw_log: Path | None) -> FileSetReply:
    prompt = pack0_context(pack0) + "\nThe service's code:\n" + files_block(source)
    request = AgentRequest("testgen", TESTGEN_SYSTEM, prompt, pack0, files=source)
    return call_agent(provider, request, FileSetReply, raw_log)


def healer(provider: Provider, pack0: Pack0, files: dict[str, str], failure: str, raw_log: Path | None) -> HealReply:
    prompt = f"{pack0_context(pack0)}\nFailure output:\n{failure}\n\nCode and tests:\n{files_block(files)}"
    request = AgentRequest("healer", HEALER_SYSTEM, prompt, pack0, files=files, failure=failure)
    return call_agent(provider, request, HealReply, raw_log)


def deployer(provider: Provider, pack0: Pack0, target: str, raw_log: Path | None) -> FileSetReply:
    prompt = f"{pack0_context(pack0)}\nDeploy target: {target}\n"
    request = AgentRequest("deployer", DEPLOYER_SYSTEM, prompt, pack0, options={"target": target})
    return call_agent(provider, request, FileSetReply, raw_log)
