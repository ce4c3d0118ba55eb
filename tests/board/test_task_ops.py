"""The pure task operations: add, import, claim, release, renew, done/fail, update.

Each operation is applied to a snapshot built from task files, and its Change is
applied back (serialised and re-parsed), so these tests also cover the file
format round trip the store relies on.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

import pytest

from gitboard.board import task_ops
from gitboard.board.change import ACTION, ACTOR, TAKEOVER, TASK, Change, NoChange
from gitboard.board.clock import iso
from gitboard.board.errors import Conflict, Invalid, NotFound
from gitboard.board.snapshot import Board, ParseError, build
from gitboard.board.task import Task, task_path
from gitboard.board.roster import CONFIG_PATH, Member, Team

NOW = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)
T0 = iso(NOW - timedelta(hours=1))


def make_board(*tasks: Task, team: Team | None = None, extra: dict | None = None) -> Board:
    files = {task_path(t.id): json.loads(t.to_bytes()) for t in tasks}
    files[CONFIG_PATH] = (team or Team("t")).to_json()
    files.update(extra or {})
    return build("0" * 40, files)


def apply(board: Board, change: Change) -> Board:
    """The board after ``change``: its writes parsed back on top of ``board``'s files."""
    files: dict = {task_path(t.id): t.to_json() for t in board.tasks.values()}
    files[CONFIG_PATH] = board.team.to_json()
    for path, data in change.writes.items():
        if data is None:
            files.pop(path, None)
        else:
            assert data.endswith(b"\n")
            files[path] = json.loads(data)
    return build("1" * 40, files)


def task(tid: int, **kw) -> Task:
    kw.setdefault("subject", f"task {tid}")
    kw.setdefault("created_at", T0)
    kw.setdefault("updated_at", T0)
    return Task(id=tid, **kw)


def owned(tid: int, owner: str, lease: float | None = None, **kw) -> Task:
    exp = iso(NOW + timedelta(seconds=lease)) if lease is not None else None
    return task(tid, status="in_progress", owner=owner, claimed_at=T0, lease_expires_at=exp, **kw)


def trailer_dict(change: Change) -> dict:
    return dict(change.trailers)


# -- add ------------------------------------------------------------------------------------

def test_add_first_task_gets_id_1_and_full_record():
    ch = task_ops.add(make_board(), NOW, actor="lead", subject="  Write the parser ", description="d")
    t = ch.result
    assert (t.id, t.subject, t.description, t.status, t.owner, t.blockedBy) == (1, "Write the parser", "d", "pending", "", ())
    assert t.created_at == t.updated_at == "2026-03-01T12:00:00Z"
    assert t.claimed_at is None and t.lease_expires_at is None and t.result is None
    assert list(ch.writes) == [task_path(1)]
    assert ch.writes[task_path(1)] == t.to_bytes()
    assert ch.subject == "add #1 by lead: Write the parser"
    assert ch.trailers == ((ACTION, "add"), (TASK, "1"), (ACTOR, "lead"))
    assert ch.message() == ("add #1 by lead: Write the parser\n\nGitboard-Action: add\n"
                            "Gitboard-Task: 1\nGitboard-Actor: lead\n")


def test_add_ids_are_sequential_and_count_corrupt_files():
    b = make_board(task(1), task(2))
    assert task_ops.add(b, NOW, actor="lead", subject="x").result.id == 3
    b = make_board(task(1), extra={task_path(9): ParseError("bad")})
    assert task_ops.add(b, NOW, actor="lead", subject="x").result.id == 10


def test_add_ids_continue_after_each_add():
    b = make_board()
    for expected in (1, 2, 3):
        ch = task_ops.add(b, NOW, actor="lead", subject=f"s{expected}")
        assert ch.result.id == expected
        b = apply(b, ch)
    assert sorted(b.tasks) == [1, 2, 3]


def test_add_with_blockers_run_and_role():
    b = make_board(task(1), task(2))
    t = task_ops.add(b, NOW, actor="lead", subject="x", blocked_by=[2, 1, 2], run="make", role="qa").result
    assert t.blockedBy == (2, 1)  # order kept, duplicates dropped
    assert t.run == "make" and t.role == "qa"


def test_add_rejects_missing_blocker():
    with pytest.raises(NotFound, match="#5"):
        task_ops.add(make_board(task(1)), NOW, actor="lead", subject="x", blocked_by=[5])


@pytest.mark.parametrize("subject", ["", "   ", "\n"])
def test_add_rejects_empty_subject(subject):
    with pytest.raises(Invalid, match="subject"):
        task_ops.add(make_board(), NOW, actor="lead", subject=subject)


@pytest.mark.parametrize("kw", [{"actor": "A B"}, {"actor": "../x"}, {"actor": ""}, {"role": "Bad Role"}])
def test_add_rejects_bad_names(kw):
    args = {"actor": "lead", "subject": "x", **kw}
    with pytest.raises(Invalid):
        task_ops.add(make_board(), NOW, **args)


# -- import ---------------------------------------------------------------------------------

def test_import_ids_are_max_plus_k_and_blockers_may_name_board_or_earlier_lines():
    b = make_board(task(1), task(4))
    items = [{"subject": "a"}, {"subject": "b", "blockedBy": [1, 5]},
             {"subject": "c", "blockedBy": [6], "run": "make", "role": "dev", "description": "d"}]
    ch = task_ops.import_tasks(b, NOW, actor="lead", items=items)
    tasks = ch.result
    assert [t.id for t in tasks] == [5, 6, 7]
    assert tasks[1].blockedBy == (1, 5) and tasks[2].blockedBy == (6,)
    assert (tasks[2].run, tasks[2].role, tasks[2].description) == ("make", "dev", "d")
    assert sorted(ch.writes) == [task_path(5), task_path(6), task_path(7)]
    assert ch.subject == "import 3 tasks #5-#7 by lead"
    assert trailer_dict(ch) == {ACTION: "import", TASK: "5-7", ACTOR: "lead"}
    after = apply(b, ch)
    assert sorted(after.tasks) == [1, 4, 5, 6, 7]


def test_import_errors_name_the_file_line_when_given():
    items = [{"subject": "a"}, {"subject": ""}]
    with pytest.raises(Invalid, match="^line 7: subject"):
        task_ops.import_tasks(make_board(), NOW, actor="lead", items=items, lines=[3, 7])


def test_longest_lease_is_accepted():
    t = task_ops.claim(make_board(task(1)), NOW, actor="alice", task_id=1, lease=task_ops.MAX_LEASE).result
    assert t.lease_expires_at.startswith("2057-")
    r = task_ops.renew(make_board(owned(1, "alice", lease=5)), NOW, actor="alice", task_id=1, lease=task_ops.MAX_LEASE)
    assert r.result.lease_expires_at == t.lease_expires_at


def test_import_single_item_subject():
    ch = task_ops.import_tasks(make_board(), NOW, actor="lead", items=[{"subject": "a"}])
    assert ch.subject == "import 1 task #1 by lead"


@pytest.mark.parametrize("items, exc, words", [
    ([], Invalid, "nothing"),
    ([{"subject": "a"}, "text"], Invalid, "line 2: not a JSON object"),
    ([{"id": 3, "subject": "a"}], Invalid, "line 1: has an id"),
    ([{"subject": "a", "owner": "x"}], Invalid, "line 1: unknown key"),
    ([{"subject": "a"}, {"subject": " "}], Invalid, "line 2: subject"),
    ([{"subject": "a", "role": "A B"}], Invalid, "line 1: invalid role"),
    ([{"subject": "a", "blockedBy": "1"}], Invalid, "line 1: blockedBy"),
    ([{"subject": "a", "blockedBy": [2]}, {"subject": "b"}], NotFound, "line 1"),  # forward reference
    ([{"subject": "a", "blockedBy": [1]}], NotFound, "line 1"),  # itself
    ([{"subject": "a", "blockedBy": [99]}], NotFound, "#99"),
    ([{"subject": "a", "run": 5}], Invalid, "line 1"),
])
def test_import_rejects_bad_items_naming_the_line(items, exc, words):
    with pytest.raises(exc) as e:
        task_ops.import_tasks(make_board(), NOW, actor="lead", items=items)
    assert words in e.value.message


# -- claim ----------------------------------------------------------------------------------

def test_claim_explicit_pending_task():
    b = make_board(task(1), task(2))
    ch = task_ops.claim(b, NOW, actor="alice", task_id=2)
    t = ch.result
    assert (t.id, t.status, t.owner) == (2, "in_progress", "alice")
    assert t.claimed_at == t.updated_at == "2026-03-01T12:00:00Z"
    assert t.lease_expires_at is None
    assert t.created_at == T0
    assert ch.subject == "claim #2 by alice"
    assert ch.trailers == ((ACTION, "claim"), (TASK, "2"), (ACTOR, "alice"))
    assert list(ch.writes) == [task_path(2)]


def test_claim_with_lease_sets_expiry():
    t = task_ops.claim(make_board(task(1)), NOW, actor="alice", task_id=1, lease=90).result
    assert t.lease_expires_at == "2026-03-01T12:01:30Z"


@pytest.mark.parametrize("lease", [0, -1, -0.5, float("nan"), float("inf"), 1e12, task_ops.MAX_LEASE + 1])
def test_claim_rejects_non_positive_or_unbounded_lease(lease):
    with pytest.raises(Invalid, match="lease"):
        task_ops.claim(make_board(task(1)), NOW, actor="alice", task_id=1, lease=lease)


def test_claiming_own_task_again_changes_nothing():
    b = make_board(owned(1, "alice", lease=60))
    res = task_ops.claim(b, NOW, actor="alice", task_id=1)
    assert isinstance(res, NoChange)
    assert res.result == b.tasks[1]


def test_reclaiming_own_task_after_its_lease_expired_takes_a_new_lease_without_takeover():
    b = make_board(owned(1, "alice", lease=-1))
    ch = task_ops.claim(b, NOW, actor="alice", task_id=1, lease=60)
    assert isinstance(ch, Change)
    assert (ch.result.owner, ch.result.lease_expires_at) == ("alice", "2026-03-01T12:01:00Z")
    assert ch.subject == "claim #1 by alice"
    assert TAKEOVER not in trailer_dict(ch)


def test_claim_of_task_owned_by_another_is_a_conflict():
    b = make_board(owned(1, "alice", lease=60))
    with pytest.raises(Conflict, match="claimed by alice") as e:
        task_ops.claim(b, NOW, actor="bob", task_id=1)
    assert e.value.exit_code == 3


def test_claim_without_lease_never_expires():
    b = make_board(owned(1, "alice"))
    with pytest.raises(Conflict):
        task_ops.claim(b, NOW + timedelta(days=365), actor="bob", task_id=1)


@pytest.mark.parametrize("status", ["completed", "failed"])
def test_claim_of_finished_task_is_a_conflict(status):
    b = make_board(task(1, status=status, owner="alice"))
    with pytest.raises(Conflict, match=status):
        task_ops.claim(b, NOW, actor="alice", task_id=1)


def test_claim_of_blocked_task_is_a_conflict_until_blocker_completes():
    b = make_board(task(1), task(2, blockedBy=(1,)))
    with pytest.raises(Conflict, match="blocked by #1"):
        task_ops.claim(b, NOW, actor="alice", task_id=2)
    b = make_board(task(1, status="completed", owner="x"), task(2, blockedBy=(1,)))
    t = task_ops.claim(b, NOW, actor="alice", task_id=2).result
    assert t.owner == "alice" and t.blockedBy == (1,)  # blockedBy stays as a record


def test_claim_of_missing_task_is_not_found():
    with pytest.raises(NotFound) as e:
        task_ops.claim(make_board(task(1)), NOW, actor="alice", task_id=7)
    assert e.value.exit_code == 4


def test_claim_role_must_match():
    b = make_board(task(1, role="qa"))
    with pytest.raises(Conflict, match="needs role qa"):
        task_ops.claim(b, NOW, actor="alice", task_id=1)
    with pytest.raises(Conflict, match="needs role qa"):
        task_ops.claim(b, NOW, actor="alice", task_id=1, role="dev")
    assert task_ops.claim(b, NOW, actor="alice", task_id=1, role="qa").result.owner == "alice"


def test_claim_role_falls_back_to_roster_role():
    team = Team("t", (Member("alice", role="qa"), Member("bob", role="dev"), Member("carol")))
    b = make_board(task(1, role="qa"), task(2), team=team)
    assert task_ops.claim(b, NOW, actor="alice", task_id=1).result.owner == "alice"
    with pytest.raises(Conflict):
        task_ops.claim(b, NOW, actor="bob", task_id=1)
    with pytest.raises(Conflict):
        task_ops.claim(b, NOW, actor="carol", task_id=1)
    # an explicit role overrides the roster's
    assert task_ops.claim(b, NOW, actor="bob", task_id=1, role="qa").result.owner == "bob"
    # a task without a role matches any claimer, with or without a role
    for who in ("alice", "bob", "carol", "dave"):
        assert task_ops.claim(b, NOW, actor=who, task_id=2).result.owner == who


def test_claim_next_takes_lowest_id_ready_task():
    b = make_board(task(1, status="completed", owner="x"), owned(2, "bob", lease=60), task(3, blockedBy=(4,)),
                   task(4, role="qa"), task(5), task(6))
    ch = task_ops.claim(b, NOW, actor="alice")
    assert ch.result.id == 5
    assert task_ops.claim(b, NOW, actor="alice", role="qa").result.id == 4


def test_claim_next_repeatedly_walks_the_board_then_nothing_ready():
    b = make_board(task(1), task(2), task(3, blockedBy=(1,)))
    got = []
    for who in ("a", "b"):
        ch = task_ops.claim(b, NOW, actor=who)
        got.append(ch.result.id)
        b = apply(b, ch)
    assert got == [1, 2]
    with pytest.raises(NotFound, match="nothing ready"):
        task_ops.claim(b, NOW, actor="c")


def test_claim_next_uses_roster_role():
    team = Team("t", (Member("qa1", role="qa"),))
    b = make_board(task(1, role="dev"), task(2, role="qa"), task(3), team=team)
    assert task_ops.claim(b, NOW, actor="qa1").result.id == 2
    assert task_ops.claim(b, NOW, actor="other").result.id == 3
    with pytest.raises(NotFound, match="role ops"):
        task_ops.claim(make_board(task(1, role="dev")), NOW, actor="x", role="ops")


def test_takeover_after_lease_expiry_names_previous_owner():
    b = make_board(owned(1, "alice", lease=-1))
    ch = task_ops.claim(b, NOW, actor="bob", task_id=1, lease=30)
    t = ch.result
    assert (t.owner, t.status, t.lease_expires_at) == ("bob", "in_progress", "2026-03-01T12:00:30Z")
    assert t.claimed_at == "2026-03-01T12:00:00Z"
    assert ch.subject == "claim #1 by bob (takeover from alice)"
    assert trailer_dict(ch) == {ACTION: "claim", TASK: "1", ACTOR: "bob", TAKEOVER: "alice"}
    assert "Gitboard-Takeover-From: alice" in ch.message()


def test_takeover_by_claim_next():
    b = make_board(owned(1, "alice", lease=-1), task(2))
    ch = task_ops.claim(b, NOW, actor="bob")
    assert ch.result.id == 1 and trailer_dict(ch)[TAKEOVER] == "alice"


def test_lease_not_yet_expired_is_no_takeover():
    b = make_board(owned(1, "alice", lease=1))
    with pytest.raises(Conflict):
        task_ops.claim(b, NOW, actor="bob", task_id=1)
    with pytest.raises(NotFound):
        task_ops.claim(b, NOW, actor="bob")


def test_plain_claim_has_no_takeover_trailer():
    ch = task_ops.claim(make_board(task(1)), NOW, actor="bob")
    assert TAKEOVER not in trailer_dict(ch)


def test_operations_are_pure_and_deterministic():
    b = make_board(task(1), task(2, blockedBy=(1,)))
    c1 = task_ops.claim(b, NOW, actor="alice", lease=10)
    c2 = task_ops.claim(b, NOW, actor="alice", lease=10)
    assert c1 == c2
    assert b.tasks[1].status == "pending"  # the snapshot is not modified


# -- release --------------------------------------------------------------------------------

def test_owner_releases():
    b = make_board(owned(1, "alice", lease=60))
    ch = task_ops.release(b, NOW, actor="alice", task_id=1)
    t = ch.result
    assert (t.status, t.owner, t.claimed_at, t.lease_expires_at) == ("pending", "", None, None)
    assert ch.subject == "release #1 by alice"
    assert trailer_dict(ch)[ACTION] == "release"
    assert apply(b, ch).is_ready(t, NOW)


def test_release_by_non_owner_is_a_conflict():
    with pytest.raises(Conflict, match="owned by alice"):
        task_ops.release(make_board(owned(1, "alice")), NOW, actor="bob", task_id=1)


def test_forced_release_takes_any_claim_back():
    ch = task_ops.release(make_board(owned(1, "alice")), NOW, actor="lead", task_id=1, force=True)
    assert ch.result.owner == "" and ch.result.status == "pending"
    assert ch.subject == "release #1 by lead (forced from alice)"
    assert trailer_dict(ch)[ACTOR] == "lead"


@pytest.mark.parametrize("status", ["pending", "completed", "failed"])
def test_release_of_unclaimed_task_is_a_conflict(status):
    with pytest.raises(Conflict):
        task_ops.release(make_board(task(1, status=status)), NOW, actor="lead", task_id=1, force=True)


def test_release_missing_task():
    with pytest.raises(NotFound):
        task_ops.release(make_board(), NOW, actor="lead", task_id=1)


# -- renew ----------------------------------------------------------------------------------

def test_owner_renews_lease():
    ch = task_ops.renew(make_board(owned(1, "alice", lease=5)), NOW, actor="alice", task_id=1, lease=120)
    assert ch.result.lease_expires_at == "2026-03-01T12:02:00Z"
    assert ch.result.updated_at == "2026-03-01T12:00:00Z"
    assert ch.subject == "renew #1 by alice" and trailer_dict(ch)[ACTION] == "renew"


def test_renew_default_lease_and_expired_lease_can_be_renewed_by_owner():
    ch = task_ops.renew(make_board(owned(1, "alice", lease=-10)), NOW, actor="alice", task_id=1)
    assert ch.result.lease_expires_at == iso(NOW + timedelta(seconds=task_ops.DEFAULT_LEASE))


def test_a_renewal_within_the_second_of_the_claim_changes_nothing():
    """A teammate that resumes the task it claimed a moment ago renews to the same expiry in the
    same second: a NoChange, never an empty commit (which the rules refuse: 0 tasks changed)."""
    claim = task_ops.claim(make_board(task(1)), NOW, actor="alice", task_id=1, lease=60)
    board = apply(make_board(task(1)), claim)
    again = task_ops.renew(board, NOW, actor="alice", task_id=1, lease=60)
    assert type(again).__name__ == "NoChange" and again.result == board.task(1)
    later = task_ops.renew(board, NOW + timedelta(seconds=1), actor="alice", task_id=1, lease=60)
    assert type(later).__name__ == "Change" and later.result.lease_expires_at == "2026-03-01T12:01:01Z"


def test_renew_rules():
    b = make_board(owned(1, "alice", lease=5), task(2))
    with pytest.raises(Conflict):
        task_ops.renew(b, NOW, actor="bob", task_id=1)
    with pytest.raises(Conflict):
        task_ops.renew(b, NOW, actor="alice", task_id=2)
    for bad in (0, float("inf"), 1e12):
        with pytest.raises(Invalid):
            task_ops.renew(b, NOW, actor="alice", task_id=1, lease=bad)
    with pytest.raises(NotFound):
        task_ops.renew(b, NOW, actor="alice", task_id=3)


# -- done / fail ----------------------------------------------------------------------------

@pytest.mark.parametrize("ok, status, verb", [(True, "completed", "done"), (False, "failed", "fail")])
def test_owner_finishes_task(ok, status, verb):
    b = make_board(owned(1, "alice", lease=60), task(2, blockedBy=(1,)))
    ch = task_ops.finish(b, NOW, actor="alice", task_id=1, ok=ok, result={"note": "n"})
    t = ch.result
    assert (t.status, t.owner, t.lease_expires_at, t.result) == (status, "alice", None, {"note": "n"})
    assert ch.subject == f"{verb} #1 by alice"
    assert trailer_dict(ch) == {ACTION: verb, TASK: "1", ACTOR: "alice"}
    after = apply(b, ch)
    assert after.is_ready(after.tasks[2], NOW) is ok  # a failed blocker keeps blocking


@pytest.mark.parametrize("ok", [True, False])
def test_only_owner_may_finish(ok):
    b = make_board(owned(1, "alice"), task(2))
    with pytest.raises(Conflict, match="owned by alice"):
        task_ops.finish(b, NOW, actor="bob", task_id=1, ok=ok)
    with pytest.raises(Conflict, match="pending"):
        task_ops.finish(b, NOW, actor="lead", task_id=2, ok=ok)
    with pytest.raises(NotFound):
        task_ops.finish(b, NOW, actor="alice", task_id=3, ok=ok)


def test_finished_task_cannot_be_finished_again():
    b = make_board(task(1, status="completed", owner="alice"))
    with pytest.raises(Conflict):
        task_ops.finish(b, NOW, actor="alice", task_id=1, ok=True)


# -- update ---------------------------------------------------------------------------------

def test_update_fields():
    b = make_board(task(1, run="old", role="dev"))
    ch = task_ops.update(b, NOW, actor="lead", task_id=1, subject=" New ", description="D", run="", role="")
    t = ch.result
    assert (t.subject, t.description, t.run, t.role) == ("New", "D", None, None)
    assert t.updated_at == "2026-03-01T12:00:00Z" and t.created_at == T0
    assert ch.subject == "update #1 by lead" and trailer_dict(ch)[ACTION] == "update"


def test_update_without_changes_is_no_change():
    b = make_board(task(1, subject="same"))
    assert isinstance(task_ops.update(b, NOW, actor="lead", task_id=1), NoChange)
    assert isinstance(task_ops.update(b, NOW, actor="lead", task_id=1, subject="same"), NoChange)


def test_update_adds_and_removes_blockers():
    b = make_board(task(1), task(2), task(3), task(4, blockedBy=(1,)))
    t = task_ops.update(b, NOW, actor="lead", task_id=4, blocked_by=[2, 3, 2]).result
    assert t.blockedBy == (1, 2, 3)
    t = task_ops.update(b, NOW, actor="lead", task_id=4, blocked_by=[3], unblock=[1]).result
    assert t.blockedBy == (3,)
    t = task_ops.update(b, NOW, actor="lead", task_id=4, unblock=[1]).result
    assert t.blockedBy == ()
    assert apply(b, task_ops.update(b, NOW, actor="lead", task_id=4, unblock=[1])).is_ready(t, NOW)


def test_update_rejects_missing_blocker_and_self_block():
    b = make_board(task(1), task(2))
    with pytest.raises(NotFound):
        task_ops.update(b, NOW, actor="lead", task_id=1, blocked_by=[9])
    with pytest.raises(Invalid, match="itself"):
        task_ops.update(b, NOW, actor="lead", task_id=1, blocked_by=[1])


def test_update_rejects_two_task_cycle():
    b = make_board(task(1), task(2, blockedBy=(1,)))
    with pytest.raises(Invalid, match="cycle") as e:
        task_ops.update(b, NOW, actor="lead", task_id=1, blocked_by=[2])
    assert "#1 -> #2 -> #1" in e.value.message
    assert e.value.exit_code == 2


def test_update_rejects_longer_cycle_but_allows_diamond():
    b = make_board(task(1), task(2, blockedBy=(1,)), task(3, blockedBy=(2,)), task(4, blockedBy=(1,)))
    with pytest.raises(Invalid, match="cycle"):
        task_ops.update(b, NOW, actor="lead", task_id=1, blocked_by=[3])
    # 5 depends on 3 and 4, both of which depend on 1: a diamond, not a cycle
    b = make_board(task(1), task(2, blockedBy=(1,)), task(3, blockedBy=(2,)), task(4, blockedBy=(1,)), task(5))
    assert task_ops.update(b, NOW, actor="lead", task_id=5, blocked_by=[3, 4]).result.blockedBy == (3, 4)


def test_update_status_pending_clears_owner_and_lease():
    b = make_board(owned(1, "alice", lease=60))
    t = task_ops.update(b, NOW, actor="lead", task_id=1, status="pending").result
    assert (t.status, t.owner, t.claimed_at, t.lease_expires_at) == ("pending", "", None, None)


@pytest.mark.parametrize("status", ["completed", "failed"])
def test_update_status_finished_is_the_leads_override(status):
    b = make_board(owned(1, "alice", lease=60), task(2))
    t = task_ops.update(b, NOW, actor="lead", task_id=1, status=status).result
    assert (t.status, t.owner, t.lease_expires_at) == (status, "alice", None)
    assert task_ops.update(b, NOW, actor="lead", task_id=2, status=status).result.status == status


def test_update_status_in_progress_is_refused_and_unknown_status_invalid():
    b = make_board(task(1))
    with pytest.raises(Conflict, match="claim"):  # an invalid transition: exit 3
        task_ops.update(b, NOW, actor="lead", task_id=1, status="in_progress")
    with pytest.raises(Invalid, match="unknown status"):
        task_ops.update(b, NOW, actor="lead", task_id=1, status="done")


@pytest.mark.parametrize("status", ["completed", "failed", "pending"])
def test_only_the_owner_or_the_lead_may_change_the_status_of_an_owned_task(status):
    b = make_board(owned(1, "alice", lease=60))
    with pytest.raises(Conflict, match="owned by alice") as e:
        task_ops.update(b, NOW, actor="bob", task_id=1, status=status)
    assert e.value.exit_code == 3
    assert task_ops.update(b, NOW, actor="alice", task_id=1, status=status).result.status == status
    assert task_ops.update(b, NOW, actor="lead", task_id=1, status=status).result.status == status
    # other edits of an owned task stay open to anyone
    assert task_ops.update(b, NOW, actor="bob", task_id=1, subject="renamed").result.subject == "renamed"


def test_update_rejects_empty_subject_and_missing_task():
    b = make_board(task(1))
    with pytest.raises(Invalid):
        task_ops.update(b, NOW, actor="lead", task_id=1, subject="  ")
    with pytest.raises(NotFound):
        task_ops.update(b, NOW, actor="lead", task_id=2, subject="x")
