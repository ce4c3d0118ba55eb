"""The store refuses what would damage a checkout or drop board commits, with git's reason."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import pytest

from gitboard.board import task_ops
from gitboard.board.errors import Diverged, GitFailure
from gitboard.store import transact as transact_mod
from gitboard.store.read import read_board
from gitboard.store.repo import BoardRepo
from gitboard.store.transact import transact


def add(path: Path, subject: str, offline: bool | None = None):
    with BoardRepo(path, offline=offline) as r:
        return transact(r, partial(task_ops.add, actor="lead", subject=subject))


def test_a_checked_out_board_branch_is_never_written(repo, git, board_tip, tmp_path):
    wt = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", str(wt), "gitboard")
    before = board_tip(repo)
    with pytest.raises(GitFailure, match="checked out in .*wt"):
        add(repo, "x")
    assert board_tip(repo) == before
    assert git(wt, "status", "--porcelain") == ""
    git(repo, "worktree", "remove", str(wt))
    assert add(repo, "x").id == 1


def test_a_branch_that_is_not_a_board_is_refused(repo, git, board_tip, run_cli):
    git(repo, "commit", "-q", "--allow-empty", "-m", "code", ident=True)
    git(repo, "branch", "develop")
    code_tip = board_tip(repo, "develop")
    res = run_cli(["init", "--branch", "develop"], cwd=repo)
    assert res.exit_code == 1 and "not a gitboard board" in res.stderr
    assert git(repo, "config", "gitboard.branch", check=False) == ""
    git(repo, "config", "gitboard.branch", "develop")
    res = run_cli(["task", "add", "oops"], cwd=repo)
    assert res.exit_code == 1 and "not a gitboard board" in res.stderr
    assert board_tip(repo, "develop") == code_tip


def test_sha256_repositories_are_refused_before_anything_is_written(tmp_path, git, run_cli):
    path = tmp_path / "s256"
    git(tmp_path, "init", "-q", "--object-format=sha256", str(path))
    res = run_cli(["init"], cwd=path)
    assert res.exit_code == 1 and "SHA-256" in res.stderr
    assert git(path, "for-each-ref") == ""
    assert not (path / ".git" / "gitboard").exists()


def test_a_stale_ref_lock_is_reported_with_gits_reason(repo, board_tip, monkeypatch):
    monkeypatch.setattr(transact_mod, "STUCK_SECONDS", 0.3)
    before = board_tip(repo)
    lock = repo / ".git" / "refs" / "heads" / "gitboard.lock"
    lock.write_text("")
    with pytest.raises(GitFailure, match="gitboard.lock.*File exists.*stale lock"):
        add(repo, "x")
    assert board_tip(repo) == before
    lock.unlink()
    assert add(repo, "x").id == 1


def test_remote_mode_never_drops_local_board_commits(clone, git, board_tip, run_cli):
    c1 = clone("c1")
    add(c1, "shared")
    git(c1, "config", "--unset", "gitboard.remote")
    add(c1, "local only")                      # a commit origin does not have
    add(clone("c2"), "remote only")            # ... while origin moves on
    git(c1, "config", "gitboard.remote", "origin")
    local = board_tip(c1)
    with BoardRepo(c1) as r, pytest.raises(Diverged, match="has commits that origin's board"):
        read_board(r)
    with pytest.raises(Diverged):
        add(c1, "more")
    res = run_cli(["task", "add", "more", "--json"], cwd=c1)  # one line, its kind, exit 1
    assert res.exit_code == 1 and json.loads(res.stdout)["error"]["kind"] == "diverged"
    assert res.stderr.count("\n") == 1 and res.stderr.startswith("gitboard: error: the local board branch")
    assert board_tip(c1) == local
    with BoardRepo(c1, offline=True) as r:     # the local copy is still readable
        assert [t.subject for t in read_board(r).tasks.values()] == ["shared", "local only"]


def test_remote_reads_fast_forward_the_local_branch(clone, board_tip):
    c1, c2 = clone("c1"), clone("c2")
    add(c2, "from c2")
    with BoardRepo(c1) as r:
        assert [t.subject for t in read_board(r).tasks.values()] == ["from c2"]
    assert board_tip(c1) == board_tip(c2)


def test_output_that_cannot_be_written_is_one_error_line(repo, gitboard_exe, tmp_path):
    import subprocess

    with open("/dev/full", "w") as full:
        p = subprocess.run([gitboard_exe, "task", "list", "--json"], cwd=repo, stdout=full,
                           stderr=subprocess.PIPE, text=True)
    assert p.returncode == 1
    assert p.stderr.splitlines() == ["gitboard: error: cannot write the output: No space left on device"]


def test_a_failing_file_of_the_work_is_named_not_taken_for_the_output(repo, gitboard_exe, tmp_path):
    """An OSError that is not a write to stdout (here: the parse cache's directory is a file)
    names the path in its one line instead of saying the output could not be written."""
    import os
    import subprocess

    state = repo / ".git" / "gitboard"
    import shutil

    shutil.rmtree(state, ignore_errors=True)
    state.write_text("not a directory\n")
    p = subprocess.run([gitboard_exe, "task", "list", "--json"], cwd=repo, capture_output=True, text=True,
                       env={**os.environ, "GITBOARD_DEBUG": ""})
    assert p.returncode == 1, p.stderr
    assert p.stderr.count("\n") == 1 and "cannot write the output" not in p.stderr, p.stderr
    assert p.stderr.startswith("gitboard: error: ") and str(state) in p.stderr, p.stderr


def test_a_stale_tip_from_an_overtaken_process_moves_no_ref_back(clone, git, board_tip):
    """Processes of one clone fetch and push side by side: one may come back with a tip that
    another has already mirrored past. That older tip is left behind, with no error."""
    from gitboard.store.read import mirror

    c1, c2 = clone("c1"), clone("c2")
    add(c1, "one")
    older = board_tip(c1)
    add(c2, "two")
    add(c1, "three")                        # c1 fetched "two", pushed "three": c1 is at the newest tip
    newest = board_tip(c1)
    tracking = "refs/remotes/origin/gitboard"
    with BoardRepo(c1) as r:
        mirror(r, older, "sync")                              # a fetch overtaken by the later ones
        assert (board_tip(c1), git(c1, "rev-parse", tracking)) == (newest, newest)
        git(c1, "update-ref", tracking, older)                # its forced fetch wrote the tracking ref last
        mirror(r, older, "sync")
        assert board_tip(c1) == newest
        mirror(r, git(c1, "rev-parse", f"{newest}~1"), "add", parent=older)  # a push overtaken the same way
        assert board_tip(c1) == newest
        assert [t.subject for t in read_board(r).tasks.values()] == ["one", "two", "three"]
    assert git(c1, "rev-parse", tracking) == newest



def test_a_worktree_directory_pruned_meanwhile_is_no_error(repo):
    """``git worktree prune`` in another process removes ``<git-dir>/worktrees`` once it is empty;
    a check for a checked-out board branch that lists it meanwhile sees no worktree, not an error."""
    import threading

    board = BoardRepo(repo)
    linked = Path(board.common_dir, "worktrees")
    stop = threading.Event()

    def prune_and_add() -> None:  # as git worktree prune and add, many times over
        while not stop.is_set():
            linked.mkdir(exist_ok=True)
            (linked / "wt").mkdir(exist_ok=True)
            (linked / "wt").rmdir()
            linked.rmdir()

    churn = threading.Thread(target=prune_and_add)
    churn.start()
    try:
        answers = {board.board_checked_out() for _ in range(5000)}
    finally:
        stop.set()
        churn.join()
    assert answers == {None}
