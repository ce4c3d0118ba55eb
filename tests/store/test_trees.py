"""Rewriting board trees (store/trees.py): the tree write_changes writes is the one git writes."""

from __future__ import annotations

import random
from pathlib import Path

from gitboard.store import trees
from gitboard.store.cache import BoardCache
from gitboard.store.objects import write_object
from gitboard.store.repo import BoardRepo


def git_tree(git, path: Path, files: dict[str, str], tmp: Path) -> str:
    """The tree git itself writes for ``files`` (path -> blob id), through a temporary index."""
    env_index = tmp / "index"
    if env_index.exists():
        env_index.unlink()
    info = "".join(f"100644 {sha}\t{p}\n" for p, sha in sorted(files.items()))
    import os
    import subprocess

    env = {**os.environ, "GIT_INDEX_FILE": str(env_index)}
    subprocess.run(["git", "update-index", "--add", "--index-info"], cwd=path, input=info.encode(), env=env,
                   check=True)
    return subprocess.run(["git", "write-tree"], cwd=path, env=env, check=True,
                          capture_output=True).stdout.decode().strip()


def test_write_changes_matches_git_through_random_edits(git_repo, git, tmp_path):
    """Random adds, replacements and deletions (whole directories emptied, deep and shallow paths):
    after every step the root id equals git's tree of the same files, and the old tree reads unchanged."""
    rng = random.Random(7)
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with BoardRepo(git_repo) as repo:
        cache = BoardCache(tmp_path / "cache")
        blobs = [write_object(repo, b"blob", f"content {i}\n".encode()) for i in range(20)]
        dirs = ["", "a", "a/b", "a/b/c", ".team/inbox/alice/0/00", ".team/inbox/alice/0/01", ".tasks/00/01", "z"]
        files: dict[str, str] = {}
        tree = None
        for step in range(40):
            changes: dict[str, tuple[int, str] | None] = {}
            for _ in range(rng.randint(1, 12)):
                d = rng.choice(dirs)
                p = f"{d}/f{rng.randint(0, 5)}.json" if d else f"f{rng.randint(0, 5)}.json"
                changes[p] = (trees.BLOB_MODE, rng.choice(blobs))
            if files and step % 3 == 0:  # empty one directory completely
                d = rng.choice(sorted({p.rpartition("/")[0] for p in files}))
                changes.update({p: None for p in files if p.rpartition("/")[0] == d})
            if files and step % 5 == 0:  # and delete some scattered files (and a path that is not there)
                changes.update({p: None for p in rng.sample(sorted(files), min(3, len(files)))})
                changes["nowhere/none.json"] = None
            before = dict(files)
            for p, v in changes.items():
                if v is None:
                    files.pop(p, None)
                else:
                    files[p] = v[1]
            old = tree
            tree = trees.write_changes(repo, cache, tree, changes)
            assert tree == git_tree(git, git_repo, files, scratch), f"step {step}"
            assert {p: s for p, (_, s) in trees.walk(repo, cache, tree).items()} == files
            if old is not None:
                assert {p: s for p, (_, s) in trees.walk(repo, cache, old).items()} == before


def test_write_changes_without_changes_and_to_empty(git_repo, tmp_path):
    with BoardRepo(git_repo) as repo:
        cache = BoardCache(tmp_path / "cache")
        blob = write_object(repo, b"blob", b"x\n")
        tree = trees.write_changes(repo, cache, None, {"a/b/c.json": (trees.BLOB_MODE, blob)})
        assert trees.write_changes(repo, cache, tree, {}) == tree
        empty = trees.write_changes(repo, cache, tree, {"a/b/c.json": None})
        assert empty == "4b825dc642cb6eb9a060e54bf8d69288fbee4904"  # git's empty tree
        assert trees.walk(repo, cache, empty) == {}


def test_a_directory_replaces_a_file_of_its_name(git_repo, git, tmp_path):
    with BoardRepo(git_repo) as repo:
        cache = BoardCache(tmp_path / "cache")
        blob = write_object(repo, b"blob", b"x\n")
        tree = trees.write_changes(repo, cache, None, {"a": (trees.BLOB_MODE, blob)})
        tree = trees.write_changes(repo, cache, tree, {"a/b.json": (trees.BLOB_MODE, blob)})
        assert {p: s for p, (_, s) in trees.walk(repo, cache, tree).items()} == {"a/b.json": blob}


def test_deleting_every_file_of_a_directory(git_repo, git, tmp_path):
    """A drain that empties an inbox: the directory goes; one file kept, one path that is not there, or
    the files of two inboxes give the same trees as git's."""
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    with BoardRepo(git_repo) as repo:
        cache = BoardCache(tmp_path / "cache")
        blob = write_object(repo, b"blob", b"m\n")
        inbox = {f".team/inbox/{who}/{h1}/{h2}/{i:04d}.json": blob
                 for who in ("alice", "alex") for i, (h1, h2) in enumerate((a, b) for a in "0f" for b in "09")}
        keep = {".team/config.json": blob, ".tasks/00/01/task_1.json": blob}
        tree = trees.write_changes(repo, cache, None, {p: (trees.BLOB_MODE, s) for p, s in {**inbox, **keep}.items()})
        # alex's first bucket also holds a directory, which no deletion of files in it empties
        stray = {".team/inbox/alex/0/0/sub/x.json": blob}
        with_stray = trees.write_changes(repo, cache, tree, {p: (trees.BLOB_MODE, s) for p, s in stray.items()})
        alex = [p for p in inbox if "/alex/" in p]
        new = trees.write_changes(repo, cache, with_stray, {p: None for p in alex})
        assert new == git_tree(git, git_repo, {**{p: s for p, s in inbox.items() if p not in alex}, **keep, **stray},
                               scratch)
        alice = [p for p in inbox if "/alice/" in p]
        cases = {
            "one inbox": alice,
            "one inbox but one file": alice[1:],
            "one inbox and a path that is not there": alice[1:] + [".team/inbox/alice/0/0/nothere.json"],
            "both inboxes": list(inbox),
            "one bucket": [p for p in alice if "/0/0/" in p],
            "one file": alice[:1],
        }
        for label, deleted in cases.items():
            new = trees.write_changes(repo, cache, tree, {p: None for p in deleted})
            left = {p: s for p, s in {**inbox, **keep}.items() if p not in deleted}
            assert new == git_tree(git, git_repo, left, scratch), label
