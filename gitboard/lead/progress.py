"""The short form of a lead tool call, for the lead's progress lines (``  · task_create: Write hello.txt``).

:func:`gitboard.llm.conversation.short_input` knows the workspace and messaging tools a
teammate has; the lead's board and review tools (:mod:`gitboard.lead.tools`) would
otherwise print their whole input as JSON. :func:`short_lead_input` names what each call
is about: a task's subject or id, a teammate, a request, in one line.
"""

from __future__ import annotations

from typing import Any

from gitboard.llm.conversation import one_line, short_input


def _id(value: Any) -> str:
    return f"#{value}" if value is not None and value != "" else "#?"


def _ids(values: Any) -> str:
    return " ".join(_id(v) for v in values) if isinstance(values, list) and values else ""


def short_lead_input(name: str, args: Any) -> str:
    """One line saying what a call of lead tool ``name`` with input ``args`` is about; the
    short form of :func:`~gitboard.llm.conversation.short_input` for tools that are not the lead's."""
    if not isinstance(args, dict):
        return short_input(name, args)
    a = args.get
    if name == "task_create":
        blocked = _ids(a("blocked_by"))
        return one_line(str(a("subject", "")) + (f" (blocked by {blocked})" if blocked else ""))
    if name == "task_list":
        return one_line(a("status") or "")
    if name in ("task_get", "claim_task", "review_task"):
        return _id(a("task_id"))
    if name == "task_update":
        fields = [k for k in ("subject", "description", "blocked_by", "unblock", "status", "run", "role")
                  if a(k) not in (None, [], "")]
        said = ", ".join(f"{k} {a(k)}" if k in ("status", "subject") else k for k in fields)
        return one_line(f"{_id(a('task_id'))}" + (f": {said}" if said else ""))
    if name == "spawn_teammate":
        return one_line(f"{a('name', '')}" + (f" ({a('role')})" if a("role") else "")
                        + (f", {a('agent')} agent" if a("agent") else ""))
    if name in ("list_teammates", "read_inbox"):
        return ""
    if name == "broadcast":
        return one_line(a("content", ""))
    if name == "shutdown_request":
        return one_line(a("teammate", ""))
    if name == "shutdown_response":
        return one_line(a("request_id", ""))
    if name == "plan_approval":
        verdict = "approve" if a("approve") else "reject"
        return one_line(f"{a('request_id', '')} {verdict}" + (f": {a('feedback')}" if a("feedback") else ""))
    if name == "approve_task":
        return one_line(_id(a("task_id")) + (f": {a('note')}" if a("note") else ""))
    if name == "reject_task":
        return one_line(f"{_id(a('task_id'))}: {a('feedback', '')}")
    if name == "merge_tasks":
        return _ids(a("task_ids")) or "every approved task"
    return short_input(name, args)
