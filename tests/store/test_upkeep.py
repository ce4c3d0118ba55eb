"""git's automatic maintenance after gitboard's own writes (store/upkeep.py), on real repositories."""

from __future__ import annotations

import hashlib
from functools import partial
from pathlib import Path

from gitboard.board import task_ops
from gitboard.store import upkeep
from gitboard.store.objects import write_object
from gitboard.store.read import read_board
from gitboard.store.repo import BoardRepo
from gitboard.store.transact import transact
from tests.helpers.board_helpers import do


def objects(git, path: Path) -> dict[str, int]:
    """``git count-objects -v`` as numbers: count (loose objects), packs, ..."""
    return {k: int(v) for k, v in (line.split(": ") for line in git(path, "count-objects", "-v").splitlines())}


def add_tasks(path: Path, n: int) -> None:
    with BoardRepo(path) as r:  # one process writing, as a teammate does
        for i in range(n):
            transact(r, partial(task_ops.add, actor="lead", subject=f"task {i}"))


def seed_loose_in_17(path: Path, n: int = 2) -> None:
    """Put ``n`` loose objects in objects/17, the fan-out directory git estimates the loose count from."""
    with BoardRepo(path) as r:
        for data in blobs_in_17(n):
            write_object(r, b"blob", data)


def foreground_gc(git, path: Path, **settings: str) -> None:
    """``gc.autoDetach false``: the packing is over when the write that started it returns."""
    git(path, "config", "gc.autoDetach", "false")
    for key, value in settings.items():
        git(path, "config", key, value)


def test_too_many_loose_objects_get_packed_after_a_board_write(repo, git):
    # gc.auto 256: more than one loose object in objects/17 is too many, and two are there
    foreground_gc(git, repo, **{"gc.auto": "256"})
    seed_loose_in_17(repo)
    assert objects(git, repo)["packs"] == 0
    add_tasks(repo, 3)
    got = objects(git, repo)
    assert got["packs"] == 1 and got["in-pack"] >= 6, got  # the board's objects, reachable, are packed
    with BoardRepo(repo) as r:
        assert len(read_board(r).tasks) == 3  # nothing lost in the packing
    git(repo, "fsck", "--strict")


def test_too_many_packs_get_merged_after_a_board_write(repo, git):
    foreground_gc(git, repo, **{"gc.autoPackLimit": "1"})
    for k in range(2):  # two bulk writes of 150 tasks: git fast-import packs (fewer than 100 objects go loose)
        do(repo, partial(task_ops.import_tasks, actor="lead", items=[{"subject": f"b{k}-{i}"} for i in range(150)]))
    # the second pack was one too many: git gc --auto merged them, after the write that made it
    assert objects(git, repo)["packs"] == 1
    with BoardRepo(repo) as r:
        assert len(read_board(r).tasks) == 300
    git(repo, "fsck", "--strict")


def test_maintenance_auto_false_is_honoured(repo, git):
    foreground_gc(git, repo, **{"gc.auto": "256", "maintenance.auto": "false"})
    seed_loose_in_17(repo)
    add_tasks(repo, 3)
    assert objects(git, repo)["packs"] == 0


def test_the_pack_check_counts_as_git_gc_auto_does(repo, git):
    # two writes of 150 tasks each: ``git fast-import`` packs
    objects_dir = str(repo / ".git" / "objects")
    assert not upkeep.too_many_packs(objects_dir, 1)
    for k in range(2):
        do(repo, partial(task_ops.import_tasks, actor="lead", items=[{"subject": f"b{k}-{i}"} for i in range(150)]))
    assert objects(git, repo)["packs"] == 2  # (fast-import writes fewer than 100 objects loose)
    assert upkeep.too_many_packs(objects_dir, 1) and not upkeep.too_many_packs(objects_dir, 2)
    assert not upkeep.too_many_packs(objects_dir, 0)  # 0: the check is off
    pack = sorted(p for p in (repo / ".git" / "objects" / "pack").iterdir() if p.suffix == ".pack")[0]
    pack.with_suffix(".keep").write_text("")  # a kept pack is not counted
    assert not upkeep.too_many_packs(objects_dir, 1)
    settings = {"gc.autopacklimit": "1", "gc.auto": "0"}
    pack.with_suffix(".keep").unlink()
    assert upkeep.needs_maintenance(objects_dir, settings)
    assert not upkeep.needs_maintenance(objects_dir, {**settings, "maintenance.auto": "false"})
    assert not upkeep.needs_maintenance(objects_dir, {**settings, "gc.autopacklimit": "2"})


def blobs_in_17(n: int) -> list[bytes]:
    """``n`` blob contents whose object ids start with 17 (git's sample fan-out directory)."""
    found, i = [], 0
    while len(found) < n:
        data = b"sample %d\n" % i
        if hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest().startswith("17"):
            found.append(data)
        i += 1
    return found


def test_the_loose_check_estimates_as_git_gc_auto_does(git_repo):
    objects_dir = str(git_repo / ".git" / "objects")
    assert not upkeep.too_many_loose(objects_dir, 1)  # no objects/17 yet
    seed_loose_in_17(git_repo, 3)
    # 3 loose objects in objects/17: too many once the limit allows at most 2 there (ceil(limit / 256))
    assert upkeep.too_many_loose(objects_dir, 512)
    assert not upkeep.too_many_loose(objects_dir, 513)  # ceil(513 / 256) = 3
    assert not upkeep.too_many_loose(objects_dir, 0)  # 0: the check is off
    assert upkeep.needs_maintenance(objects_dir, {"gc.auto": "512"})
    assert not upkeep.needs_maintenance(objects_dir, {"gc.auto": "1k"})  # git's suffixes: 1024
    assert not upkeep.needs_maintenance(objects_dir, {})  # git's default, 6700


def test_a_clone_that_only_reads_a_remote_board_gets_packed_after_its_fetches(clone, git):
    """gitboard fetches with --no-auto-maintenance, so it makes git's checks itself after a fetch
    that brought board commits: a clone that only watches does not gather loose objects."""
    c1, c2 = clone("c1"), clone("c2")
    foreground_gc(git, c2, **{"gc.auto": "256"})
    seed_loose_in_17(c2)
    upkeep._started.clear()  # this process started no maintenance in c2 yet
    with BoardRepo(c2) as r:
        read_board(r)                        # nothing new on the remote: no check
        assert objects(git, c2)["packs"] == 0
        add_tasks(c1, 1)
        assert len(read_board(r).tasks) == 1  # a fetch with a new commit: checked, and packed
    got = objects(git, c2)
    assert got["packs"] == 1 and got["count"] <= 2, got
    git(c2, "fsck", "--strict")
