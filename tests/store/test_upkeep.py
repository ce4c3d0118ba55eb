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
from tests.board_helpers import do


def objects(git, path: Path) -> dict[str, int]:
    """``git count-objects -v`` as numbers: count (loose objects), packs, ..."""
    return {k: int(v) for k, v in (line.split(": ") for line in git(path, "count-objects", "-v").splitlines())}


def add_tasks(path: Path, n: int) -> None:
    with BoardRepo(path) as r:  # one process writing, as a teammate does
        for i in range(n):
            transact(r, partial(task_ops.add, actor="lead", subject=f"task {i}"))


def test_a_board_written_only_by_gitboard_gets_packed(repo, git):
    # gc.auto 256: more than one loose object in objects/17 is too many; in the foreground, so
    # that the packing is over when the write returns
    git(repo, "config", "gc.auto", "256")
    git(repo, "config", "gc.autoDetach", "false")
    add_tasks(repo, 150)  # about six loose objects each: some 900 without maintenance
    got = objects(git, repo)
    # packed once, when objects/17 first held two (the next run waits MIN_INTERVAL)
    assert got["packs"] >= 1 and got["in-pack"] >= 50, got
    with BoardRepo(repo) as r:
        assert len(read_board(r).tasks) == 150  # nothing lost in the packing
    git(repo, "fsck", "--strict", "--no-dangling")


def test_maintenance_auto_false_is_honoured(repo, git):
    git(repo, "config", "gc.auto", "256")
    git(repo, "config", "gc.autoDetach", "false")
    git(repo, "config", "maintenance.auto", "false")
    add_tasks(repo, 150)
    got = objects(git, repo)
    assert got["packs"] == 0 and got["count"] > 256, got


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
    with BoardRepo(git_repo) as r:
        for data in blobs_in_17(3):
            write_object(r, b"blob", data)
    # 3 loose objects in objects/17: too many once the limit allows at most 2 there (ceil(limit / 256))
    assert upkeep.too_many_loose(objects_dir, 512)
    assert not upkeep.too_many_loose(objects_dir, 513)  # ceil(513 / 256) = 3
    assert not upkeep.too_many_loose(objects_dir, 0)  # 0: the check is off
    assert upkeep.needs_maintenance(objects_dir, {"gc.auto": "512"})
    assert not upkeep.needs_maintenance(objects_dir, {"gc.auto": "1k"})  # git's suffixes: 1024
    assert not upkeep.needs_maintenance(objects_dir, {})  # git's default, 6700
