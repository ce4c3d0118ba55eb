"""The parse cache beyond blobs: commit -> tree -> listing, validated tasks, and what a warm read costs.

(Speed itself is measured by ``bench/bench.py``; these tests pin the behaviour the speed rests on.)
"""

from __future__ import annotations

import json
import marshal
import zlib
from functools import partial
from pathlib import Path

import pytest

from gitboard.board import task_ops
from gitboard.board.change import Change, trailers
from gitboard.board.layout import task_path
from gitboard.board.task import Task, task_from_record, task_record
from gitboard.cli.common import task_array
from gitboard.store import git as gitcmd
from gitboard.store import cache as cache_mod
from gitboard.store.cache import FILE_NAME, BoardCache, forget_all
from gitboard.store.objects import list_tree, tree_id
from gitboard.store.read import read_board
from gitboard.store.repo import BoardRepo
from gitboard.store.transact import transact
from tests.helpers.board_helpers import do


def write_files(writes: dict[str, bytes | None]):
    """An operation that writes arbitrary board files (None deletes)."""
    def op(board, now):
        return Change(writes, "hand-made change", trailers("update", "lead"))
    return op


def git_tree(git, path: Path, tree: str) -> dict:
    """The entries of ``tree`` as git lists them: name -> (mode, id)."""
    out = {}
    for line in git(path, "ls-tree", "-z", tree).split("\0"):
        if line:
            meta, name = line.split("\t", 1)
            mode, _, sha = meta.split()
            out[name] = (int(mode, 8), sha)
    return out


def cached_trees_match_git(git, path: Path) -> int:
    """Check that the cache file holds the tip's tree and every tree under it exactly as git
    lists them (in git's order too); return how many trees that is."""
    with BoardRepo(path) as r:
        cache = BoardCache(r.state_dir("cache"))  # what the file holds, as a new process reads it
        tree = cache.tree_of(r.tip())
        assert tree == tree_id(r, r.tip())
    stack, seen = [tree], 0
    while stack:
        t = stack.pop()
        mine, real = cache.entries(t), git_tree(git, path, t)
        assert mine == real and list(mine) == list(real)
        stack += [sha for mode, sha in mine.values() if mode == 0o40000]
        seen += 1
    return seen


@pytest.fixture
def git_calls(monkeypatch):
    """The git commands gitboard runs through :func:`gitboard.store.git.run`, as argument tuples."""
    calls: list[tuple[str, ...]] = []
    real = gitcmd.run

    def spy(cwd, args, **kw):
        calls.append(tuple(args))
        return real(cwd, args, **kw)

    monkeypatch.setattr(gitcmd, "run", spy)
    return calls


def test_a_writer_records_its_commit_and_trees_exactly_as_git_lists_them(repo, git, monkeypatch):
    monkeypatch.setattr("gitboard.store.transact._CHECK_RULES", False)  # it writes files no operation would
    steps = [
        partial(task_ops.add, actor="lead", subject="one"),
        partial(task_ops.add, actor="lead", subject="two"),
        partial(task_ops.claim, actor="alice", task_id=2),
        write_files({".team/inbox/bob/1-a.json": b'{"text": "hi"}\n', ".team/inbox/lead/2-b.json": b"{}\n"}),
        write_files({".team/inbox/bob/1-a.json": None}),  # an emptied directory disappears
        write_files({".tasks/notes.txt": b"not a board file\n", "a.json": b"[1]\n"}),
        write_files({".team/z.json": b"{}\n", ".team/\u00e9t\u00e9.json": b"{}\n", ".team/a-b/c.json": b"{}\n",
                     ".team/a.json": b"{}\n", ".team/a/x.json": b"{}\n"}),  # git's order: "a-b/" < "a.json" < "a/"
        partial(task_ops.add, actor="lead", subject="three"),
    ]
    for step in steps:
        do(repo, step)
        assert cached_trees_match_git(git, repo) >= 4
    git(repo, "fsck", "--strict", "--no-dangling")  # and every tree written is well-formed


def test_a_warm_read_runs_no_git_command(repo, git_calls):
    do(repo, partial(task_ops.import_tasks, actor="lead", items=[{"subject": f"t{i}"} for i in range(80)]))
    do(repo, partial(task_ops.claim, actor="alice", task_id=5))
    with BoardRepo(repo) as r:
        read_board(r)  # the pack import left the listing to the first read
    git_calls.clear()
    with BoardRepo(repo) as r:
        board = read_board(r)
    assert git_calls == []
    assert len(board.tasks) == 80 and board.tasks[5].owner == "alice"
    # a claim by another process: the next read still runs no git command
    do(repo, partial(task_ops.claim, actor="bob", task_id=6))
    git_calls.clear()
    with BoardRepo(repo) as r:
        assert read_board(r).tasks[6].owner == "bob"
    assert git_calls == []


def test_a_commit_made_behind_gitboards_back_is_read_correctly(repo, board_commit, git_calls):
    do(repo, partial(task_ops.add, actor="lead", subject="one"))
    do(repo, partial(task_ops.add, actor="lead", subject="two"))
    doc = json.loads(do(repo, partial(task_ops.claim, actor="alice", task_id=1)).to_bytes())
    board_commit(repo, {task_path(1): json.dumps(dict(doc, subject="edited by hand"), indent=2) + "\n"})
    git_calls.clear()
    with BoardRepo(repo) as r:
        board = read_board(r)
    assert board.tasks[1].subject == "edited by hand" and board.tasks[2].subject == "two"
    assert [c[0] for c in git_calls] == ["cat-file"]  # the new trees are loose objects; the one new blob
    forget_all()  # a new process, with only the cache file
    with BoardRepo(repo) as r:
        again = read_board(r)
    assert again.tasks == board.tasks and again.team == board.team


def test_a_long_lived_repo_sees_other_processes_writes(repo):
    do(repo, partial(task_ops.add, actor="lead", subject="one"))
    with BoardRepo(repo) as mine:
        assert read_board(mine).tasks[1].owner == ""
        do(repo, partial(task_ops.claim, actor="alice", task_id=1))  # another BoardRepo, as another process would
        assert read_board(mine).tasks[1].owner == "alice"
        transact(mine, partial(task_ops.finish, actor="alice", task_id=1, ok=True))
    with BoardRepo(repo) as other:
        assert read_board(other).tasks[1].status == "completed"


@pytest.mark.parametrize("other", ["fingerprint", "format"])
def test_a_cache_written_by_other_code_is_ignored(repo, other):
    do(repo, partial(task_ops.add, actor="lead", subject="one"))
    with BoardRepo(repo) as r:
        path = r.state_dir("cache") / FILE_NAME
        blob = list_tree(r, r.tip())[task_path(1)][2]
    lie = ((1, "a lie", "", "pending", "", (), "", "", None, None, None, None, None, None, (), {}), "{}")
    payload = marshal.dumps((("another", "version"), {}, {}, {}, {blob: lie}))
    if other == "fingerprint":  # a well-formed chunk of another version
        path.write_bytes(cache_mod._HEADER.pack(cache_mod.MAGIC, len(payload), zlib.crc32(payload)) + payload)
    else:  # the cache file of gitboard before the append-only log
        path.write_bytes(payload)
    forget_all()
    with BoardRepo(repo) as r:
        assert read_board(r).tasks[1].subject == "one"
    do(repo, partial(task_ops.add, actor="lead", subject="two"))  # and the next write replaces the file
    assert BoardCache(path.parent).get_task(blob).subject == "one"


def test_the_board_tip_is_read_from_packed_refs_too(repo, git):
    do(repo, partial(task_ops.add, actor="lead", subject="one"))
    git(repo, "pack-refs", "--all")
    assert not (repo / ".git" / "refs" / "heads" / "gitboard").exists()
    with BoardRepo(repo) as r:
        assert r.tip() == git(repo, "rev-parse", "gitboard")
        assert read_board(r).tasks[1].subject == "one"
    assert do(repo, partial(task_ops.add, actor="lead", subject="two")).id == 2


def test_a_cached_task_is_the_task_and_encodes_like_json_dumps():
    tasks = [
        Task.from_json({"id": 1, "subject": "ünïcode \u2603 \"quoted\"", "blockedBy": [2, 3],
                        "result": {"note": ["a", 1, None, 2.5]}, "x-extra": {"k": True}}),
        Task.from_json({"id": 2, "subject": "plain", "status": "in_progress", "owner": "bob",
                        "lease_expires_at": "2030-01-01T00:00:00Z"}),
    ]
    for t in tasks:
        back = task_from_record(marshal.loads(marshal.dumps(task_record(t))), t.to_json_text())
        assert back == t and back.to_json() == t.to_json() and back.extra == t.extra
    expected = json.dumps([t.to_json() for t in tasks], ensure_ascii=False)
    assert task_array(tasks) == expected
    assert task_array([]) == json.dumps([]) == "[]"
    assert task_array(tasks[1:]) == json.dumps([tasks[1].to_json()], ensure_ascii=False)
