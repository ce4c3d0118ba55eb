"""Rendering of the roster, inbox messages and protocol requests for people, with rich.

Imported only on the human (non ``--json``) path, like :mod:`gitboard.cli.render`.
Every board value (names, team name, content, plan, reason, feedback, hosts,
times) goes to rich as :class:`rich.text.Text`, never parsed as markup.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterable, Mapping

from rich.console import Group, RenderableType
from rich.text import Text

from gitboard.board.message import Message
from gitboard.board.request import Request
from gitboard.board.text import safe
from gitboard.cli.render import line, plain, show, styled, table

__all__ = ["roster_table", "messages", "request_table", "request_line", "line", "show"]


def roster_table(doc: dict, inbox_counts: Mapping[str, int]) -> RenderableType:
    """The ``gitboard team --json`` document as a table: name, role, status, task, host, pid, inbox, updated."""
    title = plain(f"team {doc['team_name']}", "bold")
    if not doc["members"]:
        return Group(title, plain("no members (add one with 'gitboard team add NAME')"))
    t = table("name", "role", "status", "task", "host", "pid", "inbox", "updated")
    for m in doc["members"]:
        t.add_row(plain(m["name"]), plain(m["role"] or "-"), styled(m["status"]),
                      plain("-" if m["task"] is None else f"#{m['task']}"), plain(m["host"] or "-"),
                      plain("-" if m["pid"] is None else m["pid"]), str(inbox_counts.get(m["name"], 0)),
                      plain(m["updated_at"] or "-"))
    return Group(title, t)


def worktree_lines(doc: dict) -> None:
    """Print ``NAME's worktree: PATH`` for each member of a ``gitboard team --json`` document that has
    a worktree in this clone: whole paths on lines of their own, never wrapped or cut (copy-pastable)."""
    from gitboard.cli.render import console

    for m in doc["members"]:
        if m.get("worktree"):
            console.print(plain(f"{m['name']}'s worktree: {m['worktree']}"), soft_wrap=True)


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def messages(msgs: Iterable[Message], *, empty: str) -> RenderableType:
    """Messages oldest first: ``time  from -> to  [type request]`` then the content, indented."""
    n = 0
    parts: list[RenderableType] = []
    for m in msgs:
        n += 1
        head = plain(f"{_when(m.timestamp)}  {m.from_} -> {m.to}", "bold")
        if m.type != "message":
            extra = m.type
            if m.request_id:
                extra += f" {m.request_id}"
            if m.approve is not None:
                extra += " approve" if m.approve else " reject"
            head.append(f"  [{safe(extra)}]", style="cyan")
        parts.append(head)
        for ln in (m.content or "").splitlines() or [""]:
            parts.append(plain("  " + ln, multiline=True))
    return Group(*parts) if n else plain(empty)


def request_table(reqs: Iterable[Request]) -> RenderableType:
    """Requests: request_id, status, from, to, created, then the plan's first line or the reason."""
    rows = list(reqs)
    if not rows:
        return plain("no requests")
    t = table("request_id", "status", "from", "to", "created", "plan", wrap=("plan",))
    for r in rows:
        text = (r.plan or "").strip().splitlines()[0] if (r.plan or "").strip() else r.reason
        t.add_row(plain(r.request_id), styled(r.status), plain(r.from_),
                      plain(r.to), plain(r.created_at), plain(text))
    return t


def request_line(verb: str, r: Request) -> None:
    """Print one line about a request, e.g. ``plan request 3f2a... approved: looks good``."""
    why = r.reason if r.kind == "shutdown" else r.feedback
    line(f"{verb} {r.kind} request {r.request_id} ({r.from_} -> {r.to}, {r.status})" + (f": {why}" if why else ""))
