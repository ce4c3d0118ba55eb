"""Choosing a teammate's agent (``--agent``) without importing the anthropic SDK.

- ``anthropic`` is the default when ``ANTHROPIC_API_KEY`` or
  ``ANTHROPIC_AUTH_TOKEN`` is set; :mod:`gitboard.team.anthropic_agent` is
  imported only when this agent is made (its SDK import costs over a second).
- ``shell`` is the default without a key (``spawn`` says so on stderr).
- ``exec`` needs ``--agent-cmd``.
- An explicit ``--agent anthropic`` with no key is refused, naming the others.
"""

from __future__ import annotations

import os
from typing import Mapping

from gitboard.board.errors import Invalid
from gitboard.team.agent import Agent

AGENTS = ("anthropic", "shell", "exec")
KEY_VARS = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")


def has_key(env: Mapping[str, str] | None = None) -> bool:
    """True if ``ANTHROPIC_API_KEY`` or ``ANTHROPIC_AUTH_TOKEN`` is set (non-empty) in ``env``."""
    env = os.environ if env is None else env
    return any(env.get(k, "").strip() for k in KEY_VARS)


def choose(requested: str | None, agent_cmd: str | None = None,
           env: Mapping[str, str] | None = None) -> tuple[str, str | None]:
    """Return ``(agent kind, note)``: the agent to run and a note for stderr when it was defaulted.

    Raises:
        Invalid: an unknown kind; ``anthropic`` with no key (the message names
            ``shell`` and ``exec``); ``exec`` without ``--agent-cmd``;
            ``--agent-cmd`` with another agent.
    """
    if requested is not None and requested not in AGENTS:
        raise Invalid(f"unknown agent {requested!r}: expected one of {', '.join(AGENTS)}")
    note = None
    kind = requested
    if kind is None:
        if agent_cmd:
            kind = "exec"
        elif has_key(env):
            kind = "anthropic"
        else:
            kind = "shell"
            note = ("no ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN set: using the shell agent, which runs "
                    "each task's run command (--agent exec --agent-cmd CMD runs an agent CLI)")
    if kind == "anthropic" and not has_key(env):
        raise Invalid("--agent anthropic needs ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN; without a key use "
                      "--agent shell (runs each task's run command) or --agent exec --agent-cmd CMD "
                      "(an external agent CLI)")
    if kind == "exec" and not (agent_cmd or "").strip():
        raise Invalid("--agent exec needs --agent-cmd CMD (for example --agent-cmd 'claude -p')")
    if kind != "exec" and agent_cmd:
        raise Invalid(f"--agent-cmd is for --agent exec, not --agent {kind}")
    return kind, note


def make(kind: str, agent_cmd: str | None = None) -> Agent:
    """Return an agent of ``kind`` (see :func:`choose`).

    Raises:
        Invalid: an unknown kind, or ``exec`` without a command.
    """
    if kind == "shell":
        from gitboard.team.shell_agent import ShellAgent

        return ShellAgent()
    if kind == "exec":
        if not agent_cmd:
            raise Invalid("--agent exec needs --agent-cmd CMD")
        from gitboard.team.exec_agent import ExecAgent

        return ExecAgent(agent_cmd)
    if kind == "anthropic":
        from gitboard.team.anthropic_agent import AnthropicAgent

        return AnthropicAgent()
    raise Invalid(f"unknown agent {kind!r}: expected one of {', '.join(AGENTS)}")
