"""A teammate that comes back after a takeover in another clone: its stale local branch never wins.

Real teammate processes (``gitboard spawn`` with the shell agent) in two clones of a bare remote,
SIGKILL, a lead's ``reject``, then ``approve`` and ``merge``: what lands on ``main`` is the rework,
never the rejected commit, and ``result.commit`` is always on the remote's task branch.
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import pytest

from gitboard.proc import pid_alive
from tests.helpers.runtime_helpers import (Spawner, add_tasks, board, git, log_of, make_remote_project, task_worktree,
                                        wait_for)

pytestmark = pytest.mark.slow


@pytest.fixture
def spawner(gitboard_exe):
    s = Spawner(gitboard_exe)
    yield s
    s.cleanup()


def opts(lease: str, idle: str) -> tuple[str, ...]:
    return ("--agent", "shell", "--poll", "0.2", "--lease", lease, "--idle-timeout", idle)


def backup_refs(path: Path) -> list[str]:
    out = git(path, "for-each-ref", "--format=%(refname)", "refs/gitboard/backup/")
    return [line for line in out.splitlines() if line]


def test_rework_after_a_takeover_replaces_the_stale_local_branch_and_merges_the_rework(tmp_path, spawner,
                                                                                       run_gitboard):
    remote, (clone_a, clone_b) = make_remote_project(tmp_path, ["A", "B"])
    go = tmp_path / "go"
    # alice's first run hangs (she is killed there); every later run finishes at once
    add_tasks(clone_a, [{"subject": "who", "run": f'echo "$GITBOARD_ACTOR" >> who.txt; [ -e {go} ] || sleep 60'}])
    alice = spawner.spawn(clone_a, "alice", *opts("3", "30"))
    wait_for(lambda: (task_worktree(clone_a, 1) / "who.txt").exists(), 30, what="alice to start #1")
    # a commit of her own on the local task/1 too, as an agent that commits as it goes would leave
    wt_a = task_worktree(clone_a, 1)
    git(wt_a, "-c", "user.name=a", "-c", "user.email=a@x.invalid", "commit", "-q", "--allow-empty", "-m", "alice wip")
    os.kill(alice, signal.SIGKILL)
    wait_for(lambda: not pid_alive(alice), 10, what="alice to die")
    go.touch()

    bob = spawner.spawn(clone_b, "bob", *opts("3", "8"))
    wait_for(lambda: board(clone_b).tasks[1].status == "completed", 60, what="bob to take #1 over and finish")
    rejected = board(clone_b).tasks[1].result["commit"]
    assert board(clone_b).tasks[1].owner == "bob"
    assert git(remote, "rev-parse", "refs/heads/task/1") == rejected
    wait_for(lambda: not pid_alive(bob), 60, what="bob to go idle and exit")  # or he would redo it himself
    r = run_gitboard(["reject", "1", "--feedback", "wrong person"], cwd=clone_b)
    assert r.exit_code == 0, r.stderr
    stale_local = git(clone_a, "rev-parse", "refs/heads/task/1")

    alice = spawner.spawn(clone_a, "alice", *opts("3", "3"))
    try:
        wait_for(lambda: board(clone_a).tasks[1].status == "completed" and board(clone_a).tasks[1].owner == "alice",
                 60, what="alice to redo #1")
    except AssertionError:
        print(log_of(clone_a, "alice"), board(clone_a).tasks[1])
        raise
    wait_for(lambda: not pid_alive(alice), 60, what="alice to exit")
    done = board(clone_a).tasks[1].result["commit"]
    # the completion's commit is the remote's task branch, and it continues from what was rejected
    assert git(remote, "rev-parse", "refs/heads/task/1") == done
    git(remote, "merge-base", "--is-ancestor", rejected, done)
    assert git(remote, "show", f"{done}:who.txt") == "alice"
    # the stale local branch (her own commit, her uncommitted file) is kept under a backup ref, named in her log
    refs = backup_refs(clone_a)
    assert refs and all(ref.startswith("refs/gitboard/backup/task/1/") for ref in refs), refs
    kept = git(clone_a, "rev-parse", refs[0])
    git(clone_a, "merge-base", "--is-ancestor", stale_local, kept)
    assert "alice" in git(clone_a, "show", f"{kept}:who.txt")
    log = log_of(clone_a, "alice")
    assert refs[0] in log
    assert "stays local" not in log and "cannot fast-forward" not in log

    for args in (["approve", "1"], ["merge", "1"]):
        r = run_gitboard(args, cwd=clone_b)
        assert r.exit_code == 0, (args, r.stdout, r.stderr)
    assert git(remote, "show", "main:who.txt") == "alice"
    git(remote, "merge-base", "--is-ancestor", done, "main")


def test_a_refused_push_never_completes_the_task(tmp_path, spawner):
    """The remote's task branch moved on under a teammate (another pusher): the task is failed with the
    reason, its result names no commit the remote lacks, and the local work is kept under a backup ref."""
    remote, (clone_a, clone_b) = make_remote_project(tmp_path, ["A", "B"])
    go = tmp_path / "go"
    add_tasks(clone_a, [{"subject": "race", "run": f'echo "$GITBOARD_ACTOR" >> who.txt; '
                                                    f'while [ ! -e {go} ]; do sleep 0.1; done'}])
    alice = spawner.spawn(clone_a, "alice", *opts("20", "3"))
    wait_for(lambda: (task_worktree(clone_a, 1) / "who.txt").exists(), 30, what="alice to start #1")
    # someone pushes task/1 from the other clone meanwhile
    git(clone_b, "checkout", "-q", "-b", "task/1", "origin/main")
    (clone_b / "other.txt").write_text("not alice's\n")
    git(clone_b, "add", "other.txt")
    git(clone_b, "-c", "user.name=m", "-c", "user.email=m@x.invalid", "commit", "-q", "-m", "other")
    git(clone_b, "push", "-q", "origin", "task/1")
    foreign = git(clone_b, "rev-parse", "HEAD")
    go.touch()
    wait_for(lambda: board(clone_a).tasks[1].status == "failed", 60, what="alice to fail #1")
    wait_for(lambda: not pid_alive(alice), 60, what="alice to exit")
    task = board(clone_a).tasks[1]
    assert git(remote, "rev-parse", "refs/heads/task/1") == foreign
    assert task.result["commit"] in (None, foreign)
    assert "push" in task.result["reason"] and "refs/gitboard/backup/task/1/" in task.result["reason"]
    refs = backup_refs(clone_a)
    assert len(refs) == 1
    assert git(clone_a, "show", f"{refs[0]}:who.txt") == "alice"
    assert "done #1" not in log_of(clone_a, "alice")


# -- prepare() on its own (no processes): which branch a claimed task continues from -------------

def _claim(path: Path, task_id: int, actor: str):
    from functools import partial

    from gitboard.board import task_ops
    from gitboard.store.repo import BoardRepo
    from gitboard.store.transact import transact

    with BoardRepo(path) as r:
        return transact(r, partial(task_ops.claim, actor=actor, task_id=task_id, lease=600))


def _prepare(path: Path, task, actor: str = "alice"):
    from gitboard.store.repo import BoardRepo
    from gitboard.runtime.worktree import prepare

    lines: list[str] = []
    with BoardRepo(path) as r:
        return prepare(r, task, board(path), actor=actor, log=lines.append), lines


def _commit(wt: Path, name: str, text: str, message: str) -> str:
    (wt / name).write_text(text)
    git(wt, "add", name)
    git(wt, "-c", "user.name=t", "-c", "user.email=t@x.invalid", "commit", "-q", "-m", message)
    return git(wt, "rev-parse", "HEAD")


@pytest.mark.parametrize("own_commit", [True, False], ids=["diverged", "behind-with-files"])
def test_a_stale_worktree_loses_to_the_remote_s_branch_but_nothing_is_lost(tmp_path, own_commit):
    _, (a, b) = make_remote_project(tmp_path, ["A", "B"])
    add_tasks(a, [{"subject": "x"}])
    task = _claim(a, 1, "alice")
    wt, _ = _prepare(a, task)
    mine = _commit(wt.path, "mine.txt", "alice\n", "alice's wip") if own_commit else None
    (wt.path / "who.txt").write_text("alice, uncommitted\n")  # bob's branch has this file: no fast-forward
    wt_b, _ = _prepare(b, task, "bob")
    theirs = _commit(wt_b.path, "who.txt", "bob\n", "bob's work")
    git(b, "push", "-q", "origin", "task/1")

    again, lines = _prepare(a, task)
    assert git(again.path, "rev-parse", "HEAD") == theirs == git(a, "rev-parse", "task/1")
    assert (again.path / "who.txt").read_text() == "bob\n" and git(again.path, "status", "--porcelain") == ""
    refs = backup_refs(a)
    assert len(refs) == 1 and refs[0] in "\n".join(lines)
    assert git(a, "show", f"{refs[0]}:who.txt") == "alice, uncommitted"
    if own_commit:
        git(a, "merge-base", "--is-ancestor", mine, refs[0])


def test_a_local_branch_ahead_of_the_remote_s_is_kept(tmp_path):
    _, (a, _b) = make_remote_project(tmp_path, ["A", "B"])
    add_tasks(a, [{"subject": "x"}])
    task = _claim(a, 1, "alice")
    wt, _ = _prepare(a, task)
    pushed = _commit(wt.path, "one.txt", "1\n", "one")
    git(a, "push", "-q", "origin", "task/1")
    ahead = _commit(wt.path, "two.txt", "2\n", "two")
    (wt.path / "three.txt").write_text("uncommitted\n")
    again, lines = _prepare(a, task)
    assert again.reused and git(again.path, "rev-parse", "HEAD") == ahead != pushed
    assert (again.path / "three.txt").exists() and backup_refs(a) == []


def test_rework_continues_from_the_rejected_commit_the_board_names(tmp_path):
    from gitboard.store.repo import BoardRepo
    from gitboard.runtime.worktree import remove
    from tests.helpers.runtime_helpers import make_project

    path = make_project(tmp_path)
    add_tasks(path, [{"subject": "x"}])
    task = _claim(path, 1, "alice")
    wt, _ = _prepare(path, task)
    rejected = _commit(wt.path, "work.txt", "v1\n", "the work the lead rejected")
    with BoardRepo(path) as r:
        remove(r, wt.path)
    # the branch was moved elsewhere meanwhile (by hand, say): it no longer holds the rejected commit
    other = git(path, "-c", "user.name=t", "-c", "user.email=t@x.invalid", "commit-tree", "main^{tree}", "-p", "main",
                "-m", "unrelated")
    git(path, "update-ref", "refs/heads/task/1", other)
    reworked = task.evolve(result={"branch": "task/1", "commit": rejected},
                           rework=({"reason": "review", "by": "lead", "at": task.updated_at, "feedback": "no"},))
    again, lines = _prepare(path, reworked)
    assert git(again.path, "rev-parse", "HEAD") == rejected
    assert any("rejected commit" in ln for ln in lines)
    assert [git(path, "rev-parse", ref) for ref in backup_refs(path)] == [other]


def test_a_teammate_that_lost_its_task_leaves_the_worktree_to_the_new_owner(tmp_path):
    """Taken over while its command ran (here the command itself has the lead take the claim back
    and bob claim it): the finishing teammate's done is refused, and the worktree -- the one a
    teammate of this clone that took the task over works in -- stays."""
    import shlex
    import sys

    from tests.helpers.runtime_helpers import make_project, teammate

    path = make_project(tmp_path)
    gb = f"{shlex.quote(sys.executable)} -m gitboard"
    add_tasks(path, [{"subject": "x", "run": f"{gb} task release 1 --force --as lead >/dev/null && "
                                             f"{gb} task claim 1 --as bob --lease 600 >/dev/null && echo mine > f.txt"}])
    t, lines = teammate(path, "alice")
    t.run()
    task = board(path).tasks[1]
    assert (task.status, task.owner) == ("in_progress", "bob")
    log = "\n".join(lines)
    assert "#1 is no longer mine" in log and "left to the new owner" in log
    assert task_worktree(path, 1).is_dir()
    assert (task_worktree(path, 1) / "f.txt").read_text() == "mine\n"
