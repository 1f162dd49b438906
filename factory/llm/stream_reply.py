"""A Messages API reply put together from the raw event stream as it arrives.

The SDK's stream helper (client.messages.stream) re-parses a tool's whole input JSON at every delta, so its CPU
grows with the square of the reply's length: a 10 MB reply took ~8 s of CPU, a real 1 MB one in 100-character
deltas would take far more. Here each block's text is kept in parts and joined once, at the end."""

from __future__ import annotations

import contextlib
import json
from dataclasses import dataclass, field

USAGE_FIELDS = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")
TOOL_BLOCKS = ("tool_use", "server_tool_use")  # the blocks whose input comes in input_json_delta parts


def _delta_text(delta: object, block_type: str | None) -> str:
    """What a delta adds to its block, as the SDK's accumulator sees it: text to a text block, input JSON to a
    tool block; any other delta (thinking, signature, citations, a kind not known yet) adds no reply text."""
    kind = getattr(delta, "type", None)
    if kind == "text_delta" and block_type == "text":
        return getattr(delta, "text", "") or ""
    if kind == "input_json_delta" and block_type in TOOL_BLOCKS:
        return getattr(delta, "partial_json", "") or ""
    return ""


def _usage(usage: object) -> dict[str, int]:
    """The token counts an event carries (message_delta repeats or updates some of message_start's)."""
    return {name: value for name in USAGE_FIELDS if isinstance(value := getattr(usage, name, None), int)}


@dataclass
class StreamedReply:
    usage: dict[str, int] = field(default_factory=dict)
    stop_reason: str | None = None
    finished: bool = False  # message_stop came: a stream that ends without it was cut off on the way
    # index: (type, text parts, a tool's input as the block's start gave it: {} when its JSON comes in deltas)
    blocks: dict[int, tuple[str, list[str], object]] = field(default_factory=dict)

    def add(self, event: object) -> int:
        """Take one stream event; returns how many characters of reply it carried."""
        kind = getattr(event, "type", None)
        if kind == "message_start":
            self.usage.update(_usage(getattr(event.message, "usage", None)))
        elif kind == "content_block_start":
            block = event.content_block
            text, start_input = getattr(block, "text", "") or "", getattr(block, "input", None)
            self.blocks[event.index] = (block.type, [text], start_input)
            # What a block's start carries counts too: the reply's size limit holds however its content comes.
            if block.type == "text":
                return len(text)
            return len(json.dumps(start_input)) if block.type in TOOL_BLOCKS and start_input else 0
        elif kind == "content_block_delta":
            block = self.blocks.get(event.index)
            text = _delta_text(event.delta, block[0] if block else None)
            if text:
                block[1].append(text)
            return len(text)
        elif kind == "message_delta":
            self.stop_reason = getattr(event.delta, "stop_reason", None) or self.stop_reason
            self.usage.update(_usage(getattr(event, "usage", None)))
        elif kind == "message_stop":
            self.finished = True
        return 0

    def text(self) -> str:
        """The reply's text blocks and tool inputs, in order. A tool input is written as JSON the way the SDK's
        parsed input was; one that is not JSON (cut off, or malformed) is kept as sent, for the reply parser's
        extraction fallback or its one-line refusal."""
        parts = []
        for index in sorted(self.blocks):
            kind, chunks, start_input = self.blocks[index]
            joined = "".join(chunks)
            if kind == "tool_use":
                if not joined:
                    joined = json.dumps(start_input if start_input is not None else {})
                with contextlib.suppress(ValueError):
                    joined = json.dumps(json.loads(joined))
                parts.append(joined)
            elif kind == "text":
                parts.append(joined)
        return "\n".join(parts)
