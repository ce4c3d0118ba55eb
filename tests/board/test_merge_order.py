"""The merge queue's pure rules: candidates, order, waiting, and the phase transitions as data."""

from __future__ import annotations

import pytest

from gitboard.board import merge_order as queue
from gitboard.board.errors import Conflict, NotFound
from gitboard.board.task import COMPLETED, MERGED, Task
from tests.board.test_task_ops import make_board

OK = {"verdict": "approved", "by": "lead", "at": "x", "note": ""}


def t(tid: int, status: str = COMPLETED, blocked=(), review=OK) -> Task:
    return Task(id=tid, subject=f"t{tid}", status=status, blockedBy=tuple(blocked), review=review)


def test_candidates_are_approved_completed_tasks_unless_review_is_off() -> None:
    board = make_board(t(1), t(2, review=None), t(3, "pending", review=None), t(4, MERGED), t(5, "failed"))
    assert [x.id for x in queue.candidates(board)] == [1]
    assert [x.id for x in queue.candidates(board, require_review=False)] == [1, 2]
    assert [x.id for x in queue.candidates(board, [2, 1], require_review=False)] == [1, 2]
    assert queue.review_required(None) and queue.review_required("lead") and not queue.review_required(" None ")


def test_named_ids_are_checked() -> None:
    board = make_board(t(1), t(2, review=None), t(3, "in_progress"))
    queue.check_named(board, [1])
    with pytest.raises(NotFound):
        queue.check_named(board, [9])
    with pytest.raises(Conflict, match="not approved"):
        queue.check_named(board, [2])
    queue.check_named(board, [2], require_review=False)
    with pytest.raises(Conflict, match="in_progress"):
        queue.check_named(board, [3], require_review=False)


def test_order_puts_blockers_first_then_ids() -> None:
    # 5 <- 2 <- 4 ; 3 alone; 1 blocked by 4 through a non-candidate 6
    board = make_board(t(5), t(2, blocked=[5]), t(4, blocked=[2]), t(3), t(6, "pending", blocked=[4]), t(1, blocked=[6]))
    assert [x.id for x in queue.order(board, [board.task(i) for i in (1, 2, 3, 4, 5)])] == [3, 5, 2, 4, 1]
    assert [x.id for x in queue.order(board, [board.task(i) for i in (3, 1)])] == [1, 3]


def test_order_survives_a_hand_made_cycle() -> None:
    board = make_board(t(1, blocked=[2]), t(2, blocked=[1]), t(3))
    assert sorted(x.id for x in queue.order(board, list(board.tasks.values()))) == [1, 2, 3]


def test_waiting_on_blockers_not_merged_now_or_earlier_in_the_run() -> None:
    board = make_board(t(1, MERGED), t(2), t(3, blocked=[1, 2]))
    assert queue.waiting_on(board, board.task(3)) == [2]
    assert queue.waiting_on(board, board.task(3), merged_now=[2]) == []


def test_transitions_are_data_and_terminal_phases_go_nowhere() -> None:
    assert queue.check_phase(queue.QUEUED, queue.MERGING) == queue.MERGING
    assert queue.check_phase(queue.LANDING, queue.QUEUED) == queue.QUEUED  # the base moved: redo
    for frm, tos in queue.TRANSITIONS.items():
        assert frm not in queue.TERMINAL and tos
    for terminal in queue.TERMINAL:
        assert terminal not in queue.TRANSITIONS
        with pytest.raises(Conflict):
            queue.check_phase(terminal, queue.QUEUED)
    with pytest.raises(Conflict):
        queue.check_phase(queue.MERGING, queue.MERGED_PHASE)  # never merged without landing
    with pytest.raises(Conflict):
        queue.check_phase(queue.QUEUED, queue.LANDING)
    reachable = {queue.QUEUED}
    for _ in range(5):
        reachable |= {to for f in reachable for to in queue.TRANSITIONS.get(f, ())}
    assert queue.TERMINAL <= reachable


def test_a_stale_approval_is_not_merged() -> None:
    approved = {"verdict": "approved", "by": "lead", "at": "2026-03-01T12:00:00Z", "note": "", "commit": "a" * 40}
    task = t(1, review=approved)
    assert queue.stale_approval(task, "a" * 40) is None
    why = queue.stale_approval(task, "b" * 40)
    assert why is not None and "aaaaaaaaaaaa" in why and "bbbbbbbbbbbb" in why and "approve" in why
    assert queue.stale_approval(t(2), "b" * 40) is None  # an approval without a commit pins nothing
    assert queue.stale_approval(t(3, review=None), "b" * 40) is None  # not approved: not the queue's question
