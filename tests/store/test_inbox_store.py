"""Inboxes and protocol requests on a real board branch, through the one transaction function."""

from __future__ import annotations

import json
import re
import time

from gitboard.board import inbox_ops, protocol_ops, roster_ops
from gitboard.board.request import request_of
from gitboard.store.history import history
from gitboard.store.repo import BoardRepo
from gitboard.store.transact import Stats, transact
from tests.helpers.inbox_helpers import read, run_op


def test_messages_are_files_and_drain_deletes_exactly_them(repo, git, board_tip):
    run_op(repo, roster_ops.add_member, actor="lead", name="alice")
    for i in range(3):
        run_op(repo, inbox_ops.send, sender="lead", to="alice", content=f"m{i}", msg_id=f"id{i}")
    names = git(repo, "ls-tree", "-r", "--name-only", "gitboard", ".team/inbox").splitlines()
    names.sort(key=lambda n: n.rpartition("/")[2])  # the fan-out buckets are not in time order; file names are
    assert len(names) == 3 and all(re.fullmatch(r"\.team/inbox/alice/[0-9a-f]/[0-9a-f]/\d{16}-id\d\.json", n) for n in names)
    blob = json.loads(git(repo, "show", f"gitboard:{names[0]}"))
    assert (blob["id"], blob["from"], blob["to"], blob["content"]) == ("id0", "lead", "alice", "m0")
    before = board_tip(repo)
    got = run_op(repo, inbox_ops.drain, name="alice")
    assert [m.content for m in got] == ["m0", "m1", "m2"]
    assert git(repo, "diff", "--name-status", before, "gitboard").splitlines() == [f"D\t{n}" for n in sorted(names)]
    assert git(repo, "ls-tree", "-r", "--name-only", "gitboard", ".team/inbox") == ""
    tip = board_tip(repo)
    assert run_op(repo, inbox_ops.drain, name="alice") == []
    assert board_tip(repo) == tip  # an empty drain is no commit


def test_commits_carry_trailers_and_no_identity_is_needed(repo, git):
    run_op(repo, roster_ops.add_member, actor="lead", name="alice")
    run_op(repo, protocol_ops.request_shutdown, sender="lead", to="alice", request_id="req1", msg_id="m1",
           reason="all done")
    run_op(repo, protocol_ops.respond_shutdown, sender="alice", request_id="req1", approve=True, msg_id="m2")
    out = git(repo, "log", "-2", "--format=%an <%ae>|%(trailers:key=Gitboard-Action,valueonly,separator=)|"
                                 "%(trailers:key=Gitboard-Request,valueonly,separator=)", "gitboard")
    assert out.splitlines() == ["alice <alice@gitboard.invalid>|shutdown-response|req1",
                                "lead <lead@gitboard.invalid>|shutdown-request|req1"]
    assert "all done" in git(repo, "log", "-1", "--format=%B", "gitboard~1")
    with BoardRepo(repo) as r:
        entries = history(r, r.tip(), action="shutdown-response")
    assert [(e["actor"], e["request"]) for e in entries] == [("alice", "req1")]
    board = read(repo)
    assert request_of(board, "req1").status == "approved" and board.team.member("alice").status == "shutdown"


def test_a_drain_that_loses_its_race_to_a_send_reads_that_send_too(clone, bare_remote):
    """Clone A drains; between its read and its push, clone B sends. A's push is refused (a lost
    race), A re-reads and its drain then returns both messages: nothing lost, nothing twice."""
    a, b = clone("a"), clone("b")
    run_op(a, roster_ops.add_member, actor="lead", name="alice")
    run_op(a, inbox_ops.send, sender="lead", to="alice", content="early", msg_id="early")
    calls = []

    def racing_drain(board, now):
        calls.append([m.id for m in inbox_ops.peek(board, "alice")])
        if len(calls) == 1:  # another machine writes while we hold our snapshot
            run_op(b, inbox_ops.send, sender="lead", to="alice", content="late", msg_id="late")
        return inbox_ops.drain(board, now, name="alice")

    stats = Stats()
    with BoardRepo(a) as r:
        got = transact(r, racing_drain, stats=stats)
    assert calls == [["early"], ["early", "late"]] and stats.attempts == 2
    assert [m.id for m in got] == ["early", "late"]
    assert inbox_ops.peek(read(b), "alice") == []


def test_two_identical_drains_from_two_clones_return_the_messages_once(clone, monkeypatch):
    """Two clones drain the same inbox from the same tip in the same second: their commits are
    byte-identical, so the second push finds the remote "up to date". That must count as a
    lost race (re-read, nothing left), not as a second delivery of the same messages."""
    a, b = clone("a"), clone("b")
    run_op(a, roster_ops.add_member, actor="lead", name="alice")
    run_op(a, inbox_ops.send, sender="lead", to="alice", content="once", msg_id="once")
    read(b)  # b has fetched the same tip
    monkeypatch.setattr(time, "time", lambda: 1_800_000_000.0)  # both commits in the same second
    seen_by_b = []

    def drain_racing_with_b(board, now):
        if not seen_by_b:
            seen_by_b.append(run_op(b, inbox_ops.drain, name="alice"))  # b commits first
        return inbox_ops.drain(board, now, name="alice")

    stats = Stats()
    with BoardRepo(a) as r:
        got_by_a = transact(r, drain_racing_with_b, stats=stats)
    assert [m.id for m in seen_by_b[0]] == ["once"]
    assert got_by_a == [] and stats.attempts == 2
