"""The merge queue's pure rules: which tasks are candidates, in what order, which wait,
and the phases one candidate goes through in a run (as data, like Gas Town's refinery
``ValidPhaseTransitions``).

A candidate is a completed task that is approved (or any completed task when review is
off: ``git config gitboard.review none``). Blockers go before their dependents, then
ids in order. A task whose blockers are neither merged nor merged earlier in this run
waits. No git and no I/O here; :mod:`gitboard.merge_queue.queue` runs the queue.
"""

from __future__ import annotations

import heapq
from typing import Iterable, Sequence

from gitboard.board.errors import Conflict
from gitboard.board.review_ops import approved_commit, is_approved
from gitboard.board.snapshot import Board
from gitboard.board.task import COMPLETED, MERGED, Task

#: Phases of one candidate in one run of the queue.
QUEUED, MERGING, CHECKING, LANDING = "queued", "merging", "checking", "landing"
#: Terminal phases: delivered, sent to rework, waiting for blockers, gone (another queue took it).
MERGED_PHASE, REWORK, WAITING, SKIPPED = "merged", "rework", "waiting", "skipped"

#: phase -> the phases it may go to; terminal phases have no entry.
TRANSITIONS: dict[str, frozenset[str]] = {
    QUEUED: frozenset({MERGING, WAITING, SKIPPED}),
    MERGING: frozenset({CHECKING, LANDING, REWORK, SKIPPED}),
    CHECKING: frozenset({LANDING, REWORK, SKIPPED}),
    LANDING: frozenset({MERGED_PHASE, QUEUED, SKIPPED}),  # QUEUED: the base moved; redo against the new tip
}
TERMINAL = frozenset({MERGED_PHASE, REWORK, WAITING, SKIPPED})


def check_phase(frm: str, to: str) -> str:
    """Return ``to`` if a candidate may go from phase ``frm`` to ``to``.

    Raises:
        Conflict: the transition is not in :data:`TRANSITIONS` (a terminal phase goes nowhere).
    """
    if to not in TRANSITIONS.get(frm, frozenset()):
        raise Conflict(f"merge candidate cannot go {frm} -> {to}")
    return to


def review_required(setting: str | None) -> bool:
    """False only when ``git config gitboard.review`` is ``none`` (every completed task is a candidate)."""
    return (setting or "").strip().lower() != "none"


def is_candidate(task: Task, require_review: bool = True) -> bool:
    """True if ``task`` is completed and, when review is required, approved."""
    return task.status == COMPLETED and (not require_review or is_approved(task))


def stale_approval(task: Task, tip: str) -> str | None:
    """Why ``task`` may not be merged with its branch at ``tip``, or None: its approval names
    another commit (the branch moved on, or was rewritten, since the lead approved it). The
    queue merges exactly the approved commit; an approval without a commit pins nothing."""
    approved = approved_commit(task)
    if approved is None or approved == tip:
        return None
    return (f"it was approved at {approved[:12]}, but task/{task.id} is now at {tip[:12]}: "
            f"review it again and approve (gitboard approve {task.id})")


def awaiting_approval(board: Board) -> list[Task]:
    """The completed tasks not approved yet, by id: what waits for the lead's review (with
    review required, the queue merges none of them until it is approved)."""
    return [t for _, t in sorted(board.tasks.items()) if t.status == COMPLETED and not is_approved(t)]


def check_named(board: Board, ids: Iterable[int], require_review: bool = True) -> None:
    """Refuse named ids that cannot be merged.

    Raises:
        NotFound: an unknown id (exit 4).
        Conflict: a task that is not completed, or not approved when review is required (exit 3).
    """
    for tid in ids:
        task = board.task(tid)
        if task.status != COMPLETED:
            raise Conflict(f"cannot merge task #{tid}: it is {task.status}, not completed")
        if require_review and not is_approved(task):
            raise Conflict(f"cannot merge task #{tid}: it is not approved (gitboard approve {tid}, "
                           f"or git config gitboard.review none)")


def candidates(board: Board, ids: Sequence[int] | None = None, require_review: bool = True) -> list[Task]:
    """The candidates on ``board`` in queue order (:func:`order`): the named ``ids`` that are
    still candidates, or with ``ids`` None all of them."""
    pool = [board.tasks[i] for i in (ids if ids is not None else board.tasks) if i in board.tasks]
    return order(board, [t for t in pool if is_candidate(t, require_review)])


def order(board: Board, tasks: Sequence[Task]) -> list[Task]:
    """Sort ``tasks`` so that blockers come before their dependents, then by id.

    Only blockedBy edges among ``tasks`` (directly or through other tasks on the
    board) order them; a cycle (refused by the board, but possible in a hand-edited
    one) falls back to id order for the tasks on it.
    """
    ids = {t.id for t in tasks}
    by_id = {t.id: t for t in tasks}

    def ancestors(tid: int) -> set[int]:
        seen: set[int] = set()
        stack = list(board.tasks[tid].blockedBy) if tid in board.tasks else []
        while stack:
            b = stack.pop()
            if b in seen:
                continue
            seen.add(b)
            t = board.tasks.get(b)
            if t is not None:
                stack.extend(t.blockedBy)
        return seen

    before = {tid: (ancestors(tid) & ids) - {tid} for tid in ids}
    heap = [tid for tid in ids if not before[tid]]
    heapq.heapify(heap)
    out: list[int] = []
    done: set[int] = set()
    while len(out) < len(ids):
        if not heap:  # a cycle: take the lowest id left
            heapq.heappush(heap, min(ids - done))
        tid = heapq.heappop(heap)
        if tid in done:
            continue
        done.add(tid)
        out.append(tid)
        for other in ids - done:
            if other not in heap and before[other] <= done:
                heapq.heappush(heap, other)
    return [by_id[i] for i in out]


def waiting_on(board: Board, task: Task, merged_now: Iterable[int] = ()) -> list[int]:
    """The blockers of ``task`` that are neither merged on ``board`` nor merged earlier in this run
    (``merged_now``): while any is left, the task waits."""
    merged = set(merged_now)
    out = []
    for b in task.blockedBy:
        bt = board.tasks.get(b)
        if b not in merged and (bt is None or bt.status != MERGED):
            out.append(b)
    return out
