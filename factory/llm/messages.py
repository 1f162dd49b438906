"""How an agent request becomes a model conversation. Shared by every model provider."""

from __future__ import annotations

from factory.agents.request import AgentRequest

MAX_TOKENS = 32_000
CORRECTION = "Your reply did not validate: {error}. Reply again with only the corrected JSON object."


def conversation(request: AgentRequest) -> list[dict]:
    """The user turn, and after a reply that did not validate, that reply and the correction."""
    turns = [{"role": "user", "content": request.prompt}]
    if request.correction is not None:
        previous, error = request.correction
        turns += [
            {"role": "assistant", "content": previous},
            {"role": "user", "content": CORRECTION.format(error=error)},
        ]
    return turns
