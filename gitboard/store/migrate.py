"""Migrating a board tree from an older format to :data:`gitboard.board.layout.FORMAT`.

A migration is one commit (action ``migrate``) that moves every board file to
its new path (:func:`gitboard.board.layout.migrate_path`) with its blob, and so
its content, unchanged, and adds the format file. It reads no blob and parses
nothing: it rebuilds the trees from the old tree's entries. :func:`transact`
makes it before the first write to an old board, and ``gitboard init`` makes it
on an old board; it lands like any other commit, so two clones racing to
migrate is an ordinary lost race.
"""

from __future__ import annotations

from typing import Mapping

from gitboard.board import layout
from gitboard.board.change import trailers
from gitboard.board.errors import GitFailure
from gitboard.store import trees
from gitboard.store.objects import commit_tree, remember_writes, write_object
from gitboard.store.repo import BoardRepo
from gitboard.store.trees import Files, TreeRef

ACTION = "migrate"


def migration_message(actor: str, old: int) -> str:
    """The commit message of a migration from format ``old`` by ``actor``."""
    lines = [f"migrate board to format {layout.FORMAT} by {actor}", "",
             f"Moves every board file from the format-{old} paths to the format-{layout.FORMAT} layout, "
             "content unchanged.", ""]
    lines += [f"{k}: {v}" for k, v in trailers(ACTION, actor)]
    return "\n".join(lines) + "\n"


def migrated_files(files: Files) -> Files:
    """Return the files of the format-2 tree made from the files of a format-1 tree: path -> (mode, blob id).

    Raises:
        GitFailure: two files would land on one path (a hand-made file already sits
            where a board file moves); nothing is written.
    """
    out: Files = {}
    origin: dict[str, str] = {}
    for path, entry in files.items():
        new = layout.migrate_path(path)
        if new in out:
            raise GitFailure(f"cannot migrate the board: {origin[new]} and {path} would both be {new}; "
                             f"move one of them away")
        out[new], origin[new] = entry, path
    return out


def write_migration(repo: BoardRepo, base: str, listing: TreeRef,
                    identity: Mapping[str, str], actor: str) -> tuple[str, TreeRef]:
    """Write the migration commit of the board at ``base`` (its tree ``listing``, in an old format).

    Returns (commit id, the new tree); no ref is moved. The new trees and the
    commit's tree are recorded in the parse cache.

    Raises:
        GitFailure: two files would land on one path, or git could not read the old tree.
    """
    cache = repo.cache
    files = migrated_files(trees.walk(repo, cache, listing.tree))
    files[layout.FORMAT_PATH] = (trees.BLOB_MODE, write_object(repo, b"blob", layout.format_file()))
    tree = trees.write_full(repo, cache, files)
    commit = commit_tree(repo, tree, base, migration_message(actor, listing.version), identity)
    cache.put_commit(commit, tree)
    remember_writes(cache, {layout.FORMAT_PATH: layout.format_file()})
    return commit, TreeRef(tree, layout.FORMAT)
