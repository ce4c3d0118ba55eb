"""What the board's views show, as plain data: no rich, no web stack.

``gitboard watch`` (its frame in :mod:`gitboard.cli.watch_view`, its ``--json`` documents and
its one line per tip) and the web board (:mod:`gitboard.web`) both gather the task states,
the merge queue, the teammates and the cost here, so the two never disagree."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Sequence

from gitboard.board import cost as costs
from gitboard.board import merge_order as queue
from gitboard.board.snapshot import Board
from gitboard.board.task import COMPLETED, DONE, MERGED, PENDING, Task
from gitboard import words


#: Task states in display order (see :func:`gitboard.words.state`), and ``review``:
#: a completed task waiting for review or merge.
ORDER = ("expired", "in_progress", "ready", "pending", "blocked", "rework", "completed", "failed", "merged")


@dataclass(frozen=True)
class Mate:
    """What the view shows of one teammate.

    Attributes:
        name: the teammate's name.
        status: working, idle, shutdown (the roster's), or dead (its process on this host is gone).
        task: the id it works on, or None.
        last_line: the last line of its log in this clone ("" when there is none here).
    """

    name: str
    status: str
    task: int | None = None
    last_line: str = ""


@dataclass(frozen=True)
class Source:
    """Where the board comes from, for the header: ``remote`` (None: local), when it was last
    fetched (seconds ago, None: not yet), and the last fetch error ("" when it worked)."""

    remote: str | None = None
    fetched_ago: float | None = None
    error: str = ""


def in_rework(task: Task) -> bool:
    """True if a pending task has been sent back (it has ``rework`` records)."""
    return task.status == PENDING and bool(task.rework)


def view_state(board: Board, task: Task, now: datetime) -> str:
    """The state word of a task in the view: :func:`gitboard.words.state`, with ``rework`` for a ready
    or blocked task sent back by review, the queue or a check."""
    word = words.state(board, task, now)
    return "rework" if word in ("ready", "blocked", "pending") and in_rework(task) else word


def open_blockers(board: Board, task: Task) -> str:
    """``#2,#3``: the task's blockers not yet completed or merged; ``-`` for none, or once it has started."""
    if task.status != "pending":
        return "-"
    waits = [b for b in task.blockedBy if b not in board.tasks or board.tasks[b].status not in DONE]
    return ",".join(f"#{b}" for b in waits) or "-"


def task_cost(task: Task) -> str:
    """The cost cell: ``$0.0421``, ``12.4k tok`` for a task with tokens but no cost, ``-`` for none."""
    usage = costs.usage_of(task)
    if usage is None:
        return "-"
    cost = costs.cost_of(task)
    if cost is not None:
        return words.usd(cost)
    n = sum(usage.values())
    return f"{words.compact(n)} tok" if n else "unknown"


def tally(states: dict[int, str]) -> list[tuple[str, int]]:
    """``(state, number of tasks)`` for every state present, in :data:`ORDER`."""
    seen: dict[str, int] = {}
    for word in states.values():
        seen[word] = seen.get(word, 0) + 1
    return [(s, seen[s]) for s in list(ORDER) + sorted(set(seen) - set(ORDER)) if s in seen]


def status_line(board: Board, now: datetime) -> str:
    """One plain line about the board, for a ``watch`` whose output is not a terminal:
    ``15:04:05 board 3f2a9c1d07: 12 tasks (1 in_progress, 3 ready, ...); tokens 48,210; cost $0.2321+?``."""
    states = {t.id: view_state(board, t, now) for t in board.tasks.values()}
    detail = ", ".join(f"{n} {s}" for s, n in tally(states))
    whole = costs.total(board)
    return (f"{now.strftime('%H:%M:%S')} board {(board.tip or '-')[:10]}: {len(board.tasks)} tasks"
            f" ({detail}); tokens {whole.tokens:,}; cost {words.usd(whole.cost_usd, whole.unpriced) if whole.tasks else '-'}")


def queue_ids(board: Board, require_review: bool = True) -> dict[str, list[int]]:
    """The merge queue as ids, each list by id: ``review`` (completed, waiting for the lead's
    approval), ``queued`` (candidates of ``gitboard merge``: approved, or every completed task
    when review is off -- ``require_review`` False, ``git config gitboard.review none``),
    ``rework`` (sent back, pending again) and ``merged``."""
    out: dict[str, list[int]] = {"review": [], "queued": [], "rework": [], "merged": []}
    for tid in sorted(board.tasks):
        t = board.tasks[tid]
        if t.status == COMPLETED:
            out["queued" if queue.is_candidate(t, require_review) else "review"].append(tid)
        elif t.status == MERGED:
            out["merged"].append(tid)
        elif in_rework(t):
            out["rework"].append(tid)
    return out


def document(board: Board, mates: Sequence[Mate], now: datetime, require_review: bool = True) -> dict:
    """What a frame shows, as the ``watch --json`` document::

        {"tip": str, "at": ISO-8601 UTC, "tasks": {state: count}, "queue": {"review", "queued",
         "rework", "merged": [id]}, "teammates": [{"name", "status", "task", "last_line"}],
         "total": {"tasks", "priced", "unpriced", "cost_usd", "tokens", "usage"}}

    ``tasks`` counts the state words of the frame (``in_progress``, ``ready``, ``blocked``,
    ``expired``, ``rework``, ``completed``, ``merged``, ``failed`` ...); ``total`` is
    ``gitboard cost --json``'s total.
    """
    states = {t.id: view_state(board, t, now) for t in board.tasks.values()}
    total = costs.total(board).to_json()
    del total["key"]
    return {"tip": board.tip, "at": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "tasks": dict(tally(states)),
            "queue": queue_ids(board, require_review),
            "teammates": [{"name": m.name, "status": m.status, "task": m.task, "last_line": m.last_line}
                          for m in mates],
            "total": total}


#: Bytes read from the end of a teammate's log to find its last line.
LOG_TAIL = 4096


def last_line(path: str) -> str:
    """The last non-blank line of the text file at ``path`` ("" if it is missing or empty); only
    its last :data:`LOG_TAIL` bytes are read."""
    try:
        with open(path, "rb") as f:
            f.seek(0, os.SEEK_END)
            size = f.tell()
            f.seek(max(size - LOG_TAIL, 0))
            data = f.read()
    except OSError:
        return ""
    for raw in reversed(data.decode("utf-8", errors="replace").splitlines()):
        if raw.strip():
            return raw.strip()
    return ""


def teammates(repo: Any, board: Board) -> list[Mate]:
    """The roster of ``board`` as :class:`Mate` rows: a member registered on this host whose
    process is gone shows as ``dead``; the last line of its log in this clone of ``repo`` (an
    open :class:`~gitboard.store.repo.BoardRepo`), if any."""
    from gitboard.proc import this_host
    from gitboard.runtime.process import log_path, member_alive

    host = this_host()
    out = []
    for m in board.team.members:
        status = m.status
        if status != "shutdown" and m.host == host and isinstance(m.pid, int) and not member_alive(repo, m):
            status = "dead"
        out.append(Mate(name=m.name, status=status, task=m.task, last_line=last_line(str(log_path(repo, m.name)))))
    return out
