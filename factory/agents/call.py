"""Calling an agent: one request (continued when the reply is cut off at the output limit), the raw reply
kept in a log, the reply validated and its paths checked, with one corrective retry; only then is the
reply kept in the cache."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from pathlib import Path

from pydantic import BaseModel

from factory.agents.healer_prompt import healer_prompt
from factory.agents.prompts import (
    CODEGEN_SYSTEM,
    DEPLOYER_SYSTEM,
    HEALER_SYSTEM,
    TESTGEN_SYSTEM,
    all_contracts,
    context_blocks,
    files_block,
    slice_prompt,
)
from factory.agents.replies import FileSetReply, HealReply, ReplyT, parse_reply, partial_files
from factory.agents.request import AgentRequest, Completion, Provider, Usage
from factory.errors import AgentReplyError, ReplyTooLarge, UnsafePathError
from factory.fsutil import MAX_FILE_BYTES, safe_relative_path, write_text_atomic
from factory.pack0.models import Pack0

# Where each agent may write (checked before a reply is kept or applied).
ROOTS = {
    "codegen": ("src", "Dockerfile", ".dockerignore", "docker-compose.yml", "requirements.txt", "ruff.toml"),
    "testgen": ("tests", ".test_commands.json"),
    "healer": ("src", "tests"),
    "deployer": ("deploy",),
}
# How many follow-up requests may complete one reply cut off at the output limit.
MAX_CONTINUATIONS = 4


class TruncatedReply(AgentReplyError):
    """A reply cut off at the output limit that could not be completed: never applied, never cached."""


def _label(request: AgentRequest) -> str:
    return f"{request.agent}:{request.slice}" if request.slice else request.agent


def _check_paths(agent: str, reply: BaseModel) -> None:
    """The path and size checks write_file_set makes, made before a reply is kept in the cache."""
    roots = ROOTS.get(agent)
    if roots is None:
        return
    for item in getattr(reply, "files", []):
        # Refused outright (UnsafePathError, not asked again): a reply that tries to escape is not a slip.
        safe_relative_path(item.path, allowed_roots=roots)
        if len(item.content.encode("utf-8")) > MAX_FILE_BYTES:
            raise UnsafePathError(f"refused file {item.path}: larger than {MAX_FILE_BYTES} bytes")


def _sum(first: Usage, second: Usage) -> Usage:
    return Usage(*(a + b for a, b in zip(first.as_dict().values(), second.as_dict().values(), strict=True)))


def _complete_whole(provider: Provider, request: AgentRequest, model: type[BaseModel]) -> Completion:
    """The reply; when cut off at max_tokens, the files that arrived whole are kept and the rest asked for
    (up to MAX_CONTINUATIONS times), then merged into one reply. Otherwise one line saying it was cut off."""
    completion = provider.complete(request)
    if not completion.truncated:
        return completion
    limit = f"the {_label(request)} reply was truncated at the output limit (max_tokens {provider_limit(provider)})"
    if "files" not in model.model_fields:
        raise TruncatedReply(f"{limit}; nothing was applied or cached")
    received: dict[str, str] = {}
    usage = Usage()
    for _ in range(MAX_CONTINUATIONS):
        usage = _sum(usage, completion.usage)
        fresh = {path: text for path, text in partial_files(completion.text).items() if path not in received}
        if not fresh:
            raise TruncatedReply(f"{limit} before one more file arrived whole; nothing was applied or cached")
        received.update(fresh)
        completion = provider.complete(dataclasses.replace(request, received=tuple(received)))
        if not completion.truncated:
            merged = parse_reply(request.agent, completion.text, model)
            later = {item.path: item for item in merged.files}
            files = [{"path": p, "content": t} for p, t in received.items() if p not in later]
            data = merged.model_dump(mode="json")
            data["files"] = files + data["files"]
            text = model.model_validate(data).model_dump_json()
            return Completion(text=text, usage=_sum(usage, completion.usage))
    raise TruncatedReply(f"{limit} {MAX_CONTINUATIONS + 1} times in a row; nothing was applied or cached")


def provider_limit(provider: Provider) -> object:
    inner = getattr(provider, "provider", provider)
    return getattr(inner, "max_tokens", "?")


def _write_raw(raw_log: Path | None, text: str) -> None:
    if raw_log is not None:
        # Kept before parsing, so a reply that fails validation can still be read.
        write_text_atomic(raw_log, text)


def call_agent(
    provider: Provider,
    request: AgentRequest,
    model: type[ReplyT],
    raw_log: Path | None,
    check: Callable[[ReplyT], None] | None = None,
) -> ReplyT:
    """Ask; if the reply does not validate even after JSON recovery (or `check` refuses it), ask once more
    with the error. A reply is kept in the cache (under the first request) only once it passed."""
    request = dataclasses.replace(request, reply_schema=model.model_json_schema())

    def accept(text: str) -> ReplyT:
        reply = parse_reply(request.agent, text, model)
        _check_paths(request.agent, reply)
        if check is not None:
            check(reply)
        return reply

    completion = _complete_whole(provider, request, model)
    _write_raw(raw_log, completion.text)
    try:
        reply = accept(completion.text)
    except AgentReplyError as error:
        if provider.name == "offline" or isinstance(error, ReplyTooLarge | TruncatedReply):
            raise
        first = completion.text
        retry = dataclasses.replace(request, correction=(first, str(error)))
        completion = _complete_whole(provider, retry, model)
        _write_raw(raw_log, f"{first}\n\n--- retry after: {error}\n\n{completion.text}")
        try:
            reply = accept(completion.text)
        except AgentReplyError as final:
            raise AgentReplyError(f"{final} (after one corrective retry; raw replies in {raw_log})") from None
    provider.keep(request, completion)
    return _with_fixes(provider, request, reply, raw_log)


def _with_fixes(provider: Provider, request: AgentRequest, reply: ReplyT, raw_log: Path | None) -> ReplyT:
    """The reply with the Healer's earlier fixes of it applied; beside the raw log, which request made which
    files (so a later fix can be remembered against that request)."""
    fixes_for = getattr(provider, "fixes_for", None)
    if fixes_for is None or request.agent not in ("codegen", "testgen"):
        return reply
    if raw_log is not None:
        made = {"key": provider.cache_key(request), "agent": request.agent, "slice": request.slice}
        write_text_atomic(
            raw_log.with_suffix(".made.json"), json.dumps({**made, "paths": [f.path for f in reply.files]})
        )
    fixes = fixes_for(request)
    if not fixes:
        return reply
    files = [{"path": f.path, "content": fixes.get(f.path, f.content)} for f in reply.files]
    return type(reply).model_validate({**reply.model_dump(mode="json"), "files": files})


def remember_heal_fixes(provider: Provider, raw_dir: Path, build_dir: Path, changed: set[str]) -> list[str]:
    """After the Healer made the tests pass: store, with each slice reply whose files it changed, those
    files as they are now. Returns the slices concerned."""
    remember = getattr(provider, "remember_fixes", None)
    if remember is None or not changed:
        return []
    concerned = []
    for made_path in sorted(raw_dir.glob("*.made.json")):
        made = json.loads(made_path.read_text(encoding="utf-8"))
        paths = [path for path in made["paths"] if path in changed and (build_dir / path).is_file()]
        fixed = {path: (build_dir / path).read_text(encoding="utf-8") for path in paths}
        if fixed:
            remember(made["key"], fixed, made["agent"], made["slice"])
            concerned.append(f"{made['agent']}:{made['slice']}")
    return concerned


def _request(agent: str, system: str, prompt: str, pack0: Pack0, **fields) -> AgentRequest:
    return AgentRequest(agent, system, prompt, pack0, context=context_blocks(pack0), **fields)


def codegen(provider: Provider, pack0: Pack0, slice_name: str, raw_log: Path | None) -> FileSetReply:
    prompt = slice_prompt("codegen", pack0, slice_name)
    return call_agent(
        provider, _request("codegen", CODEGEN_SYSTEM, prompt, pack0, slice=slice_name), FileSetReply, raw_log
    )


def testgen(provider: Provider, pack0: Pack0, slice_name: str, source: dict[str, str], raw_log: Path | None):
    # The browser page (src/PACKAGE/static/) is not what TestGen tests (the API is): left out, it would be
    # most of the core slice's prompt.
    page = f"src/{pack0.package}/static/"
    source = {path: text for path, text in source.items() if not path.startswith(page)}
    prompt = f"{slice_prompt('testgen', pack0, slice_name)}\nThe slice's code:\n{files_block(source)}"
    request = _request("testgen", TESTGEN_SYSTEM, prompt, pack0, slice=slice_name, files=source)
    return call_agent(provider, request, FileSetReply, raw_log)


def healer(provider: Provider, pack0: Pack0, files: dict[str, str], failure: str, raw_log: Path | None) -> HealReply:
    """The failing tests, the files the failure implicates and their contracts: not the whole build."""
    request = _request(
        "healer", HEALER_SYSTEM, healer_prompt(pack0, files, failure), pack0, files=files, failure=failure
    )
    return call_agent(provider, request, HealReply, raw_log)


def deployer(provider: Provider, pack0: Pack0, target: str, raw_log: Path | None) -> FileSetReply:
    prompt = f"{all_contracts(pack0)}\nDeploy target: {target}\n"
    request = _request("deployer", DEPLOYER_SYSTEM, prompt, pack0, options={"target": target})
    return call_agent(provider, request, FileSetReply, raw_log)
