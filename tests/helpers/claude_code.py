"""Running the real Claude Code CLI in tests, against the loopback Messages API (fake_messages_api.py).

The binary comes from ``npm install @anthropic-ai/claude-code``: ``.ci/run`` installs it into
``.ci-node/`` of the clone (gitignored) and exports ``TEST_CLAUDE_CODE_BIN`` with its path.
Developers point ``TEST_CLAUDE_CODE_BIN`` at their own install. Where it is missing, the
tests that need it skip and say why (``pytest -rs`` prints the reason; pyproject sets it).

What Claude Code 2.1 sends, as found with this server: ``POST /v1/messages?beta=true`` with
``"stream": true`` (so the server answers with Server-Sent Events), its tools (``Write``,
``Edit``, ``Bash`` ...), and a system prompt that names its working directory
(``Primary working directory: /abs/path``); its file tools take absolute paths.
"""

from __future__ import annotations

import os
import re
from typing import Callable

import pytest

from tests.helpers.npm_binaries import npm_binary
from tests.helpers.fake_messages_api import FakeMessagesAPI, Recorded, reply, text, tool_use

ENV_VAR = "TEST_CLAUDE_CODE_BIN"  # not GITBOARD_*: tests/conftest.py clears those
_CWD = re.compile(r"Primary working directory: (\S+)")


def claude_binary() -> str:
    """Return the path of the Claude Code binary, or skip the test saying why there is none."""
    return npm_binary(ENV_VAR, "claude", "@anthropic-ai/claude-code", "Claude Code")


def claude_env(api: FakeMessagesAPI) -> dict[str, str]:
    """The environment that points Claude Code at ``api`` and keeps it off the network."""
    return {"ANTHROPIC_BASE_URL": api.url, "ANTHROPIC_API_KEY": "anything",
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC": "1", "DISABLE_AUTOUPDATER": "1"}


@pytest.fixture
def claude(monkeypatch):
    """(binary, started fake API): Claude Code pointed at the server through this process's
    environment; skips where the binary is missing. Import it into a test module to use it."""
    binary = claude_binary()
    with FakeMessagesAPI() as api:
        for k, v in claude_env(api).items():
            monkeypatch.setenv(k, v)
        yield binary, api


def workdir(rec: Recorded) -> str:
    """The working directory Claude Code's system prompt names."""
    m = _CWD.search(rec.all_text())
    assert m, "Claude Code's system prompt names no working directory"
    return m.group(1)


def tool_results(rec: Recorded) -> int:
    """How many tool_result blocks the conversation holds (Claude Code may add a user message of
    its own after one, so the last message alone does not tell)."""
    return sum(1 for m in rec.messages for b in (m.get("content") if isinstance(m.get("content"), list) else [])
               if isinstance(b, dict) and b.get("type") == "tool_result")


def answered_tool(rec: Recorded) -> bool:
    """True if a tool call of the model was answered in the conversation so far."""
    return tool_results(rec) > 0


def write_then_say(name: str, content: str, final: str, *, first_usage: dict | None = None,
                   last_usage: dict | None = None) -> Callable[[Recorded], dict]:
    """A handler scripting one task: Write ``name`` (an absolute path in the working directory),
    then say ``final``. Usage per turn as given (defaults: 90 in / 10 out, then 100 in / 20 out,
    50 cache read, 30 cache write)."""
    first = {"input_tokens": 90, "output_tokens": 10, **(first_usage or {})}
    last = {"input_tokens": 100, "output_tokens": 20, "cache_read_input_tokens": 50,
            "cache_creation_input_tokens": 30, **(last_usage or {})}

    def handler(rec: Recorded) -> dict:
        if not (rec.body or {}).get("tools"):
            return reply(text("a title"))  # a side request without tools, if Claude Code makes one
        if answered_tool(rec):
            return reply(text(final), usage=last)
        return reply(tool_use("Write", {"file_path": os.path.join(workdir(rec), name), "content": content}),
                     usage=first)

    return handler
