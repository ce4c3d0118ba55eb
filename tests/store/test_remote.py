"""Remote mode: a bare remote's board branch is the board, shared by clones."""

from __future__ import annotations

import subprocess
import time
from functools import partial
from pathlib import Path

import pytest

from gitboard.board import task_ops
from gitboard.board.errors import Conflict, Diverged, GitFailure
from gitboard.store.read import read_board
from gitboard.store.repo import BoardRepo
from gitboard.store.setup import init
from gitboard.store.transact import Stats, transact
from tests.conftest import unhook


def do(path: Path, op, stats: Stats | None = None):
    with BoardRepo(path) as r:
        return transact(r, op, stats=stats)


def add(path: Path, subject: str):
    return do(path, partial(task_ops.add, actor="lead", subject=subject))


def board(path: Path, offline: bool | None = None):
    with BoardRepo(path, offline=offline) as r:
        return read_board(r)


def test_init_against_an_empty_remote_pushes_the_board(clone, bare_remote, git, board_tip):
    c1 = clone("c1", init=False)
    with BoardRepo(c1) as r:
        team, created = init(r, actor="lead", team_name="crew", remote="origin")
    assert created and team.team_name == "crew"
    assert board_tip(bare_remote) == board_tip(c1) is not None
    assert git(c1, "config", "gitboard.remote") == "origin"
    assert git(c1, "rev-parse", "refs/remotes/origin/gitboard") == board_tip(c1)
    assert git(bare_remote, "log", "--format=%(trailers:key=Gitboard-Action,valueonly)", "gitboard").strip() == "init"


def test_second_clone_adopts_the_board(clone, bare_remote, board_tip, git):
    c1 = clone("c1")
    add(c1, "one")
    tip = board_tip(bare_remote)
    c2 = clone("c2", init=False)
    with BoardRepo(c2) as r:
        team, created = init(r, actor="lead", team_name="ignored", remote="origin")
    assert not created and team.team_name == "test"
    assert board_tip(c2) == board_tip(bare_remote) == tip
    assert git(bare_remote, "rev-list", "--count", "gitboard") == "2"
    assert board(c2).tasks[1].subject == "one"


def test_writes_from_two_clones_interleave(clone, bare_remote, board_tip, git):
    c1, c2 = clone("c1"), clone("c2")
    assert add(c1, "from c1").id == 1
    assert add(c2, "from c2").id == 2            # c2 fetched c1's add before writing
    assert add(c1, "again c1").id == 3
    assert do(c2, partial(task_ops.claim, actor="bob", task_id=1)).owner == "bob"
    with pytest.raises(Conflict, match="claimed by bob"):
        do(c1, partial(task_ops.claim, actor="alice", task_id=1))
    assert do(c1, partial(task_ops.claim, actor="alice", task_id=None)).id == 2
    remote_tip = board_tip(bare_remote)
    assert board_tip(c1) == remote_tip           # c1 wrote last
    assert git(bare_remote, "rev-list", "--count", "--merges", "gitboard") == "0"
    assert git(bare_remote, "log", "--format=%s", "gitboard").splitlines() == [
        "claim #2 by alice", "claim #1 by bob", "add #3 by lead: again c1", "add #2 by lead: from c2",
        "add #1 by lead: from c1", "init board test by lead"]
    # reads are fresh: c2 sees c1's last claim without an explicit sync
    assert board(c2).tasks[2].owner == "alice"
    assert board_tip(c2) == remote_tip
    for path in (bare_remote, c1, c2):
        git(path, "fsck", "--strict", "--no-dangling")


def test_offline_reads_the_local_copy(clone, monkeypatch):
    c1, c2 = clone("c1"), clone("c2")
    add(c1, "one")
    assert board(c2, offline=True).tasks == {}
    monkeypatch.setenv("GITBOARD_OFFLINE", "1")
    assert board(c2).tasks == {}
    monkeypatch.delenv("GITBOARD_OFFLINE")
    assert list(board(c2).tasks) == [1]


def test_rejected_push_is_a_lost_race_and_is_retried(clone, bare_remote, git, gitboard_exe):
    c1, c2 = clone("c1"), clone("c2")
    seen = []

    def op(b, now):
        seen.append(b.tip)
        if len(seen) == 1:  # another clone writes between our fetch and our push
            p = subprocess.run([str(gitboard_exe), "task", "add", "interloper"], cwd=c2, capture_output=True)
            assert p.returncode == 0, p.stderr
        return task_ops.add(b, now, actor="lead", subject="mine")

    stats = Stats()
    task = do(c1, op, stats)
    assert stats.attempts == 2 and seen[0] != seen[1]
    assert task.id == 2
    assert git(bare_remote, "log", "--format=%s", "-2", "gitboard").splitlines() == [
        "add #2 by lead: mine", "add #1 by lead: interloper"]


def test_unreachable_remote_fails_and_the_local_branch_does_not_move(clone, git, board_tip, tmp_path):
    c1 = clone("c1")
    add(c1, "one")
    tip = board_tip(c1)
    tracking = git(c1, "rev-parse", "refs/remotes/origin/gitboard")
    git(c1, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    with pytest.raises(GitFailure, match="origin") as e:
        add(c1, "two")
    assert e.value.exit_code == 1
    with pytest.raises(GitFailure):
        board(c1)
    assert board_tip(c1) == tip
    assert git(c1, "rev-parse", "refs/remotes/origin/gitboard") == tracking
    assert list(board(c1, offline=True).tasks) == [1]


def test_init_with_unknown_or_unreachable_remote(git_repo, git, tmp_path):
    with BoardRepo(git_repo) as r, pytest.raises(GitFailure, match="no git remote"):
        init(r, actor="lead", team_name="t", remote="nope")
    git(git_repo, "remote", "add", "origin", str(tmp_path / "missing.git"))
    with BoardRepo(git_repo) as r, pytest.raises(GitFailure):
        init(r, actor="lead", team_name="t", remote="origin")
    assert git(git_repo, "for-each-ref") == ""
    assert git(git_repo, "config", "gitboard.remote", check=False) == ""


def test_local_board_is_pushed_to_a_remote_without_one(repo, bare_remote, git, board_tip):
    add(repo, "local task")
    git(repo, "remote", "add", "origin", str(bare_remote))
    with BoardRepo(repo) as r:
        _, created = init(r, actor="lead", team_name="t", remote="origin")
    assert not created
    assert board_tip(bare_remote) == board_tip(repo)
    assert add(repo, "shared").id == 2
    assert board_tip(bare_remote) == board_tip(repo)


def test_a_local_board_ahead_of_the_remote_fast_forwards_it(clone, bare_remote, git, board_tip):
    c1 = clone("c1")
    add(c1, "shared task")
    git(c1, "config", "--unset", "gitboard.remote")   # work offline in local mode for a while
    add(c1, "made while offline")
    ahead = board_tip(c1)
    assert board_tip(bare_remote) != ahead
    with BoardRepo(c1) as r:
        init(r, actor="lead", team_name="t", remote="origin")
    assert board_tip(bare_remote) == board_tip(c1) == ahead
    assert [t.subject for t in board(c1).tasks.values()] == ["shared task", "made while offline"]


def test_diverged_local_and_remote_boards_are_refused_at_init(repo, clone, bare_remote, git, board_tip):
    c1 = clone("c1")
    add(c1, "remote task")
    add(repo, "local task")
    local = board_tip(repo)
    git(repo, "remote", "add", "origin", str(bare_remote))
    with BoardRepo(repo) as r, pytest.raises(Diverged, match="diverged"):
        init(r, actor="lead", team_name="t", remote="origin")
    assert board_tip(repo) == local
    assert git(repo, "config", "gitboard.remote", check=False) == ""


def test_remote_without_a_board_is_reported(clone, bare_remote, git):
    c1 = clone("c1")
    git(bare_remote, "update-ref", "-d", "refs/heads/gitboard")
    with pytest.raises(GitFailure, match="no board"):
        board(c1)
    with pytest.raises(GitFailure, match="no board"):
        add(c1, "x")


def test_a_fast_forward_fetch_proves_the_ancestry_that_mirroring_needs(clone, bare_remote, git, board_tip,
                                                                       monkeypatch):
    """git's reflog says the fetch fast-forwarded the tracking ref, so the local branch follows
    without a ``git merge-base``; a forced update proves nothing, and divergence is still found."""
    from gitboard.store import remote as remote_ops

    c1, c2 = clone("c1"), clone("c2")
    board(c2)
    before = board_tip(c2)
    add(c1, "one")
    with BoardRepo(c2) as r:
        monkeypatch.setattr(BoardRepo, "is_ancestor", lambda *a: pytest.fail("merge-base was run"))
        assert board(c2).tasks[1].subject == "one"  # a read: fetch, then mirror
        tip = board_tip(c2)
        assert tip == board_tip(bare_remote) != before
        tail = (Path(r.common_dir) / "logs" / r.tracking_ref).read_text().splitlines()[-1]
        assert tail.startswith(f"{before} {tip} ") and tail.endswith(": fast-forward")
        monkeypatch.undo()
        # the remote's board rewritten on the server, past its hook: a forced update
        other = git(bare_remote, "commit-tree", "-m", "rewritten", f"{before}^{{tree}}", "-p", before, ident=True)
        git(bare_remote, "update-ref", "refs/heads/gitboard", other)
        assert remote_ops.fetch(r) == other and r.fast_forward is None
    with pytest.raises(Diverged):
        board(c2)  # the local branch has "one", which the remote's board lacks
    assert board_tip(c2) == tip


def test_a_remote_added_after_the_repository_was_opened_is_found(git_repo, bare_remote, git):
    with BoardRepo(git_repo) as r:
        assert "origin" not in r.remote_names
        git(git_repo, "remote", "add", "origin", str(bare_remote))
        team, created = init(r, actor="lead", team_name="t", remote="origin")
    assert created
    with BoardRepo(git_repo) as r:
        assert "origin" in r.remote_names


def test_remote_mode_board_commands_do_not_load_gitpython(clone):
    """Fetching and pushing run git itself; GitPython (about 35 ms to import) stays unloaded."""
    import json
    import sys

    probe = ("import json, sys\nfrom gitboard.cli.main import main\n"
             "try:\n    main(sys.argv[1:])\nexcept SystemExit as e:\n    code = e.code\n"
             "print(json.dumps({'code': code, 'git': 'git' in sys.modules}), file=sys.stderr)\n")
    c1 = clone("c1")
    for args in (["task", "add", "x", "--json"], ["task", "list", "--json"], ["task", "claim", "--next", "--as", "a"]):
        p = subprocess.run([sys.executable, "-c", probe, *args], cwd=c1, capture_output=True, text=True, timeout=120)
        report = json.loads(p.stderr.strip().splitlines()[-1])
        assert report == {"code": 0, "git": False}, (args, p.stderr)


def test_a_push_moves_the_clones_turn_ref_even_when_the_board_ref_loses(clone, bare_remote, git, board_tip):
    """The turn ref rides in the same push, not atomically: a losing clone is seen by the others."""
    from gitboard.store import remote

    unhook(bare_remote)  # plain commits, not board operations: the push mechanics alone
    c1, c2 = clone("c1"), clone("c2")
    ref = f"{remote.TURNS}c2"
    with BoardRepo(c2) as r2:
        base = remote.fetch(r2)
        add(c1, "moves the board")  # c2's push below is made on a tip the remote has left

        def commit_on(parent: str) -> str:
            return git(c2, "commit-tree", f"{parent}^{{tree}}", "-p", parent, "-m", "c2's write", ident=True)

        lost = commit_on(base)
        assert remote.push(r2, lost, exclusive=True, expect=base, also_ref=ref) is False
        assert git(bare_remote, "rev-parse", ref) == lost
        assert board_tip(bare_remote) != lost

        tip = remote.fetch(r2)
        won = commit_on(tip)
        assert remote.push(r2, won, exclusive=True, expect=tip, also_ref=ref) is True
        assert git(bare_remote, "rev-parse", ref) == won == board_tip(bare_remote)
    with BoardRepo(c1) as r1:
        remote.fetch(r1)
        seen = remote.turns(r1)
    assert seen["c2"][0] == won and time.time() - seen["c2"][1] < 60  # c2 moved it, just now


def test_a_server_that_refuses_turn_refs_still_takes_the_board_write(clone, bare_remote, git, board_tip):
    """gitolite without a rule for refs/gitboard/turns/: its update hook declines that ref alone."""
    hook = bare_remote / "hooks" / "update"
    hook.write_text('#!/bin/sh\ncase "$1" in refs/gitboard/turns/*) echo "no turns here" >&2; exit 1;; esac\n')
    hook.chmod(0o755)
    c1 = clone("c1")
    stats = Stats()
    task = do(c1, partial(task_ops.add, actor="lead", subject="lands"), stats)  # a first write: it announces
    assert task.id == 1 and stats.attempts == 1
    assert board(c1).tasks[1].subject == "lands" and board_tip(bare_remote) == board_tip(c1)
    assert git(bare_remote, "for-each-ref", "refs/gitboard/turns/") == ""


def test_a_look_lists_the_remotes_tip_and_turn_refs_without_fetching(clone, bare_remote, git, board_tip):
    """A held-back clone far from its turn looks with a ref listing: it learns the tip and who
    landed it, and brings no objects and moves no ref of its own."""
    from gitboard.store import remote

    c1, c2 = clone("c1"), clone("c2")
    add(c1, "first")
    with BoardRepo(c2) as r2:
        before = remote.fetch(r2)
        add(c1, "second")
        git(bare_remote, "update-ref", f"{remote.TURNS}c1", board_tip(bare_remote))  # c1 landed it
        tip, refs = remote.look(r2)
        assert tip == board_tip(bare_remote) != before
        assert refs["c1"] == tip
        assert r2.read_ref(r2.tracking_ref) == before                              # nothing fetched
        assert subprocess.run(["git", "cat-file", "-e", tip], cwd=c2).returncode != 0  # no objects
        assert remote.fetch(r2) == tip


def test_a_look_at_an_unreachable_remote_is_one_clear_error(clone, git, tmp_path):
    from gitboard.store import remote

    c1 = clone("c1")
    git(c1, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    with BoardRepo(c1) as r1, pytest.raises(GitFailure, match="cannot list the board's refs on origin"):
        remote.look(r1)


def test_deleting_turn_refs_on_an_unreachable_remote_is_one_clear_error_and_pruning_skips_it(clone, git, tmp_path,
                                                                                              monkeypatch):
    from gitboard.store import remote
    from gitboard.store.turn import Turn

    c1 = clone("c1")
    add(c1, "one")
    git(c1, "update-ref", f"refs/remotes/origin/gitboard-turns/{'a' * 16}", "refs/remotes/origin/gitboard")
    git(c1, "remote", "set-url", "origin", str(tmp_path / "gone.git"))
    with BoardRepo(c1) as r1:
        with pytest.raises(GitFailure, match="cannot delete turn refs on origin") as e:
            remote.delete_turns(r1, {"a" * 16: "0" * 40})
        assert "\n" not in e.value.message
        tried, real = [], remote.delete_turns
        monkeypatch.setattr(remote, "delete_turns", lambda r, refs: tried.append(refs) or real(r, refs))
        assert Turn(r1, "q").prune(now=time.time() + 10 * 86_400) == []   # upkeep: nothing raised
        assert "a" * 16 in tried[0]                                        # though it tried: the ref is stale
