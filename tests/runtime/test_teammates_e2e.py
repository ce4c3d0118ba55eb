"""Teammates as real OS processes (``gitboard spawn``) on one board: slow, multi-process, real git.

Short ``--poll`` and ``--idle-timeout`` and small leases keep them fast; there are no
assertions on speed, only on order and outcome.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
from pathlib import Path

import pytest

from gitboard.proc import pid_alive
from tests.helpers.runtime_helpers import (Spawner, add_tasks, board, claims_in_log, git, log_of, make_project,
                                        make_remote_project, task_worktree, wait_for)

pytestmark = pytest.mark.slow

FAST = ("--agent", "shell", "--poll", "0.2", "--lease", "20")

#: A diamond of dependencies: 4 after 1,2; 5 after 2,3; 6 after 4,5; 7 after 6; 9 after 8,1.
DAG = {1: [], 2: [], 3: [], 4: [1, 2], 5: [2, 3], 6: [4, 5], 7: [6], 8: [], 9: [8, 1]}


@pytest.fixture
def spawner(gitboard_exe):
    s = Spawner(gitboard_exe)
    yield s
    s.cleanup()


def dag_tasks(events: Path) -> list[dict]:
    run = ('echo "start $GITBOARD_TASK $(date +%s%N)" >> {ev}; mkdir -p out; echo "$GITBOARD_ACTOR" > out/$GITBOARD_TASK.txt; '
           'sleep 0.2; echo "end $GITBOARD_TASK $(date +%s%N)" >> {ev}')
    return [{"subject": f"step {k}", "blockedBy": deps, "run": run.format(ev=events)} for k, deps in DAG.items()]


def closure(k: int) -> set[int]:
    out: set[int] = set()
    todo = list(DAG[k])
    while todo:
        b = todo.pop()
        if b not in out:
            out.add(b)
            todo += DAG[b]
    return out


def check_dag_run(events: Path, claims: list[str], tree_of) -> None:
    starts, ends = {}, {}
    for line in events.read_text().splitlines():
        kind, task, ns = line.split()
        assert int(task) not in (starts if kind == "start" else ends), f"task {task} {kind}ed twice"
        (starts if kind == "start" else ends)[int(task)] = int(ns)
    assert set(starts) == set(ends) == set(DAG)
    for k, deps in DAG.items():
        for b in deps:
            assert starts[k] > ends[b], f"#{k} started before its blocker #{b} ended"
    ids = [int(s.split("#")[1].split()[0]) for s in claims]
    assert sorted(ids) == sorted(DAG), f"claims: {claims}"  # exactly one claim commit per task
    assert not any("takeover" in s for s in claims)
    for k in DAG:
        files = tree_of(k)
        for b in closure(k) | {k}:
            assert f"out/{b}.txt" in files, f"task/{k} lacks the work of #{b}"


def wait_exit(pids: list[int], timeout: float = 60) -> None:
    wait_for(lambda: not any(pid_alive(p) for p in pids), timeout, what="the teammates to exit")


def test_two_teammates_on_dependent_tasks(tmp_path, spawner):
    path = make_project(tmp_path)
    events = tmp_path / "events.txt"
    add_tasks(path, dag_tasks(events))
    pids = [spawner.spawn(path, name, *FAST, "--idle-timeout", "3") for name in ("alice", "bob")]
    team = json.loads(subprocess.run([str(spawner.exe), "team", "--json"], cwd=path, capture_output=True).stdout)
    assert {m["name"]: m["pid"] for m in team["members"]} == dict(zip(("alice", "bob"), pids))
    wait_for(lambda: all(t.status == "completed" for t in board(path).tasks.values()), 90, what="all tasks done")
    wait_exit(pids)
    check_dag_run(events, claims_in_log(path),
                  lambda k: git(path, "ls-tree", "-r", "--name-only", f"task/{k}").splitlines())
    b = board(path)
    assert {t.owner for t in b.tasks.values()} <= {"alice", "bob"}
    assert all(m.status == "shutdown" for m in b.team.members)
    assert git(path, "worktree", "list").count("\n") == 0
    assert "[alice] claimed #" in log_of(path, "alice") and "[bob] done #" in log_of(path, "bob")


def test_four_teammates_in_two_clones_of_a_remote(tmp_path, spawner):
    remote, clones = make_remote_project(tmp_path, ["c1", "c2"])
    events = tmp_path / "events.txt"
    add_tasks(clones[0], dag_tasks(events))
    pids = []
    for i, name in enumerate(("alice", "bob", "carol", "dave")):
        pids.append(spawner.spawn(clones[i % 2], name, *FAST, "--idle-timeout", "4"))
    wait_for(lambda: all(t.status == "completed" for t in board(clones[0]).tasks.values()), 120,
             what="all tasks done")
    wait_exit(pids)
    git(clones[1], "fetch", "-q", "origin")
    check_dag_run(events, claims_in_log(clones[1], "origin/gitboard"),
                  lambda k: git(remote, "ls-tree", "-r", "--name-only", f"refs/heads/task/{k}").splitlines())
    assert git(remote, "fsck", "--no-dangling", "--no-progress") == ""  # rejected pushes leave dangling commits


SLOW_TASK = 'echo "$GITBOARD_ACTOR" >> who.txt; [ "$(wc -l < who.txt)" -ge 2 ] || sleep 60'


def worktree_file(path: Path, task_id: int, name: str) -> Path:
    return task_worktree(path, task_id) / name


def test_kill_9_then_takeover_after_the_lease_continues_the_work(tmp_path, spawner):
    path = make_project(tmp_path)
    add_tasks(path, [{"subject": "slow", "run": SLOW_TASK}])
    alice = spawner.spawn(path, "alice", "--agent", "shell", "--poll", "0.2", "--lease", "3", "--idle-timeout", "30")
    wait_for(lambda: worktree_file(path, 1, "who.txt").exists(), 30, what="alice to start the task")
    # bob's idle timeout must outlast alice's lease (up to 3 s after her last renewal), or he may leave first
    bob = spawner.spawn(path, "bob", "--agent", "shell", "--poll", "0.2", "--lease", "3", "--idle-timeout", "6")
    os.kill(alice, signal.SIGKILL)
    wait_for(lambda: board(path).tasks[1].status == "completed", 60, what="bob to take over and finish")
    task = board(path).tasks[1]
    assert task.owner == "bob"
    assert "claim #1 by bob (takeover from alice)" in claims_in_log(path)
    assert git(path, "show", "task/1:who.txt") == "alice\nbob"  # the work so far was kept
    log = log_of(path, "bob")
    assert "took over #1 from alice" in log and "reusing the worktree" in log
    wait_exit([bob])
    team = json.loads(subprocess.run([str(spawner.exe), "team", "--json"], cwd=path, capture_output=True).stdout)
    assert {m["name"]: m["status"] for m in team["members"]}["alice"] == "dead"


def test_restarted_teammate_resumes_the_task_it_owns(tmp_path, spawner):
    path = make_project(tmp_path)
    add_tasks(path, [{"subject": "slow", "run": SLOW_TASK}])
    first = spawner.spawn(path, "alice", "--agent", "shell", "--poll", "0.2", "--lease", "60", "--idle-timeout", "30")
    wait_for(lambda: worktree_file(path, 1, "who.txt").exists(), 30, what="alice to start the task")
    os.kill(first, signal.SIGKILL)
    wait_for(lambda: not pid_alive(first), 10, what="alice to die")
    assert board(path).team.member("alice").status == "working"
    second = spawner.spawn(path, "alice", "--agent", "shell", "--poll", "0.2", "--lease", "60", "--idle-timeout", "2")
    wait_for(lambda: board(path).tasks[1].status == "completed", 60, what="alice to resume and finish")
    assert git(path, "show", "task/1:who.txt") == "alice\nalice"
    assert claims_in_log(path) == ["claim #1 by alice"]  # resumed, not claimed again
    assert "resuming #1" in log_of(path, "alice")
    wait_exit([second])


def test_spawning_a_working_name_exits_3(tmp_path, spawner, run_gitboard):
    path = make_project(tmp_path)
    add_tasks(path, [{"subject": "slow", "run": "sleep 60"}])
    pid = spawner.spawn(path, "alice", "--agent", "shell", "--poll", "0.2", "--idle-timeout", "30")
    wait_for(lambda: board(path).tasks[1].owner == "alice", 30, what="alice to claim")
    res = run_gitboard(["spawn", "alice", "--agent", "shell"], cwd=path)
    assert res.exit_code == 3 and res.stderr.startswith("gitboard: error: alice is working")
    assert res.stderr.count("\n") == 1
    os.kill(pid, signal.SIGTERM)  # stops its command, releases the task
    wait_for(lambda: not pid_alive(pid), 15, what="alice to stop")
    assert board(path).tasks[1].status == "pending"


def test_stop_wait_ends_an_idle_teammate_through_the_protocol(tmp_path, spawner, run_gitboard):
    path = make_project(tmp_path)
    pid = spawner.spawn(path, "bob", "--agent", "shell", "--poll", "0.2", "--idle-timeout", "60")
    wait_for(lambda: (m := board(path).team.member("bob")) and m.status == "idle", 30, what="bob idle")
    res = run_gitboard(["stop", "bob", "--wait", "30"], cwd=path)
    assert res.exit_code == 0, res.stderr
    wait_for(lambda: not pid_alive(pid), 15, what="bob to exit")
    assert board(path).team.member("bob").status == "shutdown"
    assert "approving (idle)" in log_of(path, "bob")


def test_stop_wait_ends_a_working_teammate_and_releases_its_task(tmp_path, spawner, run_gitboard):
    path = make_project(tmp_path)
    add_tasks(path, [{"subject": "slow", "run": "echo started > s.txt; sleep 60"}])
    pid = spawner.spawn(path, "bob", "--agent", "shell", "--poll", "0.2", "--idle-timeout", "60")
    wait_for(lambda: worktree_file(path, 1, "s.txt").exists(), 30, what="bob to start")
    res = run_gitboard(["stop", "bob", "--wait", "30"], cwd=path)
    assert res.exit_code == 0, res.stderr
    wait_for(lambda: not pid_alive(pid), 15, what="bob to exit")
    b = board(path)
    assert b.team.member("bob").status == "shutdown"
    assert b.tasks[1].status == "pending" and b.tasks[1].owner == ""
    assert git(path, "show", "task/1:s.txt") == "started"  # the work so far is on the branch
    assert "released #1" in log_of(path, "bob")
