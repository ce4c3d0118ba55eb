"""The rules (gitboard.board.rules) agree with every operation, and refuse forged changes.

The first table runs a whole board's life through the real operations -- each
step's Change checked by ``check_change`` against the board it was made from --
so that a legal operation can never be a violation. The second table forges
changes by hand, each of which must break exactly the rule it names. (Forged
*commits* in a real repository are in tests/store/test_verify.py.)
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from functools import partial

import pytest

from gitboard.board import inbox_ops, protocol_ops, review_ops, rules, task_ops, roster_ops
from gitboard.board.change import ACTION, ACTOR, REQUEST, TASK, Change, NoChange
from gitboard.board.compose import apply_writes, sequence
from gitboard.board.clock import iso
from gitboard.board.message import message_path
from gitboard.board.request import request_path
from gitboard.board.setup_ops import init_board
from gitboard.board.snapshot import Board
from gitboard.board.task import dump_json, task_path
from gitboard.board.roster import CONFIG_PATH, Team

T0 = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


def empty() -> Board:
    return Board(tip=None, tasks={}, team=Team(team_name=""))


class Life:
    """A board stepped through operations, each change checked by the rules."""

    def __init__(self) -> None:
        self.board = empty()
        self.now = T0
        self.steps: list[str] = []

    def do(self, op, *, dt: float = 1.0, **kw):
        self.now += timedelta(seconds=dt)
        out = op(self.board, self.now, **kw) if kw else op(self.board, self.now)
        assert isinstance(out, Change), f"{op} made no change"
        found = rules.check_change(self.board, out.writes, out.trailers, self.now)
        assert found == [], f"{out.subject}: {[v.message for v in found]}"
        self.board = replace(apply_writes(self.board, out.writes), tip=f"{len(self.steps) + 1:040x}")
        self.steps.append(dict(out.trailers)[ACTION])
        return out.result


def test_every_operation_passes_the_rules():
    life = Life()
    life.do(init_board, actor="lead", team_name="crew")
    for name, role in (("alice", "dev"), ("bob", None), ("carol", None)):
        life.do(roster_ops.add_member, actor="lead", name=name, role=role)
    life.do(task_ops.add, actor="lead", subject="base")
    life.do(task_ops.import_tasks, actor="lead", items=[{"subject": "two", "blockedBy": [1]}, {"subject": "three"},
                                                        {"subject": "four", "role": "dev"}])
    life.do(task_ops.add, actor="alice", subject="five", blocked_by=[2, 3])
    life.do(task_ops.claim, actor="alice", task_id=1, lease=60)
    life.do(task_ops.renew, actor="alice", task_id=1, lease=60)
    life.do(task_ops.finish, actor="alice", task_id=1, ok=True, result={"summary": "ok"})
    life.do(review_ops.reject, actor="lead", task_id=1, feedback="tests, please")
    life.do(task_ops.claim, actor="alice", task_id=1, lease=60)
    life.do(task_ops.finish, actor="alice", task_id=1, ok=True, result={"summary": "ok"})
    life.do(review_ops.rework, actor="lead", task_id=1, reason="conflict", feedback="a.txt", base="b" * 40)
    life.do(task_ops.claim, actor="alice", task_id=1, lease=60)
    life.do(task_ops.finish, actor="alice", task_id=1, ok=True, result={"summary": "ok"})
    life.do(review_ops.approve, actor="lead", task_id=1, note="good")
    life.do(review_ops.mark_merged, actor="lead", task_id=1, commit="c" * 40, base="b" * 40)
    # the teammate runtime's composite commits: claim + working, done + idle, takeover + clear
    work = partial(roster_ops.set_member, actor="bob", name="bob", status="working", task=2, host="h", pid=7)
    life.do(partial(sequence, ops=[partial(task_ops.claim, actor="bob", task_id=2, lease=30), work]))
    takeover = [partial(task_ops.claim, actor="carol", task_id=2, lease=30),
                partial(roster_ops.set_member, actor="carol", name="carol", status="working", task=2),
                partial(roster_ops.set_member, actor="carol", name="bob", task=None)]
    life.do(partial(sequence, ops=takeover), dt=31)            # bob's lease ran out
    idle = partial(roster_ops.set_member, actor="carol", name="carol", status="idle", task=None)
    life.do(partial(sequence, ops=[partial(task_ops.finish, actor="carol", task_id=2, ok=False, result=None), idle]))
    life.do(task_ops.claim, actor="alice", task_id=3)
    life.do(task_ops.release, actor="alice", task_id=3)
    life.do(task_ops.claim, actor="bob", task_id=3)
    life.do(task_ops.release, actor="lead", task_id=3, force=True)
    life.do(task_ops.update, actor="lead", task_id=2, status="pending")
    life.do(task_ops.update, actor="bob", task_id=5, subject="five, renamed", unblock=[3])
    life.do(task_ops.update, actor="lead", task_id=3, status="completed")
    life.do(task_ops.claim, actor="alice", task_id=4)
    life.do(task_ops.update, actor="alice", task_id=4, status="pending")   # the owner gives its task back
    life.do(task_ops.claim, actor="alice", task_id=4)
    life.do(inbox_ops.send, sender="alice", to="bob", content="hi", msg_id="m1")
    life.do(inbox_ops.send, sender="bob", to="lead", content="hello", msg_id="m2")
    life.do(inbox_ops.broadcast, sender="lead", content="all hands", msg_id="b1")
    life.do(inbox_ops.drain, name="bob")
    life.do(inbox_ops.drain, name="alice", actor="lead")
    life.do(protocol_ops.request_plan, sender="alice", plan="do it", request_id="p1", msg_id="m3")
    life.do(protocol_ops.respond_plan, sender="lead", request_id="p1", approve=False, feedback="no", msg_id="m4")
    life.do(protocol_ops.request_shutdown, sender="lead", to="carol", request_id="s1", msg_id="m5")
    life.do(protocol_ops.respond_shutdown, sender="carol", request_id="s1", approve=True, msg_id="m6")
    life.do(protocol_ops.request_shutdown, sender="lead", to="bob", request_id="s2", msg_id="m7")
    life.do(protocol_ops.respond_shutdown, sender="bob", request_id="s2", approve=False, reason="busy", msg_id="m8")
    life.do(roster_ops.set_member, actor="alice", name="alice", status="working", task=4)
    life.do(roster_ops.add_member, actor="lead", name="dave")
    life.do(roster_ops.remove_member, actor="lead", name="dave")
    life.do(inbox_ops.drain, name="lead")
    assert set(life.steps) == set(rules.ACTIONS), set(rules.ACTIONS) - set(life.steps)


# -- forged changes ----------------------------------------------------------------------------

def board_with(*, lease_left: float | None = 60) -> Life:
    life = Life()
    life.do(init_board, actor="lead", team_name="crew")
    life.do(roster_ops.add_member, actor="lead", name="alice")
    life.do(roster_ops.add_member, actor="lead", name="bob")
    life.do(task_ops.import_tasks, actor="lead", items=[{"subject": "one"}, {"subject": "two", "blockedBy": [1]}])
    life.do(task_ops.claim, actor="alice", task_id=1, lease=lease_left)
    life.do(inbox_ops.send, sender="lead", to="alice", content="for alice", msg_id="ma")
    life.do(protocol_ops.request_plan, sender="alice", plan="p", request_id="p1", msg_id="mp")
    return life


def tr(action: str, actor: str, task: int | None = None, *extra: tuple[str, str]) -> tuple:
    out = [(ACTION, action)]
    if task is not None:
        out.append((TASK, str(task)))
    return tuple(out + [(ACTOR, actor), *extra])


def task_json(b: Board, tid: int, **changes) -> bytes:
    d = b.tasks[tid].to_json()
    d.update(changes)
    return dump_json(d)


def alice_inbox(b: Board) -> list[str]:
    return [p for p in b.docs if p.startswith(".team/inbox/alice/")]


def msg(b: Board, now: datetime, sender: str, to: str, mid: str, **kw) -> tuple[str, bytes]:
    path, m = inbox_ops.compose(b, now, sender=sender, to=to, content="x", msg_id=mid, **kw)
    return path, dump_json(m.to_json())


FORGED = {
    # name: (writes(board, now), trailers, expected rule)
    "bad JSON": (lambda b, n: {task_path(2): b"{not json"}, tr("update", "lead", 2), "format"),
    "invalid task": (lambda b, n: {task_path(2): task_json(b, 2, status="exploded")}, tr("update", "lead", 2), "format"),
    "id does not match its file": (lambda b, n: {task_path(2): task_json(b, 1)}, tr("update", "lead", 2), "format"),
    "file outside the layout": (lambda b, n: {"notes.txt": b"hi"}, tr("update", "lead", 2), "layout"),
    "json outside the layout": (lambda b, n: {".tasks/extra/task_9.json": b"{}"}, tr("add", "lead"), "layout"),
    "no trailers": (lambda b, n: {task_path(2): task_json(b, 2, subject="x")}, (), "trailers"),
    "two actions": (lambda b, n: {task_path(2): task_json(b, 2, subject="x")},
                    tr("update", "lead", 2) + ((ACTION, "claim"),), "trailers"),
    "unknown action": (lambda b, n: {task_path(2): task_json(b, 2, subject="x")}, tr("hack", "lead", 2), "trailers"),
    "invalid actor": (lambda b, n: {task_path(2): task_json(b, 2, subject="x")}, tr("update", "Mallory", 2), "trailers"),
    "stolen claim": (lambda b, n: {task_path(1): task_json(b, 1, owner="bob")}, tr("claim", "bob", 1), "claim"),
    "claim of a blocked task": (lambda b, n: {task_path(2): task_json(b, 2, status="in_progress", owner="bob")},
                                tr("claim", "bob", 2), "claim"),
    "claim naming another owner": (lambda b, n: {task_path(2): task_json(b, 2, status="in_progress", owner="alice",
                                                                         blockedBy=[])},
                                   tr("claim", "bob", 2), "action"),
    "renew of another's task": (lambda b, n: {task_path(1): task_json(b, 1, lease_expires_at="2030-01-01T00:00:00Z")},
                                tr("renew", "bob", 1), "owner"),
    "done by another": (lambda b, n: {task_path(1): task_json(b, 1, status="completed", lease_expires_at=None)},
                        tr("done", "bob", 1), "owner"),
    "release by another": (lambda b, n: {task_path(1): task_json(b, 1, status="pending", owner="",
                                                                 lease_expires_at=None, claimed_at=None)},
                           tr("release", "bob", 1), "lead"),
    "status override by a teammate": (lambda b, n: {task_path(2): task_json(b, 2, status="completed")},
                                      tr("update", "bob", 2), "lead"),
    "update that takes ownership": (lambda b, n: {task_path(2): task_json(b, 2, owner="bob")},
                                    tr("update", "lead", 2), "action"),
    "claim that also edits the subject": (lambda b, n: {task_path(2): task_json(b, 2, status="in_progress",
                                                                                owner="lead", subject="mine")},
                                          tr("claim", "lead", 2), "claim"),
    "task trailer naming another task": (lambda b, n: {task_path(1): task_json(b, 1, lease_expires_at=None)},
                                         tr("renew", "alice", 2), "trailers"),
    "deleted task": (lambda b, n: {task_path(2): None}, tr("update", "lead", 2), "action"),
    "add with a taken id": (lambda b, n: {task_path(7): dump_json({"id": 7, "subject": "x"})}, tr("add", "lead"),
                            "action"),
    "drain of another's inbox": (lambda b, n: {p: None for p in alice_inbox(b)}, tr("drain", "bob"), "messages"),
    "message removed by a send": (lambda b, n: {p: None for p in alice_inbox(b)}, tr("send", "alice"), "messages"),
    "message from another sender": (lambda b, n: dict([msg(b, n, "lead", "bob", "f1")]), tr("send", "alice"),
                                    "messages"),
    "message to a stranger": (lambda b, n: {message_path("zed", n.timestamp(), "f2"): dump_json(
                                  {"id": "f2", "type": "message", "from": "alice", "to": "zed", "content": "x",
                                   "timestamp": n.timestamp()})}, tr("send", "alice"), "messages"),
    "message at the wrong path": (lambda b, n: {message_path("bob", n.timestamp(), "f3"): dump_json(
        {"id": "other", "type": "message", "from": "alice", "to": "bob", "content": "x", "timestamp": n.timestamp()})},
        tr("send", "alice"), "format"),
    "message rewritten": (lambda b, n: {alice_inbox(b)[0]: b.docs[alice_inbox(b)[0]] and dump_json(
        {**b.docs[alice_inbox(b)[0]], "content": "changed"})}, tr("send", "lead"), "messages"),
    "claim that sends a message": (lambda b, n: {task_path(2): task_json(b, 2), **dict([msg(b, n, "bob", "lead", "f4")])},
                                   tr("claim", "bob", 2), "action"),
    "plan answered by someone else": (lambda b, n: {
        request_path("p1"): dump_json({**b.docs[request_path("p1")], "status": "approved"}),
        **dict([msg(b, n, "bob", "alice", "f5", type="plan_approval_response", request_id="p1", approve=True)])},
        tr("plan-response", "bob", None, (REQUEST, "p1")), "requests"),
    "request created approved": (lambda b, n: {request_path("p2"): dump_json(
        {**b.docs[request_path("p1")], "request_id": "p2", "status": "approved"}),
        **dict([msg(b, n, "alice", "lead", "f6", type="plan_approval_request", request_id="p2")])},
        tr("plan-request", "alice", None, (REQUEST, "p2")), "requests"),
    "roster edited by a teammate": (lambda b, n: {CONFIG_PATH: dump_json(b.team.without_member("bob").to_json())},
                                    tr("team-remove", "alice"), "lead"),
    "roster deleted": (lambda b, n: {CONFIG_PATH: None}, tr("team-remove", "lead"), "action"),
    "approve by a teammate": (lambda b, n: {task_path(1): task_json(b, 1, review={"verdict": "approved"})},
                              tr("approve", "bob", 1), "lead"),
    "merge of a task in progress": (lambda b, n: {task_path(1): task_json(b, 1, status="merged", lease_expires_at=None,
                                                                          result={"merge": {"commit": "c" * 40}})},
                                    tr("merge", "lead", 1, ("Gitboard-Merge-Commit", "c" * 40)), "action"),
    "merged set by an update": (lambda b, n: {task_path(2): task_json(b, 2, status="merged")},
                                tr("update", "lead", 2), "lead"),
    "renew that edits another's roster entry": (lambda b, n: {
        task_path(1): task_json(b, 1, lease_expires_at="2030-01-01T00:00:00Z"),
        CONFIG_PATH: dump_json(b.team.with_member(b.team.member("bob").evolve(status="shutdown")).to_json())},
        tr("renew", "alice", 1), "roster"),
}


@pytest.mark.parametrize("name", list(FORGED))
def test_a_forged_change_breaks_its_rule(name):
    b = board_with().board
    now = T0 + timedelta(minutes=1)
    make, trailers, rule = FORGED[name]
    found = rules.check_change(b, make(b, now), trailers, now)
    assert found, f"{name}: no violation"
    assert rule in [v.rule for v in found], [(v.rule, v.message) for v in found]
    assert all(v.message and "\n" not in v.message for v in found)


def test_claims_judge_leases_by_the_judges_clock_and_skew_never_favours_the_taker():
    life = board_with(lease_left=60)
    b = life.board
    lease_end = datetime.fromisoformat(b.tasks[1].lease_expires_at.replace("Z", "+00:00"))
    take = {task_path(1): task_json(b, 1, owner="bob", claimed_at="x")}
    trailers = tr("claim", "bob", 1)
    assert [v.rule for v in rules.check_change(b, take, trailers, lease_end - timedelta(seconds=200))] == ["claim"]
    live = rules.check_change(b, take, trailers, lease_end - timedelta(seconds=100), skew=120)
    assert [v.rule for v in live] == ["claim"]                       # a live lease: skew does not help the taker
    assert f"leased until {b.tasks[1].lease_expires_at} + 120 s of grace" in live[0].message
    assert rules.check_change(b, take, trailers, lease_end) == []
    assert [v.rule for v in rules.check_change(b, take, trailers, lease_end - timedelta(seconds=1))] == ["claim"]
    # skew is the holder's allowance: the lease is honoured that long past its end
    assert [v.rule for v in rules.check_change(b, take, trailers, lease_end + timedelta(seconds=119), skew=120)] \
        == ["claim"]
    assert rules.check_change(b, take, trailers, lease_end + timedelta(seconds=120), skew=120) == []


def test_a_claim_with_no_lease_is_never_taken_over():
    b = board_with(lease_left=None).board
    take = {task_path(1): task_json(b, 1, owner="bob")}
    found = rules.check_change(b, take, tr("claim", "bob", 1), T0 + timedelta(days=3650), skew=120)
    assert [v.rule for v in found] == ["claim"] and "claimed by alice" in found[0].message


def test_violations_name_commit_action_actor_and_reason():
    b = board_with().board
    v, = rules.check_commit(b, apply_writes(b, {task_path(1): task_json(b, 1, owner="bob")}),
                            tr("claim", "bob", 1), T0, commit="c" * 40)
    assert v.to_json() == {"commit": "c" * 40, "action": "claim", "actor": "bob",
                           "reason": "claim of a task that is not ready: task #1 is claimed by alice, leased "
                                     f"until {b.tasks[1].lease_expires_at} (it is {iso(T0)} here)"}
    assert v.path == task_path(1)


def test_changed_paths_compares_parsed_files():
    b = board_with().board
    after = apply_writes(b, {task_path(2): task_json(b, 2, subject="new"), ".team/inbox/bob/x.json": b"{}"})
    assert rules.changed_paths(b, after) == sorted([".team/inbox/bob/x.json", task_path(2)])
    assert rules.changed_paths(b, b) == []


def test_operations_refuse_what_the_rules_refuse():
    b = board_with().board
    with pytest.raises(Exception, match="only bob or the lead"):
        inbox_ops.drain(b, T0, name="bob", actor="alice")
    with pytest.raises(Exception, match="only the lead may override"):
        task_ops.update(b, T0, actor="bob", task_id=2, status="completed")
    with pytest.raises(Exception, match="only the lead may force"):
        task_ops.release(b, T0, actor="bob", task_id=1, force=True)
    assert isinstance(task_ops.update(b, T0, actor="lead", task_id=2, status="pending"), NoChange)
    assert json.loads(task_json(b, 2))["id"] == 2
