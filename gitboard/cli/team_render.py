"""Rendering of the roster, inbox messages and protocol requests for people, with rich.

Imported only on the human (non ``--json``) path, like :mod:`gitboard.cli.render`.
Every board value (names, team name, content, plan, reason, feedback, hosts,
times) goes to rich as :class:`rich.text.Text`, never parsed as markup.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Iterable, Mapping

from rich.table import Table
from rich.text import Text

from gitboard.board.message import Message
from gitboard.board.request import Request
from gitboard.cli.render import console, line, plain

_MEMBER_STYLE = {"working": "cyan", "idle": "yellow", "shutdown": "dim", "dead": "bold red"}
_REQUEST_STYLE = {"pending": "yellow", "approved": "green", "rejected": "red"}

__all__ = ["roster_table", "messages", "request_table", "request_line", "line"]


def _table(*cols: str) -> Table:
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for col in cols:
        table.add_column(col, no_wrap=col not in ("plan", "content"))
    return table


def roster_table(doc: dict, inbox_counts: Mapping[str, int]) -> None:
    """Print the ``gitboard team --json`` document as a table: name, role, status, task, host, pid, inbox, updated."""
    console.print(plain(f"team {doc['team_name']}", "bold"))
    if not doc["members"]:
        console.print("no members (add one with 'gitboard team add NAME')")
        return
    table = _table("name", "role", "status", "task", "host", "pid", "inbox", "updated")
    for m in doc["members"]:
        table.add_row(plain(m["name"]), plain(m["role"] or "-"), plain(m["status"], _MEMBER_STYLE.get(m["status"], "")),
                      plain("-" if m["task"] is None else f"#{m['task']}"), plain(m["host"] or "-"),
                      plain("-" if m["pid"] is None else m["pid"]), str(inbox_counts.get(m["name"], 0)),
                      plain(m["updated_at"] or "-"))
    console.print(table)


def _when(ts: float) -> str:
    return datetime.fromtimestamp(ts, timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def messages(msgs: Iterable[Message], *, empty: str) -> None:
    """Print messages oldest first: ``time  from -> to  [type request]`` then the content, indented."""
    n = 0
    for m in msgs:
        n += 1
        head = Text(f"{_when(m.timestamp)}  {m.from_} -> {m.to}", style="bold")
        if m.type != "message":
            extra = m.type
            if m.request_id:
                extra += f" {m.request_id}"
            if m.approve is not None:
                extra += " approve" if m.approve else " reject"
            head.append(f"  [{extra}]", style="cyan")
        console.print(head)
        for ln in (m.content or "").splitlines() or [""]:
            console.print(Text("  " + ln))
    if not n:
        console.print(plain(empty))


def request_table(reqs: Iterable[Request]) -> None:
    """Print requests: request_id, status, from, to, created, then the plan's first line or the reason."""
    rows = list(reqs)
    if not rows:
        console.print("no requests")
        return
    table = _table("request_id", "status", "from", "to", "created", "plan")
    for r in rows:
        text = (r.plan or "").strip().splitlines()[0] if (r.plan or "").strip() else r.reason
        table.add_row(plain(r.request_id), plain(r.status, _REQUEST_STYLE.get(r.status, "")), plain(r.from_),
                      plain(r.to), plain(r.created_at), plain(text))
    console.print(table)


def request_line(verb: str, r: Request) -> None:
    """Print one line about a request, e.g. ``plan request 3f2a... approved: looks good``."""
    why = r.reason if r.kind == "shutdown" else r.feedback
    line(f"{verb} {r.kind} request {r.request_id} ({r.from_} -> {r.to}, {r.status})" + (f": {why}" if why else ""))
