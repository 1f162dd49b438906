"""Any OpenAI-compatible Chat Completions endpoint (Ollama, vLLM, llama.cpp server) through the openai SDK.

Configured by LAI_OPENAI_BASE_URL (or OPENAI_BASE_URL) and LAI_OPENAI_MODEL / --model; the key from
OPENAI_API_KEY (local servers accept any). The SDK retries 429 and 5xx with backoff by itself.
"""

from __future__ import annotations

import json
import os

from factory.agents.request import AgentRequest, Completion, Usage
from factory.claude_models import SAFE_MAX_TOKENS
from factory.llm.anthropic_provider import REQUEST_TIMEOUT_S, ModelError
from factory.llm.messages import conversation


class OpenAICompatibleProvider:
    name = "openai-compatible"

    def __init__(self, model: str, *, max_retries: int = 4) -> None:
        import openai

        base_url = os.environ.get("LAI_OPENAI_BASE_URL") or os.environ.get("OPENAI_BASE_URL")
        if not base_url:
            raise ModelError("set LAI_OPENAI_BASE_URL to the endpoint (e.g. http://127.0.0.1:11434/v1 for Ollama)")
        self.model = os.environ.get("LAI_OPENAI_MODEL") or model
        self.max_tokens = SAFE_MAX_TOKENS
        self._client = openai.OpenAI(
            api_key=os.environ.get("OPENAI_API_KEY") or "not-needed",
            base_url=base_url,
            max_retries=max_retries,
            timeout=REQUEST_TIMEOUT_S,
        )

    def _params(self, request: AgentRequest) -> dict:
        schema_note = "Reply with one JSON object matching this JSON Schema:\n" + json.dumps(request.reply_schema)
        system = "\n\n".join([*request.context, request.system, schema_note])
        return {
            "model": self.model,
            "max_tokens": self.max_tokens,
            "messages": [{"role": "system", "content": system}, *conversation(request)],
            "response_format": {"type": "json_object"},
        }

    def request_key(self, request: AgentRequest) -> dict:
        params = self._params(request)
        params.pop("max_tokens")
        return {"provider": self.name, **params}

    def keep(self, request: AgentRequest, completion: Completion) -> None:
        """Without the gateway there is no cache: nothing to keep."""

    def complete(self, request: AgentRequest) -> Completion:
        import openai

        try:
            response = self._client.chat.completions.create(**self._params(request))
        except openai.AuthenticationError:
            raise ModelError("the endpoint refused the key (401): check OPENAI_API_KEY") from None
        except openai.NotFoundError:
            raise ModelError(f"the endpoint does not know the model {self.model!r} (404)") from None
        except openai.APIStatusError as error:
            retried = error.status_code in (408, 409, 429) or error.status_code >= 500
            raise ModelError(
                f"the endpoint answered {error.status_code}{' after retries' if retried else ''}"
            ) from None
        except openai.APIConnectionError:
            raise ModelError("cannot reach the endpoint; check LAI_OPENAI_BASE_URL") from None
        usage = response.usage
        choice = response.choices[0]
        return Completion(
            text=choice.message.content or "",
            truncated=choice.finish_reason == "length",
            usage=Usage(
                input_tokens=getattr(usage, "prompt_tokens", 0) or 0,
                output_tokens=getattr(usage, "completion_tokens", 0) or 0,
            ),
        )
