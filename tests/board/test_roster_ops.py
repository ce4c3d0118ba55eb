"""The pure roster operations and the ``dead`` view of ``gitboard team``."""

from __future__ import annotations

import json
import pickle
from datetime import timedelta

import pytest

from gitboard.board import roster_ops
from gitboard.board.change import ACTION, TASK, Change, NoChange
from gitboard.board.clock import iso
from gitboard.board.errors import Corrupt, Invalid, NotFound
from gitboard.board.snapshot import ParseError, build
from gitboard.board.roster import CONFIG_PATH, Member, Team
from tests.helpers.inbox_helpers import NOW, apply, empty_board


def test_add_member_registers_idle():
    change = roster_ops.add_member(empty_board(), NOW, actor="lead", name="alice", role="dev")
    assert isinstance(change, Change)
    assert json.loads(change.writes[CONFIG_PATH]) == {"team_name": "test", "members": [
        {"name": "alice", "role": "dev", "status": "idle", "task": None, "host": "", "pid": None,
         "updated_at": iso(NOW)}]}
    assert dict(change.trailers)[ACTION] == "team-add"


def test_add_existing_member_sets_role_or_changes_nothing():
    b = apply(empty_board(), roster_ops.add_member(empty_board(), NOW, actor="lead", name="alice", role="dev"))
    assert isinstance(roster_ops.add_member(b, NOW, actor="lead", name="alice"), NoChange)
    assert isinstance(roster_ops.add_member(b, NOW, actor="lead", name="alice", role="dev"), NoChange)
    assert roster_ops.add_member(b, NOW, actor="lead", name="alice", role="qa").result.role == "qa"
    assert roster_ops.add_member(b, NOW, actor="lead", name="alice", role="").result.role is None


def test_re_adding_a_shutdown_member_brings_it_back():
    b = empty_board(members=(("alice", None),))
    b = apply(b, roster_ops.set_member(b, NOW, actor="lead", name="alice", status="shutdown"))
    assert roster_ops.add_member(b, NOW, actor="lead", name="alice").result.status == "idle"


@pytest.mark.parametrize("kw", [{"name": "Alice"}, {"name": "alice", "role": "Bad Role"}, {"actor": "x y", "name": "a"}])
def test_add_member_invalid(kw):
    with pytest.raises(Invalid):
        roster_ops.add_member(empty_board(), NOW, **{"actor": "lead", **kw})


def test_remove_member():
    b = empty_board(members=(("alice", None), ("bob", None)))
    change = roster_ops.remove_member(b, NOW, actor="lead", name="alice")
    assert change.result.name == "alice"
    assert [m.name for m in apply(b, change).team.members] == ["bob"]
    assert dict(change.trailers)[ACTION] == "team-remove"
    with pytest.raises(NotFound):
        roster_ops.remove_member(b, NOW, actor="lead", name="carol")


def test_set_member_upserts_and_keeps_unnamed_fields():
    b = empty_board()
    spawn = roster_ops.set_member(b, NOW, actor="alice", name="alice", status="working", host="h1", pid=42)
    b = apply(b, spawn)
    assert b.team.member("alice") == Member("alice", None, "working", None, "h1", 42, iso(NOW))
    later = NOW + timedelta(seconds=5)
    on_task = roster_ops.set_member(b, later, actor="alice", name="alice", status="working", task=3)
    assert dict(on_task.trailers)[TASK] == "3"
    b = apply(b, on_task)
    assert b.team.member("alice") == Member("alice", None, "working", 3, "h1", 42, iso(later))
    # explicit None clears; KEEP (the default) keeps
    b = apply(b, roster_ops.set_member(b, later, actor="alice", name="alice", status="idle", task=None))
    assert (b.team.member("alice").task, b.team.member("alice").pid) == (None, 42)
    b = apply(b, roster_ops.set_member(b, later, actor="lead", name="alice", pid=None))
    assert b.team.member("alice").pid is None
    same = roster_ops.set_member(b, later + timedelta(seconds=9), actor="alice", name="alice", status="idle")
    assert isinstance(same, NoChange) and same.result == b.team.member("alice")


@pytest.mark.parametrize("kw", [{"status": "dead"}, {"task": 0}, {"pid": "12"}, {"task": True}])
def test_set_member_invalid(kw):
    with pytest.raises(Invalid):
        roster_ops.set_member(empty_board(), NOW, actor="lead", name="alice", **kw)


def test_keep_is_a_singleton_that_pickles():
    assert pickle.loads(pickle.dumps(roster_ops.KEEP)) is roster_ops.KEEP


def test_corrupt_config_is_never_overwritten():
    b = build("0" * 40, {CONFIG_PATH: ParseError("not valid JSON")})
    with pytest.raises(Corrupt):
        roster_ops.add_member(b, NOW, actor="lead", name="alice")


def test_roster_json_shows_dead_only_for_gone_processes_on_this_host():
    team = Team("t", (
        Member("w", status="working", host="here", pid=10),   # gone -> dead
        Member("i", status="idle", host="here", pid=11),      # gone -> dead
        Member("a", status="working", host="here", pid=12),   # alive
        Member("r", status="working", host="there", pid=10),  # other host: unknown, as recorded
        Member("s", status="shutdown", host="here", pid=10),  # shut down stays shutdown
        Member("h", status="idle"),                           # a human: no pid
    ))
    doc = roster_ops.roster_json(team, host="here", alive=lambda pid: pid == 12)
    assert [m["status"] for m in doc["members"]] == ["dead", "dead", "working", "working", "shutdown", "idle"]
    assert team.members[0].status == "working"  # the view never changes the roster
    assert list(doc) == ["team_name", "members"] and list(doc["members"][0]) == list(Member("x").to_json())
