"""Choosing a teammate's agent (``--agent``) without importing the anthropic SDK.

The names come from the registry in :mod:`gitboard.agents.presets`: the built-in kinds
and the agent CLI presets (plus profiles added with ``git config gitboard.agent.<name>.*``).

- ``anthropic`` is the default when ``ANTHROPIC_API_KEY`` or
  ``ANTHROPIC_AUTH_TOKEN`` is set; :mod:`gitboard.agents.anthropic` is
  imported only when this agent is made (its SDK import costs over a second).
- ``shell`` is the default without a key (``spawn`` says so on stderr).
- ``exec`` needs ``--agent-cmd``; ``--agent-cmd`` alone means ``exec``.
- ``claude``, ``codex``, ``aider`` and configured profiles run :class:`~gitboard.agents.agent_cli.CliAgent`.
- An explicit ``--agent anthropic`` with no key is refused, naming the others.
"""

from __future__ import annotations

import os
from typing import Callable, Mapping

from gitboard.board.errors import Invalid
from gitboard.agents import presets
from gitboard.agents.base import Agent

KEY_VARS = ("ANTHROPIC_API_KEY", "ANTHROPIC_AUTH_TOKEN")


def has_key(env: Mapping[str, str] | None = None) -> bool:
    """True if ``ANTHROPIC_API_KEY`` or ``ANTHROPIC_AUTH_TOKEN`` is set (non-empty) in ``env``."""
    env = os.environ if env is None else env
    return any(env.get(k, "").strip() for k in KEY_VARS)


def choose(requested: str | None, agent_cmd: str | None = None, env: Mapping[str, str] | None = None,
           config: Mapping[str, str] | None = None) -> tuple[str, str | None]:
    """Return ``(agent name, note)``: the agent to run and a note for stderr when it was defaulted.

    Args:
        requested: ``--agent``, or None.
        agent_cmd: ``--agent-cmd``, or None.
        env: the environment (default ``os.environ``), for the key.
        config: the repository's ``gitboard.*`` git config (profiles and their overrides).

    Raises:
        Invalid: an unknown name; ``anthropic`` with no key (the message names
            ``shell`` and ``exec``); ``exec`` without ``--agent-cmd``; ``--agent-cmd``
            with another agent; a CLI profile whose git config is bad.
    """
    known = presets.names(config)
    if requested is not None and requested not in known:
        raise Invalid(f"unknown agent {requested!r}: expected one of {', '.join(known)}")
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
                    "each task's run command (--agent claude runs Claude Code; --agent exec --agent-cmd CMD "
                    "any agent CLI)")
    if kind == "anthropic" and not has_key(env):
        raise Invalid("--agent anthropic needs ANTHROPIC_API_KEY or ANTHROPIC_AUTH_TOKEN; without a key use "
                      "--agent shell (runs each task's run command), --agent claude (Claude Code, logged in on "
                      "its own) or --agent exec --agent-cmd CMD (an external agent CLI)")
    if kind == "exec" and not (agent_cmd or "").strip():
        raise Invalid("--agent exec needs --agent-cmd CMD (for example --agent-cmd 'my-agent --yes')")
    if kind != "exec" and agent_cmd:
        raise Invalid(f"--agent-cmd is for --agent exec, not --agent {kind}")
    if kind not in presets.BUILTIN:  # a bad git config override is refused now, not per task
        presets.profile(kind, config).argv({"worktree": ".", "prompt": "", "prompt_file": "p", "scratch": "."})
    return kind, note


def check_installed(kind: str, config: Mapping[str, str] | None = None) -> None:
    """Refuse a CLI agent whose program cannot be found (on ``PATH``, or at the path configured).

    Raises:
        Invalid: the program is missing; the message says how to point gitboard at it.
    """
    if kind in presets.BUILTIN:
        return
    import shutil

    program = presets.profile(kind, config).program[0]
    if shutil.which(os.path.expanduser(program)) is None:
        raise Invalid(f"--agent {kind}: {program!r} is not installed here (not an executable on PATH); install "
                      f"it, or point gitboard at it with git config gitboard.agent.{kind}.program PATH")


def check_plan_first(kind: str, config: Mapping[str, str] | None = None) -> None:
    """Refuse ``--plan-first`` for an agent that cannot submit a plan: it needs the anthropic agent
    (its plan_approval tool) or an agent CLI with gitboard's MCP server wired in (``mcp`` of its
    profile: Claude Code, Codex).

    Raises:
        Invalid: the agent has no way to submit a plan.
    """
    if kind == "anthropic":
        return
    if kind not in presets.BUILTIN and presets.profile(kind, config).mcp != "none":
        return
    raise Invalid(f"--plan-first needs an agent that can submit a plan: anthropic, or an agent CLI with "
                  f"gitboard's MCP server (claude, codex); not {kind}")


def _shell(agent_cmd: str | None, config: Mapping[str, str] | None) -> Agent:
    from gitboard.agents.shell import ShellAgent

    return ShellAgent()


def _exec(agent_cmd: str | None, config: Mapping[str, str] | None) -> Agent:
    if not agent_cmd:
        raise Invalid("--agent exec needs --agent-cmd CMD")
    from gitboard.agents.exec import ExecAgent

    return ExecAgent(agent_cmd)


def _anthropic(agent_cmd: str | None, config: Mapping[str, str] | None) -> Agent:
    from gitboard.agents.anthropic import AnthropicAgent

    return AnthropicAgent()


#: How each built-in kind is made (CLI profiles are made by :func:`make` from :mod:`presets`).
FACTORIES: dict[str, Callable[[str | None, Mapping[str, str] | None], Agent]] = {
    "shell": _shell, "exec": _exec, "anthropic": _anthropic}


def make(kind: str, agent_cmd: str | None = None, config: Mapping[str, str] | None = None) -> Agent:
    """Return an agent of ``kind`` (see :func:`choose`).

    Raises:
        Invalid: an unknown kind, ``exec`` without a command, or a bad CLI profile.
    """
    factory = FACTORIES.get(kind)
    if factory is not None:
        return factory(agent_cmd, config)
    from gitboard.agents.agent_cli import CliAgent

    return CliAgent(presets.profile(kind, config))
