"""How an agent request becomes a model conversation. Shared by every model provider."""

from __future__ import annotations

from factory.agents.request import AgentRequest

CORRECTION = "Your reply did not validate: {error}. Reply again with only the corrected JSON object."
CONTINUATION = (
    "Your previous reply to this was cut off at the output limit. These files arrived whole and are kept: "
    "{paths}. Reply with only the remaining files of this request (not those), each whole."
)


def conversation(request: AgentRequest) -> list[dict]:
    """The user turn (with what to leave out after a cut-off reply), and after a reply that did not
    validate, that reply and the correction."""
    prompt = request.prompt
    if request.received:
        prompt += "\n\n" + CONTINUATION.format(paths=", ".join(request.received))
    turns = [{"role": "user", "content": prompt}]
    if request.correction is not None:
        previous, error = request.correction
        turns += [
            {"role": "assistant", "content": previous},
            {"role": "user", "content": CORRECTION.format(error=error)},
        ]
    return turns
