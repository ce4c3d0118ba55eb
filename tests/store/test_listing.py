"""``task list --json`` from the parse cache gives exactly what the board gives."""

from __future__ import annotations

import json
from datetime import timedelta
from functools import partial

import pytest

from gitboard.board import task_ops
from gitboard.board.clock import iso, utcnow
from gitboard.board.layout import task_path
from gitboard.board.message import message_path
from gitboard.board.snapshot import Board
from gitboard.cli.common import task_array
from gitboard.store.cache import forget_all
from gitboard.store.listing import task_list_json
from gitboard.store.read import read_board
from gitboard.store.repo import BoardRepo
from gitboard.store.transact import transact

FILTERS = [{}, {"ready": True}, {"ready": True, "role": "dev"}, {"ready": True, "role": "ops"},
           {"status": "pending"}, {"status": "in_progress"}, {"status": "completed"}, {"owner": "alice"},
           {"owner": "bob", "status": "in_progress"}, {"ready": True, "owner": ""}]


def board_way(board: Board, now, status=None, owner=None, ready=False, role=None) -> str:
    """What ``task list --json`` printed from the board (gitboard/cli/task_cmds.py)."""
    tasks = [board.tasks[i] for i in sorted(board.tasks)]
    if ready:
        tasks = [t for t in tasks if board.is_ready(t, now) and (role is None or t.role in (None, role))]
    if status is not None:
        tasks = [t for t in tasks if t.status == status]
    if owner is not None:
        tasks = [t for t in tasks if t.owner == owner]
    return task_array(tasks)


@pytest.fixture
def varied(repo, board_commit, monkeypatch):
    """A board with tasks in every state, roles, blockers, leases (live and expired) and corrupt files."""
    monkeypatch.setattr("gitboard.store.transact._CHECK_RULES", False)

    def do(op, **kw):
        with BoardRepo(repo) as r:
            return transact(r, partial(op, **kw))

    items = [{"subject": f"t{i}", **({"role": "dev"} if i % 3 == 0 else {}), **({"blockedBy": [i - 1]} if i % 4 == 0 else {})}
             for i in range(1, 41)]
    do(task_ops.import_tasks, actor="lead", items=items)
    do(task_ops.claim, actor="alice", task_id=1, lease=600)
    do(task_ops.finish, actor="alice", task_id=1, ok=True)
    do(task_ops.claim, actor="bob", task_id=2, lease=600)  # live lease
    do(task_ops.claim, actor="alice", task_id=5, lease=600)
    do(task_ops.finish, actor="alice", task_id=5, ok=False)
    with BoardRepo(repo) as r:
        t6 = read_board(r).tasks[6]
    expired = t6.evolve(status="in_progress", owner="bob", lease_expires_at=iso(utcnow() - timedelta(seconds=30)))
    board_commit(repo, {task_path(6): expired.to_bytes(),
                        task_path(7): b"{ not json",
                        task_path(8): json.dumps({"id": 99, "subject": "wrong id"}).encode(),
                        task_path(9): json.dumps({"id": 9, "subject": "bad", "status": "nope"}).encode(),
                        message_path("lead", 1.0, "bad"): b"[broken",
                        ".tasks/00/00/notes.json": b"{}"})
    return repo


@pytest.mark.parametrize("filters", FILTERS, ids=[json.dumps(f) for f in FILTERS])
def test_the_cache_listing_equals_the_boards(varied, filters):
    with BoardRepo(varied) as r:
        board = read_board(r)  # fills the cache
    now = utcnow()
    forget_all()  # a new process: only the cache file
    with BoardRepo(varied) as r:
        got = task_list_json(r, now, **filters)
    assert got is not None
    pieces, corrupt = got
    text = b"".join(pieces).decode()
    assert json.loads(text) == json.loads(board_way(board, now, **filters))
    assert text == board_way(board, now, **filters)
    assert corrupt == dict(board.corrupt)
    assert set(corrupt) >= {task_path(7), task_path(8), task_path(9), message_path("lead", 1.0, "bad")}


def test_the_cli_uses_it_and_prints_what_the_board_would(varied, run_cli, monkeypatch):
    with BoardRepo(varied) as r:
        board = read_board(r)
    expected = board_way(board, utcnow(), ready=True)
    forget_all()
    import gitboard.store.read as read_mod

    def no(*a, **kw):
        raise AssertionError("read the whole board")

    monkeypatch.setattr(read_mod, "read_board", no)
    res = run_cli(["task", "list", "--ready", "--json"], cwd=varied)
    assert res.exit_code == 0 and res.stdout == expected + "\n"
    assert len(res.stderr.splitlines()) == len(board.corrupt) and "task_7.json is corrupt" in res.stderr


def test_without_the_cache_it_steps_aside(varied):
    forget_all()
    for f in (varied / ".git" / "gitboard" / "cache").iterdir():
        f.unlink()
    with BoardRepo(varied) as r:
        assert task_list_json(r, utcnow()) is None
        read_board(r)
        assert task_list_json(r, utcnow()) is None  # this process has the board: it is free
