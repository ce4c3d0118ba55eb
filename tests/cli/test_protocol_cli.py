"""``gitboard stop`` and ``gitboard plan ...``: the protocol state machines through the CLI, with exit codes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest

from gitboard.board import inbox_ops, protocol_ops, roster_ops
from gitboard.board.request import request_of
from gitboard.proc import pid_alive, this_host
from tests.helpers.inbox_helpers import finish, new_id, read, run_op, spawn_worker
from tests.cli.helpers import ok, one_error_line

REQUEST_KEYS = ["request_id", "kind", "from", "to", "status", "created_at", "updated_at"]


# -- shutdown ------------------------------------------------------------------

def test_stop_records_a_pending_request_and_sends_a_shutdown_request(run_cli, team):
    doc = ok(run_cli(["stop", "alice", "--reason", "sprint over", "--json"], cwd=team)).json()
    assert list(doc) == ["request", "member", "killed"] and doc["killed"] is False
    req = doc["request"]
    assert list(req) == REQUEST_KEYS + ["reason"]
    assert (req["kind"], req["from"], req["to"], req["status"]) == ("shutdown", "lead", "alice", "pending")
    (msg,) = inbox_ops.peek(read(team), "alice")
    assert (msg.type, msg.request_id, msg.content) == ("shutdown_request", req["request_id"], "sprint over")
    assert doc["member"]["status"] == "idle"
    entries = ok(run_cli(["log", "--json", "--action", "shutdown-request"], cwd=team)).json()
    assert [e["request"] for e in entries] == [req["request_id"]]


@pytest.mark.parametrize("approve,code", [("1", 0), ("0", 3)])
def test_stop_wait_follows_the_answer(run_cli, team, approve, code):
    worker = spawn_worker("answer", team, "alice", approve, "" if approve == "1" else "mid-task")
    try:
        res = run_cli(["stop", "alice", "--wait", "30"], cwd=team)
    finally:
        finish(worker)
    assert res.exit_code == code, (res.stdout, res.stderr)
    board = read(team)
    (req,) = [r for r in board.docs if r.startswith(".team/requests/")]
    req = request_of(board, req.rsplit("/", 1)[1][:-5])
    (answer,) = inbox_ops.peek(board, "lead")
    assert (answer.type, answer.request_id, answer.from_) == ("shutdown_response", req.request_id, "alice")
    if code == 0:
        assert req.status == "approved" and answer.approve is True
        assert board.team.member("alice").status == "shutdown"
    else:
        assert req.status == "rejected" and answer.approve is False and req.reason == "mid-task"
        assert "alice rejected shutdown request" in one_error_line(res) and "mid-task" in res.stderr
        assert board.team.member("alice").status == "idle"


def test_stop_wait_times_out_with_exit_1(run_cli, team):
    start = time.monotonic()
    res = run_cli(["stop", "alice", "--wait", "0.5"], cwd=team)
    assert res.exit_code == 1
    assert "no answer from alice" in one_error_line(res) and "stays pending" in res.stderr
    assert time.monotonic() - start < 10
    (req,) = [v for p, v in read(team).docs.items() if p.startswith(".team/requests/")]
    assert req["status"] == "pending"


def test_stop_errors_change_nothing(run_cli, team, board_tip):
    tip = board_tip(team)
    res = run_cli(["stop", "carol"], cwd=team)
    assert res.exit_code == 4 and "carol" in one_error_line(res)
    res = run_cli(["stop", "alice", "--wait", "-1"], cwd=team)
    assert res.exit_code == 2 and one_error_line(res)
    run_op(team, roster_ops.set_member, actor="bob", name="bob", status="working", host="elsewhere", pid=4242)
    tip = board_tip(team)
    res = run_cli(["stop", "bob", "--force"], cwd=team)
    assert res.exit_code == 3 and "elsewhere" in one_error_line(res)
    assert board_tip(team) == tip


def group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes in process group ``pgid``, from /proc."""
    out = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = open(f"/proc/{entry}/stat", "rb").read()
            except OSError:
                continue
            fields = stat[stat.rindex(b")") + 2:].split()
            if int(fields[2]) == pgid and fields[0] not in (b"Z", b"X"):
                out.append(int(entry))
    return out


@pytest.mark.skipif(not os.path.isdir("/proc"), reason="needs /proc")
def test_stop_force_ends_the_local_process_group(run_cli, team):
    # a teammate stand-in leading its own process group, with a child of its own
    # ($0 $1 $2 make its command line read "... gitboard work alice", which the identity check wants)
    proc = subprocess.Popen(["sh", "-c", "sleep 60 & wait", "gitboard", "work", "alice"], start_new_session=True)
    try:
        run_op(team, roster_ops.set_member, actor="alice", name="alice", status="working", task=None,
               host=this_host(), pid=proc.pid)
        limit = time.monotonic() + 10
        while len(group_members(proc.pid)) < 2 and time.monotonic() < limit:
            time.sleep(0.02)
        assert len(group_members(proc.pid)) == 2  # sh and its sleep
        doc = ok(run_cli(["stop", "alice", "--force", "--json"], cwd=team)).json()
        assert proc.wait(timeout=10) == -signal.SIGTERM
        limit = time.monotonic() + 10
        while group_members(proc.pid) and time.monotonic() < limit:
            time.sleep(0.05)
        assert group_members(proc.pid) == []  # the whole group is gone, the child sleep too
        assert doc["killed"] is True and doc["member"]["status"] == "shutdown"
        assert doc["request"]["status"] == "pending"  # nobody answered it
        assert read(team).team.member("alice").status == "shutdown"
        assert run_cli(["team", "--json"], cwd=team).json()["members"][0]["status"] == "shutdown"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_stop_force_on_a_member_already_shut_down_just_marks_it(run_cli, team):
    run_op(team, roster_ops.set_member, actor="alice", name="alice", status="shutdown")
    res = run_cli(["stop", "alice"], cwd=team)
    assert res.exit_code == 3 and "already shut down" in one_error_line(res)
    doc = ok(run_cli(["stop", "alice", "--force", "--json"], cwd=team)).json()
    assert doc["request"] is None and doc["killed"] is False and doc["member"]["status"] == "shutdown"


def test_pid_alive():
    assert pid_alive(os.getpid())
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    assert not pid_alive(p.pid)
    assert not pid_alive(0)


# -- plan approval -------------------------------------------------------------

def submit(repo, plan="1. parse\n2. test", sender="alice") -> str:
    rid = new_id()
    run_op(repo, protocol_ops.request_plan, sender=sender, plan=plan, request_id=rid, msg_id=new_id())
    return rid


def test_plan_list_approve_and_answer_twice(run_cli, team, board_tip):
    rid = submit(team)
    listed = ok(run_cli(["plan", "list", "--json"], cwd=team)).json()
    assert [r["request_id"] for r in listed] == [rid]
    assert list(listed[0]) == REQUEST_KEYS + ["feedback", "plan"]
    assert (listed[0]["status"], listed[0]["plan"], listed[0]["from"]) == ("pending", "1. parse\n2. test", "alice")
    assert rid[:12] in ok(run_cli(["plan", "list"], cwd=team)).stdout
    (req_msg,) = ok(run_cli(["inbox", "--json"], cwd=team)).json()
    assert (req_msg["type"], req_msg["request_id"], req_msg["plan"]) == ("plan_approval_request", rid, "1. parse\n2. test")

    res = ok(run_cli(["plan", "approve", rid[:8], "--feedback", "go ahead", "--json"], cwd=team))  # a prefix
    assert (res.json()["status"], res.json()["feedback"]) == ("approved", "go ahead")
    (answer,) = ok(run_cli(["inbox", "alice", "--json"], cwd=team)).json()
    assert (answer["type"], answer["approve"], answer["feedback"], answer["request_id"]) == (
        "plan_approval_response", True, "go ahead", rid)

    tip = board_tip(team)
    for args in (["plan", "approve", rid], ["plan", "reject", rid, "--feedback", "no"]):
        res = run_cli(args, cwd=team)
        assert res.exit_code == 3 and "already approved" in one_error_line(res)
    assert board_tip(team) == tip
    assert ok(run_cli(["plan", "list", "--status", "pending", "--json"], cwd=team)).json() == []


def test_plan_reject_needs_feedback(run_cli, team, board_tip):
    rid = submit(team)
    tip = board_tip(team)
    res = run_cli(["plan", "reject", rid], cwd=team)
    assert res.exit_code == 2 and one_error_line(res)
    res = run_cli(["plan", "reject", rid, "--feedback", " "], cwd=team)
    assert res.exit_code == 2 and one_error_line(res)
    assert board_tip(team) == tip
    doc = ok(run_cli(["plan", "reject", rid, "--feedback", "split step 2", "--json"], cwd=team)).json()
    assert (doc["status"], doc["feedback"]) == ("rejected", "split step 2")
    (answer,) = inbox_ops.peek(read(team), "alice")
    assert (answer.approve, answer.content) == (False, "split step 2")


def test_unknown_request_exits_4_and_changes_nothing(run_cli, team, board_tip):
    submit(team)
    tip = board_tip(team)
    for args in (["plan", "approve", "0123456789abcdef"], ["plan", "reject", "nope", "--feedback", "x"]):
        res = run_cli(args, cwd=team)
        assert res.exit_code == 4 and "no plan request" in one_error_line(res)
        res = run_cli([*args, "--json"], cwd=team)
        assert res.exit_code == 4 and res.json()["error"]["kind"] == "not_found"
    # a shutdown request is not a plan request
    sid = ok(run_cli(["stop", "bob", "--json"], cwd=team)).json()["request"]["request_id"]
    tip = board_tip(team)
    res = run_cli(["plan", "approve", sid], cwd=team)
    assert res.exit_code == 4 and board_tip(team) == tip


def test_only_the_addressee_answers_a_plan(run_cli, team, board_tip):
    rid = submit(team)
    tip = board_tip(team)
    res = run_cli(["plan", "approve", rid, "--as", "bob"], cwd=team)
    assert res.exit_code == 3 and "addressed to lead" in one_error_line(res)
    assert board_tip(team) == tip


def test_log_shows_the_plan_protocol(run_cli, team):
    rid = submit(team)
    ok(run_cli(["plan", "approve", rid], cwd=team))
    entries = ok(run_cli(["log", "--json", "-n", "2"], cwd=team)).json()
    assert [(e["action"], e["actor"], e["request"]) for e in entries] == [
        ("plan-response", "lead", rid), ("plan-request", "alice", rid)]
