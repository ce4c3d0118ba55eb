"""The ref watcher: a moved board ref is noticed from the ref files, with no git process per tick."""

from __future__ import annotations

import threading
import time
from functools import partial

from gitboard.board import task_ops
from gitboard.store import git as gitcmd
from gitboard.store.refwatch import RefWatcher, wait_for_change
from gitboard.store.repo import BoardRepo
from gitboard.store.transact import transact


def add_later(path, delay: float, subject: str = "later") -> threading.Thread:
    def run() -> None:
        time.sleep(delay)
        with BoardRepo(path) as r:
            transact(r, partial(task_ops.add, actor="lead", subject=subject))

    t = threading.Thread(target=run)
    t.start()
    return t


def test_a_new_commit_ends_the_wait_with_the_new_tip(repo, board_tip):
    old = board_tip(repo)
    writer = add_later(repo, 0.3)
    start = time.monotonic()
    new = wait_for_change(repo, old, 60)
    writer.join()
    assert new == board_tip(repo) != old
    assert time.monotonic() - start < 30  # woken by the change, not by the 60 s timeout


def test_a_timeout_returns_the_old_tip_and_runs_no_git(repo, board_tip, monkeypatch):
    old = board_tip(repo)
    with BoardRepo(repo) as r:
        watcher = RefWatcher(r)
        calls = []
        real = gitcmd.run
        monkeypatch.setattr(gitcmd, "run", lambda *a, **kw: calls.append(a) or real(*a, **kw))
        start = time.monotonic()
        assert watcher.wait_for_change(old, 0.5) == old
    assert time.monotonic() - start >= 0.5
    assert calls == []  # only stat() and a read of the ref file


def test_packed_refs_are_watched_too(repo, board_tip, git):
    git(repo, "pack-refs", "--all")
    assert not (repo / ".git" / "refs" / "heads" / "gitboard").exists()
    old = board_tip(repo)
    with BoardRepo(repo) as r:
        assert RefWatcher(r).tip() == old
        writer = add_later(repo, 0.3)
        new = RefWatcher(r).wait_for_change(old, 60)
        writer.join()
    assert new == board_tip(repo) != old


def test_repacking_without_a_move_does_not_end_the_wait(repo, board_tip, git):
    old = board_tip(repo)
    with BoardRepo(repo) as r:
        w = RefWatcher(r)
        git(repo, "pack-refs", "--all")  # the files change, the tip does not
        assert w.wait_for_change(old, 0.5) == old


def test_abort_ends_the_wait(repo, board_tip):
    old = board_tip(repo)
    abort = threading.Event()
    threading.Timer(0.2, abort.set).start()
    start = time.monotonic()
    with BoardRepo(repo) as r:
        assert RefWatcher(r).wait_for_change(old, 60, abort) == old
    assert time.monotonic() - start < 30
