"""The board client (:class:`gitboard.client.BoardClient`) on real repositories: each call is one
commit with the client's actor as its ``Gitboard-Actor`` trailer, locally and through a hooked bare
remote, and a refusal changes nothing."""

from __future__ import annotations

import pytest

from gitboard.board.errors import Conflict, Invalid, NotFound
from gitboard.client import BoardClient


def _actors(git, path, n):
    """The Gitboard-Actor trailers of the last ``n`` board commits, newest first."""
    out = git(path, "log", f"-{n}", "--format=%(trailers:key=Gitboard-Actor,valueonly)", "gitboard")
    return [line for line in out.splitlines() if line.strip()]


def test_each_call_is_one_commit_by_the_clients_actor(repo, git, board_tip):
    lead = BoardClient(repo)
    alice = lead.as_actor("alice")
    lead.set_member("alice", role=None, status="idle")
    first = lead.add_task("write the parser")
    second = lead.add_task("test the parser", blocked_by=[first.id])
    assert second.blockedBy == (first.id,)

    before = board_tip(repo)
    claimed = alice.claim(lease=600)                      # the next ready task
    assert (claimed.id, claimed.owner) == (first.id, "alice")
    assert git(repo, "rev-parse", "gitboard~1") == before  # exactly one commit
    assert _actors(git, repo, 1) == ["alice"]

    with pytest.raises(Conflict):
        alice.claim(second.id)                             # blocked until #1 is done
    done = alice.finish(first.id, True, {"note": "parsed"})
    assert done.status == "completed"
    assert alice.claim(second.id).owner == "alice"         # ready once #1 is done
    assert [t.id for t in lead.awaiting_review()] == [first.id]


def test_messages_and_plan_approval_round_trip(repo):
    lead = BoardClient(repo)
    lead.set_member("alice", status="idle")
    alice = lead.as_actor("alice")

    sent = alice.send("lead", "starting", msg_id="a" * 32)
    again = alice.send("lead", "starting", msg_id="a" * 32)  # a retry is delivered once
    assert sent.id == again.id
    assert [m.content for m in lead.peek()] == ["starting"]
    assert [m.content for m in lead.drain()] == ["starting"]
    assert lead.peek() == []

    req = alice.request_plan("1. read 2. write")
    assert [r.request_id for r in lead.pending_plans()] == [req.request_id]
    with pytest.raises(Invalid):
        lead.respond_plan(req.request_id[:8], approve=False)        # a rejection needs feedback
    answered = lead.respond_plan(req.request_id[:8], approve=False, feedback="add tests first")
    assert (answered.status, answered.feedback) == ("rejected", "add tests first")
    inbox = alice.drain()
    assert [m.type for m in inbox] == ["plan_approval_response"]
    assert "add tests first" in inbox[0].content


def test_a_refusal_changes_nothing(repo, board_tip):
    lead = BoardClient(repo)
    lead.add_task("only task")
    bob = lead.as_actor("bob")
    tip = board_tip(repo)
    with pytest.raises(NotFound):
        bob.claim(99)
    with pytest.raises(Conflict):
        bob.finish(1, True)                                  # not bob's task
    with pytest.raises(Invalid):
        BoardClient(repo, actor="Not A Name")
    assert board_tip(repo) == tip


def test_through_a_hooked_bare_remote(clone, git):
    a, b = clone("a"), clone("b")
    lead = BoardClient(a)
    task = lead.add_task("remote task")
    bob = BoardClient(b, "bob")
    assert bob.claim(task.id).owner == "bob"                 # b fetched a's task, pushed its claim
    assert lead.task(task.id).owner == "bob"                 # a fetches b's claim
    with pytest.raises(Conflict):
        BoardClient(a, "carol").claim(task.id, lease=60)     # bob holds it (no lease: never expires)
