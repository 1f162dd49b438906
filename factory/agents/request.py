"""One call to an agent: what any provider needs to answer it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from factory.pack0.models import Pack0


@dataclass(frozen=True)
class AgentRequest:
    """agent: codegen | testgen | healer | deployer. The prompt is for a model; the offline engine reads
    the structured fields (pack0, files, failure) instead."""

    agent: str
    system: str
    prompt: str
    pack0: Pack0
    files: dict[str, str] = field(default_factory=dict)
    failure: str = ""
    options: dict[str, str] = field(default_factory=dict)


class Provider(Protocol):
    name: str

    def complete(self, request: AgentRequest) -> str:
        """The raw text of the reply: JSON of the agent's reply model, possibly wrapped in prose."""
        ...
