"""A loopback HTTP server that speaks enough of OpenAI's Responses API for the real Codex CLI.

codex-cli (0.171) reaches it through a model provider given on its command line::

    -c model_provider="fake"
    -c 'model_providers.fake={name="fake", base_url="http://127.0.0.1:PORT/v1", wire_api="responses",
                              env_key="OPENAI_API_KEY", supports_websockets=false}'

It sends ``POST /v1/responses`` with ``"stream": true`` and its tools (``exec_command {cmd}``
...), and a request after a tool call carries a ``function_call_output`` item. Each request
is answered as Server-Sent Events: ``response.created``, one ``response.output_item.done``
per output item, ``response.completed`` with ``usage``. ``handler(body) -> (items, usage)``
decides, or ``(status, message)`` for an HTTP error.
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable

Answer = tuple[list[dict], dict] | tuple[int, str]


def message(text: str) -> dict:
    """An assistant message output item."""
    return {"type": "message", "role": "assistant", "id": "msg_fake",
            "content": [{"type": "output_text", "text": text}]}


def exec_command(cmd: str, call_id: str = "call_1") -> dict:
    """A function_call output item for codex's ``exec_command`` tool."""
    return {"type": "function_call", "id": f"fc_{call_id}", "call_id": call_id, "name": "exec_command",
            "arguments": json.dumps({"cmd": cmd})}


def usage(input_tokens: int, output_tokens: int, cached: int = 0) -> dict:
    """A Responses API usage object (tokens)."""
    return {"input_tokens": input_tokens, "input_tokens_details": {"cached_tokens": cached},
            "output_tokens": output_tokens, "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": input_tokens + output_tokens}


def tool_outputs(body: dict) -> int:
    """How many function_call_output items the request's input holds."""
    return sum(1 for item in body.get("input") or [] if isinstance(item, dict)
               and item.get("type") == "function_call_output")


class FakeResponsesAPI:
    """The server. Attributes: ``requests`` (JSON bodies received), ``handler``, ``url`` (``.../v1``)."""

    def __init__(self, handler: Callable[[dict], Answer]) -> None:
        self.handler = handler
        self.requests: list[dict] = []
        api = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def _reply(self, status: int, ctype: str, data: bytes) -> None:
                self.send_response(status)
                self.send_header("content-type", ctype)
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                self._reply(404, "application/json", b'{"error": {"message": "no route"}}')

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("content-length") or 0))
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {}
                api.requests.append(body)
                if self.path.split("?")[0] != "/v1/responses":
                    self._reply(404, "application/json", b'{"error": {"message": "no route"}}')
                    return
                answer = api.handler(body)
                if isinstance(answer[0], int):
                    status, text = answer  # type: ignore[misc]
                    err = {"error": {"message": text, "type": "invalid_request_error", "code": None}}
                    self._reply(status, "application/json", json.dumps(err).encode())
                    return
                items, used = answer  # type: ignore[misc]
                events = [{"type": "response.created", "response": {"id": "resp_fake"}}]
                events += [{"type": "response.output_item.done", "item": item} for item in items]
                events.append({"type": "response.completed", "response": {"id": "resp_fake", "usage": used}})
                data = "".join(f"event: {e['type']}\ndata: {json.dumps(e)}\n\n" for e in events).encode()
                self._reply(200, "text/event-stream", data)

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True

    def __enter__(self) -> "FakeResponsesAPI":
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        self._server.server_close()

    @property
    def url(self) -> str:
        """The provider's base URL, ``http://127.0.0.1:<port>/v1``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    def provider_args(self) -> str:
        """The codex options (as one shell-quoted string, for ``gitboard.agent.codex.extra-args``) that use it."""
        provider = (f'model_providers.fake={{name="fake", base_url="{self.url}", wire_api="responses", '
                    f'env_key="OPENAI_API_KEY", supports_websockets=false}}')
        return f"-c 'model_provider=\"fake\"' -c '{provider}' -c 'model=\"gpt-test\"'"
