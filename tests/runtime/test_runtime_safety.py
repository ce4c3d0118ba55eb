"""The teammate loop's safety rules, in-process on real repositories: work is never lost to a failed
commit, a user's checkout of a task branch never fails the task, the message-session worktree stays in
the git directory, board refusals and internal errors never kill a teammate holding a claim."""

from __future__ import annotations

import os
import threading
import time
from functools import partial
from pathlib import Path

from gitboard.board import inbox_ops, task_ops, roster_ops
from gitboard.board.clock import utcnow
from gitboard.board.errors import GitFailure
from gitboard.agents.exec import ExecAgent
from tests.helpers.runtime_helpers import (add_tasks, board, git, inbox_worktree, lead, make_project, task_worktree,
                                        teammate, wait_for)


# -- 1. a failed harness commit ---------------------------------------------------------

def test_a_stale_index_lock_left_by_the_command_does_not_lose_the_work(tmp_path):
    path = make_project(tmp_path)
    add_tasks(path, [{"subject": "lock", "run": 'echo important > work.txt; touch "$(git rev-parse --git-dir)/index.lock"'}])
    t, lines = teammate(path)
    assert t.run() == 0
    task = board(path).tasks[1]
    assert task.status == "completed", lines
    assert task.result["commit"] and git(path, "rev-parse", "task/1") == task.result["commit"]
    assert git(path, "show", "task/1:work.txt") == "important"
    assert any("committed through a private index" in ln for ln in lines)
    assert not (path / ".git" / "gitboard" / "tmp").exists() or not os.listdir(path / ".git" / "gitboard" / "tmp")


LOCK_BRANCH = 'touch "$(git rev-parse --git-common-dir)/refs/heads/task/1.lock"'


def test_work_that_cannot_be_committed_fails_the_task_and_keeps_the_worktree(tmp_path):
    path = make_project(tmp_path)
    add_tasks(path, [{"subject": "unlucky", "run": f"echo important > work.txt; {LOCK_BRANCH}"}])
    t, lines = teammate(path)
    assert t.run() == 0
    task = board(path).tasks[1]
    assert task.status == "failed", lines
    assert task.result["commit"] is None
    assert "cannot commit the work" in task.result["reason"] and str(task_worktree(path, 1)) in task.result["reason"]
    assert task.result["worktree"] == str(task_worktree(path, 1))
    assert (task_worktree(path, 1) / "work.txt").read_text() == "important\n"  # kept, not removed
    assert not any(ln.startswith("done #1") for ln in lines)
    assert any("kept the worktree" in ln for ln in lines)
    assert board(path).team.member("alice").status == "shutdown"


def test_stopping_with_work_that_cannot_be_committed_fails_instead_of_releasing(tmp_path):
    path = make_project(tmp_path)
    add_tasks(path, [{"subject": "unlucky", "run": f"echo important > work.txt; {LOCK_BRANCH}; sleep 30"}])
    t, lines = teammate(path, idle_timeout=30)
    threading.Thread(target=lambda: (time.sleep(1.5), t.stop()), daemon=True).start()
    started = time.monotonic()
    t.run()
    assert time.monotonic() - started < 20
    task = board(path).tasks[1]
    assert task.status == "failed" and "cannot commit the work" in task.result["reason"], lines
    assert "stopped" in task.result["reason"]  # why the work ended is kept too
    assert (task_worktree(path, 1) / "work.txt").read_text() == "important\n"


# -- 6. the user has the task's branch checked out ------------------------------------------

def test_a_task_branch_checked_out_by_the_user_is_released_not_failed(tmp_path):
    path = make_project(tmp_path)
    add_tasks(path, [{"subject": "resume me", "run": "echo done > out.txt"}])
    git(path, "branch", "task/1", "main")
    git(path, "checkout", "-q", "task/1")  # the user looks at the branch in their own checkout
    lead(path, partial(task_ops.claim, actor="alice", task_id=1, lease=600))
    t, lines = teammate(path)
    assert t.run() == 0
    task = board(path).tasks[1]
    assert task.status == "pending" and task.owner == "", lines
    assert any("task/1 is checked out in" in ln and "cannot work on #1" in ln for ln in lines)
    assert any("released #1" in ln for ln in lines)
    assert sum("skipping #1" in ln for ln in lines) == 1  # not claimed again while checked out; said once
    assert git(path, "symbolic-ref", "--short", "HEAD") == "task/1"  # the user's checkout is untouched
    git(path, "checkout", "-q", "main")
    t2, lines2 = teammate(path)
    t2.run()
    assert board(path).tasks[1].status == "completed", lines2
    assert git(path, "show", "task/1:out.txt") == "done"


# -- 7. the message session's scratch worktree ----------------------------------------------

def test_message_session_worktree_is_under_the_git_dir_and_removed(tmp_path, monkeypatch):
    path = make_project(tmp_path)
    lead(path, partial(roster_ops.add_member, actor="lead", name="alice"))
    lead(path, partial(inbox_ops.send, sender="lead", to="alice", content="hello", msg_id="m1"))
    scratch = inbox_worktree(path, "alice")
    scratch.mkdir(parents=True)
    (scratch / "left-by-a-killed-session.txt").write_text("stale\n")  # what a kill -9 leaves
    out = tmp_path / "pwd.txt"
    monkeypatch.setenv("PWD_OUT", str(out))
    t, lines = teammate(path, agent=ExecAgent('pwd > "$PWD_OUT"; ls >> "$PWD_OUT"'))
    t.run()
    where, *files = out.read_text().splitlines()
    assert Path(where).resolve() == scratch.resolve(), lines
    assert "README.md" in files and "left-by-a-killed-session.txt" not in files  # a fresh checkout
    assert not scratch.exists()
    assert git(path, "worktree", "list").count("\n") == 0


# -- 5. board refusals and internal errors --------------------------------------------------

def test_a_claim_the_board_refuses_is_logged_once_and_skipped(tmp_path):
    path = make_project(tmp_path)
    add_tasks(path, [{"subject": "x", "run": "true"}])
    t, lines = teammate(path, lease=float("inf"))  # only reachable in-process: the CLI refuses it
    assert t.run() == 0
    assert board(path).tasks[1].status == "pending"
    assert sum("cannot claim #1" in ln for ln in lines) == 1, lines
    assert board(path).team.member("alice").status == "shutdown"


def test_an_internal_error_while_working_gives_the_task_back(tmp_path, monkeypatch):
    path = make_project(tmp_path)
    add_tasks(path, [{"subject": "x", "run": "echo work > w.txt"}])
    from gitboard.runtime import harness

    def broken(*a, **k):
        raise RuntimeError("a bug")

    monkeypatch.setattr(harness, "task_result", broken)
    t, lines = teammate(path)
    assert t.run() == 1
    b = board(path)
    assert b.tasks[1].status == "pending" and b.tasks[1].owner == "", lines
    assert git(path, "show", "task/1:w.txt") == "work"
    assert b.team.member("alice").status == "shutdown"
    assert any("internal error: RuntimeError: a bug" in ln for ln in lines)


# -- nitpicks ---------------------------------------------------------------------------------

def test_a_takeover_clears_the_previous_owners_roster_task(tmp_path):
    path = make_project(tmp_path)
    add_tasks(path, [{"subject": "x", "run": "true"}])
    lead(path, partial(task_ops.claim, actor="alice", task_id=1, lease=0.2))
    lead(path, partial(roster_ops.set_member, actor="alice", name="alice", status="working", task=1))
    # leases are stored to the second (rounded up): wait until alice's has expired
    wait_for(lambda: board(path).ready(utcnow(), None), 5, 0.05, what="alice's lease to expire")
    t, lines = teammate(path, "bob")
    t.run()
    b = board(path)
    assert b.tasks[1].status == "completed" and b.tasks[1].owner == "bob"
    assert b.team.member("alice").task is None


def test_an_inbox_outage_while_a_command_runs_is_logged_once(tmp_path):
    from gitboard.agents.command import run_command
    from tests.helpers.fake_port import FakePort, make_ctx

    class DownPort(FakePort):
        def read_inbox(self):
            raise GitFailure("cannot fetch: remote unreachable")

    port = DownPort()
    ctx = make_ctx(tmp_path, tmp_path, port=port, poll=0.02, task={"id": 0})
    res = run_command(ctx, "sleep 0.5")
    assert res.exit_code == 0
    assert sum("cannot read the inbox" in ln for ln in port.logs) == 1, port.logs
