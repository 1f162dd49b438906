"""Claude through the official anthropic SDK: forced tool use for structured replies, prompt caching
of the shared Pack0 context, and the SDK's own retries (429, 5xx, 529 overloaded) with backoff."""

from __future__ import annotations

import os
from collections.abc import Callable

from factory.agents.request import AgentRequest, Completion
from factory.errors import FactoryError
from factory.llm.messages import MAX_TOKENS, conversation
from factory.llm.usage import Usage

EMIT_TOOL = "emit_reply"
PROGRESS_EVERY_CHARS = 8_000
REQUEST_TIMEOUT_S = 600.0


class ModelError(FactoryError):
    """A model API failed after the SDK's retries: wrong key, unreachable, overloaded."""


class AnthropicProvider:
    name = "anthropic"

    def __init__(self, model: str, *, max_retries: int = 4, progress: Callable[[str], None] | None = None) -> None:
        import anthropic

        self.model = model
        self.progress = progress
        key = os.environ.get("ANTHROPIC_API_KEY")
        if not key:
            raise ModelError("ANTHROPIC_API_KEY is not set (needed for --provider anthropic)")
        self._client = anthropic.Anthropic(
            api_key=key,
            base_url=os.environ.get("ANTHROPIC_BASE_URL") or None,
            max_retries=max_retries,
            timeout=REQUEST_TIMEOUT_S,
        )

    def _params(self, request: AgentRequest) -> dict:
        # One tool for every agent, and the Pack0 context first: the prefix (tools, then the first system
        # block) is the same for all four agents, so the model's prompt cache serves them all.
        return {
            "model": self.model,
            "max_tokens": MAX_TOKENS,
            "tools": [{"name": EMIT_TOOL, "description": "Return the reply.", "input_schema": request.reply_schema}],
            "tool_choice": {"type": "tool", "name": EMIT_TOOL},
            "system": [
                {"type": "text", "text": request.shared, "cache_control": {"type": "ephemeral"}},
                {"type": "text", "text": request.system},
            ],
            "messages": conversation(request),
        }

    def request_key(self, request: AgentRequest) -> dict:
        return {"provider": self.name, **self._params(request)}

    def complete(self, request: AgentRequest) -> Completion:
        import json

        import anthropic

        try:
            message = self._stream(request)
        except anthropic.AuthenticationError:
            raise ModelError("the Anthropic API refused the key (401): check ANTHROPIC_API_KEY") from None
        except anthropic.APIStatusError as error:
            raise ModelError(f"the Anthropic API answered {error.status_code} after retries: {_short(error)}") from None
        except anthropic.APIConnectionError as error:
            reason = type(error).__name__
            raise ModelError(f"cannot reach the Anthropic API ({reason}); check ANTHROPIC_BASE_URL") from None
        parts = []
        for block in message.content:
            if block.type == "tool_use":
                parts.append(json.dumps(block.input))
            elif block.type == "text":
                parts.append(block.text)
        usage = message.usage
        return Completion(
            text="\n".join(parts),
            usage=Usage(
                input_tokens=usage.input_tokens or 0,
                output_tokens=usage.output_tokens or 0,
                cache_write_tokens=getattr(usage, "cache_creation_input_tokens", 0) or 0,
                cache_read_tokens=getattr(usage, "cache_read_input_tokens", 0) or 0,
            ),
        )

    def _stream(self, request: AgentRequest):
        """The reply, streamed (long generations need it), with the token count shown as it grows."""
        label = f"{request.agent}{':' + request.slice if request.slice else ''}"
        received, shown = 0, 0
        with self._client.messages.stream(**self._params(request)) as stream:
            for event in stream:
                if event.type != "content_block_delta":
                    continue
                delta = event.delta
                received += len(getattr(delta, "partial_json", "") or getattr(delta, "text", "") or "")
                if self.progress is not None and received - shown >= PROGRESS_EVERY_CHARS:
                    shown = received
                    self.progress(f"{label}: ~{received // 4} tokens received")
            message = stream.get_final_message()
        if self.progress is not None:
            self.progress(f"{label}: {message.usage.output_tokens} tokens, done")
        return message


def _short(error: Exception) -> str:
    text = str(error)
    return text if len(text) < 200 else text[:200] + "..."
