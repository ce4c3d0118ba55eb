"""``gitboard mcp``: the board's MCP server on stdio (see :mod:`gitboard.mcp`).

The SDK is imported inside the command: no other command pays for it.
"""

from __future__ import annotations

from typing import Optional

import typer

from gitboard.board.errors import Invalid
from gitboard.cli.common import AS_OPT, GLOBALS, OFFLINE_OPT, actor_name, emit


def mcp(
    as_: Optional[str] = AS_OPT,
    lease: float = typer.Option(600.0, "--lease", metavar="SECONDS", help="Lease of a claim made through the server (and of a renewal)."),
    task: Optional[int] = typer.Option(None, "--task", metavar="ID", min=1, hidden=True,
                                       help="The task the teammate runtime runs this agent on (with --report)."),
    report: Optional[str] = typer.Option(None, "--report", metavar="FILE", hidden=True,
                                         help="Where done_task/fail_task on --task and plan answers are recorded for the runtime."),
    offline: bool = OFFLINE_OPT,
    tools: bool = typer.Option(False, "--tools", help="Print the tools NAME is offered (Claude Code names them mcp__gitboard__TOOL) and exit; serve nothing."),
    json_: bool = typer.Option(False, "--json", help="With --tools: print [{\"name\", \"description\", \"lead\"}]. (The server's stdout is the MCP stream.)"),
) -> None:
    """Serve the board's tools over MCP on stdio, acting as NAME (--as; default $GITBOARD_ACTOR, else lead).

    For an agent CLI: 'claude mcp add gitboard -- gitboard mcp --as alice', or Codex's
    mcp_servers.gitboard. Teammates get the tools to list, show, claim, renew and finish
    tasks, message the team, read their inbox, submit a plan and wait for the lead's answer,
    answer a shutdown request and see the roster; the lead (--as lead) also adds, imports and
    updates tasks, reviews, approves and rejects work, runs the merge queue, stops teammates
    and answers plans. Runs until the client closes stdin. See docs/guides/mcp.md.
    """
    import math

    from gitboard.board.task_ops import MAX_LEASE
    from gitboard.client import BoardClient

    actor = actor_name(as_)
    if json_ and not tools:
        raise Invalid("--json goes with --tools: the server's stdout is the MCP stream")
    if tools:
        from gitboard.mcp import catalog

        listed = [{"name": n, "description": {**catalog.TEAMMATE_TOOLS, **catalog.LEAD_TOOLS}[n],
                   "lead": n in catalog.LEAD_TOOLS} for n in catalog.tool_names(actor)]

        def human() -> None:
            import sys

            for t in listed:
                sys.stdout.write(f"{t['name']:16} {t['description']}\n")

        emit(json_, listed, human)
        return
    if not (math.isfinite(lease) and 0 < lease <= MAX_LEASE):
        raise Invalid(f"--lease must be a positive number of seconds up to {MAX_LEASE:.0f}, not {lease:g}")
    if (task is None) != (report is None):
        raise Invalid("--task and --report go together")
    client = BoardClient(GLOBALS.repo_dir, actor, offline=offline or None)
    with client.open() as repo:  # not a repository: one error line now, not a server that fails every call
        repo.common_dir
    from gitboard.mcp.server import serve
    from gitboard.mcp.tools import BoardTools

    serve(BoardTools(client, lease=lease, task=task, report=report))
