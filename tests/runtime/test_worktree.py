"""Task worktrees on real git: new branches with blockers merged, conflicts, stale worktrees, takeovers."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from functools import partial
from pathlib import Path

import pytest

from gitboard.board import task_ops
from gitboard.proc import pid_alive
from gitboard.store.repo import BoardRepo
from gitboard.store.transact import transact
from gitboard.runtime import harness
from gitboard.runtime.worktree import (MergeConflict, WorktreeError, pgid_file, prepare, remove,
                                    worktree_path)
from tests.helpers.runtime_helpers import add_tasks, board, git, make_project, make_remote_project


def claim(path: Path, task_id: int, actor: str = "alice"):
    with BoardRepo(path) as r:
        return transact(r, partial(task_ops.claim, actor=actor, task_id=task_id, lease=600))


def do_task(path: Path, task_id: int, files: dict[str, str], actor: str = "alice") -> str:
    """Claim, prepare, write files, commit and complete task ``task_id`` like the harness; returns the commit."""
    task = claim(path, task_id, actor)
    with BoardRepo(path) as r:
        wt = prepare(r, task, board(path), actor=actor)
        for name, text in files.items():
            (wt.path / name).write_text(text)
        commit = harness.commit_work(r, wt, task, actor, "did it")
        transact(r, partial(task_ops.finish, actor=actor, task_id=task_id, ok=True,
                            result={"branch": wt.branch, "commit": commit}))
        remove(r, wt.path)
    return commit


def test_new_worktree_merges_completed_blockers_in_id_order(tmp_path):
    path = make_project(tmp_path)
    add_tasks(path, [{"subject": "a"}, {"subject": "b"}, {"subject": "c", "blockedBy": [2, 1]}])
    c1 = do_task(path, 1, {"a.txt": "A\n"})
    do_task(path, 2, {"b.txt": "B\n"}, actor="bob")
    task = claim(path, 3)
    with BoardRepo(path) as r:
        wt = prepare(r, task, board(path), actor="alice")
    assert wt.path == worktree_path(BoardRepo(path), 3)
    assert ".git" not in wt.path.parts and not str(wt.path).startswith(str(path))
    assert wt.branch == "task/3" and wt.merged == (1, 2) and not wt.continued
    assert (wt.path / "a.txt").read_text() == "A\n" and (wt.path / "b.txt").read_text() == "B\n"
    subjects = git(wt.path, "log", "--format=%s", "-3").splitlines()
    assert subjects[:2] == ["merge task/2 into task/3", "merge task/1 into task/3"]
    assert git(path, "merge-base", "--is-ancestor", c1, "task/3", check=False) == ""
    # the user's checkout is untouched
    assert git(path, "status", "--porcelain") == "" and git(path, "symbolic-ref", "--short", "HEAD") == "main"


def test_commit_has_subject_and_trailers_without_identity(tmp_path):
    path = make_project(tmp_path)
    add_tasks(path, [{"subject": "Write  the\tparser"}])
    commit = do_task(path, 1, {"p.py": "x = 1\n"})
    msg = git(path, "log", "-1", "--format=%B", commit)
    assert msg.splitlines()[0] == "task #1: Write the parser"
    assert "Gitboard-Task: 1\nGitboard-Actor: alice" in msg
    assert git(path, "log", "-1", "--format=%an <%ae>", commit) == "alice <alice@gitboard.invalid>"
    assert git(path, "show", "task/1:p.py") == "x = 1"
    assert not worktree_path(BoardRepo(path), 1).exists()


def test_merge_conflict_lists_files_and_leaves_no_branch(tmp_path):
    path = make_project(tmp_path, files={"shared.txt": "base\n"})
    add_tasks(path, [{"subject": "a"}, {"subject": "b"}, {"subject": "c", "blockedBy": [1, 2]}])
    do_task(path, 1, {"shared.txt": "one\n"})
    do_task(path, 2, {"shared.txt": "two\n"})
    task = claim(path, 3)
    with BoardRepo(path) as r, pytest.raises(MergeConflict) as err:
        prepare(r, task, board(path), actor="alice")
    assert err.value.files == ["shared.txt"] and err.value.blocker == 2
    assert "shared.txt" in err.value.message
    assert git(path, "branch", "--list", "task/3") == ""
    assert not worktree_path(BoardRepo(path), 3).exists()


def test_stale_worktree_is_reused_with_its_files(tmp_path):
    path = make_project(tmp_path)
    add_tasks(path, [{"subject": "a"}])
    task = claim(path, 1)
    with BoardRepo(path) as r:
        wt = prepare(r, task, board(path), actor="alice")
        (wt.path / "half.txt").write_text("work so far\n")
        again = prepare(r, task, board(path), actor="bob")  # the teammate died; someone takes over here
    assert again.reused and again.continued and again.path == wt.path
    assert (again.path / "half.txt").read_text() == "work so far\n"


def test_broken_stale_directory_is_replaced(tmp_path):
    path = make_project(tmp_path)
    add_tasks(path, [{"subject": "a"}])
    task = claim(path, 1)
    with BoardRepo(path) as r:
        stale = worktree_path(r, 1)
        stale.mkdir(parents=True)
        (stale / "junk").write_text("x")
        wt = prepare(r, task, board(path), actor="alice")
    assert not wt.reused and (wt.path / "README.md").exists() and not (wt.path / "junk").exists()


def test_existing_branch_is_continued(tmp_path):
    path = make_project(tmp_path)
    add_tasks(path, [{"subject": "a"}])
    task = claim(path, 1)
    with BoardRepo(path) as r:
        wt = prepare(r, task, board(path), actor="alice")
        (wt.path / "wip.txt").write_text("wip\n")
        wip = harness.commit_work(r, wt, task, "alice", "work in progress")
        remove(r, wt.path)
        again = prepare(r, task, board(path), actor="bob")
    assert again.continued and not again.reused
    assert git(again.path, "rev-parse", "HEAD") == wip and (again.path / "wip.txt").exists()


def test_takeover_in_another_clone_continues_from_the_pushed_branch(tmp_path):
    _, (a, b) = make_remote_project(tmp_path, ["a", "b"])
    add_tasks(a, [{"subject": "a"}])
    task = claim(a, 1)
    with BoardRepo(a) as r:
        wt = prepare(r, task, board(a), actor="alice")
        assert git(wt.path, "rev-parse", "--abbrev-ref", "HEAD") == "task/1"
        (wt.path / "wip.txt").write_text("wip\n")
        wip = harness.commit_work(r, wt, task, "alice", "wip")
        git(a, "push", "-q", "origin", f"{wip}:refs/heads/task/1")
    with BoardRepo(b) as r:
        other = prepare(r, task, board(b), actor="bob")
    assert other.continued and git(other.path, "rev-parse", "HEAD") == wip


def test_leftover_command_of_a_dead_teammate_is_killed(tmp_path):
    path = make_project(tmp_path)
    add_tasks(path, [{"subject": "a"}])
    task = claim(path, 1)
    with BoardRepo(path) as r:
        wt = prepare(r, task, board(path), actor="alice")
        proc = subprocess.Popen(["sleep", "60"], cwd=wt.path, start_new_session=True)
        pgid_file(Path(r.common_dir) / "gitboard", 1).parent.mkdir(parents=True, exist_ok=True)
        pgid_file(Path(r.common_dir) / "gitboard", 1).write_text(f"{proc.pid}\n")
        prepare(r, task, board(path), actor="bob")
    proc.wait(timeout=10)
    assert proc.returncode == -signal.SIGKILL
    assert not pgid_file(Path(BoardRepo(path).common_dir) / "gitboard", 1).exists()


def test_leftover_outside_the_worktree_is_left_alone(tmp_path):
    path = make_project(tmp_path)
    add_tasks(path, [{"subject": "a"}])
    task = claim(path, 1)
    proc = subprocess.Popen(["sleep", "60"], cwd=tmp_path, start_new_session=True)
    try:
        with BoardRepo(path) as r:
            pgid_file(Path(r.common_dir) / "gitboard", 1).parent.mkdir(parents=True, exist_ok=True)
            pgid_file(Path(r.common_dir) / "gitboard", 1).write_text(f"{proc.pid}\n")
            prepare(r, task, board(path), actor="bob")
        time.sleep(0.1)
        assert pid_alive(proc.pid)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def test_no_base_commit_is_a_clear_error(git_repo):
    from gitboard.store.setup import init

    with BoardRepo(git_repo) as r:
        init(r, actor="lead", team_name="t")
    add_tasks(git_repo, [{"subject": "a"}])
    task = claim(git_repo, 1)
    with BoardRepo(git_repo) as r, pytest.raises(WorktreeError, match="no commit yet"):
        prepare(r, task, board(git_repo), actor="alice")


def test_init_sets_the_base_branch(tmp_path, git_repo):
    from gitboard.store.setup import init

    git(git_repo, "symbolic-ref", "HEAD", "refs/heads/trunk")
    with BoardRepo(git_repo) as r:
        init(r, actor="lead", team_name="t")
    assert git(git_repo, "config", "gitboard.base") == "trunk"
    # a clone in detached HEAD falls back to origin's HEAD
    (tmp_path / "r").mkdir()
    _, (c,) = make_remote_project(tmp_path / "r", ["c"])
    assert git(c, "config", "gitboard.base") == "main"
    git(c, "config", "--unset", "gitboard.base")
    git(c, "checkout", "-q", "--detach")
    with BoardRepo(c) as r:
        init(r, actor="lead", team_name="test", remote="origin")
    assert git(c, "config", "gitboard.base") == "main"
