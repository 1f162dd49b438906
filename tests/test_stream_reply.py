"""A reply put together from the Messages API's raw stream events (factory/llm/stream_reply.py), as the SDK
parses them from the wire: the same text the SDK's own stream helper gave, without its per-delta re-parse."""

from __future__ import annotations

import functools
import json

import pydantic
import pytest

from factory.llm.stream_reply import StreamedReply


@functools.cache
def stream_event() -> pydantic.TypeAdapter:
    """The SDK's event type, imported when a test here runs: importing anthropic costs every worker that
    collects this file ~1.5 s of CPU otherwise."""
    from anthropic.types import RawMessageStreamEvent

    return pydantic.TypeAdapter(RawMessageStreamEvent)


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
    return [stream_event().validate_python(each) for each in wire]


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
    assert json.loads(reply.text()) == {"files": [], "notes": "whole"}
    # Counted as received (the reply's size limit holds whichever way a block's content comes)
    assert received == len(reply.text())


def test_text_given_at_a_blocks_start_is_counted_as_received():
    reply, received = assemble(events([({"type": "text", "text": "x" * 5000}, [{"type": "text_delta", "text": "y"}])]))
    assert reply.text() == "x" * 5000 + "y" and received == 5001


def wire_events(wire: list[dict]) -> list:
    """Events as the SDK's stream makes them from the wire (construct_type: an unknown kind is not refused)."""
    from anthropic._models import construct_type
    from anthropic.types import RawMessageStreamEvent

    return [construct_type(type_=RawMessageStreamEvent, value=each) for each in wire]


def test_a_delta_counts_only_for_a_block_of_its_own_kind_as_the_sdk_accumulates_it():
    # The SDK adds text_delta to text blocks, input_json_delta to tool blocks, and nothing of any other delta
    # (a kind not known yet is parsed with whichever fields it has: here a text field).
    text = (
        {"type": "text", "text": "A"},
        [{"type": "text_delta", "text": "B"}, {"type": "input_json_delta", "partial_json": "X"}],
    )
    value = (
        {"type": "tool_use", "id": "t", "name": "emit_reply", "input": {}},
        [{"type": "text_delta", "text": "X"}, {"type": "input_json_delta", "partial_json": '{"a": 1}'}],
    )
    stream = events([text, value])
    stream[3:3] = wire_events(
        [{"type": "content_block_delta", "index": 0, "delta": {"type": "compaction_delta", "text": "X"}}]
    )
    reply, received = assemble(stream)
    assert reply.text() == 'AB\n{"a": 1}'
    assert received == len("AB") + len('{"a": 1}')


def test_thinking_server_tools_pings_and_unknown_events_add_no_reply_text():
    thinking = (
        {"type": "thinking", "thinking": "", "signature": ""},
        [{"type": "thinking_delta", "thinking": "let me see"}, {"type": "signature_delta", "signature": "sig"}],
    )
    search = (
        {"type": "server_tool_use", "id": "s", "name": "web_search", "input": {}},
        [{"type": "input_json_delta", "partial_json": '{"query": "q"}'}],
    )
    text = ({"type": "text", "text": ""}, [{"type": "text_delta", "text": "done"}])
    stream = events([thinking, search, text])
    stream[1:1] = wire_events([{"type": "ping"}, {"type": "a_kind_not_known_yet", "index": 0, "text": "X"}])
    reply, _ = assemble(stream)
    assert reply.text() == "done" and reply.finished


def test_usage_in_message_delta_overwrites_what_it_gives_and_keeps_what_it_leaves_out():
    stream = events([({"type": "text", "text": "x"}, [])])
    delta = {"stop_reason": "end_turn", "stop_sequence": None}
    usage = {"output_tokens": 50, "input_tokens": 12, "cache_creation_input_tokens": None, "server_tool_use": None}
    stream[-2] = stream_event().validate_python({"type": "message_delta", "delta": delta, "usage": usage})
    reply, _ = assemble(stream)
    assert reply.usage == {"input_tokens": 12, "output_tokens": 50, "cache_read_input_tokens": 7}
    assert reply.stop_reason == "end_turn"


def test_a_stream_that_ends_before_message_stop_is_not_a_finished_reply():
    stream = events([tool(['{"files": [', "]}"])])
    reply, _ = assemble(stream[:-2])  # no message_delta, no message_stop: the connection ended early
    assert not reply.finished and reply.stop_reason is None
    assert assemble(stream)[0].finished


def complete_from(monkeypatch, answer):
    """The provider's call against the local Messages API answering with this Scripted."""
    from fake_llm import FakeModelServer

    from factory.agents.request import AgentRequest
    from factory.llm.anthropic_provider import AnthropicProvider

    server = FakeModelServer(lambda _agent, _slice, _body: answer, api_key="k").start()
    monkeypatch.setenv("ANTHROPIC_API_KEY", "k")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", server.url)
    try:
        provider = AnthropicProvider("claude-sonnet-4-6", max_retries=0)
        return provider.complete(AgentRequest("codegen", "You are CodeGen.", "Write the core slice.", None))
    finally:
        server.stop()


REPLY = json.dumps({"files": [], "notes": "n" * 9000})  # three deltas of 4000 characters


def test_an_error_event_mid_stream_is_said_as_the_reply_breaking_off(monkeypatch):
    from fake_llm import Scripted

    from factory.llm.anthropic_provider import ModelError

    with pytest.raises(ModelError) as raised:
        complete_from(monkeypatch, Scripted(REPLY, error_mid_stream="overloaded_error"))
    assert str(raised.value).startswith("the Anthropic API broke off its reply (overloaded_error: scripted)")
    assert "answered 200" not in str(raised.value)


def test_a_stream_cut_off_on_the_way_is_a_model_error_not_a_crash_nor_a_reply(monkeypatch):
    from fake_llm import Scripted

    from factory.llm.anthropic_provider import ModelError

    with pytest.raises(ModelError) as raised:  # the connection closes mid-body: the HTTP layer's own error
        complete_from(monkeypatch, Scripted(REPLY, cut_short=True))
    assert str(raised.value).startswith("the Anthropic API's reply stream broke off (RemoteProtocolError)")
    assert complete_from(monkeypatch, Scripted(REPLY)).text == REPLY


def test_a_stream_that_ends_before_its_message_stop_is_a_model_error_not_a_reply(monkeypatch):
    from fake_llm import Scripted

    from factory.llm.anthropic_provider import ModelError

    with pytest.raises(ModelError) as raised:  # the body just ends (no length announced): no HTTP error
        complete_from(monkeypatch, Scripted(REPLY, cut_short=True, closes_cleanly=True))
    assert str(raised.value) == "the Anthropic API's reply stream broke off (it ended before message_stop); run again"


@pytest.mark.parametrize(
    ("stop_reason", "said"),
    [
        ("refusal", "the model declined to reply (stop_reason refusal)"),
        ("model_context_window_exceeded", "the model's context window filled before its reply ended"),
    ],
)
def test_a_reply_the_model_stopped_short_is_a_model_error_not_a_reply(monkeypatch, stop_reason: str, said: str):
    from fake_llm import Scripted

    from factory.llm.anthropic_provider import ModelError

    with pytest.raises(ModelError) as raised:
        complete_from(monkeypatch, Scripted(REPLY[:5000], stop_reason=stop_reason))
    assert str(raised.value).startswith(said)
