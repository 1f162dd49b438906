"""One call to an agent, and its answer: what every provider takes and gives."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from factory.llm.usage import Usage
from factory.pack0.models import Pack0


@dataclass(frozen=True)
class AgentRequest:
    """agent: codegen | testgen | healer | deployer; slice: 'core' or an entity name (or '' for all).

    A model reads `shared` (the Pack0 context, identical for every agent, so it is cached as a prompt
    prefix), `system` and `prompt`; the offline engine reads the structured fields instead.
    """

    agent: str
    system: str
    prompt: str
    pack0: Pack0
    shared: str = ""
    slice: str = ""
    reply_schema: dict = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    failure: str = ""
    options: dict[str, str] = field(default_factory=dict)
    # A follow-up turn after a reply that did not validate: (the previous reply, what was wrong).
    correction: tuple[str, str] | None = None


@dataclass(frozen=True)
class Completion:
    text: str
    usage: Usage = field(default_factory=Usage)
    cached: bool = False


class Provider(Protocol):
    name: str
    model: str

    def complete(self, request: AgentRequest) -> Completion:
        """The reply: JSON of the agent's reply model, possibly wrapped in prose."""
        ...

    def request_key(self, request: AgentRequest) -> dict:
        """Everything that determines the reply (for the content-hashed cache)."""
        ...
