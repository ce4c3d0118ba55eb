"""The one transaction function on real repositories (local mode)."""

from __future__ import annotations

import json
import threading
from functools import partial
from pathlib import Path

import pytest

from gitboard.board import task_ops
from gitboard.board.errors import Busy, Conflict, GitFailure, Invalid, NotFound
from gitboard.board.layout import task_path
from gitboard.board.task import Task
from gitboard.store.cache import FILE_NAME
from gitboard.store.read import read_board
from gitboard.store.repo import BoardRepo
from gitboard.store.setup import init
from gitboard.store.transact import Stats, transact


def do(path: Path, op, **kw):
    stats = Stats()
    with BoardRepo(path) as r:
        result = transact(r, op, stats=stats, **kw)
    return result, stats


def add(path: Path, subject: str, **kw) -> Task:
    return do(path, partial(task_ops.add, actor="lead", subject=subject, **kw))[0]


def trailers(git, path: Path, rev: str) -> dict:
    text = git(path, "log", "-1", "--format=%(trailers:only,unfold)", rev)
    return dict(line.split(": ", 1) for line in text.splitlines() if line)


def worktree_state(git, path: Path) -> dict:
    return {
        "status": git(path, "status", "--porcelain=v1", "--untracked-files=all", "--ignored"),
        "head_ref": git(path, "symbolic-ref", "-q", "HEAD", check=False),
        "head": git(path, "rev-parse", "--verify", "-q", "HEAD", check=False),
        "staged": git(path, "diff", "--cached", "--name-status"),
        "index": git(path, "ls-files", "-s"),
        "files": sorted(str(p.relative_to(path)) for p in path.rglob("*") if ".git" not in p.parts),
        "branches": git(path, "for-each-ref", "--format=%(refname)", "refs/heads"),
    }


def exercise(path: Path) -> None:
    add(path, "one")
    add(path, "two", blocked_by=[1])
    do(path, partial(task_ops.claim, actor="alice", task_id=None, lease=60))
    do(path, partial(task_ops.finish, actor="alice", task_id=1, ok=True))
    do(path, partial(task_ops.import_tasks, actor="lead", items=[{"subject": f"t{i}"} for i in range(70)]))
    with BoardRepo(path) as r:
        assert len(read_board(r).tasks) == 72


# -- one commit per change --------------------------------------------------------------------

def test_init_makes_one_root_commit_with_the_roster(git_repo, git, board_tip):
    with BoardRepo(git_repo) as r:
        team, created = init(r, actor="lead", team_name="crew")
    assert created and team.team_name == "crew"
    tip = board_tip(git_repo)
    assert git(git_repo, "rev-list", "--count", tip) == "1"
    assert git(git_repo, "ls-tree", "-r", "--name-only", tip).split() == [".gitboard/format.json", ".team/config.json"]
    assert git(git_repo, "show", f"{tip}:.gitboard/format.json") == '{"format": 2}'
    cfg = git(git_repo, "show", f"{tip}:.team/config.json")
    assert json.loads(cfg) == {"team_name": "crew", "members": []}
    assert cfg.endswith("}") and '\n  "team_name": "crew",' in cfg
    assert trailers(git, git_repo, tip) == {"Gitboard-Action": "init", "Gitboard-Actor": "lead"}


def test_init_is_idempotent(repo, board_tip):
    tip = board_tip(repo)
    with BoardRepo(repo) as r:
        team, created = init(r, actor="lead", team_name="other")
    assert not created and team.team_name == "test"
    assert board_tip(repo) == tip


def test_transact_writes_exactly_one_commit_child_of_old_tip(repo, git, board_tip):
    old = board_tip(repo)
    task, stats = do(repo, partial(task_ops.add, actor="alice", subject="Write the parser"))
    new = board_tip(repo)
    assert stats.attempts == 1 and stats.commit == new
    assert git(repo, "rev-list", "--count", f"{old}..{new}") == "1"
    assert git(repo, "rev-parse", f"{new}^") == old
    assert git(repo, "log", "-1", "--format=%s", new) == "add #1 by alice: Write the parser"
    assert trailers(git, repo, new) == {"Gitboard-Action": "add", "Gitboard-Task": "1", "Gitboard-Actor": "alice"}
    # the file in the commit is exactly the task's serialisation
    blob = git(repo, "cat-file", "blob", f"{new}:{task_path(1)}") + "\n"
    assert blob.encode() == task.to_bytes()
    assert git(repo, "diff-tree", "--no-commit-id", "--name-only", "-r", old, new) == task_path(1)


def test_commits_use_a_fallback_identity_naming_the_actor(repo, git):
    assert git(repo, "config", "user.name", check=False) == ""
    do(repo, partial(task_ops.add, actor="alice", subject="x"))
    who = git(repo, "log", "-1", "--format=%an <%ae>|%cn <%ce>", "gitboard")
    assert who == "alice <alice@gitboard.invalid>|alice <alice@gitboard.invalid>"


def test_commits_use_the_configured_identity_when_there_is_one(repo, git):
    git(repo, "config", "user.name", "Pat Lead")
    git(repo, "config", "user.email", "pat@example.com")
    do(repo, partial(task_ops.add, actor="alice", subject="x"))
    assert git(repo, "log", "-1", "--format=%an <%ae>", "gitboard") == "Pat Lead <pat@example.com>"


def test_every_action_is_one_commit_with_trailers(repo, git, board_tip):
    before = int(git(repo, "rev-list", "--count", "gitboard"))
    exercise(repo)
    log = git(repo, "log", "--format=%(trailers:key=Gitboard-Action,valueonly)", f"-{5}", "gitboard").split()
    assert log == ["import", "done", "claim", "add", "add"]
    assert int(git(repo, "rev-list", "--count", "gitboard")) == before + 5
    assert git(repo, "rev-list", "--merges", "gitboard") == ""
    git(repo, "fsck", "--strict", "--no-dangling")


# -- the user's work is never touched ---------------------------------------------------------

def test_unborn_head_repo_is_left_alone(git_repo, git, board_tip):
    (git_repo / "notes.txt").write_text("draft\n")
    (git_repo / "staged.txt").write_text("staged\n")
    git(git_repo, "add", "staged.txt")
    before = worktree_state(git, git_repo)
    assert before["head"] == ""  # unborn
    with BoardRepo(git_repo) as r:
        init(r, actor="lead", team_name="t")
    exercise(git_repo)
    after = worktree_state(git, git_repo)
    assert after == {**before, "branches": "refs/heads/gitboard"}
    assert git(git_repo, "rev-parse", "--verify", "-q", "HEAD", check=False) == ""


def test_repo_with_uncommitted_changes_is_left_alone(git_repo, git):
    (git_repo / "a.txt").write_text("one\n")
    (git_repo / "b.txt").write_text("two\n")
    (git_repo / ".gitignore").write_text("*.log\n")
    git(git_repo, "add", ".")
    git(git_repo, "commit", "-q", "-m", "base", ident=True)
    git(git_repo, "checkout", "-q", "-b", "feature")
    (git_repo / "a.txt").write_text("one changed\n")           # modified, unstaged
    (git_repo / "b.txt").write_text("two staged\n")
    git(git_repo, "add", "b.txt")                                # modified, staged
    (git_repo / "new.txt").write_text("untracked\n")             # untracked
    (git_repo / "x.log").write_text("ignored\n")                 # ignored
    before = worktree_state(git, git_repo)
    stash_before = git(git_repo, "stash", "list")
    with BoardRepo(git_repo) as r:
        init(r, actor="lead", team_name="t")
    exercise(git_repo)
    after = worktree_state(git, git_repo)
    assert set(after["branches"].split()) == set(before["branches"].split()) | {"refs/heads/gitboard"}
    after.pop("branches"), before.pop("branches")
    assert after == before
    assert (git_repo / "a.txt").read_text() == "one changed\n"
    assert git(git_repo, "stash", "list") == stash_before
    assert not (git_repo / ".tasks").exists() and not (git_repo / ".team").exists()


def test_board_branch_is_never_checked_out_and_head_reflog_is_untouched(git_repo, git):
    (git_repo / "a.txt").write_text("a\n")
    git(git_repo, "add", ".")
    git(git_repo, "commit", "-q", "-m", "base", ident=True)
    reflog = git(git_repo, "reflog", "show", "HEAD")
    with BoardRepo(git_repo) as r:
        init(r, actor="lead", team_name="t")
    exercise(git_repo)
    assert git(git_repo, "reflog", "show", "HEAD") == reflog
    assert git(git_repo, "symbolic-ref", "HEAD") != "refs/heads/gitboard"


# -- domain errors are answers ---------------------------------------------------------------

@pytest.mark.parametrize("op, exc", [
    (partial(task_ops.claim, actor="bob", task_id=1), Conflict),
    (partial(task_ops.finish, actor="bob", task_id=1, ok=True), Conflict),
    (partial(task_ops.claim, actor="bob", task_id=99), NotFound),
    (partial(task_ops.add, actor="lead", subject=" "), Invalid),
    (partial(task_ops.update, actor="lead", task_id=1, blocked_by=[2]), Invalid),  # cycle
])
def test_domain_error_is_not_retried_and_leaves_the_ref(repo, board_tip, op, exc):
    add(repo, "one")
    add(repo, "two", blocked_by=[1])
    do(repo, partial(task_ops.claim, actor="alice", task_id=1))
    tip = board_tip(repo)
    stats = Stats()
    with BoardRepo(repo) as r, pytest.raises(exc):
        transact(r, op, stats=stats)
    assert stats.attempts == 1 and stats.commit is None
    assert board_tip(repo) == tip


def test_no_change_makes_no_commit(repo, board_tip):
    add(repo, "one")
    do(repo, partial(task_ops.claim, actor="alice", task_id=1))
    tip = board_tip(repo)
    task, stats = do(repo, partial(task_ops.claim, actor="alice", task_id=1))
    assert task.owner == "alice" and stats.commit is None
    assert board_tip(repo) == tip


def test_transact_without_board_fails_and_creates_nothing(git_repo, git):
    with BoardRepo(git_repo) as r, pytest.raises(GitFailure, match="no board"):
        transact(r, partial(task_ops.add, actor="lead", subject="x"))
    assert git(git_repo, "for-each-ref") == ""


def test_not_a_git_repository(tmp_path):
    with pytest.raises(GitFailure, match="not a git repository"):
        BoardRepo(tmp_path)


# -- lost races are retried --------------------------------------------------------------------

def interlope(git, path: Path, board_tip, name: str) -> str:
    """Move the board ref behind the transaction's back: another writer's commit."""
    old = board_tip(path)
    blob = git(path, "hash-object", "-w", "--stdin", input=f'{{"note": "{name}"}}\n')
    tree = git(path, "mktree", input=git(path, "ls-tree", old) + f"\n100644 blob {blob}\t{name}.json\n")
    new = git(path, "commit-tree", tree, "-p", old, "-m", f"interloper {name}", ident=True)
    git(path, "update-ref", "refs/heads/gitboard", new, old)
    return new


def test_lost_compare_and_swap_is_retried_on_the_new_tip(repo, git, board_tip):
    add(repo, "one")
    seen: list[str | None] = []
    other: list[str] = []

    def op(board, now):
        seen.append(board.tip)
        if len(seen) == 1:
            other.append(interlope(git, repo, board_tip, "other"))
        return task_ops.add(board, now, actor="lead", subject="mine")

    task, stats = do(repo, op)
    assert stats.attempts == 2
    assert seen[1] == other[0] != seen[0]
    tip = board_tip(repo)
    assert git(repo, "rev-parse", f"{tip}^") == other[0]  # re-applied on top of the winner
    assert git(repo, "ls-tree", "--name-only", tip).split() == [".gitboard", ".tasks", ".team", "other.json"]
    assert task.id == 2


def test_gives_up_with_busy_after_the_deadline(repo, git, board_tip):
    calls = []

    def op(board, now):
        calls.append(board.tip)
        interlope(git, repo, board_tip, f"n{len(calls)}")
        return task_ops.add(board, now, actor="lead", subject="never lands")

    with BoardRepo(repo) as r, pytest.raises(Busy) as e:
        transact(r, op, deadline=1.0)
    assert e.value.exit_code == 1 and e.value.kind == "busy"
    assert len(calls) >= 1
    assert git(repo, "log", "-1", "--format=%s", "gitboard") == f"interloper n{len(calls)}"
    assert "never lands" not in git(repo, "log", "--format=%s", "gitboard")


def test_a_held_ref_lock_is_a_lost_race_not_an_error(repo, board_tip):
    lock = Path(repo, ".git", "refs", "heads", "gitboard.lock")
    lock.write_text("")
    released = threading.Event()

    def op(board, now):
        if not released.is_set():
            released.set()
            threading.Timer(0.2, lock.unlink).start()
        return task_ops.add(board, now, actor="lead", subject="after the lock")

    task, stats = do(repo, op, deadline=30)
    assert not lock.exists()
    assert stats.attempts >= 2 and task.id == 1
    with BoardRepo(repo) as r:
        assert read_board(r).tasks[1].subject == "after the lock"


# -- settings and worktrees --------------------------------------------------------------------

def test_custom_board_branch(git_repo, git, board_tip):
    with BoardRepo(git_repo) as r:
        init(r, actor="lead", team_name="t", branch="tasks")
    assert git(git_repo, "config", "gitboard.branch") == "tasks"
    assert board_tip(git_repo) is None and board_tip(git_repo, "tasks")
    add(git_repo, "x")
    assert git(git_repo, "log", "-1", "--format=%s", "tasks") == "add #1 by lead: x"


@pytest.mark.parametrize("branch", ["a/b", "-x", "a..b", "master"])
def test_bad_or_checked_out_board_branch_is_refused(git_repo, git, branch):
    git(git_repo, "symbolic-ref", "HEAD", "refs/heads/master")
    with BoardRepo(git_repo) as r, pytest.raises(Invalid):
        init(r, actor="lead", team_name="t", branch=branch)
    assert git(git_repo, "for-each-ref") == ""
    assert git(git_repo, "config", "gitboard.branch", check=False) == ""


def test_linked_worktree_shares_the_board_lock_and_cache(repo, git, tmp_path):
    (repo / "f").write_text("f\n")
    git(repo, "add", "f")
    git(repo, "commit", "-q", "-m", "base", ident=True)
    wt = tmp_path / "wt"
    git(repo, "worktree", "add", "-q", str(wt), "-b", "side")
    add(wt, "from the worktree")
    with BoardRepo(repo) as r:
        assert read_board(r).tasks[1].subject == "from the worktree"
    assert (repo / ".git" / "gitboard" / "board.lock").exists()
    assert (repo / ".git" / "gitboard" / "cache" / FILE_NAME).exists()
    assert not (repo / ".git" / "worktrees" / "wt" / "gitboard").exists()
    assert not list(wt.glob(".tasks*"))
