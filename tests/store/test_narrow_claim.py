"""``claim --next`` from the listing index: the same task the whole board would give, without
parsing every task file, and never a partial board kept as the board of a tree."""

from __future__ import annotations

from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest

from gitboard.board import task_ops
from gitboard.board.clock import iso, utcnow
from gitboard.board.errors import NotFound
from gitboard.board.layout import task_path
from gitboard.store import narrow
from gitboard.store.cache import BoardCache, forget_all
from gitboard.store.listing import task_list_json
from gitboard.store.read import read_board
from gitboard.store.repo import BoardRepo
from gitboard.store.transact import transact


def do(path: Path, op):
    with BoardRepo(path) as r:
        return transact(r, op)


@pytest.fixture
def mixed(repo, board_commit, monkeypatch):
    """Tasks 1..12: #1 done, #6 blocked by #3, #3 and #9 for role dev, #4 in progress with an expired
    lease, #5 under a live lease, the rest pending; listed once (so the clone has an index)."""
    monkeypatch.setattr("gitboard.store.transact._CHECK_RULES", False)
    items = [{"subject": f"t{i}", **({"role": "dev"} if i in (3, 9) else {}),
              **({"blockedBy": [3]} if i == 6 else {})} for i in range(1, 13)]
    do(repo, partial(task_ops.import_tasks, actor="lead", items=items))
    do(repo, partial(task_ops.claim, actor="alice", task_id=1))
    do(repo, partial(task_ops.finish, actor="alice", task_id=1, ok=True))
    do(repo, partial(task_ops.claim, actor="bob", task_id=5, lease=600))
    with BoardRepo(repo) as r:
        t4 = read_board(r).tasks[4]
    board_commit(repo, {task_path(4): t4.evolve(status="in_progress", owner="bob",
                                                 lease_expires_at=iso(utcnow() - timedelta(seconds=30))).to_bytes()})
    with BoardRepo(repo) as r:
        read_board(r)  # parses the hand-made file into the clone's parse cache
        r.cache.save()
    forget_all()
    with BoardRepo(repo) as r:
        assert task_list_json(r, utcnow(), ready=True) is not None  # writes the tree's listing index
    return repo


def claims(path: Path, actor: str, role: str | None, n: int, make) -> list[int]:
    got = []
    for _ in range(n):
        forget_all()  # a fresh process each time
        try:
            got.append(do(path, make(actor, role)).id)
        except NotFound:
            got.append(0)
    return got


def full(actor: str, role: str | None):
    return partial(task_ops.claim, actor=actor, task_id=None, role=role)


def narrowed(actor: str, role: str | None):
    return narrow.claim_next(actor, role=role)


def test_it_claims_what_the_whole_board_would(mixed, tmp_path, git):
    twin = tmp_path / "twin"
    git(tmp_path, "clone", "-q", "--no-local", str(mixed), str(twin))
    git(twin, "branch", "-q", "gitboard", "origin/gitboard")
    want = claims(twin, "alice", None, 10, full) + claims(twin, "dan", "dev", 3, full)
    got = claims(mixed, "alice", None, 10, narrowed) + claims(mixed, "dan", "dev", 3, narrowed)
    assert got == want
    assert want == [2, 4, 7, 8, 10, 11, 12, 0, 0, 0, 3, 9, 0]  # #4 a takeover; #6 waits for #3


def test_it_reads_no_task_but_the_ones_it_needs(mixed, monkeypatch):
    forget_all()
    calls = []
    real = BoardCache.get_task
    monkeypatch.setattr(BoardCache, "get_task", lambda self, sha: calls.append(sha) or real(self, sha))
    task = do(mixed, narrowed("alice", None))
    assert task.id == 2 and task.owner == "alice"
    assert len(calls) <= 1  # the claim's own new file at most: the index answered for the others
    forget_all()
    with BoardRepo(mixed) as r:  # and the board after it is whole
        board = read_board(r)
    assert len(board.tasks) == 12 and board.tasks[2].owner == "alice"


def test_the_partial_board_is_not_kept_for_the_tree(mixed):
    forget_all()
    with BoardRepo(mixed) as r:
        before = read_board(r)  # this process knows the whole board
        task = transact(r, narrowed("alice", None))
        after = read_board(r)
    assert task.id == 2
    assert len(before.tasks) == len(after.tasks) == 12
    assert after.tasks[2].owner == "alice"


def test_without_an_index_it_reads_the_whole_board(repo, monkeypatch):
    monkeypatch.setattr("gitboard.store.transact._CHECK_RULES", False)
    do(repo, partial(task_ops.import_tasks, actor="lead", items=[{"subject": "a"}, {"subject": "b"}]))
    forget_all()
    assert do(repo, narrowed("alice", None)).id == 1
    assert do(repo, narrowed("alice", None)).id == 2
    with pytest.raises(NotFound):
        do(repo, narrowed("alice", None))
