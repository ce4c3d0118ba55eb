"""The task file format, board snapshots, readiness and name validation (pure, no git)."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from gitboard.board.clock import iso, parse_iso
from gitboard.board.errors import Corrupt, Invalid, NotFound
from gitboard.board.names import check_name, check_role
from gitboard.board.snapshot import Board, ParseError, build
from gitboard.board.task import TASK_KEYS, Task, dump_json, task_path
from gitboard.board.roster import CONFIG_PATH, Member, Team

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)

ISSUE_KEYS = ["id", "subject", "description", "status", "owner", "blockedBy", "created_at",
              "updated_at", "claimed_at", "lease_expires_at", "run", "role", "result"]


def full_task(**kw) -> Task:
    base = dict(id=3, subject="Write the parser", description="in src/", status="in_progress",
                owner="alice", blockedBy=(1, 2), created_at="2026-03-01T10:00:00Z",
                updated_at="2026-03-01T11:00:00Z", claimed_at="2026-03-01T11:00:00Z",
                lease_expires_at="2026-03-01T11:10:00Z", run="make test", role="dev",
                result={"note": "ok"})
    base.update(kw)
    return Task(**base)


# -- serialisation --------------------------------------------------------------------------

def test_task_keys_are_the_documented_order():
    assert list(TASK_KEYS) == ISSUE_KEYS


def test_to_bytes_key_order_indent_and_trailing_newline():
    data = full_task().to_bytes()
    text = data.decode()
    assert text.endswith("}\n") and not text.endswith("\n\n")
    assert list(json.loads(text)) == ISSUE_KEYS
    lines = text.splitlines()
    assert lines[0] == "{"
    assert lines[1] == '  "id": 3,'
    assert lines[2] == '  "subject": "Write the parser",'
    # nested values are indented by two more spaces
    assert '  "blockedBy": [\n    1,\n    2\n  ],' in text
    assert '  "result": {\n    "note": "ok"\n  }\n}' in text


def test_new_task_file_matches_exact_bytes():
    t = Task(id=1, subject="a", created_at="2026-03-01T12:00:00Z", updated_at="2026-03-01T12:00:00Z")
    assert t.to_bytes() == (
        b'{\n  "id": 1,\n  "subject": "a",\n  "description": "",\n  "status": "pending",\n'
        b'  "owner": "",\n  "blockedBy": [],\n  "created_at": "2026-03-01T12:00:00Z",\n'
        b'  "updated_at": "2026-03-01T12:00:00Z",\n  "claimed_at": null,\n  "lease_expires_at": null,\n'
        b'  "run": null,\n  "role": null,\n  "result": null\n}\n')


def test_unicode_is_written_as_utf8_not_escaped():
    data = full_task(subject="Prüfung ✓").to_bytes()
    assert "Prüfung ✓".encode() in data


def test_round_trip_keeps_every_field_and_unknown_keys_last():
    t = full_task()
    doc = t.to_json()
    doc["x_custom"] = {"a": 1}
    back = Task.from_json(json.loads(dump_json(doc)))
    assert back == t
    assert back.extra == {"x_custom": {"a": 1}}
    assert list(back.to_json())[-1] == "x_custom"
    assert list(back.to_json())[:-1] == ISSUE_KEYS


def test_seed_format_task_without_new_keys_loads_with_defaults():
    seed = {"id": 4, "subject": "s", "description": "d", "status": "pending", "owner": "", "blockedBy": []}
    t = Task.from_json(seed)
    assert (t.id, t.subject, t.status, t.owner, t.blockedBy) == (4, "s", "pending", "", ())
    assert t.claimed_at is None and t.lease_expires_at is None and t.run is None and t.role is None


@pytest.mark.parametrize("doc, why", [
    ([1, 2], "not a JSON object"),
    ({"subject": "x"}, "malformed"),
    ({"id": "1", "subject": "x"}, "bad id"),
    ({"id": True, "subject": "x"}, "bad id"),
    ({"id": 0, "subject": "x"}, "bad id"),
    ({"id": 1}, "malformed"),
    ({"id": 1, "subject": 5}, "subject"),
    ({"id": 1, "subject": "x", "status": "doing"}, "unknown status"),
    ({"id": 1, "subject": "x", "blockedBy": "2"}, "blockedBy"),
    ({"id": 1, "subject": "x", "blockedBy": [True]}, "blockedBy"),
    ({"id": 1, "subject": "x", "blockedBy": ["2"]}, "blockedBy"),
    ({"id": 1, "subject": "x", "owner": 7}, "owner"),
    ({"id": 1, "subject": "x", "lease_expires_at": "tomorrow"}, "malformed"),
    ({"id": 1, "subject": "x", "lease_expires_at": 123}, "lease_expires_at"),
    ({"id": 1, "subject": "x", "description": 7}, "description"),
    ({"id": 1, "subject": "x", "role": 5}, "role"),
    ({"id": 1, "subject": "x", "run": ["make"]}, "run"),
    ({"id": 1, "subject": "x", "claimed_at": 5}, "claimed_at"),
    ({"id": 1, "subject": "x", "created_at": 5}, "created_at"),
    ({"id": 1, "subject": "x", "updated_at": {}}, "updated_at"),
    ({"id": 1, "subject": "x", "owner": False}, "owner"),
    ({"id": 1, "subject": "x", "blockedBy": 0}, "blockedBy"),
    ({"id": 1, "subject": "x", "status": ["pending"]}, "unknown status"),
    ({"id": 1, "subject": "x", "status": None}, "unknown status"),
])
def test_from_json_rejects_malformed_tasks(doc, why):
    with pytest.raises(Corrupt) as e:
        Task.from_json(doc)
    assert why in e.value.message
    assert e.value.exit_code == 1


def test_from_json_takes_null_as_the_default_and_any_json_as_the_result():
    doc = {"id": 1, "subject": "x", "description": None, "owner": None, "blockedBy": None,
           "created_at": None, "updated_at": None, "result": [1, {"a": None}], "x_custom": 5}
    t = Task.from_json(doc)
    assert (t.description, t.status, t.owner, t.blockedBy, t.created_at, t.updated_at) == ("", "pending", "", (), "", "")
    assert t.result == [1, {"a": None}] and t.extra == {"x_custom": 5}


@pytest.mark.parametrize("fields, why", [
    ({"role": 5}, "role"), ({"status": 3}, "status"), ({"status": "zombie"}, "status"), ({"host": 7}, "host"),
    ({"pid": "x"}, "pid"), ({"pid": True}, "pid"), ({"task": "y"}, "task"), ({"updated_at": 5}, "updated_at"),
])
def test_member_from_json_checks_every_field(fields, why):
    entry = {"name": "bob", "role": None, "status": "idle", "task": None, "host": "", "pid": None, "updated_at": ""}
    assert Member.from_json(entry) == Member("bob")
    with pytest.raises(Corrupt, match=why):
        Member.from_json({**entry, **fields})
    with pytest.raises(Corrupt, match=why):
        Team.from_json({"team_name": "t", "members": [{**entry, **fields}]})


def test_task_path():
    assert task_path(12) == ".tasks/00/00/task_12.json"
    assert task_path(100) == ".tasks/00/01/task_100.json"
    assert task_path(12345) == ".tasks/01/23/task_12345.json"
    assert task_path(1234567) == ".tasks/123/45/task_1234567.json"


def test_iso_and_parse_iso_round_trip():
    s = iso(NOW)
    assert s == "2026-03-01T12:00:00Z"
    assert parse_iso(s) == NOW
    assert parse_iso("2026-03-01T13:00:00+01:00") == NOW
    assert parse_iso("2026-03-01T12:00:00") == NOW  # naive means UTC


# -- snapshot -------------------------------------------------------------------------------

def files_of(*tasks: Task, team: Team | None = None) -> dict:
    files = {task_path(t.id): json.loads(t.to_bytes()) for t in tasks}
    files[CONFIG_PATH] = (team or Team("t")).to_json()
    return files


def test_build_sorts_files_into_tasks_team_docs_and_corrupt():
    t1 = Task(id=1, subject="a")
    files = files_of(t1, team=Team("crew", (Member("alice", role="dev"),)))
    files[task_path(2)] = ParseError("not valid JSON: boom")
    files[task_path(3)] = {"id": 4, "subject": "wrong file"}
    files[".team/inbox/alice/1.json"] = {"text": "hi"}
    b = build("abc", files)
    assert b.tip == "abc"
    assert list(b.tasks) == [1]
    assert b.team.team_name == "crew" and b.team.role_of("alice") == "dev"
    assert b.docs == {".team/inbox/alice/1.json": {"text": "hi"}}
    assert set(b.corrupt) == {task_path(2), task_path(3)}
    assert "does not match" in b.corrupt[task_path(3)]
    assert b.max_id() == 3  # corrupt files keep their ids taken


def test_corrupt_team_config_gives_empty_roster_and_is_named():
    files = files_of(Task(id=1, subject="a"))
    files[CONFIG_PATH] = {"members": []}
    b = build("abc", files)
    assert b.team.members == ()
    assert CONFIG_PATH in b.corrupt
    assert 1 in b.tasks


def test_board_task_lookup_errors():
    b = build("abc", {**files_of(Task(id=1, subject="a")), task_path(2): ParseError("bad")})
    assert b.task(1).subject == "a"
    with pytest.raises(Corrupt, match=r"task_2\.json"):
        b.task(2)
    with pytest.raises(NotFound):
        b.task(3)


# -- readiness ------------------------------------------------------------------------------

def board_with(*tasks: Task) -> Board:
    return build("abc", files_of(*tasks))


def later(seconds: float) -> str:
    return iso(NOW + timedelta(seconds=seconds))


@pytest.mark.parametrize("blocker_status, ready", [
    ("completed", True), ("pending", False), ("in_progress", False), ("failed", False)])
def test_ready_needs_every_blocker_completed(blocker_status, ready):
    owner = "x" if blocker_status == "in_progress" else ""
    b = board_with(Task(id=1, subject="a", status=blocker_status, owner=owner),
                   Task(id=2, subject="b", blockedBy=(1,)))
    assert b.is_ready(b.tasks[2], NOW) is ready
    assert b.unblocked(b.tasks[2]) is ready


def test_ready_with_two_blockers_needs_both():
    b = board_with(Task(id=1, subject="a", status="completed"), Task(id=2, subject="b"),
                   Task(id=3, subject="c", blockedBy=(1, 2)))
    assert not b.is_ready(b.tasks[3], NOW)


def test_blocker_missing_from_board_means_not_ready():
    b = board_with(Task(id=2, subject="b", blockedBy=(1,)))
    assert not b.is_ready(b.tasks[2], NOW)


@pytest.mark.parametrize("task, ready", [
    (Task(id=1, subject="a"), True),
    (Task(id=1, subject="a", owner="ghost"), False),  # pending but owned: not claimable
    (Task(id=1, subject="a", status="in_progress", owner="al"), False),  # no lease: never expires
    (Task(id=1, subject="a", status="in_progress", owner="al", lease_expires_at=later(1)), False),
    (Task(id=1, subject="a", status="in_progress", owner="al", lease_expires_at=later(0)), True),
    (Task(id=1, subject="a", status="in_progress", owner="al", lease_expires_at=later(-5)), True),
    (Task(id=1, subject="a", status="completed", owner="al"), False),
    (Task(id=1, subject="a", status="failed", owner="al"), False),
])
def test_ready_rules(task, ready):
    assert board_with(task).is_ready(task, NOW) is ready


def test_expired_lease_still_needs_blockers_completed():
    t = Task(id=2, subject="b", status="in_progress", owner="al", lease_expires_at=later(-5), blockedBy=(1,))
    b = board_with(Task(id=1, subject="a"), t)
    assert not b.is_ready(t, NOW)


def test_ready_list_is_in_id_order_and_filters_role_and_run():
    b = board_with(Task(id=3, subject="c", run="make"), Task(id=1, subject="a", role="dev"),
                   Task(id=2, subject="b"), Task(id=4, subject="d", role="qa", run="x"))
    assert [t.id for t in b.ready(NOW)] == [2, 3]
    assert [t.id for t in b.ready(NOW, "dev")] == [1, 2, 3]
    assert [t.id for t in b.ready(NOW, "qa")] == [2, 3, 4]
    assert [t.id for t in b.ready(NOW, "qa", need_run=True)] == [3, 4]


# -- names ----------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["a", "alice", "w15", "tester_2", "x-y", "a" * 32])
def test_valid_names(name):
    assert check_name(name) == name


@pytest.mark.parametrize("name", ["", "../x", "A B", "Alice", "1abc", "_a", "-a", "a.b", "a/b", "a b",
                                  "a" * 33, "é", None, 5])
def test_invalid_names(name):
    with pytest.raises(Invalid) as e:
        check_name(name)
    assert e.value.exit_code == 2


def test_role_empty_means_none_but_bad_role_is_invalid():
    assert check_role(None) is None and check_role("") is None
    assert check_role("dev") == "dev"
    with pytest.raises(Invalid, match="role"):
        check_role("Dev Ops")
