"""The teammate loop in-process, on real repositories: claims, harness, failures, recovery, shutdown, outages."""

from __future__ import annotations

import os
import threading
import time
from functools import partial

from gitboard.board import inbox_ops, protocol_ops, task_ops
from gitboard.board.request import request_of
from gitboard.store.repo import BoardRepo
from gitboard.agents.exec import ExecAgent
from gitboard.runtime.worktree import prepare
from tests.helpers.runtime_helpers import add_tasks, board, git, lead, make_project, make_remote_project, teammate


def test_works_dependent_tasks_then_idles_out(tmp_path):
    path = make_project(tmp_path)
    add_tasks(path, [{"subject": "make a", "run": "echo A > a.txt"},
                     {"subject": "use a", "blockedBy": [1], "run": "cat a.txt > b.txt; echo B >> b.txt"}])
    t, lines = teammate(path)
    assert t.run() == 0
    b = board(path)
    assert [b.tasks[i].status for i in (1, 2)] == ["completed", "completed"]
    result = b.tasks[2].result
    assert set(result) >= {"branch", "commit", "summary", "usage"} and result["branch"] == "task/2"
    assert set(result["usage"]) == {"input_tokens", "output_tokens", "cache_read_input_tokens",
                                    "cache_creation_input_tokens"}
    assert git(path, "rev-parse", "task/2") == result["commit"]
    assert git(path, "show", "task/2:b.txt") == "A\nB"
    assert git(path, "worktree", "list").count("\n") == 0  # only the main checkout is left
    member = b.team.member("alice")
    assert member.status == "shutdown" and member.task is None
    claim_commit = git(path, "log", "-1", "--format=%H", "-E", "--grep=^Gitboard-Action: claim$", "gitboard")
    assert ".team/config.json" in git(path, "show", "--name-only", "--format=", claim_commit)
    assert any("claimed #1" in ln for ln in lines) and any("idle for" in ln for ln in lines)


def test_failing_command_fails_the_task_and_keeps_the_branch(tmp_path):
    path = make_project(tmp_path)
    add_tasks(path, [{"subject": "broken", "run": "echo partial > p.txt; echo oops; exit 4"}])
    t, lines = teammate(path)
    t.run()
    task = board(path).tasks[1]
    assert task.status == "failed"
    assert task.result["exit_code"] == 4 and "oops" in task.result["output_tail"]
    assert "exit 4" in task.result["reason"]
    assert git(path, "show", "task/1:p.txt") == "partial"  # kept for inspection
    assert any("failed #1" in ln for ln in lines)


def test_restart_resumes_the_task_it_owns_in_its_stale_worktree(tmp_path):
    path = make_project(tmp_path)
    add_tasks(path, [{"subject": "resume me", "run": "test -f half.txt && cat half.txt > full.txt"}])
    task = lead(path, partial(task_ops.claim, actor="alice", task_id=1, lease=600))
    with BoardRepo(path) as r:  # the crashed run left its worktree with work in it
        wt = prepare(r, task, board(path), actor="alice")
    (wt.path / "half.txt").write_text("before the crash\n")
    t, lines = teammate(path)
    t.run()
    assert board(path).tasks[1].status == "completed"
    assert git(path, "show", "task/1:full.txt") == "before the crash"
    assert any("resuming #1" in ln for ln in lines) and any("reusing the worktree" in ln for ln in lines)


def test_shell_agent_claims_only_runnable_tasks_of_its_role(tmp_path):
    path = make_project(tmp_path)
    add_tasks(path, [{"subject": "think"}, {"subject": "qa only", "run": "true", "role": "qa"},
                     {"subject": "do", "run": "true"}])
    t, _ = teammate(path)
    t.run()
    b = board(path)
    assert [b.tasks[i].status for i in (1, 2, 3)] == ["pending", "pending", "completed"]
    t2, _ = teammate(path, "quinn", role="qa")
    t2.run()
    assert board(path).tasks[2].owner == "quinn"


def test_idle_shutdown_request_is_approved(tmp_path):
    path = make_project(tmp_path)
    from gitboard.board import roster_ops

    lead(path, partial(roster_ops.add_member, actor="lead", name="alice"))
    lead(path, partial(protocol_ops.request_shutdown, sender="lead", to="alice", request_id="r1", msg_id="m1"))
    t, lines = teammate(path, idle_timeout=30)
    started = time.monotonic()
    assert t.run() == 0 and time.monotonic() - started < 10
    b = board(path)
    assert request_of(b, "r1").status == "approved" and b.team.member("alice").status == "shutdown"


def test_messages_while_idle_start_an_exec_session(tmp_path, monkeypatch):
    path = make_project(tmp_path)
    from gitboard.board import roster_ops

    lead(path, partial(roster_ops.add_member, actor="lead", name="alice"))
    lead(path, partial(inbox_ops.send, sender="lead", to="alice", content="please look at the logs", msg_id="m1"))
    out = tmp_path / "prompt.txt"
    monkeypatch.setenv("PROMPT_OUT", str(out))
    t, lines = teammate(path, agent=ExecAgent('cat > "$PROMPT_OUT"; pwd >> "$PROMPT_OUT"'))
    t.run()
    text = out.read_text()
    assert "please look at the logs" in text and "no task" in text
    assert any("1 message(s) while idle" in ln for ln in lines)
    assert not board(path).tasks  # nothing was claimed or made


def test_stop_while_working_commits_pushes_and_releases_for_a_continuing_takeover(tmp_path):
    _, (a, b) = make_remote_project(tmp_path, ["a", "b"])
    add_tasks(a, [{"subject": "long", "run": 'echo "$GITBOARD_ACTOR" >> who.txt; [ $(wc -l < who.txt) -ge 2 ] || sleep 30'}])
    t, lines = teammate(a, idle_timeout=30)
    threading.Thread(target=lambda: (time.sleep(1.5), t.stop()), daemon=True).start()
    started = time.monotonic()
    t.run()
    assert time.monotonic() - started < 20
    task = board(a).tasks[1]
    assert task.status == "pending" and task.owner == ""
    assert board(a).team.member("alice").status == "shutdown"
    assert "Work in progress, released by alice" in git(a, "log", "-1", "--format=%B", "origin/task/1")
    t2, lines2 = teammate(b, "bob")  # another clone: continues from the pushed branch
    t2.run()
    assert board(b).tasks[1].status == "completed"
    git(b, "fetch", "-q", "origin")
    assert git(b, "show", "origin/task/1:who.txt") == "alice\nbob"
    assert any("continuing from the existing branch task/1" in ln for ln in lines2)


def test_remote_outage_is_retried_until_the_work_lands(tmp_path):
    remote, (a,) = make_remote_project(tmp_path, ["a"])
    away = tmp_path / "away.git"
    add_tasks(a, [{"subject": "during an outage", "run": f'mv "{remote}" "{away}"; echo x > x.txt'}])
    t, lines = teammate(a, idle_timeout=1.0)

    def restore():
        while not away.exists():
            time.sleep(0.05)
        time.sleep(2.0)
        os.rename(away, remote)

    threading.Thread(target=restore, daemon=True).start()
    t.run()
    print("\n".join(lines))
    assert board(a).tasks[1].status == "completed"
    assert git(remote, "rev-parse", "refs/heads/task/1") == board(a).tasks[1].result["commit"]
    assert any("retrying in" in ln for ln in lines)


def test_merge_conflict_between_blockers_fails_the_dependent_task(tmp_path):
    path = make_project(tmp_path, files={"shared.txt": "base\n"})
    add_tasks(path, [{"subject": "one", "run": "echo one > shared.txt"},
                     {"subject": "two", "run": "echo two > shared.txt"},
                     {"subject": "both", "blockedBy": [1, 2], "run": "cat shared.txt"}])
    t, lines = teammate(path)
    t.run()
    task = board(path).tasks[3]
    assert task.status == "failed"
    assert "merge conflict" in task.result["reason"] and "shared.txt" in task.result["reason"]
    assert task.result["conflicts"] == ["shared.txt"] and task.result["branch"] is None
    assert git(path, "branch", "--list", "task/3") == ""
