"""One call to an agent, and its answer: what every provider takes and gives."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Protocol

from factory.pack0.models import Pack0


@dataclass(frozen=True)
class Usage:
    """The tokens one reply took, as its provider counts them (llm/usage.py prices them)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_write_tokens: int = 0
    cache_read_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens + self.cache_write_tokens + self.cache_read_tokens

    def as_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class AgentRequest:
    """agent: architect | codegen | testgen | healer | deployer; slice: 'core' or an entity name (or '').

    A model reads `context` (the Pack0 context blocks, identical for every agent and ordered from the most
    stable, so each is a prompt-cache prefix), `system` and `prompt`; the offline engine reads the
    structured fields instead.
    """

    agent: str
    system: str
    prompt: str
    pack0: Pack0 | None
    context: tuple[str, ...] = ()
    slice: str = ""
    reply_schema: dict = field(default_factory=dict)
    files: dict[str, str] = field(default_factory=dict)
    failure: str = ""
    options: dict[str, str] = field(default_factory=dict)
    # A follow-up turn after a reply that did not validate: (the previous reply, what was wrong).
    correction: tuple[str, str] | None = None
    # After a reply cut off at the output limit: the files already received whole (ask for the rest).
    received: tuple[str, ...] = ()


@dataclass(frozen=True)
class Completion:
    text: str
    usage: Usage = field(default_factory=Usage)
    cached: bool = False
    # The reply stopped at max_tokens: never parsed as whole, never cached.
    truncated: bool = False


class Provider(Protocol):
    name: str
    model: str

    def complete(self, request: AgentRequest) -> Completion:
        """The reply: JSON of the agent's reply model, possibly wrapped in prose."""
        ...

    def request_key(self, request: AgentRequest) -> dict:
        """Everything that determines the reply (for the content-hashed cache)."""
        ...

    def keep(self, request: AgentRequest, completion: Completion) -> None:
        """Store a reply that proved good (parsed, validated, paths checked) for the next run."""
        ...
