"""The pure review operations (approve, reject, rework, mark merged) and the lifecycle around them."""

from __future__ import annotations

import json
from datetime import datetime, timezone

import pytest

from gitboard.board import review_ops, task_ops
from gitboard.board.change import ACTION, ACTOR, TASK
from gitboard.board.errors import Conflict, Corrupt, Invalid, NotFound
from gitboard.board.task import COMPLETED, MERGED, PENDING, Task, task_path
from tests.board.test_task_ops import apply, make_board

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
BASE = "b" * 40


def done(tid: int = 1, **kw) -> Task:
    return Task(id=tid, subject=f"task {tid}", status=COMPLETED, owner="alice",
                result={"branch": f"task/{tid}", "commit": "c" * 40, "summary": "did it"}, **kw)


def test_approve_records_review_and_is_one_approve_commit() -> None:
    board = make_board(done())
    change = review_ops.approve(board, NOW, actor="lead", task_id=1, note="looks right")
    assert dict(change.trailers) == {ACTION: "approve", TASK: "1", ACTOR: "lead"}
    t = apply(board, change).task(1)
    assert t.review == {"verdict": "approved", "by": "lead", "at": "2026-03-01T12:00:00Z", "note": "looks right"}
    assert t.status == COMPLETED and review_ops.is_approved(t)
    again = review_ops.approve(apply(board, change), NOW, actor="lead", task_id=1, note="looks right")
    assert type(again).__name__ == "NoChange"


@pytest.mark.parametrize("op", ["approve", "reject", "rework"])
def test_only_the_lead_and_only_completed_tasks(op: str) -> None:
    kw = {} if op == "approve" else {"feedback": "x"}
    if op == "rework":
        kw["reason"] = "conflict"
    f = getattr(review_ops, op)
    with pytest.raises(Conflict, match="only the lead"):
        f(make_board(done()), NOW, actor="alice", task_id=1, **kw)
    for status in ("pending", "in_progress", "failed", "merged"):
        with pytest.raises(Conflict, match="not completed"):
            f(make_board(done().evolve(status=status)), NOW, actor="lead", task_id=1, **kw)
    with pytest.raises(NotFound):
        f(make_board(done()), NOW, actor="lead", task_id=9, **kw)


def test_reject_sends_back_for_rework_and_clears_review() -> None:
    board = make_board(done(review={"verdict": "approved", "by": "lead", "at": "x", "note": ""}))
    change = review_ops.reject(board, NOW, actor="lead", task_id=1, feedback=" use a dict ", base=BASE)
    assert dict(change.trailers)[ACTION] == "reject"
    t = apply(board, change).task(1)
    assert (t.status, t.owner, t.claimed_at, t.lease_expires_at, t.review) == (PENDING, "", None, None, None)
    assert t.rework == ({"reason": "review", "by": "lead", "at": "2026-03-01T12:00:00Z",
                         "feedback": "use a dict", "base": BASE},)
    assert t.result["branch"] == "task/1"  # the branch and the work so far stay
    with pytest.raises(Invalid):
        review_ops.reject(board, NOW, actor="lead", task_id=1, feedback="  ")


def test_rework_appends_records_and_the_task_is_ready_again() -> None:
    board = make_board(done(rework=({"reason": "review", "by": "lead", "at": "x", "feedback": "a", "base": None},)))
    change = review_ops.rework(board, NOW, actor="lead", task_id=1, reason="conflict", feedback="a.py", base=BASE)
    assert dict(change.trailers)[ACTION] == "rework"
    after = apply(board, change)
    assert [r["reason"] for r in after.task(1).rework] == ["review", "conflict"]
    assert after.ready(NOW) == [after.task(1)]
    claimed = apply(after, task_ops.claim(after, NOW, actor="bob", task_id=1)).task(1)
    assert claimed.owner == "bob" and len(claimed.rework) == 2
    with pytest.raises(Invalid):
        review_ops.rework(board, NOW, actor="lead", task_id=1, reason="whim", feedback="")


def test_mark_merged_needs_approval_unless_review_is_off() -> None:
    board = make_board(done())
    with pytest.raises(Conflict, match="not approved"):
        review_ops.mark_merged(board, NOW, actor="lead", task_id=1, commit="m" * 40, base=BASE)
    change = review_ops.mark_merged(board, NOW, actor="lead", task_id=1, commit="m" * 40, base=BASE,
                                    check={"command": "true", "exit_code": 0, "seconds": 0.1}, require_review=False)
    assert dict(change.trailers) == {ACTION: "merge", TASK: "1", ACTOR: "lead", review_ops.MERGE_COMMIT: "m" * 40}
    t = apply(board, change).task(1)
    assert t.status == MERGED
    assert t.result["summary"] == "did it"
    assert t.result["merge"] == {"commit": "m" * 40, "base": BASE, "by": "lead", "at": "2026-03-01T12:00:00Z",
                                 "check": {"command": "true", "exit_code": 0, "seconds": 0.1}}
    with pytest.raises(Conflict):  # exactly once: a merged task cannot be merged again
        review_ops.mark_merged(apply(board, change), NOW, actor="lead", task_id=1, commit="n" * 40, base=BASE,
                               require_review=False)
    odd = make_board(done().evolve(result="plain text"))
    t = apply(odd, review_ops.mark_merged(odd, NOW, actor="lead", task_id=1, commit="m" * 40, base=BASE,
                                          require_review=False)).task(1)
    assert t.result["value"] == "plain text"


def test_blocked_by_counts_completed_and_merged_as_done() -> None:
    dep = Task(id=3, subject="dep", blockedBy=(1, 2))
    board = make_board(done(1), done(2).evolve(status=MERGED), dep)
    assert board.ready(NOW) == [board.task(3)]
    board = make_board(done(1), done(2).evolve(status="failed"), dep)
    assert board.ready(NOW) == []


def test_merged_is_terminal_for_claim_and_update() -> None:
    board = make_board(done().evolve(status=MERGED))
    with pytest.raises(Conflict):
        task_ops.claim(board, NOW, actor="bob", task_id=1)
    with pytest.raises(Conflict, match="merge queue"):
        task_ops.update(board, NOW, actor="lead", task_id=1, status="pending")
    with pytest.raises(Conflict, match="merge queue"):
        task_ops.update(make_board(done()), NOW, actor="lead", task_id=1, status="merged")


def test_file_format_of_review_keys() -> None:
    plain = done()
    assert "review" not in plain.to_json() and "rework" not in plain.to_json()
    t = done(review={"verdict": "approved", "by": "lead", "at": "x", "note": ""})
    keys = list(t.to_json())
    assert keys[-3:] == ["result", "review", "rework"]
    assert Task.from_json(json.loads(t.to_bytes())) == t
    for bad in ({"review": {"verdict": "maybe"}}, {"review": 3}, {"rework": {"reason": "x"}}, {"rework": [1]}):
        with pytest.raises(Corrupt):
            Task.from_json({"id": 1, "subject": "s", **bad})


def test_writes_touch_only_the_task_file() -> None:
    board = make_board(done(), done(2))
    for change in (review_ops.approve(board, NOW, actor="lead", task_id=1),
                   review_ops.reject(board, NOW, actor="lead", task_id=1, feedback="f"),
                   review_ops.mark_merged(board, NOW, actor="lead", task_id=1, commit="m" * 40, base=BASE,
                                          require_review=False)):
        assert list(change.writes) == [task_path(1)]


def test_an_approval_names_the_commit_it_approved() -> None:
    board = make_board(done())
    change = review_ops.approve(board, NOW, actor="lead", task_id=1, commit="d" * 40)
    t = apply(board, change).task(1)
    assert t.review["commit"] == "d" * 40 and review_ops.approved_commit(t) == "d" * 40
    same = review_ops.approve(apply(board, change), NOW, actor="lead", task_id=1, commit="d" * 40)
    assert type(same).__name__ == "NoChange"
    moved = review_ops.approve(apply(board, change), NOW, actor="lead", task_id=1, commit="e" * 40)
    assert apply(board, moved).task(1).review["commit"] == "e" * 40  # approving a new tip is a change
    for bad in ("HEAD", "d" * 39, "D" * 40, "task/1"):
        with pytest.raises(Invalid, match="not a full commit id"):
            review_ops.approve(board, NOW, actor="lead", task_id=1, commit=bad)
    plain = apply(board, review_ops.approve(board, NOW, actor="lead", task_id=1)).task(1)
    assert "commit" not in plain.review and review_ops.approved_commit(plain) is None


def test_the_rules_refuse_an_approval_naming_no_commit_id() -> None:
    from gitboard.board import rules

    board = make_board(done())
    good = apply(board, review_ops.approve(board, NOW, actor="lead", task_id=1, commit="d" * 40))
    trailers = [(ACTION, "approve"), (TASK, "1"), (ACTOR, "lead")]
    assert rules.check_commit(board, good, trailers, NOW) == []
    doc = json.loads(good.task(1).to_bytes())
    doc["review"]["commit"] = "main"
    forged = make_board(Task.from_json(doc))
    found = rules.check_commit(board, forged, trailers, NOW)
    assert len(found) == 1 and "full id" in found[0].message
