"""A loopback HTTP server that speaks enough of the Messages API for the real anthropic SDK.

anthropic 2.x sends through httpx2 (``Authorization: Bearer``), which respx cannot
intercept, so tests point the SDK at this server with ``ANTHROPIC_BASE_URL`` and a dummy
``ANTHROPIC_API_KEY`` instead. It runs ``http.server`` in a thread on 127.0.0.1, port 0.

Tests under ``tests/team/`` get the ``fake_api`` and ``anthropic_env`` fixtures from
``tests/team/conftest.py``; anywhere else, import them into the test module (or a
conftest) to register them. The helpers import the same way::

    from tests.helpers.fake_messages_api import (FakeMessagesAPI, anthropic_env, error,
                                              fake_api, reply, text, tool_use)

    def test_x(fake_api, anthropic_env):           # anthropic_env sets the env for the SDK
        fake_api.script(
            reply(tool_use("write_file", {"path": "a.txt", "content": "hi"})),
            reply(text("done")),                    # stop_reason end_turn by default
        )
        ...                                         # run the agent / spawn a teammate
        assert fake_api.requests[0].body["max_tokens"] <= 16000

For a teammate *subprocess*, pass ``fake_api.env()`` (``ANTHROPIC_BASE_URL`` and
``ANTHROPIC_API_KEY``) in its environment. Responses that depend on the request: give
``script`` a callable ``f(request: Recorded) -> reply(...) | error(...)``, or set
``fake_api.handler`` to one; it answers whenever the script is empty. With neither, an
exhausted script answers ``end_turn`` with the text ``(fake API: script exhausted)``.

Error replies carry ``retry-after-ms: 1`` (see :class:`FakeMessagesAPI`), so the SDK's
retries of 429/5xx take milliseconds, not seconds.

A request with ``"stream": true`` (what Claude Code sends) gets the same reply as
Server-Sent Events: ``message_start``, per block ``content_block_start``/``_delta``
(``text_delta``, ``input_json_delta``)/``_stop``, ``message_delta`` (stop_reason, output
tokens) and ``message_stop``. ``POST /v1/messages/count_tokens`` answers a rough count.
"""

from __future__ import annotations

import itertools
import json
import sys
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable, Iterator

import pytest

_ids = itertools.count(1)


def text(s: str) -> dict:
    """A text content block."""
    return {"type": "text", "text": s}


def tool_use(name: str, input: dict | None = None, id: str | None = None) -> dict:
    """A tool_use content block; ``id`` defaults to a fresh ``toolu_fake_<n>``."""
    return {"type": "tool_use", "id": id or f"toolu_fake_{next(_ids):04d}", "name": name, "input": input or {}}


def reply(*content: dict, stop_reason: str | None = None, usage: dict | None = None) -> dict:
    """A scripted 200 response: content blocks, stop_reason (default: tool_use if any tool_use block, else end_turn), usage.

    ``usage`` entries override the defaults ``{"input_tokens": 10, "output_tokens": 5,
    "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}``.
    """
    if stop_reason is None:
        stop_reason = "tool_use" if any(b.get("type") == "tool_use" for b in content) else "end_turn"
    return {"kind": "reply", "content": list(content), "stop_reason": stop_reason, "usage": usage or {}}


def error(status: int = 500, message: str = "fake failure", type: str | None = None,
          times: int = 1, headers: dict | None = None) -> dict:
    """A scripted error response, repeated for ``times`` requests (the SDK's retries consume them).

    The body is the API's error shape ``{"type": "error", "error": {"type", "message"}}``;
    ``type`` defaults from the status (529 overloaded_error, 429 rate_limit_error ...).
    """
    default_type = {400: "invalid_request_error", 401: "authentication_error", 404: "not_found_error",
                    429: "rate_limit_error", 529: "overloaded_error"}.get(status, "api_error")
    return {"kind": "error", "status": status, "message": message, "type": type or default_type,
            "times": times, "headers": headers or {}}


@dataclass
class Recorded:
    """One request the server received: method, path, lower-cased headers and the JSON body (or None)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any

    @property
    def messages(self) -> list[dict]:
        """The request's ``messages`` ([] if none)."""
        return (self.body or {}).get("messages", []) if isinstance(self.body, dict) else []

    @property
    def tool_results(self) -> list[dict]:
        """The tool_result blocks of the last message (what the client answered to the last tool_use)."""
        if not self.messages:
            return []
        content = self.messages[-1].get("content")
        return [b for b in content if isinstance(b, dict) and b.get("type") == "tool_result"] if isinstance(content, list) else []

    def all_text(self) -> str:
        """Every string in the body (system, messages, tool results) joined by newlines, for substring asserts."""
        out: list[str] = []

        def walk(x: Any) -> None:
            if isinstance(x, str):
                out.append(x)
            elif isinstance(x, dict):
                for v in x.values():
                    walk(v)
            elif isinstance(x, list):
                for v in x:
                    walk(v)

        walk({"system": (self.body or {}).get("system"), "messages": self.messages})
        return "\n".join(out)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        pass

    def _send(self, status: int, payload: dict, headers: dict | None = None) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(data)))
        self.send_header("request-id", f"req_fake_{next(_ids):04d}")
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = None
        rec = Recorded("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, body)
        api = self.server.api
        with api._lock:
            api.requests.append(rec)
        if self.path.split("?")[0] == "/v1/messages/count_tokens" and isinstance(body, dict):
            self._send(200, {"input_tokens": max(1, len(json.dumps(body)) // 4)})  # a rough count, like the API's
            return
        if self.path.split("?")[0] != "/v1/messages" or not isinstance(body, dict):
            self._send(404, {"type": "error", "error": {"type": "not_found_error", "message": f"no route {self.path}"}})
            return
        item = api._next(rec)
        if item["kind"] == "error":
            headers = {"retry-after-ms": str(api.retry_after_ms), **item["headers"]}
            self._send(item["status"], {"type": "error", "error": {"type": item["type"], "message": item["message"]}},
                       headers)
            return
        usage = {"input_tokens": 10, "output_tokens": 5, "cache_creation_input_tokens": 0,
                 "cache_read_input_tokens": 0, **item["usage"]}
        message = {"id": f"msg_fake_{next(_ids):04d}", "type": "message", "role": "assistant",
                   "model": body.get("model", "fake-model"), "content": item["content"],
                   "stop_reason": item["stop_reason"], "stop_sequence": None, "usage": usage}
        if body.get("stream"):
            self._send_stream(message)
        else:
            self._send(200, message)

    def _send_stream(self, message: dict) -> None:
        """Answer a ``"stream": true`` request as the API does: Server-Sent Events, message_start,
        one content_block_start/delta/stop per block (text_delta, input_json_delta), message_delta
        (stop_reason and the output tokens), message_stop. The body is sent whole, with its length."""
        events: list[tuple[str, dict]] = []
        start = {**message, "content": [], "stop_reason": None,
                 "usage": {**message["usage"], "output_tokens": 1}}
        events.append(("message_start", {"type": "message_start", "message": start}))
        for i, block in enumerate(message["content"]):
            if block.get("type") == "tool_use":
                events.append(("content_block_start", {"type": "content_block_start", "index": i,
                                                       "content_block": {**block, "input": {}}}))
                delta = {"type": "input_json_delta", "partial_json": json.dumps(block.get("input") or {})}
            elif block.get("type") == "thinking":
                events.append(("content_block_start", {"type": "content_block_start", "index": i,
                                                       "content_block": {"type": "thinking", "thinking": "",
                                                                         "signature": ""}}))
                delta = {"type": "thinking_delta", "thinking": block.get("thinking", "")}
            else:
                events.append(("content_block_start", {"type": "content_block_start", "index": i,
                                                       "content_block": {"type": "text", "text": ""}}))
                delta = {"type": "text_delta", "text": block.get("text", "")}
            events.append(("content_block_delta", {"type": "content_block_delta", "index": i, "delta": delta}))
            events.append(("content_block_stop", {"type": "content_block_stop", "index": i}))
        events.append(("message_delta", {"type": "message_delta",
                                         "delta": {"stop_reason": message["stop_reason"], "stop_sequence": None},
                                         "usage": {"output_tokens": message["usage"]["output_tokens"]}}))
        events.append(("message_stop", {"type": "message_stop"}))
        data = "".join(f"event: {name}\ndata: {json.dumps(payload)}\n\n" for name, payload in events).encode()
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.send_header("cache-control", "no-cache")
        self.send_header("content-length", str(len(data)))
        self.send_header("request-id", f"req_fake_{next(_ids):04d}")
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._send(404, {"type": "error", "error": {"type": "not_found_error", "message": f"no route {self.path}"}})


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    api: "FakeMessagesAPI"

    def handle_error(self, request, client_address) -> None:
        """A client that hangs up mid-stream (a stopped agent) is normal here: say nothing, since
        socketserver's default prints a traceback to the stderr of whichever test runs next."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@dataclass
class FakeMessagesAPI:
    """The server: a script of replies, a request log, and the base URL to point the SDK at.

    Attributes:
        requests: every request received, in order (including ones answered with errors).
        handler: ``f(Recorded) -> reply|error`` used when the script is empty, or None.
        retry_after_ms: the ``retry-after-ms`` header on error replies (milliseconds), so
            the SDK retries at once.
        exhausted: how many requests found the script empty (and no handler).
    """

    retry_after_ms: int = 1
    handler: Callable[[Recorded], dict] | None = None
    requests: list[Recorded] = field(default_factory=list)
    exhausted: int = 0

    def __post_init__(self) -> None:
        self._script: deque = deque()
        self._lock = threading.Lock()
        self._server: _Server | None = None

    # -- lifecycle --

    def start(self) -> "FakeMessagesAPI":
        """Start serving on 127.0.0.1 (a free port) in a daemon thread; returns self."""
        self._server = _Server(("127.0.0.1", 0), _Handler)
        self._server.api = self
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        if self._server:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> "FakeMessagesAPI":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """The base URL, ``http://127.0.0.1:<port>`` (the SDK appends ``/v1/messages``)."""
        assert self._server, "server not started"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def env(self, api_key: str = "sk-ant-test-dummy") -> dict[str, str]:
        """Environment for a process whose SDK should talk to this server."""
        return {"ANTHROPIC_BASE_URL": self.url, "ANTHROPIC_API_KEY": api_key}

    # -- scripting --

    def script(self, *items: dict | Callable[[Recorded], dict]) -> None:
        """Queue replies, errors, or callables ``f(Recorded) -> reply|error``, answered in order."""
        with self._lock:
            self._script.extend(items)

    def fail(self, status: int = 500, times: int = 1, message: str = "fake failure") -> None:
        """Queue ``times`` error replies with ``status``."""
        self.script(error(status, message, times=times))

    @property
    def message_requests(self) -> list[Recorded]:
        """The ``POST /v1/messages`` requests, in order."""
        with self._lock:
            return [r for r in self.requests if r.path.split("?")[0] == "/v1/messages"]

    def _next(self, rec: Recorded) -> dict:
        with self._lock:
            item = self._script[0] if self._script else None
            if item is not None:
                if isinstance(item, dict) and item.get("kind") == "error" and item["times"] > 1:
                    item["times"] -= 1
                else:
                    self._script.popleft()
            handler = self.handler
        if item is None:
            if handler is None:
                with self._lock:
                    self.exhausted += 1
                return reply(text("(fake API: script exhausted)"))
            item = handler
        return item(rec) if callable(item) else item


@pytest.fixture
def fake_api() -> Iterator[FakeMessagesAPI]:
    """A started :class:`FakeMessagesAPI`, stopped after the test."""
    with FakeMessagesAPI() as api:
        yield api


@pytest.fixture
def anthropic_env(fake_api: FakeMessagesAPI, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Point this process's anthropic SDK at ``fake_api`` (ANTHROPIC_BASE_URL, dummy ANTHROPIC_API_KEY).

    Clears ANTHROPIC_AUTH_TOKEN and the profile/federation variables so nothing else is
    used. Returns the variables set.
    """
    for var in ("ANTHROPIC_AUTH_TOKEN", "ANTHROPIC_PROFILE", "ANTHROPIC_CUSTOM_HEADERS",
                "ANTHROPIC_IDENTITY_TOKEN", "ANTHROPIC_IDENTITY_TOKEN_FILE", "ANTHROPIC_FEDERATION_RULE_ID"):
        monkeypatch.delenv(var, raising=False)
    env = fake_api.env()
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    return env


def routed(scripts: dict[str, list[dict | Callable[[Recorded], dict]]]) -> Callable[[Recorded], dict]:
    """A handler that answers each request from the script of the first key found in its system prompt.

    For one server shared by several conversations (the lead and the teammates it spawns):
    ``fake_api.handler = routed({"You are 'lead'": [...], "You are 'alice'": [...]})``. Items
    are replies, errors, or callables ``f(Recorded) -> reply|error``, answered in order; a
    conversation whose script is used up (or that matches no key) gets ``end_turn`` with the
    text ``(fake API: script exhausted)``. The scripts are consumed in place.
    """
    lock = threading.Lock()
    queues = {key: deque(items) for key, items in scripts.items()}

    def handler(rec: Recorded) -> dict:
        system = json.dumps((rec.body or {}).get("system"), ensure_ascii=False)
        with lock:
            key = next((k for k in queues if k in system), None)
            item = queues[key].popleft() if key is not None and queues[key] else None
        if item is None:
            return reply(text("(fake API: script exhausted)"))
        return item(rec) if callable(item) else item

    return handler
