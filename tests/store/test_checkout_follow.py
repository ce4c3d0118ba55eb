"""A checkout of the base follows a merge (store/merge.py: bring_along, dirty_paths), on real worktrees,
while another git process holds the index lock as an editor's ``git status`` does."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import pytest

from gitboard.board.errors import CheckoutDirty
from gitboard.store import merge
from gitboard.store.repo import BoardRepo
from tests.helpers.merge_helpers import completed_task, g, init_board, project


def two_commits(tmp_path: Path) -> tuple[Path, str, str]:
    p = project(tmp_path / "p", {"README": "r\n"})
    old = g(p, "rev-parse", "HEAD")
    (p / "new.txt").write_text("new\n")
    g(p, "add", "new.txt")
    g(p, "commit", "-q", "-m", "more")
    new = g(p, "rev-parse", "HEAD")
    g(p, "reset", "-q", "--hard", old)
    return p, old, new


def test_the_checkout_follows_once_the_index_lock_is_released(tmp_path):
    p, old, new = two_commits(tmp_path)
    lock = p / ".git" / "index.lock"
    lock.write_text("")  # another git process's lock, released a moment later
    threading.Timer(0.5, lock.unlink).start()
    merge.bring_along(BoardRepo(p), str(p), old, new)
    assert (p / "new.txt").read_text() == "new\n"
    assert g(p, "diff", "--cached", "--name-only", new) == ""  # the index is the new commit's


def test_an_index_that_stays_locked_changes_nothing(tmp_path, monkeypatch):
    p, old, new = two_commits(tmp_path)
    monkeypatch.setattr(merge, "INDEX_LOCK_SECONDS", 0.3)
    lock = p / ".git" / "index.lock"
    lock.write_text("")
    with pytest.raises(CheckoutDirty, match="index.lock"):
        merge.bring_along(BoardRepo(p), str(p), old, new)
    lock.unlink()
    assert not (p / "new.txt").exists() and g(p, "status", "--porcelain") == ""


def test_reading_the_checkout_writes_no_index(tmp_path):
    # git status refreshes stale stat data in the index, under index.lock, which another queue's
    # bring_along would then find taken; dirty_paths must leave the index as it is
    p, _, _ = two_commits(tmp_path)
    os.utime(p / "README", (2_000_000_000, 2_000_000_000))  # same content, new stat data
    (p / "other.txt").write_text("untracked\n")
    index = (p / ".git" / "index").read_bytes()
    assert merge.dirty_paths(str(p)) == {"other.txt"}
    assert (p / ".git" / "index").read_bytes() == index


def test_a_stale_index_lock_is_named_at_once_not_waited_for(tmp_path):
    p, old, new = two_commits(tmp_path)
    lock = p / ".git" / "index.lock"
    lock.write_text("")
    os.utime(lock, (1_000_000_000, 1_000_000_000))  # left by a git command that died long ago
    start = time.monotonic()
    with pytest.raises(CheckoutDirty) as caught:
        merge.bring_along(BoardRepo(p), str(p), old, new)
    assert time.monotonic() - start < merge.INDEX_LOCK_SECONDS / 2
    assert str(lock) in caught.value.message and "stash" not in caught.value.message
    assert lock.exists() and not (p / "new.txt").exists()


def test_merge_names_a_stale_index_lock_in_the_checked_out_base(tmp_path, run_gitboard):
    p = project(tmp_path / "p")
    init_board(p)
    tid = completed_task(lambda args, cwd: run_gitboard(args, cwd=cwd), p, "more", {"new.txt": "new\n"}, approve=True)
    lock = p / ".git" / "index.lock"
    lock.write_text("")
    os.utime(lock, (1_000_000_000, 1_000_000_000))
    start = time.monotonic()
    res = run_gitboard(["merge", str(tid)], cwd=p)
    assert res.exit_code == 3, (res.stdout, res.stderr)
    assert time.monotonic() - start < merge.INDEX_LOCK_SECONDS
    line, = res.stderr.splitlines()
    assert line.startswith("gitboard: error: ") and str(lock) in line and "stash" not in line
    assert g(p, "rev-parse", "main") == g(p, "rev-parse", "main@{0}") and not (p / "new.txt").exists()
    lock.unlink()
    res = run_gitboard(["merge", str(tid)], cwd=p)
    assert res.exit_code == 0, res.stderr
    assert (p / "new.txt").read_text() == "new\n"
