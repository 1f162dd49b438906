"""What each agent must answer, as pydantic models, and the recovery of JSON from a messy reply."""

from __future__ import annotations

import json
import re
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from factory.errors import AgentReplyError, ReplyTooLarge
from factory.fsutil import not_utf8


class GeneratedFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1, max_length=300)
    content: str


def _unique_paths(files: list[GeneratedFile]) -> list[GeneratedFile]:
    seen: set[str] = set()
    for item in files:
        if item.path in seen:
            raise ValueError(f"path {item.path} appears twice")
        seen.add(item.path)
    return files


class FileSetReply(BaseModel):
    """CodeGen, TestGen and Deployer: the complete files of their part of the build."""

    model_config = ConfigDict(extra="forbid")

    files: list[GeneratedFile]
    notes: str = ""

    _unique = field_validator("files")(_unique_paths)

    def as_dict(self) -> dict[str, str]:
        return {item.path: item.content for item in self.files}


class HealReply(BaseModel):
    """Healer: only the files to change, and why."""

    model_config = ConfigDict(extra="forbid")

    diagnosis: str
    files: list[GeneratedFile] = Field(default_factory=list)

    _unique = field_validator("files")(_unique_paths)

    def as_dict(self) -> dict[str, str]:
        return {item.path: item.content for item in self.files}


ReplyT = TypeVar("ReplyT", bound=BaseModel)
_FENCE = re.compile(r"```(?:json)?\s*\n(.*?)```", re.DOTALL)
_TRAILING_COMMA = re.compile(r",(\s*[}\]])")


def _json_candidates(raw: str) -> list[str]:
    """The reply itself, then each fenced block, then the text from the first '{' (prose around JSON)."""
    candidates = [raw.strip(), *(block.strip() for block in _FENCE.findall(raw))]
    start = raw.find("{")
    if start >= 0:
        candidates.append(raw[start:])
    return candidates


def extract_json(raw: str) -> object:
    """Recover the JSON object in an agent reply; raises ValueError when there is none."""
    decoder = json.JSONDecoder()
    for candidate in _json_candidates(raw):
        for text in (candidate, _TRAILING_COMMA.sub(r"\1", candidate)):
            try:
                value, _end = decoder.raw_decode(text)
            except json.JSONDecodeError:
                continue
            if isinstance(value, dict):
                return value
    raise ValueError("no JSON object found in the reply")


MAX_REPLY_CHARS = 8_000_000


def parse_reply(agent: str, raw: str, model: type[ReplyT]) -> ReplyT:
    """A validated reply, or AgentReplyError saying what was wrong (the raw text is kept by the caller)."""
    if len(raw) > MAX_REPLY_CHARS:
        raise ReplyTooLarge(f"{agent} reply refused: {len(raw)} characters (limit {MAX_REPLY_CHARS})")
    try:
        data = extract_json(raw)
    except ValueError as error:
        raise AgentReplyError(f"{agent} reply is not JSON ({error}); first characters: {raw[:80]!r}") from None
    # A JSON escape such as \udcff is a lone surrogate: no file, file name or log can hold it (a name made of
    # it would be bytes that are not UTF-8). Checked once for every field of every agent's reply.
    if not_utf8(json.dumps(data, ensure_ascii=False)):
        raise AgentReplyError(f"{agent} reply spells a lone surrogate (a \\uD800-\\uDFFF escape): not UTF-8 text")
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "(top level)"
        raise AgentReplyError(f"{agent} reply does not match {model.__name__}: {where}: {first['msg']}") from None


def partial_files(raw: str) -> dict[str, str]:
    """The files that arrived whole in a reply cut off mid-way: a string cut short is dropped by the
    partial JSON parser, so an item with both a path and a content is complete."""
    from pydantic_core import from_json

    start = raw.find("{")
    if start < 0:
        return {}
    try:
        data = from_json(raw[start:], allow_partial=True)
    except ValueError:
        return {}
    items = data.get("files") if isinstance(data, dict) else None
    return {
        item["path"]: item["content"]
        for item in items or []
        if isinstance(item, dict) and isinstance(item.get("path"), str) and isinstance(item.get("content"), str)
    }
