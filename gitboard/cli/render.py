"""Rendering for people, with rich. Imported only on the human (non ``--json``) path.

Board text (subjects, descriptions, names, commit subjects ...) is never parsed as
rich markup: it goes to rich as :class:`rich.text.Text` (see :func:`plain`), so a
subject like ``[/]`` or ``[bold]`` prints as typed.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Iterable

from rich.console import Console
from rich.table import Table
from rich.text import Text

from gitboard.board.snapshot import Board
from gitboard.board.task import Task

console = Console(highlight=False)

_STATUS_STYLE = {"pending": "yellow", "in_progress": "cyan", "completed": "green", "failed": "red"}


def plain(value: Any, style: str = "") -> Text:
    """Return ``value`` (converted with ``str``) as a :class:`Text` that rich prints literally, never as markup."""
    return Text(value if isinstance(value, str) else str(value), style=style)


def state(board: Board, task: Task, now: datetime) -> str:
    """A short word for a task's readiness: ready, blocked, expired (lease), or its status."""
    if task.status == "pending":
        return "ready" if board.is_ready(task, now) else ("blocked" if not board.unblocked(task) else "pending")
    if task.status == "in_progress" and task.lease_expired(now):
        return "expired"
    return task.status


def task_table(board: Board, tasks: Iterable[Task], now: datetime) -> None:
    """Print tasks as a table: id, state, owner, role, blockedBy, subject."""
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for col in ("id", "state", "owner", "role", "blockedBy", "subject"):
        table.add_column(col, justify="right" if col == "id" else "left", no_wrap=col != "subject")
    n = 0
    for t in tasks:
        n += 1
        st = state(board, t, now)
        table.add_row(str(t.id), plain(st, _STATUS_STYLE.get(t.status, "")), plain(t.owner or "-"),
                      plain(t.role or "-"), ",".join(f"#{b}" for b in t.blockedBy) or "-", plain(t.subject))
    if n:
        console.print(table)
    else:
        console.print("no tasks")


def task_detail(board: Board, task: Task, now: datetime) -> None:
    """Print every field of one task: the id and subject, then one ``name  value`` row per field,
    the description and the result (as JSON). Field values are printed literally."""
    console.print(Text(f"#{task.id} {task.subject}", style="bold"))
    rows: list[tuple[str, Any]] = [
        ("state", state(board, task, now)), ("status", task.status), ("owner", task.owner or "-"),
        ("blockedBy", ", ".join(f"#{b}" for b in task.blockedBy) or "-"), ("role", task.role or "-"),
        ("run", task.run or "-"), ("created", task.created_at), ("updated", task.updated_at),
        ("claimed", task.claimed_at or "-"), ("lease until", task.lease_expires_at or "-"),
    ]
    for k, v in rows:
        console.print(Text.assemble(("  " + f"{k:<12}", "dim"), plain(v)), highlight=False)
    if task.description:
        console.print()
        console.print(Text(task.description))
    if task.result is not None:
        import json
        console.print()
        console.print(Text("  result", style="dim"))
        console.print(Text(json.dumps(task.result, indent=2, ensure_ascii=False)))


def line(message: str) -> None:
    """Print one line of plain text (no markup)."""
    console.print(Text(message))


def history_table(entries: list[dict]) -> None:
    """Print board history entries (dicts with commit, time, action, task, actor, subject; the
    trailers' values may be None) as a table, every value literally."""
    table = Table(show_edge=False, pad_edge=False, box=None, header_style="bold")
    for col in ("commit", "time", "action", "task", "actor", "subject"):
        table.add_column(col, no_wrap=col != "subject")
    for e in entries:
        table.add_row(e["commit"][:10], plain(e["time"] or ""), plain(e["action"] or "-"),
                      plain("-" if e["task"] is None else e["task"]), plain(e["actor"] or "-"), plain(e["subject"]))
    console.print(table if entries else "no history")
