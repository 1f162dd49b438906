"""Claude through the official anthropic SDK: forced tool use for structured replies, prompt caching of
the stable Pack0 context, output limits per model, and the SDK's own retries (429, 5xx, 529) with backoff."""

from __future__ import annotations

import contextlib
import importlib
import os
import re
from collections.abc import Callable

from factory.agents.replies import MAX_REPLY_CHARS
from factory.agents.request import AgentRequest, Completion
from factory.errors import FactoryError, ReplyTooLarge
from factory.llm.messages import conversation
from factory.llm.models import max_output_tokens
from factory.llm.stream_reply import StreamedReply
from factory.llm.usage import Usage

EMIT_TOOL = "emit_reply"
PROGRESS_EVERY_CHARS = 8_000
REQUEST_TIMEOUT_S = 600.0
# "max_tokens: 64000 > 32000, which is the maximum allowed number of output tokens for <model>"
_OUTPUT_LIMIT = re.compile(r"max_tokens: \d+ > (\d+)")


# Stop reasons after which the reply is not whole and asking for the rest would not help (max_tokens is continued).
STOPPED_SHORT = {
    "refusal": "the model declined to reply (stop_reason refusal); run again, or choose another with --model",
    "model_context_window_exceeded": (
        "the model's context window filled before its reply ended (stop_reason model_context_window_exceeded): "
        "choose a model with a larger context (--model)"
    ),
}


class ModelError(FactoryError):
    """A model API failed: wrong key, unknown model, unreachable, overloaded after the SDK's retries."""


def system_blocks(request: AgentRequest) -> list[dict]:
    """The context blocks, each ending a cache breakpoint (stable first, so an edit keeps the earlier
    ones), then the agent's own instructions. The API allows 4 breakpoints; the context has at most 3."""
    blocks = [{"type": "text", "text": text, "cache_control": {"type": "ephemeral"}} for text in request.context]
    return [*blocks, {"type": "text", "text": request.system}]


class AnthropicProvider:
    name = "anthropic"

    def __init__(self, model: str, *, max_retries: int = 4, progress: Callable[[str], None] | None = None) -> None:
        self.model = model
        self.max_tokens = max_output_tokens(model)
        self.progress = progress
        self.max_retries = max_retries
        self._key = os.environ.get("ANTHROPIC_API_KEY")
        if not self._key:
            raise ModelError("ANTHROPIC_API_KEY is not set (needed for --provider anthropic)")
        self._sdk_client = None

    @property
    def _client(self):
        """The SDK's client, made for the first request: importing the SDK costs ~1.4 s of CPU, which a stage
        whose replies all come from the cache (or a run_heal with nothing to heal) never needs."""
        if self._sdk_client is None:
            import anthropic

            self._sdk_client = anthropic.Anthropic(
                api_key=self._key,
                base_url=os.environ.get("ANTHROPIC_BASE_URL") or None,
                max_retries=self.max_retries,
                timeout=REQUEST_TIMEOUT_S,
            )
        return self._sdk_client

    def _params(self, request: AgentRequest) -> dict:
        # One tool per reply model, then the context blocks: codegen, testgen and deployer share the whole
        # prefix, and every agent shares the context blocks' text.
        return {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "tools": [{"name": EMIT_TOOL, "description": "Return the reply.", "input_schema": request.reply_schema}],
            "tool_choice": {"type": "tool", "name": EMIT_TOOL},
            "system": system_blocks(request),
            "messages": conversation(request),
        }

    def request_key(self, request: AgentRequest) -> dict:
        # max_tokens is left out: a reply that fit is the same reply whatever the limit was.
        params = self._params(request)
        params.pop("max_tokens")
        return {"provider": self.name, **params}

    def keep(self, request: AgentRequest, completion: Completion) -> None:
        """Without the gateway there is no cache: nothing to keep."""

    def complete(self, request: AgentRequest) -> Completion:
        import anthropic

        try:
            try:
                message = self._stream(request)
            except anthropic.BadRequestError as error:
                # The model's output limit is lower than the table says: take the API's figure, once.
                limit = _OUTPUT_LIMIT.search(str(error))
                if limit is None or int(limit.group(1)) >= self.max_tokens:
                    raise
                self.max_tokens = int(limit.group(1))
                message = self._stream(request)
        except anthropic.AuthenticationError:
            raise ModelError("the Anthropic API refused the key (401): check ANTHROPIC_API_KEY") from None
        except anthropic.NotFoundError:
            raise ModelError(
                f"the Anthropic API does not know the model {self.model!r} (404): choose another with --model"
            ) from None
        except anthropic.APIStatusError as error:
            if error.status_code == 200:  # an error event in the stream: the API stopped mid-reply (not retried)
                raise ModelError(f"the Anthropic API broke off its reply ({_error_event(error)}); run again") from None
            # The SDK retries only 408, 409, 429 and 5xx: any other status was a single request.
            retried = error.status_code in (408, 409, 429) or error.status_code >= 500
            when = " after retries" if retried else ""
            raise ModelError(f"the Anthropic API answered {error.status_code}{when}: {_short(error)}") from None
        except _transport_errors() as error:  # the SDK wraps them only before the reply's stream has begun
            raise ModelError(
                f"the Anthropic API's reply stream broke off ({type(error).__name__}); run again"
            ) from None
        except anthropic.APIConnectionError as error:
            reason = type(error).__name__
            raise ModelError(f"cannot reach the Anthropic API ({reason}); check ANTHROPIC_BASE_URL") from None
        if message.stop_reason in STOPPED_SHORT:  # what came is no reply, nor one to continue
            raise ModelError(STOPPED_SHORT[message.stop_reason])
        usage = message.usage
        return Completion(
            text=message.text(),
            usage=Usage(
                input_tokens=usage.get("input_tokens", 0),
                output_tokens=usage.get("output_tokens", 0),
                cache_write_tokens=usage.get("cache_creation_input_tokens", 0),
                cache_read_tokens=usage.get("cache_read_input_tokens", 0),
            ),
            truncated=message.stop_reason == "max_tokens",
        )

    def _stream(self, request: AgentRequest) -> StreamedReply:
        """The reply, streamed (long generations need it), with the token count shown as it grows."""
        label = f"{request.agent}{':' + request.slice if request.slice else ''}"
        received, shown = 0, 0
        message = StreamedReply()
        with self._client.messages.create(**self._params(request), stream=True) as events:
            for event in _events_or_broken_off(events):
                added = message.add(event)
                if not added:
                    continue
                received += added
                if received > MAX_REPLY_CHARS:  # refused anyway: stop reading (and holding) a runaway reply
                    raise ReplyTooLarge(
                        f"{request.agent} reply refused: over {MAX_REPLY_CHARS} characters (limit {MAX_REPLY_CHARS}); "
                        "stopped reading it"
                    )
                if self.progress is not None and received - shown >= PROGRESS_EVERY_CHARS:
                    shown = received
                    self.progress(f"{label}: ~{received // 4} tokens received")
        if not message.finished:  # the body ended (a proxy, a closed connection) before the reply did
            raise ModelError("the Anthropic API's reply stream broke off (it ended before message_stop); run again")
        if self.progress is not None:
            self.progress(f"{label}: {message.usage.get('output_tokens', 0)} tokens, done")
        return message


def _short(error: Exception) -> str:
    text = " ".join(str(error).split())
    return text if len(text) < 200 else text[:200] + "..."


def _error_event(error: Exception) -> str:
    """The error event's type and message, as the API sent them."""
    body = getattr(error, "body", None)
    detail = body.get("error") if isinstance(body, dict) else None
    if isinstance(detail, dict):
        return _short(f"{detail.get('type', 'error')}: {detail.get('message', '')}")
    return _short(error)


def _events_or_broken_off(events):
    """The stream's events; a transport error once they have begun is a broken-off reply, not an unreachable API.

    Newer SDKs wrap such an error in APIConnectionError: the HTTP layer's own error is its cause."""
    import anthropic

    try:
        yield from events
    except (anthropic.APIConnectionError, *_transport_errors()) as error:
        cause = _transport_cause(error)
        raise ModelError(f"the Anthropic API's reply stream broke off ({type(cause).__name__}); run again") from None


def _transport_cause(error: BaseException) -> BaseException:
    """The innermost HTTP-layer error under error (error itself when there is none)."""
    found, seen = error, set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, _transport_errors()):
            found = error
        error = error.__cause__ or error.__context__
    return found


def _transport_errors() -> tuple[type[Exception], ...]:
    """The HTTP layer's errors (httpx2 under the SDK since its 1.0, httpx before)."""
    found = []
    for name in ("httpx2", "httpx"):
        with contextlib.suppress(ImportError):
            found.append(importlib.import_module(name).HTTPError)
    return tuple(found)
