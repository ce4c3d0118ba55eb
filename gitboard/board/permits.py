"""Who may do what to a task, an inbox or a request: the predicates the operations and the rules share.

Each returns the reason a step is refused (one line, used as the Conflict's
message by the operations and as the violation's by :mod:`gitboard.board.rules`),
or None when it is allowed. Pure: ``now`` is passed in.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Collection

from gitboard.board.clock import iso, parse_iso
from gitboard.board.names import LEAD
from gitboard.board.request import PENDING as REQ_PENDING, SHUTDOWN, Request
from gitboard.board.snapshot import Board
from gitboard.board.task import DONE, IN_PROGRESS, MERGED, PENDING, Task

DONE_STATUSES = frozenset(DONE)

def lease_expired(task: Task, now: datetime, grace: float = 0.0) -> bool:
    """True if ``task`` has a lease that ended at or before ``now - grace`` seconds.

    ``grace`` (the hook's ``gitboard.hook.skew``, at least 0) honours a lease that long past
    its end, for a holder whose clock runs behind the judge's. It never favours the taker:
    a live lease, by the judge's own clock, is never expired.
    """
    if task.lease_expires_at is None:
        return False
    try:
        return parse_iso(task.lease_expires_at) + timedelta(seconds=max(grace, 0.0)) <= now
    except ValueError:
        return False


def open_blockers(board: Board, task: Task) -> list[int]:
    """Return the ids in ``task.blockedBy`` that are not done (missing, or not completed/merged)."""
    out = []
    for b in task.blockedBy:
        bt = board.tasks.get(b)
        if bt is None or bt.status not in DONE_STATUSES:
            out.append(b)
    return out


def claim_refusal(board: Board, task: Task, actor: str, now: datetime, grace: float = 0.0) -> str | None:
    """Why ``actor`` may not claim ``task`` on ``board`` at ``now``, or None if it may.

    A task is claimable when its blockers are done and it is pending (and unowned),
    or in progress with a lease that ended ``grace`` seconds or more before ``now`` (a
    takeover, or the owner re-claiming its own expired lease; see :func:`lease_expired`).
    A live lease's refusal names its end and ``now``, so that a claimer whose clock runs
    ahead of the judge's sees why, and waits.
    """
    if task.status not in (PENDING, IN_PROGRESS):
        return f"task #{task.id} is {task.status}"
    if task.status == IN_PROGRESS and not lease_expired(task, now, grace):
        if task.lease_expires_at is None:
            return f"task #{task.id} is claimed by {task.owner}"
        extra = f" + {grace:g} s of grace" if grace > 0 else ""
        return (f"task #{task.id} is claimed by {task.owner}, leased until {task.lease_expires_at}{extra} "
                f"(it is {iso(now)} here)")
    if task.status == PENDING and task.owner:
        return f"task #{task.id} is pending but owned by {task.owner}"
    waiting = open_blockers(board, task)
    if waiting:
        return f"task #{task.id} is blocked by {', '.join(f'#{b}' for b in waiting)}"
    return None


def owner_refusal(task: Task, actor: str, verb: str) -> str | None:
    """Why ``actor`` may not ``verb`` (renew, finish, fail) ``task``, or None: it must be in progress and theirs."""
    if task.status != IN_PROGRESS:
        return f"cannot {verb} task #{task.id}: it is {task.status}"
    if task.owner != actor:
        return f"cannot {verb} task #{task.id}: it is owned by {task.owner}, not {actor}"
    return None


def release_refusal(task: Task, actor: str) -> str | None:
    """Why ``actor`` may not release ``task``, or None: the owner may, and the lead (a forced release)."""
    if task.status != IN_PROGRESS:
        return f"cannot release task #{task.id}: it is {task.status}"
    if task.owner != actor and actor != LEAD:
        return f"cannot release task #{task.id}: it is owned by {task.owner}, not {actor} (only the lead may force it)"
    return None


def status_refusal(task: Task, actor: str, status: str) -> str | None:
    """Why ``actor`` may not set ``task``'s status to ``status`` by an update, or None.

    Nobody sets in_progress (claim instead), and only the merge queue sets or leaves
    merged. The lead may override any other status; the
    owner of an in-progress task may change its own task's status; nobody else may.
    """
    if status == task.status:
        return None
    if status == IN_PROGRESS:
        return "status in_progress needs an owner: use 'gitboard task claim'"
    if MERGED in (status, task.status):
        return f"task #{task.id} is {task.status}: only the merge queue ('gitboard merge') sets or leaves merged"
    if actor == LEAD or (task.status == IN_PROGRESS and task.owner == actor):
        return None
    if task.status == IN_PROGRESS:
        return f"task #{task.id} is owned by {task.owner}: only its owner or the lead may change its status"
    return f"only the lead may override the status of task #{task.id} ({task.status} -> {status})"


def drain_refusal(name: str, actor: str) -> str | None:
    """Why ``actor`` may not drain ``name``'s inbox, or None: its recipient and the lead may."""
    if actor in (name, LEAD):
        return None
    return f"{actor} may not drain {name}'s inbox: only {name} or the lead may"


def answer_refusal(req: Request, actor: str) -> str | None:
    """Why ``actor`` may not answer request ``req``, or None: it must be pending and addressed to ``actor``."""
    label = "shutdown request" if req.kind == SHUTDOWN else "plan request"
    if req.status != REQ_PENDING:
        return f"{label} {req.request_id} is already {req.status}; only a pending request can be answered"
    if req.to != actor:
        return f"{label} {req.request_id} is addressed to {req.to}, not {actor}"
    return None


#: The git config key naming who, besides the lead, may set a task's ``run`` command (multi-valued).
RUNNERS_KEY = "gitboard.hook.runners"


def run_refusal(actor: str, runners: Collection[str]) -> str | None:
    """Why ``actor`` may not set or change a task's ``run`` command (which every shell teammate
    executes), or None: the lead may, and the actors named in ``runners``
    (``git config gitboard.hook.runners``)."""
    if actor == LEAD or actor in runners:
        return None
    return (f"only the lead or a runner ({RUNNERS_KEY}) may set a task's run command; "
            f"{actor} is neither")
