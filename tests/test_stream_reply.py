"""A reply put together from the Messages API's raw stream events (factory/llm/stream_reply.py), as the SDK
parses them from the wire: the same text the SDK's own stream helper gave, without its per-delta re-parse."""

from __future__ import annotations

import json

import pydantic
from anthropic.types import RawMessageStreamEvent

from factory.llm.stream_reply import StreamedReply

EVENT = pydantic.TypeAdapter(RawMessageStreamEvent)


def events(blocks: list[tuple[dict, list[dict]]], stop_reason: str = "tool_use") -> list:
    """The events a reply of these blocks (start block, deltas) arrives as, parsed into the SDK's types."""
    usage = {"input_tokens": 10, "output_tokens": 1, "cache_read_input_tokens": 7}
    message = {"id": "m", "type": "message", "role": "assistant", "model": "x", "content": [], "usage": usage}
    wire = [{"type": "message_start", "message": {**message, "stop_reason": None, "stop_sequence": None}}]
    for index, (block, deltas) in enumerate(blocks):
        wire.append({"type": "content_block_start", "index": index, "content_block": block})
        wire += [{"type": "content_block_delta", "index": index, "delta": delta} for delta in deltas]
        wire.append({"type": "content_block_stop", "index": index})
    wire += [
        {
            "type": "message_delta",
            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
            "usage": {"output_tokens": 42},
        },
        {"type": "message_stop"},
    ]
    return [EVENT.validate_python(each) for each in wire]


def tool(chunks: list[str], start_input: dict | None = None) -> tuple[dict, list[dict]]:
    block = {"type": "tool_use", "id": "t", "name": "emit_reply", "input": start_input or {}}
    return block, [{"type": "input_json_delta", "partial_json": chunk} for chunk in chunks]


def assemble(stream: list) -> tuple[StreamedReply, int]:
    reply = StreamedReply()
    return reply, sum(reply.add(event) for event in stream)


def test_a_tool_reply_in_many_deltas_is_its_json_and_the_usage_adds_up():
    value = {"files": [{"path": "src/a.py", "content": "print('é\\n')\n" * 50}], "notes": "n"}
    sent = json.dumps(value, indent=1)
    reply, received = assemble(events([tool([sent[i : i + 7] for i in range(0, len(sent), 7)])]))
    assert received == len(sent)
    assert json.loads(reply.text()) == value and reply.text() == json.dumps(value)
    assert reply.stop_reason == "tool_use"
    assert reply.usage == {"input_tokens": 10, "output_tokens": 42, "cache_read_input_tokens": 7}


def test_text_blocks_and_a_tool_come_in_order_and_a_cut_off_tool_input_is_kept_as_sent():
    text = ({"type": "text", "text": ""}, [{"type": "text_delta", "text": part} for part in ("Here ", "it is.")])
    stream = events([text, tool(['{"files": [', '{"path": "src/a'])], stop_reason="max_tokens")
    reply, _ = assemble(stream)
    assert reply.text() == 'Here it is.\n{"files": [{"path": "src/a'
    assert reply.stop_reason == "max_tokens"


def test_a_tool_input_given_whole_at_its_start_is_kept():
    reply, received = assemble(events([tool([], start_input={"files": [], "notes": "whole"})]))
    assert received == 0 and json.loads(reply.text()) == {"files": [], "notes": "whole"}
