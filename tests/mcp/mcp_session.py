"""Driving ``gitboard mcp`` with the MCP SDK's own stdio client, from synchronous tests.

:func:`session` starts ``python -m gitboard -C <repo> mcp ...`` through
``mcp.client.stdio.stdio_client`` (a real subprocess speaking MCP on its stdin and stdout)
and yields a :class:`Session` whose methods block: each runs the SDK's coroutine on an
event loop that a helper thread keeps for the session.
"""

from __future__ import annotations

import asyncio
import os
import sys
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Iterator

from mcp import ClientSession, StdioServerParameters
from mcp.client.stdio import stdio_client


class Session:
    """A connected MCP client session; every method blocks until the server answers."""

    def __init__(self, loop: asyncio.AbstractEventLoop, client: ClientSession) -> None:
        self._loop = loop
        self._client = client

    def _run(self, coro: Any, timeout: float = 120.0) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    def tool_names(self) -> list[str]:
        """The names ``tools/list`` gives."""
        return [t.name for t in self._run(self._client.list_tools()).tools]

    def tools(self) -> list[Any]:
        """The ``Tool`` objects ``tools/list`` gives."""
        return list(self._run(self._client.list_tools()).tools)

    def call(self, name: str, /, **arguments: Any) -> Any:
        """``tools/call``: the ``CallToolResult``."""
        return self._run(self._client.call_tool(name, arguments))

    def ok(self, name: str, /, **arguments: Any) -> Any:
        """Call a tool that must succeed; return its structured content."""
        res = self.call(name, **arguments)
        assert not res.is_error, res.content[0].text
        assert res.content and res.content[0].type == "text" and res.content[0].text.strip()
        assert isinstance(res.structured_content, dict)
        return res.structured_content

    def error(self, name: str, /, **arguments: Any) -> str:
        """Call a tool that must fail with a board error; return its one line of text."""
        res = self.call(name, **arguments)
        assert res.is_error, res.content[0].text
        text = res.content[0].text
        assert text.startswith("gitboard: error: ") and "\n" not in text, text
        assert res.structured_content["error"]["message"] == text.removeprefix("gitboard: error: ")
        return text


@contextmanager
def session(repo: Path | str, *args: str, env: dict[str, str] | None = None) -> Iterator[Session]:
    """Run ``gitboard -C repo mcp ARGS...`` and yield a connected :class:`Session`."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    params = StdioServerParameters(command=sys.executable, args=["-m", "gitboard", "-C", str(repo), "mcp", *args],
                                   env={**os.environ, **(env or {})})
    state: dict[str, Any] = {}
    closing = asyncio.Event()

    async def hold() -> None:
        async with stdio_client(params, errlog=sys.stderr) as (r, w):
            async with ClientSession(r, w) as client:
                await client.initialize()
                state["client"] = client
                state["ready"].set()
                await closing.wait()

    async def start() -> None:
        state["ready"] = asyncio.Event()
        state["task"] = asyncio.ensure_future(hold())
        waiter = asyncio.ensure_future(state["ready"].wait())
        done, _ = await asyncio.wait({state["task"], waiter}, timeout=60, return_when=asyncio.FIRST_COMPLETED)
        if state["task"] in done:
            state["task"].result()  # raises what went wrong
        if waiter not in done:
            raise AssertionError("gitboard mcp did not answer initialize within 60 s")

    asyncio.run_coroutine_threadsafe(start(), loop).result(90)
    try:
        yield Session(loop, state["client"])
    finally:
        loop.call_soon_threadsafe(closing.set)
        try:
            asyncio.run_coroutine_threadsafe(asyncio.wait_for(state["task"], 30), loop).result(40)
        finally:
            loop.call_soon_threadsafe(loop.stop)
            thread.join(10)
