"""A hand-edited board file with a wrongly typed field is corrupt, not a crash.

Every read keeps working: the bad file lands in ``board.corrupt``, ``task list``
names it in one warning and skips it, ``task show`` of its id exits 1 with one
error line, and writes elsewhere on the board go through. The same holds for
roster entries in ``.team/config.json``, inbox messages (skipped, named and left
in place, never deleted) and protocol requests.
"""

from __future__ import annotations

import json

import pytest

from gitboard.board.message import message_path
from gitboard.board.layout import request_path, task_path
from tests.cli.helpers import ok, one_error_line

BAD = task_path(5)

#: One wrongly typed field each, on an otherwise valid in-progress task #5.
BAD_TASK_FIELDS = {
    "lease_expires_at int": {"lease_expires_at": 123},
    "lease_expires_at not a time": {"lease_expires_at": "soon"},
    "lease_expires_at list": {"lease_expires_at": ["2026-01-01T00:00:00Z"]},
    "description int": {"description": 7},
    "description false": {"description": False},
    "role int": {"role": 5},
    "run int": {"run": 5},
    "run object": {"run": {"cmd": "make"}},
    "claimed_at int": {"claimed_at": 5},
    "created_at int": {"created_at": 5},
    "updated_at list": {"updated_at": []},
    "owner int": {"owner": 7},
    "owner zero": {"owner": 0},
    "status list": {"status": ["in_progress"]},
    "blockedBy float": {"blockedBy": [1.5]},
    "blockedBy zero": {"blockedBy": 0},
    "subject null": {"subject": None},
    "id float": {"id": 5.0},
}


def bad_task(**fields) -> str:
    doc = {"id": 5, "subject": "x", "status": "in_progress", "owner": "zed",
           "lease_expires_at": "2026-01-01T00:00:00Z"}
    doc.update(fields)
    return json.dumps(doc)


@pytest.fixture
def board(run_cli, repo):
    """A board with pending task #1 (ready) and #2."""
    for subject in ("one", "two"):
        ok(run_cli(["task", "add", subject], cwd=repo))
    return repo


def list_warnings(res) -> list[str]:
    return [ln for ln in res.stderr.splitlines() if ln.startswith("gitboard: warning: ")]


@pytest.mark.parametrize("fields", list(BAD_TASK_FIELDS.values()), ids=list(BAD_TASK_FIELDS))
def test_a_wrongly_typed_task_field_makes_the_file_corrupt_not_a_crash(run_cli, board, board_commit, fields):
    board_commit(board, {BAD: bad_task(**fields)})
    for _ in range(2):  # the second read comes from the parse cache
        for args in (["task", "list"], ["task", "list", "--json"]):
            res = ok(run_cli(args, cwd=board))
            (warning,) = list_warnings(res)
            assert res.stderr == warning + "\n"
            assert f"{BAD} is corrupt and was skipped" in warning
        assert [t["id"] for t in ok(run_cli(["task", "list", "--json"], cwd=board)).json()] == [1, 2]
        assert "internal error" not in ok(run_cli(["task", "show", "1"], cwd=board)).stderr
        res = run_cli(["task", "show", "5"], cwd=board)
        assert res.exit_code == 1 and res.stdout == ""
        assert "task_5.json is corrupt" in one_error_line(res)
    assert ok(run_cli(["task", "claim", "--next", "--as", "bob", "--json"], cwd=board)).json()["id"] == 1
    assert ok(run_cli(["task", "add", "three", "--json"], cwd=board)).json()["id"] == 6  # 5 stays taken
    ok(run_cli(["log"], cwd=board))


@pytest.mark.parametrize("result", [None, 5, "text", [1, {"a": None}], {"note": "ok", "n": [1.5, True]}])
def test_result_may_hold_any_json(run_cli, board, board_commit, result):
    board_commit(board, {BAD: bad_task(result=result, lease_expires_at=None, status="completed")})
    res = ok(run_cli(["task", "list", "--json"], cwd=board))
    assert res.stderr == ""
    assert [t["result"] for t in res.json() if t["id"] == 5] == [result]
    assert ok(run_cli(["task", "show", "5", "--json"], cwd=board)).json()["result"] == result
    ok(run_cli(["task", "show", "5"], cwd=board))


BAD_MEMBER_FIELDS = {
    "role int": {"role": 5},
    "status int": {"status": 3},
    "status unknown": {"status": "zombie"},
    "host int": {"host": 7},
    "pid str": {"pid": "x"},
    "pid bool": {"pid": True},
    "task str": {"task": "y"},
    "updated_at int": {"updated_at": 5},
    "name int": {"name": 5},
}


@pytest.mark.parametrize("fields", list(BAD_MEMBER_FIELDS.values()), ids=list(BAD_MEMBER_FIELDS))
def test_a_wrongly_typed_member_field_makes_the_roster_corrupt_not_a_crash(run_cli, board, board_commit, fields):
    member = {"name": "bob", "role": None, "status": "idle", "task": None, "host": "", "pid": None,
              "updated_at": ""}
    member.update(fields)
    board_commit(board, {".team/config.json": json.dumps({"team_name": "test", "members": [member]})})
    res = ok(run_cli(["task", "list"], cwd=board))
    (warning,) = list_warnings(res)
    assert ".team/config.json is corrupt and was skipped" in warning
    ok(run_cli(["task", "show", "1"], cwd=board))
    res = ok(run_cli(["team"], cwd=board))
    assert ".team/config.json is corrupt" in res.stderr and "internal error" not in res.stderr
    assert ok(run_cli(["team", "--json"], cwd=board)).json()["members"] == []
    assert ok(run_cli(["task", "claim", "--next", "--as", "bob", "--json"], cwd=board)).json()["id"] == 1


BAD_MESSAGE_FIELDS = {
    "request_id int": {"request_id": 5},
    "feedback list": {"feedback": []},
    "plan object": {"plan": {"a": 1}},
    "timestamp too large": {"timestamp": 1e300},
    "timestamp NaN": {"timestamp": float("nan")},
    "timestamp before year 1": {"timestamp": -1e12},
    "content null": {"content": None},
    "approve str": {"approve": "yes"},
}


@pytest.mark.parametrize("fields", list(BAD_MESSAGE_FIELDS.values()), ids=list(BAD_MESSAGE_FIELDS))
def test_a_wrongly_typed_message_is_skipped_named_and_kept(run_cli, team, board_commit, git, fields):
    ok(run_cli(["send", "alice", "good"], cwd=team))
    path = message_path("alice", 1.0, "bad")
    doc = {"id": "bad", "type": "message", "from": "lead", "to": "alice", "content": "x", "timestamp": 1.0}
    doc.update(fields)
    board_commit(team, {path: json.dumps(doc)})
    for args in (["inbox", "alice", "--peek"], ["inbox", "alice", "--peek", "--json"], ["inbox", "alice"]):
        res = ok(run_cli(args, cwd=team))
        assert res.stderr.startswith(f"gitboard: warning: {path} is not a valid message and was left in place")
        assert len(res.stderr.splitlines()) == 1 and "internal error" not in res.stderr
        assert "good" in res.stdout
    assert ok(run_cli(["inbox", "alice", "--json"], cwd=team)).json() == []  # the good one was drained
    assert git(team, "ls-tree", "-r", "--name-only", "gitboard", ".team/inbox/alice/") == path  # never deleted


BAD_REQUEST_FIELDS = {
    "created_at int": {"created_at": 5},
    "plan int": {"plan": 5},
    "feedback list": {"feedback": ["no"]},
    "status list": {"status": ["pending"]},
    "kind object": {"kind": {"plan": 1}},
}


@pytest.mark.parametrize("fields", list(BAD_REQUEST_FIELDS.values()), ids=list(BAD_REQUEST_FIELDS))
def test_a_wrongly_typed_request_is_skipped_and_named(run_cli, team, board_commit, fields):
    path = request_path("r1")
    doc = {"request_id": "r1", "kind": "plan", "from": "alice", "to": "lead", "status": "pending",
           "created_at": "2026-01-01T00:00:00Z", "updated_at": "2026-01-01T00:00:00Z", "feedback": "",
           "plan": "p"}
    doc.update(fields)
    board_commit(team, {path: json.dumps(doc)})
    for args in (["plan", "list"], ["plan", "list", "--json"]):
        res = ok(run_cli(args, cwd=team))
        assert res.stderr.startswith(f"gitboard: warning: {path} is corrupt and was skipped")
        assert len(res.stderr.splitlines()) == 1
    assert ok(run_cli(["plan", "list", "--json"], cwd=team)).json() == []
    res = run_cli(["plan", "approve", "r1"], cwd=team)
    assert res.exit_code == 1 and "r1.json is corrupt" in one_error_line(res)
