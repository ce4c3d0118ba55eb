"""What a killed teammate left in its clone (worktree, pgid file, task branch) is cleared at the
next teammate start once another clone took the task over, its uncommitted work saved to a ref."""

from __future__ import annotations

import signal
import subprocess
from functools import partial
from pathlib import Path

from gitboard.board import task_ops
from gitboard.board.errors import Conflict
from gitboard.store.repo import BoardRepo
from gitboard.store.transact import transact
from gitboard.runtime import harness
from gitboard.runtime.worktree import pgid_file, prepare
from tests.helpers.runtime_helpers import add_tasks, board, git, make_remote_project, teammate, wait_for


def claim(path: Path, task_id: int, actor: str, lease: float):
    with BoardRepo(path) as r:
        return transact(r, partial(task_ops.claim, actor=actor, task_id=task_id, lease=lease))


def try_claim(path: Path, task_id: int, actor: str):
    try:
        return claim(path, task_id, actor, lease=600)
    except Conflict:
        return None


def dead_pid() -> int:
    p = subprocess.Popen(["true"])
    p.wait()
    return p.pid


def test_a_dead_runs_worktree_pgid_file_and_branch_go_once_another_clone_took_the_task(tmp_path: Path) -> None:
    _, (a, b) = make_remote_project(tmp_path, ["a", "b"])
    add_tasks(a, [{"subject": "taken over"}, {"subject": "still alice's"}])
    # alice works on #1 and #2 in clone a, then dies (SIGKILL: her pid file stays, naming a dead pid)
    one = claim(a, 1, "alice", lease=1)
    two = claim(a, 2, "alice", lease=3600)
    with BoardRepo(a) as r:
        wt1 = prepare(r, one, board(a), actor="alice").path
        wt2 = prepare(r, two, board(a), actor="alice").path
        state = Path(r.common_dir) / "gitboard"
        (state / "pids").mkdir(parents=True, exist_ok=True)
        (state / "pids" / "alice.pid").write_text(f"{dead_pid()}\n")
    (wt1 / "wip.txt").write_text("alice's unfinished work\n")
    left = subprocess.Popen(["sleep", "300"], cwd=wt1, start_new_session=True)  # her command, still running
    pgid_file(state, 1).write_text(f"{left.pid}\n")
    try:
        # bob takes #1 over in clone b once the lease has run out, and completes it there
        task = wait_for(lambda: try_claim(b, 1, "bob"), 10, what="alice's lease on #1 to run out")
        with BoardRepo(b) as r:
            wt = prepare(r, task, board(b), actor="bob")
            (wt.path / "bob.txt").write_text("bob\n")
            commit = harness.commit_work(r, wt, task, "bob", "bob did it")
            git(b, "push", "-q", "origin", f"{commit}:refs/heads/task/1")
            transact(r, partial(task_ops.finish, actor="bob", task_id=1, ok=True,
                                result={"branch": "task/1", "commit": commit}))
        assert "task/1" in git(a, "branch", "--list", "task/1")
        # the next teammate started in clone a clears #1's leftovers, and keeps #2's (still alice's)
        t, lines = teammate(a, "carol")
        assert t.run() == 0, lines
        left.wait(timeout=10)
        assert left.returncode == -signal.SIGKILL
        assert not wt1.exists() and str(wt1) not in git(a, "worktree", "list")
        assert not pgid_file(state, 1).exists()
        assert git(a, "branch", "--list", "task/1") == ""
        saved = git(a, "for-each-ref", "--format=%(refname)", "refs/gitboard/backup/task/1/")
        assert saved.count("\n") == 0 and saved.startswith("refs/gitboard/backup/task/1/")
        assert git(a, "show", f"{saved}:wip.txt") == "alice's unfinished work"
        assert any(saved in line and str(wt1) in line for line in lines), lines
        assert wt2.is_dir() and "task/2" in git(a, "branch", "--list", "task/2")
    finally:
        if left.poll() is None:
            left.kill()
            left.wait()
