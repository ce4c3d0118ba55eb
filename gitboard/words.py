"""The words and numbers of gitboard's human views, as plain strings: no rich, so that the
``--json`` paths and ``watch``'s non-terminal output can use them without importing it.
:mod:`gitboard.cli.render` re-exports them."""

from __future__ import annotations

from datetime import datetime

from gitboard.board.clock import parse_iso
from gitboard.board.snapshot import Board
from gitboard.board.task import Task


def state(board: Board, task: Task, now: datetime) -> str:
    """A short word for a task's readiness: ready, blocked, expired (lease), or its status."""
    if task.status == "pending":
        return "ready" if board.is_ready(task, now) else ("blocked" if not board.unblocked(task) else "pending")
    if task.status == "in_progress" and task.lease_expired(now):
        return "expired"
    return task.status


def countdown(until: str | None, now: datetime) -> str:
    """Time left until the ISO-8601 time ``until``: ``42s``, ``3m05s``, ``2h10m``; ``expired``
    once it has passed; ``-`` for none or an unreadable time."""
    if not until:
        return "-"
    try:
        left = int((parse_iso(until) - now).total_seconds())
    except ValueError:
        return "-"
    if left <= 0:
        return "expired"
    if left < 60:
        return f"{left}s"
    if left < 3600:
        return f"{left // 60}m{left % 60:02d}s"
    return f"{left // 3600}h{left % 3600 // 60:02d}m"


def blockers(task: Task) -> str:
    """``#1,#2`` for the task's blockedBy, ``-`` for none."""
    return ",".join(f"#{b}" for b in task.blockedBy) or "-"


def usd(cost: float | None, unpriced: int = 0) -> str:
    """A cost for people: ``$0.1912``; ``unknown`` when no cost is known; ``$0.1912+?`` when
    some of the tasks behind it are unpriced (their cost is unknown, not 0)."""
    if cost is None:
        return "unknown"
    return f"${cost:,.4f}" + ("+?" if unpriced else "")


def tokens(n: int) -> str:
    """A token count for people: ``38,680``."""
    return f"{n:,}"


def compact(n: int) -> str:
    """A count in at most five characters: ``950``, ``12.4k``, ``164k``, ``1.2M``, ``38M``."""
    for unit, size in (("G", 10**9), ("M", 10**6), ("k", 10**3)):
        if n >= size:
            v = n / size
            return f"{v:.1f}{unit}" if v < 10 else f"{v:.0f}{unit}"
    return str(n)
