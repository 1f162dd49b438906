"""Calling an agent: one request, the raw reply kept in a log, the reply validated; one corrective retry."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from factory.agents.prompts import (
    CODEGEN_SYSTEM,
    DEPLOYER_SYSTEM,
    HEALER_SYSTEM,
    TESTGEN_SYSTEM,
    all_contracts,
    files_block,
    shared_context,
    slice_prompt,
)
from factory.agents.replies import FileSetReply, HealReply, ReplyT, parse_reply
from factory.agents.request import AgentRequest, Provider
from factory.errors import AgentReplyError, ReplyTooLarge
from factory.fsutil import write_text_atomic
from factory.pack0.models import Pack0


def call_agent(provider: Provider, request: AgentRequest, model: type[ReplyT], raw_log: Path | None) -> ReplyT:
    """Ask; if the reply does not validate even after JSON recovery, ask once more with the error."""
    request = dataclasses.replace(request, reply_schema=model.model_json_schema())
    raw = provider.complete(request).text
    if raw_log is not None:
        # Kept before parsing, so a reply that fails validation can still be read.
        write_text_atomic(raw_log, raw)
    try:
        return parse_reply(request.agent, raw, model)
    except AgentReplyError as error:
        if provider.name == "offline" or isinstance(error, ReplyTooLarge):
            raise
        retry = dataclasses.replace(request, correction=(raw, str(error)))
        second = provider.complete(retry).text
        if raw_log is not None:
            write_text_atomic(raw_log, f"{raw}\n\n--- retry after: {error}\n\n{second}")
        try:
            return parse_reply(request.agent, second, model)
        except AgentReplyError as final:
            raise AgentReplyError(f"{final} (after one corrective retry; raw replies in {raw_log})") from None


def _request(agent: str, system: str, prompt: str, pack0: Pack0, **fields) -> AgentRequest:
    return AgentRequest(agent, system, prompt, pack0, shared=shared_context(pack0), **fields)


def codegen(provider: Provider, pack0: Pack0, slice_name: str, raw_log: Path | None) -> FileSetReply:
    prompt = slice_prompt("codegen", pack0, slice_name)
    return call_agent(
        provider, _request("codegen", CODEGEN_SYSTEM, prompt, pack0, slice=slice_name), FileSetReply, raw_log
    )


def testgen(provider: Provider, pack0: Pack0, slice_name: str, source: dict[str, str], raw_log: Path | None):
    prompt = f"{slice_prompt('testgen', pack0, slice_name)}\nThe slice's code:\n{files_block(source)}"
    request = _request("testgen", TESTGEN_SYSTEM, prompt, pack0, slice=slice_name, files=source)
    return call_agent(provider, request, FileSetReply, raw_log)


def healer(provider: Provider, pack0: Pack0, files: dict[str, str], failure: str, raw_log: Path | None) -> HealReply:
    prompt = f"{all_contracts(pack0)}\nFailure output:\n{failure}\n\nCode and tests:\n{files_block(files)}"
    request = _request("healer", HEALER_SYSTEM, prompt, pack0, files=files, failure=failure)
    return call_agent(provider, request, HealReply, raw_log)


def deployer(provider: Provider, pack0: Pack0, target: str, raw_log: Path | None) -> FileSetReply:
    prompt = f"{all_contracts(pack0)}\nDeploy target: {target}\n"
    request = _request("deployer", DEPLOYER_SYSTEM, prompt, pack0, options={"target": target})
    return call_agent(provider, request, FileSetReply, raw_log)
