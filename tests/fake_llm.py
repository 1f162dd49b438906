"""A local HTTP server that speaks the Anthropic Messages API and OpenAI Chat Completions, answering from a
script. The real SDKs talk to it through their base URL; it counts every request it receives.

It behaves as the real API does where the factory must cope: unknown models get 404; max_tokens over the
model's output limit gets 400; a reply longer than max_tokens stops with stop_reason "max_tokens"; prompt
caching counts a read only for a prefix (up to a cache_control breakpoint) at least the model's minimum
cacheable length that an earlier request wrote.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from factory.agents.request import AgentRequest
from factory.engine.codegen import generate_core
from factory.llm.offline import OfflineProvider
from factory.pack0.load import load_pack0

TENANT_FILTER = "WHERE tenant_id = ? AND id = ?"
BUG = "WHERE (tenant_id = ? OR 1) AND id = ?"
CHARS_PER_TOKEN = 4

# The API's side of things, as documented: output limits and minimum cacheable prefix per model.
MODELS = {
    # model: (most output tokens, minimum cacheable prefix tokens)
    "claude-sonnet-5-5": (64_000, 1_024),
    "claude-sonnet-5": (64_000, 1_024),
    "claude-sonnet-4-6": (64_000, 1_024),
    "claude-sonnet-4-5": (64_000, 1_024),
    "claude-sonnet-4-5-20250929": (64_000, 1_024),
    "claude-opus-4-6": (128_000, 4_096),
    "claude-opus-4-5": (64_000, 4_096),
    "claude-opus-4-1": (32_000, 1_024),
    "claude-haiku-4-5": (64_000, 4_096),
    "claude-haiku-3": (4_096, 2_048),
    "llama3.1": (8_192, 0),
}


@dataclass
class Scripted:
    """One answer: a reply text (sent as a tool call when `as_tool`), or an HTTP error. `stop_after`
    sends only that many characters of the text and says the reply hit max_tokens."""

    text: str = ""
    as_tool: bool = True
    status: int = 200
    error_type: str = ""
    headers: dict = field(default_factory=dict)
    stop_after: int | None = None
    # Cut at the request's max_tokens as the API does; a scripted (hostile) answer may send more.
    obeys_max_tokens: bool = False
    # A stream that breaks off after its first delta: with an error event of this type (as the API sends an
    # overloaded_error mid-stream), or, with cut_short, the connection closes mid-body (a dropped connection;
    # with closes_cleanly the body had no announced length, so it reads as ended, without message_stop).
    error_mid_stream: str = ""
    cut_short: bool = False
    closes_cleanly: bool = False
    stop_reason: str = ""  # sent instead of the one the reply would have (refusal, model_context_window_exceeded)


def agent_and_slice(body: dict) -> tuple[str, str]:
    """Which agent and slice a request is for, read from the prompts the factory sends."""
    in_messages = body["messages"][0]["content"]
    system = " ".join(block["text"] for block in body["system"]) if "system" in body else in_messages
    agent = next(
        name
        for name in ("CodeGen", "TestGen", "Healer", "Deployer", "Architect")
        if f"You are {name}" in system or f"You are the {name}" in system
    ).lower()
    prompt = next(m["content"] for m in body["messages"] if m["role"] == "user")
    if "Write the core slice" in prompt:
        return agent, "core"
    if "Write the slice of entity " in prompt:
        return agent, prompt.split("Write the slice of entity ", 1)[1].split(".", 1)[0]
    return agent, ""


def received_paths(body: dict) -> list[str]:
    """The files a continuation request says arrived whole already."""
    prompt = body["messages"][0]["content"]
    marker = "These files arrived whole and are kept: "
    if marker not in prompt:
        return []
    return prompt.split(marker, 1)[1].split(". Reply with only", 1)[0].split(", ")


def _tokens(value: object) -> int:
    return len(json.dumps(value, sort_keys=True)) // CHARS_PER_TOKEN


def cache_prefixes(body: dict) -> list[tuple[str, int]]:
    """(digest, tokens) of each prefix that ends at a cache_control breakpoint: tools, system, messages."""
    blocks = [("model", body["model"]), *(("tool", tool) for tool in body.get("tools", []))]
    blocks += [("system", block) for block in body.get("system", [])]
    for message in body["messages"]:
        content = message["content"]
        for block in content if isinstance(content, list) else [{"type": "text", "text": content}]:
            blocks.append((message["role"], block))
    prefixes = []
    for end, (_kind, block) in enumerate(blocks):
        if isinstance(block, dict) and block.get("cache_control"):
            upto = blocks[: end + 1]
            digest = hashlib.sha256(json.dumps(upto, sort_keys=True).encode()).hexdigest()
            prefixes.append((digest, sum(_tokens(part) for _kind, part in upto[1:])))
    return prefixes


class FakeModelServer:
    def __init__(self, script: Callable[[str, str, dict], Scripted], api_key: str = "test-key") -> None:
        self.script = script
        self.api_key = api_key
        self.requests: list[dict] = []
        self.cached_prefixes: set[str] = set()
        self.models = dict(MODELS)
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        # A short poll interval: stop() returns in milliseconds, not half a second per test.
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeModelServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def calls(self) -> list[tuple[str, str]]:
        return [(entry["agent"], entry["slice"]) for entry in self.requests]

    def reset(self) -> None:
        self.requests.clear()

    def _usage(self, body: dict, output_text: str) -> dict:
        """Tokens as the API counts them: the longest written prefix is read, later breakpoints (long
        enough) are written, the rest is plain input."""
        minimum = self.models[body["model"]][1]
        total = _tokens({key: body.get(key) for key in ("tools", "system", "messages")})
        prefixes = [(digest, tokens) for digest, tokens in cache_prefixes(body) if tokens >= minimum]
        with self._lock:
            read = max((tokens for digest, tokens in prefixes if digest in self.cached_prefixes), default=0)
            written = max((tokens for _digest, tokens in prefixes), default=0)
            self.cached_prefixes.update(digest for digest, _tokens in prefixes)
        return {
            "input_tokens": total - max(read, written),
            "output_tokens": max(1, len(output_text) // CHARS_PER_TOKEN),
            "cache_creation_input_tokens": max(0, written - read),
            "cache_read_input_tokens": read,
        }

    def _handler(self):
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format, *args):
                pass

            def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
                raw = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(raw)

            def _error(self, status: int, kind: str, message: str, headers: dict | None = None) -> None:
                self._send(status, {"type": "error", "error": {"type": kind, "message": message}}, headers)

            def _stream(self, body: dict, text: str, as_tool: bool, stop_reason: str, answer: Scripted) -> None:
                """The Messages API's server-sent events: the reply in chunks, usage at start and end."""
                usage = server._usage(body, text)
                output_tokens = usage.pop("output_tokens")
                message = {
                    "id": "msg_1",
                    "type": "message",
                    "role": "assistant",
                    "model": body["model"],
                    "content": [],
                    "stop_reason": None,
                    "stop_sequence": None,
                    "usage": {**usage, "output_tokens": 1},
                }
                if as_tool:
                    block = {"type": "tool_use", "id": "toolu_1", "name": "emit_reply", "input": {}}
                    delta_type, delta_key = "input_json_delta", "partial_json"
                else:
                    block, delta_type, delta_key = {"type": "text", "text": ""}, "text_delta", "text"
                events = [
                    ("message_start", {"type": "message_start", "message": message}),
                    ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": block}),
                ]
                for start in range(0, len(text), 4000):
                    delta = {"type": delta_type, delta_key: text[start : start + 4000]}
                    events.append(("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}))
                events += [
                    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
                    (
                        "message_delta",
                        {
                            "type": "message_delta",
                            "delta": {"stop_reason": stop_reason, "stop_sequence": None},
                            "usage": {"output_tokens": output_tokens},
                        },
                    ),
                    ("message_stop", {"type": "message_stop"}),
                ]
                wire = [f"event: {name}\ndata: {json.dumps(data)}\n\n".encode() for name, data in events]
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                if answer.cut_short and not answer.closes_cleanly:  # announces the whole body, sends part of it
                    self.send_header("Content-Length", str(sum(map(len, wire))))
                self.end_headers()
                if answer.error_mid_stream or answer.cut_short:
                    error = {"type": "error", "error": {"type": answer.error_mid_stream, "message": "scripted"}}
                    wire = wire[:3] + [f"event: error\ndata: {json.dumps(error)}\n\n".encode()] * bool(
                        answer.error_mid_stream
                    )
                for each in wire:
                    self.wfile.write(each)
                self.wfile.flush()

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                key = self.headers.get("x-api-key") or self.headers.get("Authorization", "").removeprefix("Bearer ")
                agent, slice_name = agent_and_slice(body)
                with server._lock:
                    server.requests.append({"path": self.path, "agent": agent, "slice": slice_name, "body": body})
                if key != server.api_key:
                    return self._error(401, "authentication_error", "invalid x-api-key")
                if body["model"] not in server.models:
                    return self._error(404, "not_found_error", f"model: {body['model']}")
                limit = server.models[body["model"]][0]
                if body.get("max_tokens", 0) > limit:
                    message = (
                        f"max_tokens: {body['max_tokens']} > {limit}, which is the maximum allowed number of "
                        f"output tokens for {body['model']}"
                    )
                    return self._error(400, "invalid_request_error", message)
                answer = server.script(agent, slice_name, body)
                if answer.status != 200:
                    return self._error(answer.status, answer.error_type, "scripted error", answer.headers)
                text, stopped = answer.text, answer.stop_after is not None
                if stopped:
                    text = text[: answer.stop_after]
                if answer.obeys_max_tokens and len(text) // CHARS_PER_TOKEN > body.get("max_tokens", 10**9):
                    text, stopped = text[: body["max_tokens"] * CHARS_PER_TOKEN], True
                if self.path.endswith("/chat/completions"):
                    return self._send(
                        200,
                        {
                            "id": "chatcmpl-1",
                            "object": "chat.completion",
                            "created": 0,
                            "model": body["model"],
                            "choices": [
                                {
                                    "index": 0,
                                    "message": {"role": "assistant", "content": text},
                                    "finish_reason": "length" if stopped else "stop",
                                }
                            ],
                            "usage": {
                                "prompt_tokens": _tokens(body),
                                "completion_tokens": len(text) // CHARS_PER_TOKEN,
                                "total_tokens": 0,
                            },
                        },
                    )
                stop_reason = "max_tokens" if stopped else "tool_use" if answer.as_tool else "end_turn"
                stop_reason = answer.stop_reason or stop_reason
                if body.get("stream"):
                    return self._stream(body, text, answer.as_tool, stop_reason, answer)
                content = (
                    [{"type": "tool_use", "id": "toolu_1", "name": "emit_reply", "input": json.loads(text)}]
                    if answer.as_tool
                    else [{"type": "text", "text": text}]
                )
                return self._send(
                    200,
                    {
                        "id": "msg_1",
                        "type": "message",
                        "role": "assistant",
                        "model": body["model"],
                        "content": content,
                        "stop_reason": stop_reason,
                        "stop_sequence": None,
                        "usage": server._usage(body, text),
                    },
                )

        return Handler


FLEET_DESIGN = {
    "title": "Fleet Maintenance",
    "srs_markdown": "# Fleet Maintenance: software requirements\n\nTrack vehicles and the work orders that keep "
    "them on the road, per tenant.\n",
    "plan_markdown": "# Fleet Maintenance: build plan\n\n1. Pack0. 2. CodeGen per slice. 3. TestGen. 4. Heal.\n",
    "entities": [
        {
            "name": "vehicle",
            "contract": {
                "title": "Vehicle",
                "description": "A vehicle of the fleet.",
                "type": "object",
                "additionalProperties": False,
                "required": ["plate", "make"],
                "properties": {
                    "plate": {"type": "string", "minLength": 2, "maxLength": 12},
                    "make": {"type": "string", "maxLength": 60},
                    "odometer_km": {"type": "integer", "minimum": 0},
                    "in_service": {"type": "boolean"},
                },
            },
        },
        {
            "name": "work_order",
            "contract": {
                "title": "WorkOrder",
                "description": "Maintenance work on one vehicle.",
                "type": "object",
                "additionalProperties": False,
                "required": ["vehicle_plate", "kind"],
                "properties": {
                    "vehicle_plate": {"type": "string", "maxLength": 12},
                    "kind": {"type": "string", "enum": ["inspection", "repair", "tyres"]},
                    "due": {"type": "string", "format": "date"},
                    "cost": {"type": "number", "minimum": 0},
                },
            },
        },
    ],
}


class EngineBackedModel:
    """A scripted model: slice replies as the engine would write them, a planted bug in the core slice's
    storage.py (when asked), a Healer reply that restores that one file, and an Architect design."""

    def __init__(self, pack0_dir: Path, *, plant_bug: bool = False) -> None:
        self.pack0_dir = pack0_dir
        self.plant_bug = plant_bug
        self.before: list[Scripted] = []  # answers to give first, whatever the request
        self.useless_heals = 0  # how many Healer replies change storage.py without fixing it
        self.design = FLEET_DESIGN

    def __call__(self, agent: str, slice_name: str, body: dict) -> Scripted:
        if self.before:
            return self.before.pop(0)
        if agent == "architect":
            return Scripted(json.dumps(self.design), obeys_max_tokens=True)
        pack0 = load_pack0(self.pack0_dir)
        storage = f"src/{pack0.package}/storage.py"
        if agent == "healer":
            fixed = generate_core(pack0)[storage]
            if self.useless_heals:
                self.useless_heals -= 1
                current = next(
                    part for part in body["messages"][0]["content"].split("\n--- ") if part.startswith(storage)
                )
                fixed = current.split("\n", 1)[1] + "\n# looked at the wrong thing\n"
            reply = {"diagnosis": "get lost its tenant filter", "files": [{"path": storage, "content": fixed}]}
            return Scripted(json.dumps(reply), obeys_max_tokens=True)
        prompt = body["messages"][0]["content"] if body.get("messages") else ""
        target = prompt.split("Deploy target: ", 1)[1].split()[0] if "Deploy target: " in prompt else "compose"
        request = AgentRequest(agent, "", "", pack0, slice=slice_name, options={"target": target})
        reply = json.loads(OfflineProvider().complete(request).text)
        if agent == "codegen" and slice_name == "core" and self.plant_bug:
            for item in reply["files"]:
                if item["path"] == storage:
                    item["content"] = item["content"].replace(TENANT_FILTER, BUG)
        done = set(received_paths(body))
        reply["files"] = [item for item in reply["files"] if item["path"] not in done]
        return Scripted(json.dumps(reply), obeys_max_tokens=True)
