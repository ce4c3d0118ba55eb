"""Composing pure operations into one commit (gitboard.board.compose)."""

from __future__ import annotations

from datetime import datetime, timezone
from functools import partial

import pytest

from gitboard.board import task_ops, roster_ops
from gitboard.board.change import Change, NoChange
from gitboard.board.compose import apply_writes, sequence
from gitboard.board.errors import Conflict
from gitboard.board.snapshot import build
from gitboard.board.task import task_path
from gitboard.board.roster import CONFIG_PATH

NOW = datetime(2026, 1, 1, tzinfo=timezone.utc)


def empty():
    return build("tip", {CONFIG_PATH: {"team_name": "t", "members": []}})


def with_task():
    board = empty()
    change = task_ops.add(board, NOW, actor="lead", subject="one")
    return apply_writes(board, change.writes)


def test_apply_writes_adds_replaces_and_deletes():
    board = with_task()
    assert board.tasks[1].subject == "one" and board.tip == "tip"
    claimed = task_ops.claim(board, NOW, actor="alice", task_id=1, lease=60)
    after = apply_writes(board, claimed.writes)
    assert after.tasks[1].owner == "alice" and board.tasks[1].owner == ""
    gone = apply_writes(after, {task_path(1): None, ".team/inbox/x/1.json": b"{bad"})
    assert 1 not in gone.tasks and ".team/inbox/x/1.json" in gone.corrupt


def test_claim_and_member_status_in_one_change():
    board = with_task()
    op = sequence(board, NOW, ops=(
        partial(task_ops.claim, actor="alice", task_id=1, lease=60),
        partial(roster_ops.set_member, actor="alice", name="alice", status="working", task=1, host="h", pid=7)))
    assert isinstance(op, Change)
    assert op.subject == "claim #1 by alice"
    assert dict(op.trailers)["Gitboard-Action"] == "claim"
    assert set(op.writes) == {task_path(1), CONFIG_PATH}
    task, member = op.result
    assert task.owner == "alice" and member.status == "working" and member.task == 1
    assert "also: team set alice working on #1" in op.body


def test_later_ops_see_earlier_writes():
    board = with_task()
    op = sequence(board, NOW, ops=(partial(task_ops.claim, actor="alice", task_id=1, lease=60),
                                   partial(task_ops.finish, actor="alice", task_id=1, ok=True, result={"x": 1})))
    assert op.result[1].status == "completed"


def test_all_no_change_and_refusal():
    board = with_task()
    assert isinstance(sequence(board, NOW, ops=(lambda b, n: NoChange(1), lambda b, n: NoChange(2))), NoChange)
    with pytest.raises(Conflict):
        sequence(board, NOW, ops=(partial(task_ops.claim, actor="alice", task_id=1),
                                  partial(task_ops.claim, actor="bob", task_id=1)))
