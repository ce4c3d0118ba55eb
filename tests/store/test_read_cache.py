"""Reading the board: the blob cache, corrupt board files, and bulk imports written as a pack."""

from __future__ import annotations

import json
from functools import partial
from pathlib import Path

import pytest

from gitboard.board import task_ops
from gitboard.board.errors import Corrupt
from gitboard.board.layout import task_path
from gitboard.store import cache as cache_mod
from gitboard.store.cache import FILE_NAME, BoardCache, forget_all
from tests.helpers.board_helpers import board, do


def cache_file(path: Path) -> Path:
    return path / ".git" / "gitboard" / "cache" / FILE_NAME


def blob_ids(git, path: Path) -> dict[str, str]:
    """board path -> blob id at the board tip."""
    out = {}
    for line in git(path, "ls-tree", "-r", "gitboard").splitlines():
        meta, name = line.split("\t")
        out[name] = meta.split()[2]
    return out


@pytest.fixture
def three(repo: Path) -> Path:
    do(repo, partial(task_ops.import_tasks, actor="lead",
                     items=[{"subject": "one"}, {"subject": "two"}, {"subject": "three", "blockedBy": [1]}]))
    return repo


# -- the blob cache --------------------------------------------------------------------------

def test_cache_holds_parsed_files_keyed_by_blob_id(three, git):
    board(three)
    entries = BoardCache(cache_file(three).parent).entries_by_blob
    ids = blob_ids(git, three)
    assert set(ids.values()) <= set(entries)
    assert entries[ids[task_path(2)]]["subject"] == "two"


def test_reads_use_the_cache_instead_of_git(three, git):
    board(three)
    sha = blob_ids(git, three)[task_path(1)]
    task = BoardCache(cache_file(three).parent).get_task(sha)  # a task file's blob is cached as its validated Task
    cache_file(three).unlink()
    cache = BoardCache(cache_file(three).parent)
    cache.put_task(sha, task.evolve(subject="served from the cache"))
    cache.save()
    forget_all()  # a new process: only the file
    assert board(three).tasks[1].subject == "served from the cache"
    assert board(three).tasks[2].subject == "two"


def test_a_claim_caches_the_blob_it_wrote(three, git):
    board(three)
    size = cache_file(three).stat().st_size
    do(three, partial(task_ops.claim, actor="alice", task_id=2))
    sha = blob_ids(git, three)[task_path(2)]
    entries = BoardCache(cache_file(three).parent).entries_by_blob
    assert entries[sha]["owner"] == "alice"
    assert 0 < cache_file(three).stat().st_size - size < 4096  # one small chunk appended, not the whole cache


def test_the_cache_file_is_compacted_to_what_the_board_uses(three, git, monkeypatch):
    monkeypatch.setattr(cache_mod, "COMPACT_MIN_BYTES", 20_000)
    board(three)
    sizes = []
    for i in range(60):
        do(three, partial(task_ops.update, actor="lead", task_id=3, subject=f"three, take {i}"))
        sizes.append(cache_file(three).stat().st_size)
    assert max(sizes) < 50_000 and min(sizes[30:]) < max(sizes)  # it shrank at least once
    entries = BoardCache(cache_file(three).parent).entries_by_blob
    assert set(blob_ids(git, three).values()) <= set(entries)
    forget_all()
    assert board(three).tasks[3].subject == "three, take 59"


@pytest.mark.parametrize("damage", [
    lambda f: f.write_bytes(f.read_bytes()[: len(f.read_bytes()) // 2]),  # truncated mid-write
    lambda f: f.write_bytes(b""),
    lambda f: f.write_bytes(b"\x80\x04not a pickle at all"),
    lambda f: f.unlink(),
    lambda f: (f.unlink(), f.parent.rmdir()),
])
def test_damaged_cache_is_rebuilt_and_reads_stay_correct(three, damage):
    expected = {tid: t.to_json() for tid, t in board(three).tasks.items()}
    f = cache_file(three)
    damage(f)
    forget_all()
    assert {tid: t.to_json() for tid, t in board(three).tasks.items()} == expected
    # writes work on a damaged cache too, and the cache is whole again afterwards
    damage(f) if f.exists() else None
    forget_all()  # as a new process would, with the damaged file
    claimed = do(three, partial(task_ops.claim, actor="alice", task_id=1))
    assert claimed.owner == "alice"
    assert board(three).tasks[1].owner == "alice"
    forget_all()
    assert board(three).tasks[1].owner == "alice"
    assert len(BoardCache(f.parent).entries_by_blob) >= 4


def test_cache_is_not_in_the_working_tree(three, git):
    board(three)
    assert git(three, "status", "--porcelain", "--untracked-files=all") == ""


# -- corrupt board files ---------------------------------------------------------------------

BAD_FILES = {
    "not json": b"{ this is not json\n",
    "not utf-8": b'{"id": 2, "subject": "\xff\xfe"}\n',
    "wrong shape": b'{"id": "two", "subject": 5}\n',
    "wrong id": b'{"id": 7, "subject": "lies about its id"}\n',
    "bad status": b'{"id": 2, "subject": "x", "status": "doing"}\n',
    "an array": b"[1, 2, 3]\n",
}


@pytest.mark.parametrize("content", list(BAD_FILES.values()), ids=list(BAD_FILES))
def test_corrupt_task_file_is_skipped_and_named(three, board_commit, content):
    board_commit(three, {task_path(2): content}, "hand edit: break task 2")
    for _ in range(2):  # the second read comes from the cache
        b = board(three)
        assert sorted(b.tasks) == [1, 3]
        assert list(b.corrupt) == [task_path(2)]
        with pytest.raises(Corrupt, match=r"task_2\.json"):
            b.task(2)


def test_board_stays_writable_around_a_corrupt_file(three, board_commit, board_tip):
    board_commit(three, {task_path(2): b"garbage"})
    tip = board_tip(three)
    with pytest.raises(Corrupt):
        do(three, partial(task_ops.claim, actor="alice", task_id=2))
    assert board_tip(three) == tip
    assert do(three, partial(task_ops.claim, actor="alice", task_id=None)).id == 1
    assert do(three, partial(task_ops.add, actor="lead", subject="four")).id == 4
    assert board(three).tasks[4].subject == "four"
    assert task_path(2) in board(three).corrupt


def test_files_that_are_not_json_are_ignored(three, board_commit):
    board_commit(three, {".tasks/README.md": b"# not a task\n", ".tasks/task_x.json": b"{}\n"})
    b = board(three)
    assert sorted(b.tasks) == [1, 2, 3]
    assert ".tasks/README.md" not in b.corrupt


# -- bulk imports write a pack ---------------------------------------------------------------

def count_objects(git, path: Path) -> dict[str, int]:
    out = {}
    for line in git(path, "count-objects", "-v").splitlines():
        k, v = line.split(": ")
        out[k] = int(v)
    return out


def test_bulk_import_is_written_as_a_pack(repo, git, board_tip):
    before = count_objects(git, repo)
    packs_before = set((repo / ".git" / "objects" / "pack").glob("*.pack"))
    old = board_tip(repo)
    items = [{"subject": f"task {i}", "blockedBy": [i - 1] if i > 1 else []} for i in range(1, 101)]
    tasks = do(repo, partial(task_ops.import_tasks, actor="lead", items=items))
    assert [t.id for t in tasks] == list(range(1, 101))
    after = count_objects(git, repo)
    assert len(set((repo / ".git" / "objects" / "pack").glob("*.pack")) - packs_before) == 1
    assert after["in-pack"] - before["in-pack"] >= 100 + 2 + 1  # blobs, trees, commit
    assert after["count"] - before["count"] < 5  # (almost) nothing loose
    new = board_tip(repo)
    assert git(repo, "rev-parse", f"{new}^") == old
    assert git(repo, "log", "-1", "--format=%s%n%(trailers:only)", new).splitlines() == [
        "import 100 tasks #1-#100 by lead", "Gitboard-Action: import", "Gitboard-Task: 1-100",
        "Gitboard-Actor: lead"]
    assert git(repo, "for-each-ref", "refs/gitboard-tmp") == ""
    assert git(repo, "log", "-1", "--format=%an <%ae>", new) == "lead <lead@gitboard.invalid>"
    b = board(repo)
    assert len(b.tasks) == 100 and b.tasks[100].blockedBy == (99,)
    assert git(repo, "cat-file", "blob", f"{new}:{task_path(7)}") + "\n" == tasks[6].to_bytes().decode()
    git(repo, "fsck", "--strict", "--no-dangling")


def test_small_import_stays_loose_and_imports_append(repo, git):
    do(repo, partial(task_ops.add, actor="lead", subject="first"))
    before = count_objects(git, repo)
    tasks = do(repo, partial(task_ops.import_tasks, actor="lead", items=[{"subject": "a"}, {"subject": "b", "blockedBy": [1, 2]}]))
    assert [t.id for t in tasks] == [2, 3]
    after = count_objects(git, repo)
    assert after["in-pack"] == before["in-pack"] and after["count"] > before["count"]
    # and a pack import on top of a board with history keeps the earlier tasks
    do(repo, partial(task_ops.import_tasks, actor="lead", items=[{"subject": f"x{i}"} for i in range(64)]))
    b = board(repo)
    assert sorted(b.tasks) == list(range(1, 68))
    assert b.tasks[1].subject == "first" and b.tasks[3].blockedBy == (1, 2)
    assert json.loads(git(repo, "show", "gitboard:.team/config.json"))["team_name"] == "test"
    git(repo, "fsck", "--strict", "--no-dangling")
