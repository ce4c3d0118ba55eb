"""Wiring gitboard's MCP server into an agent CLI a teammate runs; no SDK import.

The teammate runtime (:class:`gitboard.agents.agent_cli.CliAgent`) starts the agent CLI with
gitboard's MCP server configured, acting as the teammate on its task:

``python -m gitboard -C <worktree> mcp --as <name> [--task <id> --report <file>]``

- **Claude Code** (``mcp = claude``): a JSON file ``{"mcpServers": {"gitboard": {"type":
  "stdio", "command", "args", "env"}}}`` written in the run's scratch directory and passed
  with ``--mcp-config <file> --strict-mcp-config`` (only this server: an interactive
  ``gitboard`` entry in the user's own configuration, acting as someone else, is not
  loaded), and ``--allowedTools`` naming every tool of the server as Claude Code calls them
  (``mcp__gitboard__<tool>``), so that a ``-p`` run uses them without a permission prompt.
  Its environment gets :data:`CLAUDE_ENV`: ``ENABLE_TOOL_SEARCH=false`` (the tools are offered
  to the model directly, not behind a search tool), ``MCP_CONNECTION_NONBLOCKING=false`` (a
  ``-p`` run waits for the server to connect before its first request, or the first turn has
  no gitboard tools), ``MCP_TOOL_TIMEOUT`` (milliseconds) long enough for ``submit_plan``'s
  longest wait, and ``MCP_TIMEOUT`` (the server's start, :data:`STARTUP_TIMEOUT`).
- **Codex** (``mcp = codex``): ``-c mcp_servers.gitboard.command=...``, ``.args``, ``.env``,
  ``.tool_timeout_sec``, ``.startup_timeout_sec``, ``.startup_readiness="catalog"`` (the first
  turn waits for the server's tools; codex 0.171 still starts it without them now and then when
  the server is slow to start, and offers them from the next request) and ``.default_tools_approval_mode="approve"`` overrides (values in
  TOML), before its subcommand; without the last, ``codex exec`` (approval policy never) refuses
  every MCP tool call ("requires approval"). Codex offers the tools to its model as the
  namespace ``mcp__gitboard``. As codex-cli 0.171 reads them.

After the run, :func:`read_report` reads what the server recorded for the runtime (the agent's
``done_task``/``fail_task`` verdict, plan answers, a shutdown it approved).

The server's environment is given explicitly (Claude Code and Codex start MCP servers with a
reduced environment): git's and gitboard's variables, ``HOME``, ``PATH``, the locale, the
Python ones, and the task's (``GITBOARD_ACTOR``, ``GITBOARD_TASK`` ...) -- never an API key.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

from gitboard.mcp import catalog
from gitboard.mcp.catalog import MAX_PLAN_TIMEOUT

#: Environment variables passed to the server by name ...
PASS_NAMES = ("HOME", "PATH", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TMPDIR", "PYTHONPATH",
              "PYTHONHOME", "PYTHONDONTWRITEBYTECODE", "VIRTUAL_ENV", "SSH_AUTH_SOCK")
#: ... and by prefix.
PASS_PREFIXES = ("GIT_", "GITBOARD_", "XDG_")
#: Milliseconds Claude Code waits for one MCP tool call: submit_plan's longest wait and a minute.
TOOL_TIMEOUT_MS = int((MAX_PLAN_TIMEOUT + 60) * 1000)
#: Seconds an agent CLI waits for the server to start (Python and the SDK load in about a second,
#: many more on a loaded machine; the CLIs' defaults are 10 to 30 s).
STARTUP_TIMEOUT = 120
#: Claude Code's environment for a run with the server (variables as Claude Code 2.1 reads them).
CLAUDE_ENV = {"ENABLE_TOOL_SEARCH": "false", "MCP_CONNECTION_NONBLOCKING": "false",
              "MCP_TOOL_TIMEOUT": str(TOOL_TIMEOUT_MS), "MCP_TIMEOUT": str(STARTUP_TIMEOUT * 1000)}


@dataclass
class Wiring:
    """What to add to one run of an agent CLI.

    Attributes:
        args: arguments to insert right after the program.
        env: environment entries for the CLI.
        report: the file where the server records the agent's verdict and plan answers
            (:func:`read_report`), or None.
        tools: the names under which the CLI offers the tools to its model.
    """

    args: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    report: Path | None = None
    tools: list[str] = field(default_factory=list)


def read_report(path: str | os.PathLike) -> dict:
    """Return the report a runtime-wired server wrote (``{"task": N, "done": {"ok", "note"},
    "plan": {"request_id", "status", "feedback"} (the last answer), "answered": [request_id]
    (every plan answered to the agent), "shutdown": {"request_id", "approve"} (the agent's answer
    to a shutdown_request)}``, keys present once set), or ``{}`` if there is none or it does not
    parse."""
    try:
        doc = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return {}
    return doc if isinstance(doc, dict) else {}


def server_argv(repo_dir: str | os.PathLike, actor: str, task: int | None = None,
                report: str | os.PathLike | None = None, lease: float | None = None) -> list[str]:
    """Return the command line that starts the server: this interpreter, ``-m gitboard -C DIR mcp --as NAME``
    (plus ``--lease SECONDS``, the teammate's, and ``--task ID --report FILE`` for a runtime-wired task)."""
    argv = [sys.executable, "-m", "gitboard", "-C", str(repo_dir), "mcp", "--as", actor]
    if lease is not None:
        argv += ["--lease", repr(float(lease))]
    if task is not None and report is not None:
        argv += ["--task", str(task), "--report", str(report)]
    return argv


def server_env(env: Mapping[str, str], extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """Return the server's environment: the entries of ``env`` named in :data:`PASS_NAMES` or
    starting with :data:`PASS_PREFIXES`, then ``extra``."""
    out = {k: v for k, v in env.items() if k in PASS_NAMES or k.startswith(PASS_PREFIXES)}
    out.update(extra or {})
    return out


def claude_config(argv: Sequence[str], env: Mapping[str, str]) -> dict:
    """Return Claude Code's ``--mcp-config`` document for the server ``argv`` with ``env``."""
    return {"mcpServers": {catalog.SERVER_NAME: {"type": "stdio", "command": argv[0], "args": list(argv[1:]),
                                                 "env": dict(env)}}}


def _toml(value: object) -> str:
    """``value`` (a str, or a list or dict of str) as a TOML value (JSON's string escapes are TOML's)."""
    if isinstance(value, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return json.dumps(str(value))


def codex_args(argv: Sequence[str], env: Mapping[str, str]) -> list[str]:
    """Return Codex's ``-c`` overrides that configure the server ``argv`` with ``env``."""
    key = f"mcp_servers.{catalog.SERVER_NAME}"
    return ["-c", f"{key}.command={_toml(argv[0])}", "-c", f"{key}.args={_toml(list(argv[1:]))}",
            "-c", f"{key}.env={_toml(dict(env))}", "-c", f"{key}.tool_timeout_sec={int(TOOL_TIMEOUT_MS / 1000)}",
            "-c", f"{key}.startup_timeout_sec={STARTUP_TIMEOUT}", "-c", f'{key}.startup_readiness="catalog"',
            "-c", f'{key}.default_tools_approval_mode="approve"']


def wire(mode: str, *, repo_dir: str | os.PathLike, actor: str, task: int | None, scratch: Path,
         env: Mapping[str, str], task_env: Mapping[str, str] | None = None, lease: float | None = None) -> Wiring:
    """Return the :class:`Wiring` of one run of an agent CLI with gitboard's server.

    Args:
        mode: ``claude``, ``codex``, or ``none``/"" (no server: an empty Wiring).
        repo_dir: the worktree the agent works in (the server opens its repository).
        actor: the teammate.
        task: the task the run works on (None or 0: a session started by messages).
        scratch: the run's private directory (the config and the report go there).
        env: the teammate's environment; task_env: the task's entries (``GITBOARD_ACTOR`` ...).
        lease: seconds of a claim the agent makes through the server (the teammate's ``--lease``).
    """
    if mode not in ("claude", "codex"):
        return Wiring()
    report = scratch / "gitboard-mcp-report.json" if task else None
    argv = server_argv(repo_dir, actor, task or None, report, lease)
    senv = server_env(env, task_env)
    names = catalog.tool_names(actor)
    if mode == "claude":
        path = scratch / "gitboard-mcp.json"
        path.write_text(json.dumps(claude_config(argv, senv), indent=2) + "\n")
        tools = [catalog.claude_name(n) for n in names]
        return Wiring(args=["--mcp-config", str(path), "--strict-mcp-config", "--allowedTools", ",".join(tools)],
                      env=dict(CLAUDE_ENV),
                      report=report, tools=tools)
    return Wiring(args=codex_args(argv, senv), report=report,
                  tools=[f"{catalog.SERVER_NAME}.{n}" for n in names])


def prompt_text(wiring: Wiring, *, task: int | None, plan_first: bool) -> str:
    """The paragraph of the agent's prompt that says which tools it has (and, with ``plan_first``,
    that it must have a plan approved before it changes anything)."""
    if not wiring.tools:
        return ""
    by_name = {**catalog.TEAMMATE_TOOLS, **catalog.LEAD_TOOLS}
    lines = ["", "You have gitboard's MCP tools, acting as yourself on the team's board:"]
    for full in wiring.tools:
        short = full.rsplit("__", 1)[-1].rsplit(".", 1)[-1]
        lines.append(f"- {full}: {by_name.get(short, '')}")
    lines.append("Message the lead with send_message (to 'lead') when you need a decision or want to report.")
    if task:
        lines.append(f"When task #{task} is finished, call done_task (task_id {task}) with a short note, or "
                     f"fail_task with the reason if you cannot do it; then end. gitboard commits and pushes your "
                     f"work and marks the task.")
    if plan_first:
        lines.append("PLAN FIRST: before you change any file, call submit_plan with your plan and wait for "
                     "its answer. If the lead rejects it, read the feedback, revise the plan and submit it "
                     "again. Start the work only once a plan is approved: work done without an approved "
                     "plan fails the task.")
    return "\n".join(lines) + "\n"
