"""The shutdown and plan-approval state machines, as pure operations.

pending -> approved | rejected is the only legal transition; answering an
unknown request is NotFound (exit 4), answering an answered one Conflict (exit 3).
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from gitboard.board import inbox_ops, protocol_ops
from gitboard.board.change import ACTION, ACTOR, REQUEST, NoChange
from gitboard.board.clock import iso
from gitboard.board.errors import Conflict, Invalid, NotFound
from gitboard.board.request import Request, request_of, request_path, requests_of
from gitboard.board.roster_ops import set_member
from tests.helpers.inbox_helpers import NOW, apply, empty_board

LATER = NOW + timedelta(seconds=30)


@pytest.fixture
def board():
    b = empty_board(members=(("alice", "dev"), ("bob", None)))
    return apply(b, set_member(b, NOW, actor="alice", name="alice", status="working", task=7, host="h", pid=99))


def ask_shutdown(board, rid="r1", to="alice", reason="wrap up"):
    return protocol_ops.request_shutdown(board, NOW, sender="lead", to=to, request_id=rid, msg_id="m-" + rid,
                                         reason=reason)


def answer_shutdown(board, approve, rid="r1", sender="alice", reason=""):
    return protocol_ops.respond_shutdown(board, LATER, sender=sender, request_id=rid, approve=approve,
                                         reason=reason, msg_id="a-" + rid + str(approve))


def test_shutdown_request_writes_record_and_message_in_one_change(board):
    change = ask_shutdown(board)
    assert set(change.writes) == {request_path("r1"), *[p for p in change.writes if "/inbox/alice/" in p]}
    assert len(change.writes) == 2
    assert json.loads(change.writes[request_path("r1")]) == {
        "request_id": "r1", "kind": "shutdown", "from": "lead", "to": "alice", "status": "pending",
        "created_at": iso(NOW), "updated_at": iso(NOW), "reason": ""}
    assert dict(change.trailers) == {ACTION: "shutdown-request", ACTOR: "lead", REQUEST: "r1"}
    b = apply(board, change)
    (msg,) = inbox_ops.peek(b, "alice")
    assert (msg.type, msg.request_id, msg.from_, msg.content) == ("shutdown_request", "r1", "lead", "wrap up")
    assert change.result == request_of(b, "r1")


def test_shutdown_approved_marks_member_shutdown_in_the_same_change(board):
    b = apply(board, ask_shutdown(board))
    change = answer_shutdown(b, True, reason="done")
    assert dict(change.trailers) == {ACTION: "shutdown-response", ACTOR: "alice", REQUEST: "r1"}
    b2 = apply(b, change)
    req = request_of(b2, "r1")
    assert (req.status, req.reason, req.updated_at) == ("approved", "done", iso(LATER))
    alice = b2.team.member("alice")
    assert (alice.status, alice.task, alice.pid) == ("shutdown", None, 99)
    (msg,) = inbox_ops.peek(b2, "lead")
    assert (msg.type, msg.approve, msg.request_id, msg.from_, msg.content) == (
        "shutdown_response", True, "r1", "alice", "done")


def test_shutdown_rejected_leaves_member_working(board):
    b = apply(board, ask_shutdown(board))
    b2 = apply(b, answer_shutdown(b, False, reason="mid-task"))
    assert request_of(b2, "r1").status == "rejected"
    assert b2.team.member("alice").status == "working"
    assert inbox_ops.peek(b2, "lead")[0].approve is False


@pytest.mark.parametrize("first", [True, False])
@pytest.mark.parametrize("second", [True, False])
def test_answering_twice_is_a_conflict(board, first, second):
    b = apply(board, ask_shutdown(board))
    b = apply(b, answer_shutdown(b, first))
    with pytest.raises(Conflict, match="already"):
        answer_shutdown(b, second)


def test_only_the_asked_member_may_answer(board):
    b = apply(board, ask_shutdown(board))
    with pytest.raises(Conflict, match="addressed to alice"):
        answer_shutdown(b, True, sender="bob")


def test_unknown_request_is_not_found(board):
    with pytest.raises(NotFound):
        answer_shutdown(board, True, rid="nope")
    with pytest.raises(NotFound):
        protocol_ops.respond_plan(board, NOW, sender="lead", request_id="../config", approve=True, msg_id="x")


def test_kinds_do_not_mix(board):
    b = apply(board, ask_shutdown(board))
    with pytest.raises(NotFound, match="no plan request"):
        protocol_ops.respond_plan(b, NOW, sender="alice", request_id="r1", approve=True, msg_id="x")


def test_shutdown_of_unknown_or_shutdown_member(board):
    with pytest.raises(NotFound):
        ask_shutdown(board, to="carol")
    b = apply(board, ask_shutdown(board))
    b = apply(b, answer_shutdown(b, True))
    with pytest.raises(Conflict, match="already shut down"):
        ask_shutdown(b, rid="r2")


def test_retried_request_changes_nothing_and_ids_do_not_collide(board):
    b = apply(board, ask_shutdown(board))
    again = ask_shutdown(b)
    assert isinstance(again, NoChange) and again.result.request_id == "r1"
    with pytest.raises(Conflict, match="already used"):
        protocol_ops.request_plan(b, NOW, sender="alice", plan="p", request_id="r1", msg_id="z")
    with pytest.raises(Invalid):
        ask_shutdown(b, rid="bad id")


def test_plan_request_and_approval(board):
    change = protocol_ops.request_plan(board, NOW, sender="alice", plan="1. read\n2. write", request_id="p1",
                                       msg_id="pm")
    assert dict(change.trailers) == {ACTION: "plan-request", ACTOR: "alice", REQUEST: "p1"}
    b = apply(board, change)
    assert json.loads(change.writes[request_path("p1")]) == {
        "request_id": "p1", "kind": "plan", "from": "alice", "to": "lead", "status": "pending",
        "created_at": iso(NOW), "updated_at": iso(NOW), "feedback": "", "plan": "1. read\n2. write"}
    (msg,) = inbox_ops.peek(b, "lead")
    assert (msg.type, msg.plan, msg.request_id) == ("plan_approval_request", "1. read\n2. write", "p1")
    assert [r.request_id for r in requests_of(b, "plan")] == ["p1"] and requests_of(b, "shutdown") == []
    answer = protocol_ops.respond_plan(b, LATER, sender="lead", request_id="p1", approve=True, feedback="go",
                                       msg_id="pa")
    assert dict(answer.trailers) == {ACTION: "plan-response", ACTOR: "lead", REQUEST: "p1"}
    b2 = apply(b, answer)
    assert (request_of(b2, "p1").status, request_of(b2, "p1").feedback) == ("approved", "go")
    (reply,) = inbox_ops.peek(b2, "alice")
    assert (reply.type, reply.approve, reply.feedback, reply.request_id) == ("plan_approval_response", True, "go", "p1")
    with pytest.raises(Conflict):
        protocol_ops.respond_plan(b2, LATER, sender="lead", request_id="p1", approve=False, feedback="x",
                                  msg_id="pb")


def test_plan_rejection_and_rules(board):
    with pytest.raises(Invalid):
        protocol_ops.request_plan(board, NOW, sender="alice", plan="  ", request_id="p1", msg_id="m")
    with pytest.raises(NotFound):
        protocol_ops.request_plan(board, NOW, sender="alice", plan="p", request_id="p1", msg_id="m", to="carol")
    b = apply(board, protocol_ops.request_plan(board, NOW, sender="alice", plan="p", request_id="p1", msg_id="m"))
    with pytest.raises(Conflict, match="addressed to lead"):
        protocol_ops.respond_plan(b, NOW, sender="bob", request_id="p1", approve=True, msg_id="x")
    b2 = apply(b, protocol_ops.respond_plan(b, NOW, sender="lead", request_id="p1", approve=False,
                                            feedback="smaller steps", msg_id="x"))
    req = request_of(b2, "p1")
    assert (req.status, req.feedback) == ("rejected", "smaller steps")
    assert inbox_ops.peek(b2, "alice")[0].content == "smaller steps"


def test_request_round_trip():
    r = Request("r", "plan", "alice", "lead", "approved", "t0", "t1", feedback="ok", plan="p")
    assert Request.from_json(r.to_json()) == r
    s = Request("s", "shutdown", "lead", "bob", "rejected", "t0", "t1", reason="busy")
    assert Request.from_json(s.to_json()) == s
