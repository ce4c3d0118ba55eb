"""Pure operations of review and merge: approve, reject, rework, mark merged.

A ``completed`` task is done and waits for review and merge. These operations
take it on from there; like :mod:`gitboard.board.task_ops` each one is
``op(board, now, **params) -> Change | NoChange`` and raises a domain error to
refuse. All of them are the lead's: anyone else gets :class:`Conflict` (exit 3).

Task keys they write (see :mod:`gitboard.board.task`)::

    "review": null or {"verdict": "approved", "by": str, "at": ISO-8601 UTC, "note": str,
                       "commit": the task branch's commit that was approved (optional)}
    "rework": [{"reason": "review"|"conflict"|"check", "by": str, "at": ISO-8601 UTC,
                "feedback": str, "base": commit id of the base it was judged against, or null,
                "run": the usage of the run sent back, with its owner (optional; see gitboard.board.runs)}]
    "result": {..., "merge": {"commit", "base", "by", "at",
                              "check": {"command", "exit_code", "seconds"} or null}}

Commit actions (``Gitboard-Action``): ``approve``, ``reject`` (rework for the
reason ``review``), ``rework`` (the merge queue's: reasons ``conflict`` and
``check``) and ``merge``. A ``merge`` commit also carries
``Gitboard-Merge-Commit: <the merge commit on the base>``.

An approval names the commit of ``task/<id>`` it approved (``review.commit``, written by
``gitboard approve``, which pins the branch's tip unless told ``--commit``): the merge
queue merges exactly that commit, and a branch that moved on since is not merged until
it is approved again (:func:`gitboard.board.merge_order.stale_approval`). Going to rework, for
any reason, clears ``review``: reworked work is reviewed afresh. The task becomes pending with no owner or lease, its branch and
``result`` stay (the next claimer continues from ``task/<id>``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Mapping

from gitboard.board.change import Change, NoChange, trailers
from gitboard.board.clock import iso
from gitboard.board.errors import Conflict, Invalid
from gitboard.board.names import LEAD, check_name
from gitboard.board.snapshot import Board
from gitboard.board.runs import run_record
from gitboard.board.task import COMPLETED, MERGED, PENDING, Task

APPROVED = "approved"
#: Why a task went back for rework: the lead's review, a merge conflict, a failed check.
REVIEW, CONFLICT, CHECK = "review", "conflict", "check"
REASONS = (REVIEW, CONFLICT, CHECK)
#: Trailer of a ``merge`` board commit: the merge commit the base moved to.
MERGE_COMMIT = "Gitboard-Merge-Commit"


def _lead_only(actor: str, verb: str) -> None:
    check_name(actor)
    if actor != LEAD:
        raise Conflict(f"only the lead may {verb} a task ({actor} is not the lead)")


def _completed(board: Board, task_id: int, verb: str) -> Task:
    task = board.task(task_id)
    if task.status != COMPLETED:
        raise Conflict(f"cannot {verb} task #{task.id}: it is {task.status}, not completed")
    return task


def is_approved(task: Task) -> bool:
    """True if ``task`` carries an approving review."""
    return isinstance(task.review, dict) and task.review.get("verdict") == APPROVED


def is_object_id(value: Any) -> bool:
    """True for a full git object id: 40 (SHA-1) or 64 (SHA-256) lowercase hex digits."""
    return isinstance(value, str) and len(value) in (40, 64) and all(c in "0123456789abcdef" for c in value)


def approved_commit(task: Task) -> str | None:
    """The commit of ``task/<id>`` that ``task``'s approval names, or None (no approval, or one
    recorded without a commit)."""
    if not is_approved(task):
        return None
    commit = task.review.get("commit")
    return commit if is_object_id(commit) else None


def approve(board: Board, now: datetime, *, actor: str, task_id: int, note: str | None = None,
            commit: str | None = None) -> Change | NoChange:
    """Record the lead's approval in ``review``: ``{"verdict": "approved", "by", "at", "note", "commit"}``.

    Approving again with the same note and commit changes nothing.

    Args:
        commit: the commit of the task's branch being approved (a full object id), which the
            merge queue will merge; None: no commit is named (the queue merges the branch's tip).

    Raises:
        NotFound: no such task.
        Conflict: ``actor`` is not the lead, or the task is not completed.
        Invalid: ``commit`` is not a full object id.
    """
    _lead_only(actor, "approve")
    task = _completed(board, task_id, "approve")
    if commit is not None and not is_object_id(commit):
        raise Invalid(f"cannot approve task #{task_id} at {commit!r}: not a full commit id")
    note = note or ""
    if is_approved(task) and task.review.get("note", "") == note and task.review.get("commit") == commit:
        return NoChange(task)
    review = {"verdict": APPROVED, "by": actor, "at": iso(now), "note": note}
    if commit is not None:
        review["commit"] = commit
    approved = task.evolve(review=review, updated_at=iso(now))
    return Change({board.path_of_task(task.id): approved.to_bytes()}, f"approve #{task.id} by {actor}",
                  trailers("approve", actor, task.id), result=approved)


def _to_rework(task: Task, now: datetime, actor: str, reason: str, feedback: str, base: str | None) -> Task:
    record = {"reason": reason, "by": actor, "at": iso(now), "feedback": feedback, "base": base}
    run = run_record(task)  # what the run sent back spent, and whose it was (see gitboard.board.runs)
    if run is not None:
        record["run"] = run
    return task.evolve(status=PENDING, owner="", claimed_at=None, lease_expires_at=None,
                       review=None, rework=task.rework + (record,), updated_at=iso(now))


def reject(board: Board, now: datetime, *, actor: str, task_id: int, feedback: str,
           base: str | None = None) -> Change:
    """Send a completed task back for rework with the lead's ``feedback`` (reason ``review``).

    The task becomes pending, unowned, without a lease; a ``rework`` record is
    appended and ``review`` cleared; the branch and result stay.

    Args:
        base: the commit of the base branch the work was judged against.

    Raises:
        NotFound: no such task.
        Conflict: ``actor`` is not the lead, or the task is not completed.
        Invalid: empty feedback.
    """
    _lead_only(actor, "reject")
    if not isinstance(feedback, str) or not feedback.strip():
        raise Invalid("reject needs --feedback: say what to change")
    task = _completed(board, task_id, "reject")
    again = _to_rework(task, now, actor, REVIEW, feedback.strip(), base)
    return Change({board.path_of_task(task.id): again.to_bytes()}, f"reject #{task.id} by {actor}",
                  trailers("reject", actor, task.id), result=again)


def rework(board: Board, now: datetime, *, actor: str, task_id: int, reason: str, feedback: str,
           base: str | None = None) -> Change:
    """Send a completed task back for rework (the merge queue's verdict): like :func:`reject`,
    with ``reason`` ``conflict`` (``feedback`` lists the paths) or ``check`` (exit code and
    output tail), or ``review``.

    Raises:
        NotFound: no such task.
        Conflict: ``actor`` is not the lead, or the task is not completed (another queue merged it).
        Invalid: an unknown reason.
    """
    _lead_only(actor, "send back for rework")
    if reason not in REASONS:
        raise Invalid(f"unknown rework reason {reason!r}: expected one of {', '.join(REASONS)}")
    task = _completed(board, task_id, "rework")
    again = _to_rework(task, now, actor, reason, feedback, base)
    return Change({board.path_of_task(task.id): again.to_bytes()}, f"rework #{task.id} by {actor}: {reason}",
                  trailers("rework", actor, task.id), result=again)


def mark_merged(board: Board, now: datetime, *, actor: str, task_id: int, commit: str, base: str,
                check: Mapping[str, Any] | None = None, require_review: bool = True) -> Change:
    """Mark a completed task ``merged``, recording ``result.merge``.

    ``result.merge`` is ``{"commit": the merge commit, "base": the base commit it
    was merged into, "by", "at", "check": {"command", "exit_code", "seconds"} or
    null}``. A result that is not an object is kept under ``result.value``.

    Args:
        require_review: the task must be approved (``git config gitboard.review`` is not ``none``).

    Raises:
        NotFound: no such task.
        Conflict: ``actor`` is not the lead, the task is not completed (merged
            already by another queue, or sent to rework), or it is not approved.
    """
    _lead_only(actor, "merge")
    task = _completed(board, task_id, "merge")
    if require_review and not is_approved(task):
        raise Conflict(f"cannot merge task #{task.id}: it is not approved (gitboard approve {task.id})")
    old = task.result
    result = dict(old) if isinstance(old, dict) else ({} if old is None else {"value": old})
    result["merge"] = {"commit": commit, "base": base, "by": actor, "at": iso(now),
                       "check": dict(check) if check is not None else None}
    merged = task.evolve(status=MERGED, result=result, updated_at=iso(now))
    return Change({board.path_of_task(task.id): merged.to_bytes()}, f"merge #{task.id} by {actor}",
                  trailers("merge", actor, task.id, (MERGE_COMMIT, commit)), result=merged)
