"""The listing index (store/list_index.py): one file per board tree, right as the board moves,
shared by processes and clones, and a bad file is only a miss."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import timedelta
from functools import partial
from pathlib import Path

import pytest

from gitboard.board import task_ops
from gitboard.board.clock import iso, utcnow
from gitboard.board.layout import task_path
from gitboard.store import list_index
from gitboard.store.cache import forget_all
from gitboard.store.listing import task_list_json
from gitboard.store.objects import tree_id
from gitboard.store.read import load_board, read_board
from gitboard.store.repo import BoardRepo
from gitboard.store.transact import transact
from tests.store.test_listing import FILTERS, board_way


def do(path: Path, op, **kw):
    with BoardRepo(path) as r:
        return transact(r, partial(op, **kw))


def listed(path: Path, now=None, **filters) -> tuple[str, dict] | None:
    """``task list --json`` as a new process of the clone would make it (nothing in memory)."""
    forget_all()
    with BoardRepo(path) as r:
        got = task_list_json(r, now or utcnow(), **filters)
    if got is None:
        return None
    return b"".join(got[0]).decode(), got[1]


def expected(path: Path, now=None, **filters) -> str:
    forget_all()
    with BoardRepo(path) as r:
        return board_way(read_board(r), now or utcnow(), **filters)


def index_files(path: Path) -> list[Path]:
    d = path / ".git" / "gitboard" / list_index.DIR_NAME
    return sorted(d.iterdir()) if d.exists() else []


def current_tree(path: Path) -> str:
    with BoardRepo(path) as r:
        return tree_id(r, r.tip())


@pytest.fixture
def tasks(repo: Path) -> Path:
    items = [{"subject": f"t{i}", **({"role": "dev"} if i % 3 == 0 else {}),
              **({"blockedBy": [i - 1]} if i % 4 == 0 else {})} for i in range(1, 31)]
    do(repo, task_ops.import_tasks, actor="lead", items=items)
    return repo


def test_a_listing_writes_the_trees_index_and_the_next_one_needs_only_it(tasks):
    want = expected(tasks, ready=True)
    assert listed(tasks, ready=True)[0] == want
    (f,) = index_files(tasks)
    assert f.name == current_tree(tasks)
    # without the parse cache (removed), the index alone answers, every filter alike
    for c in (tasks / ".git" / "gitboard" / "cache").iterdir():
        c.unlink()
    for filters in FILTERS:
        got = listed(tasks, **filters)
        assert got is not None and got[0] == expected(tasks, **filters), filters
        for c in (tasks / ".git" / "gitboard" / "cache").iterdir():
            c.unlink()  # expected() read the board, which refilled it


def test_the_board_moves_the_listing_follows(tasks, board_commit):
    listed(tasks, ready=True)
    first = current_tree(tasks)
    do(tasks, task_ops.claim, actor="alice", task_id=1)
    got = listed(tasks, ready=True)[0]
    assert got == expected(tasks, ready=True)
    assert 1 not in [t["id"] for t in json.loads(got)]
    # a hand edit behind gitboard's back: a new tree, a new index
    with BoardRepo(tasks) as r:
        t2 = read_board(r).tasks[2]
    board_commit(tasks, {task_path(3): t2.evolve(id=3, status="completed").to_bytes(), task_path(5): b"{ broken"})
    want = expected(tasks)
    text, corrupt = listed(tasks)  # from the latest index and the two changed files
    assert text == want
    assert set(corrupt) == {task_path(5)}
    assert {f.name for f in index_files(tasks)} >= {first, current_tree(tasks)}
    ready = listed(tasks, ready=True)[0]  # task 4 was blocked by 3, now done
    assert ready == expected(tasks, ready=True) and 4 in [t["id"] for t in json.loads(ready)]


def test_the_cli_after_a_hand_edit(tasks, board_commit, run_cli):
    assert run_cli(["task", "list", "--ready", "--json"], cwd=tasks).stdout == expected(tasks, ready=True) + "\n"
    with BoardRepo(tasks) as r:
        t1 = read_board(r).tasks[1]
    board_commit(tasks, {task_path(1): t1.evolve(status="completed").to_bytes()})
    for _ in range(3):  # the index made from the previous one, then read
        forget_all()
        res = run_cli(["task", "list", "--ready", "--json"], cwd=tasks)
        assert res.exit_code == 0 and res.stdout == expected(tasks, ready=True) + "\n"
        assert 1 not in [t["id"] for t in json.loads(res.stdout)]


def same_index(a: list_index.Index, b: list_index.Index) -> bool:
    return a._meta() == b._meta() and bytes(a.body) == bytes(b.body)


def test_an_index_made_from_the_previous_one_is_the_one_the_parse_cache_makes(tasks, board_commit, git):
    """Step by step (claims, a finish that unblocks, hand edits: corrupt files, a wrong id, a task
    deleted, a bad roster, a file outside the layout), the index made from the latest index and
    the changed files equals the index made from the parse cache."""
    from gitboard.store.listing import index_from_cache, index_from_previous

    listed(tasks)
    with BoardRepo(tasks) as r:
        t = read_board(r).tasks
    lease = iso(utcnow() + timedelta(seconds=60))
    steps = [
        lambda: do(tasks, task_ops.claim, actor="alice", task_id=1),
        lambda: do(tasks, task_ops.claim, actor="bob", task_id=2, lease=600),
        lambda: do(tasks, task_ops.finish, actor="bob", task_id=2, ok=True),
        lambda: board_commit(tasks, {task_path(5): b"{ broken", task_path(6): json.dumps({"id": 60}).encode(),
                                     ".tasks/00/00/notes.json": b"[1", ".tasks/00/00/readme.txt": b"x"}),
        lambda: board_commit(tasks, {task_path(5): t[5].to_bytes(), task_path(7): None}),
        lambda: board_commit(tasks, {task_path(3): t[3].evolve(status="in_progress", owner="bob",
                                                               lease_expires_at=lease).to_bytes()}),
        lambda: board_commit(tasks, {".team/config.json": b'{"team_name": 3}'}),
        lambda: board_commit(tasks, {".team/config.json": json.dumps({"team_name": "test", "members": []}).encode()}),
        lambda: board_commit(tasks, {task_path(31): t[1].evolve(id=31).to_bytes(), task_path(6): None}),
    ]
    for n, step in enumerate(steps):
        step()
        forget_all()
        tree = current_tree(tasks)
        with BoardRepo(tasks) as r:
            quick = index_from_previous(r, tree)
            assert quick is not None, n
            read_board(r)  # fills the parse cache
        forget_all()
        with BoardRepo(tasks) as r:
            full = index_from_cache(r, r.tip(), tree)
            assert full is not None, n
            assert same_index(quick, full), n
            list_index.save(r.common_dir, tree, quick)  # the next step's latest index


def test_an_index_is_made_from_the_parse_cache_when_much_changed(tasks, monkeypatch):
    from gitboard.store import listing

    listed(tasks)
    do(tasks, task_ops.claim, actor="alice", task_id=1)
    do(tasks, task_ops.claim, actor="alice", task_id=2)
    monkeypatch.setattr(listing, "MAX_CHANGED_FILES", 1)
    with BoardRepo(tasks) as r:
        assert listing.index_from_previous(r, current_tree(tasks)) is None
    assert listed(tasks)[0] == expected(tasks)


def test_a_lease_expires_between_two_listings_of_one_index(tasks, board_commit):
    with BoardRepo(tasks) as r:
        t7 = read_board(r).tasks[7]
    soon = utcnow() + timedelta(seconds=30)
    board_commit(tasks, {task_path(7): t7.evolve(status="in_progress", owner="bob", lease_expires_at=iso(soon)).to_bytes()})
    expected(tasks)  # the board read once: the parse cache knows the new file
    now = utcnow()
    assert 7 not in [t["id"] for t in json.loads(listed(tasks, now, ready=True)[0])]
    later = soon + timedelta(seconds=1)
    got = listed(tasks, later, ready=True)[0]  # the same index file, judged at a later time
    assert len(index_files(tasks)) == 1
    assert 7 in [t["id"] for t in json.loads(got)]
    assert got == expected(tasks, later, ready=True)


@pytest.mark.parametrize("damage", ["garbage", "truncated", "flipped", "empty", "other-version"])
def test_a_bad_index_file_is_a_miss_and_is_replaced(tasks, damage):
    want = expected(tasks, ready=True)
    listed(tasks, ready=True)
    (f,) = index_files(tasks)
    data = f.read_bytes()
    if damage == "garbage":
        f.write_bytes(b"not an index at all" * 10)
    elif damage == "truncated":
        f.write_bytes(data[: len(data) // 2])
    elif damage == "flipped":
        f.write_bytes(data[:-10] + bytes([data[-10] ^ 0x20]) + data[-9:])
    elif damage == "empty":
        f.write_bytes(b"")
    else:  # a whole file from another version of the code: fingerprint differs
        import marshal
        import zlib

        meta_len = list_index._HEADER.unpack_from(data)[1]
        meta = list(marshal.loads(data[list_index._HEADER.size:list_index._HEADER.size + meta_len]))
        meta[0] = ("another", "version")
        m = marshal.dumps(tuple(meta))
        body = data[list_index._HEADER.size + meta_len:]
        f.write_bytes(list_index._HEADER.pack(list_index.MAGIC, len(m), zlib.crc32(body, zlib.crc32(m))) + m + body)
    with BoardRepo(tasks) as r:
        assert list_index.load(r.common_dir, f.name) is None
    assert listed(tasks, ready=True)[0] == want
    assert f.read_bytes() == data  # rebuilt, byte for byte the same index
    with BoardRepo(tasks) as r:
        assert list_index.load(r.common_dir, f.name) is not None


def test_an_unwritable_index_directory_changes_no_answer(tasks):
    d = tasks / ".git" / "gitboard" / list_index.DIR_NAME
    d.parent.mkdir(parents=True, exist_ok=True)
    d.write_text("a file where the directory should be")
    assert listed(tasks, ready=True)[0] == expected(tasks, ready=True)
    assert listed(tasks)[0] == expected(tasks)


def test_old_index_files_are_pruned(tasks):
    trees = []
    for tid in (1, 2, 5, 7, 10, 11):  # no role, no blocker
        do(tasks, task_ops.claim, actor="alice", task_id=tid)
        listed(tasks, ready=True)
        trees.append(current_tree(tasks))
    names = [f.name for f in index_files(tasks)]
    assert len(names) == list_index.KEEP
    assert trees[-1] in names and trees[0] not in names


def test_another_clone_moves_the_remote_board(clone, run_cli):
    a, b = clone("a"), clone("b")
    do(a, task_ops.import_tasks, actor="lead", items=[{"subject": f"t{i}"} for i in range(1, 6)])

    def ready_ids() -> list[int]:
        forget_all()
        res = run_cli(["task", "list", "--ready", "--json"], cwd=b)
        assert res.exit_code == 0, res.stderr
        return [t["id"] for t in res.json()]

    assert ready_ids() == [1, 2, 3, 4, 5]
    assert ready_ids() == [1, 2, 3, 4, 5]  # from b's index of that tree
    assert len(index_files(b)) == 1
    do(a, task_ops.claim, actor="alice", task_id=2)
    assert ready_ids() == [1, 3, 4, 5]  # b fetched the remote's board first
    assert ready_ids() == [1, 3, 4, 5]
    assert len(index_files(b)) == 2


_LISTER = """
import sys
from gitboard.board.clock import utcnow
from gitboard.store.listing import task_list_json
from gitboard.store.repo import BoardRepo
with BoardRepo(sys.argv[1]) as r:
    for _ in range(int(sys.argv[2])):
        got = task_list_json(r, utcnow(), ready=True)
        if got is not None:
            sys.stdout.buffer.write(b"".join(got[0]) + b"\\n")
"""


@pytest.mark.slow
def test_concurrent_listers_and_writers_agree_with_the_board(tasks, tmp_path):
    """Four processes list while the board moves under them: every listing is a board the branch held,
    and the index files left behind all read back whole."""
    with BoardRepo(tasks) as r:
        read_board(r)  # the parse cache has every file
    for f in index_files(tasks):
        f.unlink()
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])}
    procs = [subprocess.Popen([sys.executable, "-c", _LISTER, str(tasks), "15"], stdout=subprocess.PIPE, env=env)
             for _ in range(4)]
    boards = set()
    for tid in (1, 2, 5, 7, 10, 11, 13):  # no role, no blocker
        do(tasks, task_ops.claim, actor="alice", task_id=tid)
        boards.add(expected(tasks, ready=True))
    outs = [p.communicate(timeout=120)[0] for p in procs]
    assert all(p.returncode == 0 for p in procs)
    seen = {line.decode() for out in outs for line in out.splitlines()}
    assert seen, "the listers answered nothing"
    # every answer is the ready list of one of the board's states (the tips it went through)
    forget_all()
    with BoardRepo(tasks) as r:
        tips = r.git("rev-list", "--max-count=9", r.ref).stdout.decode().split()
        states = {board_way(load_board(r, tip)[0], utcnow(), ready=True) for tip in tips}
    assert seen <= states
    with BoardRepo(tasks) as r:
        for f in index_files(tasks):
            assert not f.name.endswith(".tmp")
            assert list_index.load(r.common_dir, f.name) is not None


def test_patch_equals_build_of_the_same_tasks():
    """Random replacements, appends and removals (first, last, middle, all of them) on random
    boards: patching an index gives the index built from scratch, byte for byte."""
    import random

    rng = random.Random(3)
    statuses = ["pending", "in_progress", "completed", "failed", "merged"]

    def task(tid: int) -> tuple[tuple, bytes]:
        st = rng.choice(statuses)
        lease = iso(utcnow() + timedelta(seconds=rng.randint(-60, 60))) if st == "in_progress" and rng.random() < .7 else None
        summary = (tid, st, rng.choice([None, "", "alice"]), tuple(rng.sample(range(1, 40), rng.randint(0, 2))), lease,
                   rng.choice([None, "dev"]))
        return summary, json.dumps({"id": tid, "s": "é" * rng.randint(0, 3) + "x" * rng.randint(0, 20)}).encode()

    for trial in range(300):
        n = rng.randint(0, 12)
        tasks = {tid: task(tid) for tid in sorted(rng.sample(range(1, 30), n))}
        index = list_index.build(2, {t: v[0] for t, v in tasks.items()}, {t: v[1] for t, v in tasks.items()}, {})
        changed: dict = {}
        for _ in range(rng.randint(1, 4)):
            kind = rng.random()
            if tasks and kind < 0.5:
                tid = rng.choice(sorted(tasks))
                changed[tid] = task(tid)
            elif kind < 0.8:
                tid = max([*tasks, *[t for t, v in changed.items() if v is not None], 0]) + rng.randint(1, 3)
                changed[tid] = task(tid)
            else:
                changed[rng.choice(sorted(tasks) or [1])] = None
        result = dict(tasks)
        for tid, v in changed.items():
            if v is None:
                result.pop(tid, None)
            else:
                result[tid] = v
        corrupt = {"x.json": "bad"} if trial % 2 else {}
        want = list_index.build(2, {t: v[0] for t, v in result.items()}, {t: v[1] for t, v in result.items()}, corrupt)
        got = list_index.patch(index, changed, corrupt)
        assert same_index(got, want), (trial, sorted(tasks), changed)
        now = utcnow()
        assert b"".join(list_index.answer(got, now, ready=True)) == b"".join(list_index.answer(want, now, ready=True))
