"""Exactly once: two merge queues in two clones of one bare remote, at the same time."""

from __future__ import annotations

import json
import subprocess
from functools import partial
from pathlib import Path

import pytest

from gitboard.board import task_ops
from gitboard.store.repo import BoardRepo
from gitboard.store.transact import transact
from tests.helpers.merge_helpers import commit_on, first_parent, g, init_board, project

N = 20


def completed_parts(path: Path, run_cli, n: int) -> None:
    """Tasks #1..#n ("part i"), each one new file on its ``task/<i>`` branch, claimed and
    completed by alice: candidates for the queue (with review off, or once approved)."""
    lines = "\n".join(json.dumps({"subject": f"part {i}"}) for i in range(1, n + 1))
    assert run_cli(["task", "import", "-"], cwd=path, input=lines).exit_code == 0
    with BoardRepo(path) as repo:
        for i in range(1, n + 1):
            commit_on(path, f"task/{i}", "main", {f"part{i}.txt": f"{i}\n"}, f"task #{i}: part {i}")
            transact(repo, partial(task_ops.claim, actor="alice", task_id=i))
            transact(repo, partial(task_ops.finish, actor="alice", task_id=i, ok=True, result={"branch": f"task/{i}"}))


@pytest.mark.slow
def test_two_queues_in_two_clones_merge_20_tasks_exactly_once(tmp_path: Path, run_cli, gitboard_exe: Path) -> None:
    bare = tmp_path / "remote.git"
    g(tmp_path, "init", "-q", "--bare", "-b", "main", str(bare))
    g(bare, "config", "gitboard.review", "none")  # the server's hook then takes merges of unapproved tasks
    lead = project(tmp_path / "lead", {"README": "r\n"})
    init_board(lead)  # the board is made locally (fast), then pushed: the queues' clones adopt it
    completed_parts(lead, run_cli, N)
    g(lead, "remote", "add", "origin", str(bare))
    g(lead, "push", "-q", "origin", "main", "gitboard", *[f"task/{i}" for i in range(1, N + 1)])
    queues = []
    for name in ("q1", "q2"):
        path = tmp_path / name
        g(tmp_path, "clone", "-q", str(bare), str(path))
        init_board(path, remote="origin")
        g(path, "config", "gitboard.review", "none")
        g(path, "checkout", "-q", "--detach")  # the base is not checked out in a queue's clone
        queues.append(path)
    procs = [subprocess.Popen([str(gitboard_exe), "-C", str(q), "merge", "--check", "true", "--json"],
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for q in queues]
    outs = [p.communicate(timeout=300) for p in procs]
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, err
    docs = [json.loads(out) for out, _ in outs]
    merged = sorted(docs[0]["merged"] + docs[1]["merged"])
    assert merged == list(range(1, N + 1)), docs  # each task by exactly one queue
    subjects = first_parent(bare, "main")
    assert len(subjects) == N + 1 and subjects[-1] == "start"
    assert sorted(subjects[:-1]) == sorted(f"Merge task #{i}: part {i}" for i in range(1, N + 1))
    tasks_in_log = g(bare, "log", "--first-parent", "--format=%(trailers:key=Gitboard-Task,valueonly,separator=)",
                     "main").split()
    assert sorted(map(int, tasks_in_log)) == list(range(1, N + 1))
    actions = g(bare, "log", "--format=%(trailers:key=Gitboard-Action,valueonly,separator=)", "gitboard").split()
    assert actions.count("merge") == N
    board = {t["id"]: t for t in run_cli(["task", "list", "--json"], cwd=queues[0]).json()}
    assert all(board[i]["status"] == "merged" for i in range(1, N + 1))
    tip_files = g(bare, "ls-tree", "--name-only", "main").split()
    assert all(f"part{i}.txt" in tip_files for i in range(1, N + 1))


@pytest.mark.slow
def test_spawned_teammate_and_a_following_queue_through_a_remote_rework_a_conflict_to_merged(
        tmp_path: Path, gitboard_exe: Path) -> None:
    import signal

    from tests.helpers.runtime_helpers import Spawner, add_tasks, board, make_remote_project, wait_for

    remote, (lead, alice) = make_remote_project(tmp_path, ["lead", "alice"])
    g(lead, "config", "gitboard.review", "none")
    g(remote, "config", "gitboard.review", "none")  # the server's hook too
    add_tasks(lead, [{"subject": "one", "run": "echo one > shared.txt"},
                     {"subject": "two", "run": "echo two > shared.txt; echo b > b.txt"}])
    spawner = Spawner(gitboard_exe)
    queue = None
    try:
        spawner.spawn(alice, "alice", "--agent", "shell", "--poll", "0.2", "--lease", "30", "--idle-timeout", "30")
        wait_for(lambda: all(t.status == "completed" for t in board(lead).tasks.values()), 120,
                 what="both tasks completed")
        queue = subprocess.Popen([str(gitboard_exe), "merge", "--follow", "--poll", "0.3", "--json"], cwd=lead,
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        wait_for(lambda: all(t.status == "merged" for t in board(lead).tasks.values()), 120,
                 what="both tasks merged")
    finally:
        if queue is not None:
            queue.send_signal(signal.SIGTERM)
            out, err = queue.communicate(timeout=60)
        spawner.cleanup()
    assert queue.returncode == 0, err
    doc = json.loads(out)  # both branches started from the same base: #2 conflicted once, then merged
    assert doc == {"merged": [1, 2], "rework": [{"id": 2, "reason": "conflict", "paths": ["shared.txt"]}],
                   "waiting": [], "stale": [], "unapproved": [], "no_branch": []}
    t2 = board(lead).tasks[2]
    assert t2.rework[-1]["reason"] == "conflict" and t2.owner == "alice"
    assert g(remote, "show", "main:shared.txt") == "two"
    assert g(remote, "show", "main:b.txt") == "b"
    assert len(first_parent(remote, "main")) == 3


@pytest.mark.slow
def test_two_queues_in_one_clone_with_the_base_checked_out_merge_each_task_once(tmp_path: Path, run_cli,
                                                                                gitboard_exe: Path) -> None:
    n = 15
    p = project(tmp_path / "p", {"README": "r\n"})
    init_board(p)
    g(p, "config", "gitboard.review", "none")
    completed_parts(p, run_cli, n)
    procs = [subprocess.Popen([str(gitboard_exe), "merge", "--check", "true", "--json"], cwd=p,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [proc.communicate(timeout=300) for proc in procs]
    for proc, (_, err) in zip(procs, outs):
        assert proc.returncode == 0, err
    docs = [json.loads(out) for out, _ in outs]
    assert sorted(docs[0]["merged"] + docs[1]["merged"]) == list(range(1, n + 1)), docs
    assert len(first_parent(p)) == n + 1
    assert g(p, "status", "--porcelain") == ""  # the checkout followed every merge: files, index and HEAD agree
    assert all((p / f"part{i}.txt").exists() for i in range(1, n + 1))
    assert "check-" not in g(p, "worktree", "list")
