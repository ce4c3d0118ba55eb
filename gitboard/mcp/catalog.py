"""The tools of gitboard's MCP server: names, one-line descriptions, and who may call them.

Pure data, no SDK import: the server (:mod:`gitboard.mcp.server`) registers these names,
and the teammate runtime lists them in an agent CLI's prompt and permission settings
(:mod:`gitboard.mcp.config`). Agent CLIs show an MCP tool under a name of their own:
Claude Code as ``mcp__gitboard__<tool>``, Codex as ``gitboard.<tool>``.
"""

from __future__ import annotations

from gitboard.board.names import LEAD

#: Longest ``submit_plan`` wait (seconds); agent CLIs' tool timeouts allow for it.
MAX_PLAN_TIMEOUT = 3600.0

#: The server's name in agent CLIs' MCP configuration (``mcp__gitboard__<tool>`` in Claude Code).
SERVER_NAME = "gitboard"

#: Every member's tools: name -> one line.
TEAMMATE_TOOLS: dict[str, str] = {
    "list_tasks": "List tasks sorted by id (filters: status, owner, ready, role; a page of at most limit).",
    "show_task": "Show one task.",
    "claim_task": "Claim a task by id, or the next ready one (no id), with a lease.",
    "renew_task": "Renew the lease on a task you own.",
    "done_task": "Mark your task completed, with a note.",
    "fail_task": "Mark your task failed, with a note saying why.",
    "send_message": "Send a message to a member's inbox (the lead is 'lead').",
    "broadcast": "Send one message to every member but you.",
    "read_inbox": "Read your inbox (drained: each message is returned once), oldest first.",
    "ack_messages": "Remove messages you read with read_inbox(peek=true) from your inbox, by id.",
    "submit_plan": "Submit a plan to the lead and wait for approval or feedback (with a timeout).",
    "answer_shutdown": "Answer a shutdown_request from the lead: approve (you stop) or reject with a reason.",
    "roster": "Show the team's roster: members, roles, statuses and tasks.",
}

#: The lead's tools (``gitboard mcp --as lead`` only): name -> one line.
LEAD_TOOLS: dict[str, str] = {
    "add_task": "Add a task (subject, description, blockers, run command, role).",
    "import_tasks": "Add many tasks in one commit (item k gets the highest id + k; blockedBy may name earlier items so).",
    "update_task": "Edit a task: subject, description, blockers, status, run command, role.",
    "review_task": "Show a completed task's review: its commits, files and diff against the base branch.",
    "approve_task": "Approve a completed task for the merge queue.",
    "reject_task": "Send a completed task back for rework, with feedback.",
    "merge": "Run the merge queue (with the configured check) over the approved tasks.",
    "stop_teammate": "Ask a teammate to shut down (a shutdown_request).",
    "answer_plan": "Approve a teammate's plan, or reject it with feedback.",
    "pending_plans": "List the plans waiting for your answer.",
}


def tool_names(actor: str) -> list[str]:
    """Return the names of the tools ``actor`` is offered: the teammate's, and the lead's for ``lead``."""
    return list(TEAMMATE_TOOLS) + (list(LEAD_TOOLS) if actor == LEAD else [])


def claude_name(tool: str) -> str:
    """Return how Claude Code names ``tool`` of this server: ``mcp__gitboard__<tool>``."""
    return f"mcp__{SERVER_NAME}__{tool}"
