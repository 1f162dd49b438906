"""A local HTTP server that speaks the Anthropic Messages API and OpenAI Chat Completions, answering from a
script. The real SDKs talk to it through their base URL; it counts every request it receives."""

from __future__ import annotations

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


@dataclass
class Scripted:
    """One answer: a reply text (sent as a tool call when `as_tool`), or an HTTP error."""

    text: str = ""
    as_tool: bool = True
    status: int = 200
    error_type: str = ""
    headers: dict = field(default_factory=dict)


def agent_and_slice(body: dict) -> tuple[str, str]:
    """Which agent and slice a request is for, read from the prompts the factory sends."""
    in_messages = body["messages"][0]["content"]
    system = " ".join(block["text"] for block in body["system"]) if "system" in body else in_messages
    agent = next(
        name
        for name in ("CodeGen", "TestGen", "Healer", "Deployer")
        if f"You are {name}" in system or f"You are the {name}" in system
    ).lower()
    prompt = next(m["content"] for m in body["messages"] if m["role"] == "user")
    if "Write the core slice" in prompt:
        return agent, "core"
    if "Write the slice of entity " in prompt:
        return agent, prompt.split("Write the slice of entity ", 1)[1].split(".", 1)[0]
    return agent, ""


class FakeModelServer:
    def __init__(self, script: Callable[[str, str, dict], Scripted], api_key: str = "test-key") -> None:
        self.script = script
        self.api_key = api_key
        self.requests: list[dict] = []
        self.seen_prefixes: set[str] = set()
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

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

    def _usage(self, body: dict, text: str) -> dict:
        cached_block = next((b["text"] for b in body.get("system", []) if b.get("cache_control")), "")
        with self._lock:
            hit = cached_block in self.seen_prefixes
            self.seen_prefixes.add(cached_block)
        prompt_tokens = len(json.dumps(body)) // 4
        cached_tokens = len(cached_block) // 4
        return {
            "input_tokens": prompt_tokens - cached_tokens,
            "output_tokens": max(1, len(text) // 4),
            "cache_creation_input_tokens": 0 if hit else cached_tokens,
            "cache_read_input_tokens": cached_tokens if hit else 0,
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

            def _stream(self, body: dict, answer: Scripted) -> None:
                """The Messages API's server-sent events: the reply in chunks, usage at start and end."""
                usage = server._usage(body, answer.text)
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
                if answer.as_tool:
                    block = {"type": "tool_use", "id": "toolu_1", "name": "emit_reply", "input": {}}
                    delta_type, delta_key = "input_json_delta", "partial_json"
                else:
                    block, delta_type, delta_key = {"type": "text", "text": ""}, "text_delta", "text"
                events = [
                    ("message_start", {"type": "message_start", "message": message}),
                    ("content_block_start", {"type": "content_block_start", "index": 0, "content_block": block}),
                ]
                text = answer.text
                for start in range(0, len(text), 4000):
                    delta = {"type": delta_type, delta_key: text[start : start + 4000]}
                    events.append(("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta}))
                events += [
                    ("content_block_stop", {"type": "content_block_stop", "index": 0}),
                    (
                        "message_delta",
                        {
                            "type": "message_delta",
                            "delta": {
                                "stop_reason": "tool_use" if answer.as_tool else "end_turn",
                                "stop_sequence": None,
                            },
                            "usage": {"output_tokens": output_tokens},
                        },
                    ),
                    ("message_stop", {"type": "message_stop"}),
                ]
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                for name, data in events:
                    self.wfile.write(f"event: {name}\ndata: {json.dumps(data)}\n\n".encode())
                self.wfile.flush()

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                key = self.headers.get("x-api-key") or self.headers.get("Authorization", "").removeprefix("Bearer ")
                agent, slice_name = agent_and_slice(body)
                with server._lock:
                    server.requests.append({"path": self.path, "agent": agent, "slice": slice_name, "body": body})
                if key != server.api_key:
                    return self._send(
                        401,
                        {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}},
                    )
                answer = server.script(agent, slice_name, body)
                if answer.status != 200:
                    error = {"type": "error", "error": {"type": answer.error_type, "message": "scripted error"}}
                    return self._send(answer.status, error, answer.headers)
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
                                    "message": {"role": "assistant", "content": answer.text},
                                    "finish_reason": "stop",
                                }
                            ],
                            "usage": {
                                "prompt_tokens": len(json.dumps(body)) // 4,
                                "completion_tokens": len(answer.text) // 4,
                                "total_tokens": 0,
                            },
                        },
                    )
                if body.get("stream"):
                    return self._stream(body, answer)
                content = (
                    [{"type": "tool_use", "id": "toolu_1", "name": "emit_reply", "input": json.loads(answer.text)}]
                    if answer.as_tool
                    else [{"type": "text", "text": answer.text}]
                )
                return self._send(
                    200,
                    {
                        "id": "msg_1",
                        "type": "message",
                        "role": "assistant",
                        "model": body["model"],
                        "content": content,
                        "stop_reason": "tool_use" if answer.as_tool else "end_turn",
                        "stop_sequence": None,
                        "usage": server._usage(body, answer.text),
                    },
                )

        return Handler


class EngineBackedModel:
    """A scripted model: slice replies as the engine would write them, a planted bug in the core slice's
    storage.py (when asked), and a Healer reply that restores that one file."""

    def __init__(self, pack0_dir: Path, *, plant_bug: bool = False) -> None:
        self.pack0_dir = pack0_dir
        self.plant_bug = plant_bug
        self.before: list[Scripted] = []  # answers to give first, whatever the request
        self.useless_heals = 0  # how many Healer replies change storage.py without fixing it

    def __call__(self, agent: str, slice_name: str, body: dict) -> Scripted:
        if self.before:
            return self.before.pop(0)
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
            return Scripted(json.dumps(reply))
        prompt = body["messages"][0]["content"] if body.get("messages") else ""
        target = prompt.split("Deploy target: ", 1)[1].split()[0] if "Deploy target: " in prompt else "compose"
        request = AgentRequest(agent, "", "", pack0, slice=slice_name, options={"target": target})
        reply = json.loads(OfflineProvider().complete(request).text)
        if agent == "codegen" and slice_name == "core" and self.plant_bug:
            for item in reply["files"]:
                if item["path"] == storage:
                    item["content"] = item["content"].replace(TENANT_FILTER, BUG)
        return Scripted(json.dumps(reply))
