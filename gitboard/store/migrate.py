"""Migrating a board tree from an older format to :data:`gitboard.board.layout.FORMAT`.

A migration is one commit (action ``migrate``) that moves every board file to
its new path (:func:`gitboard.board.layout.migrate_path`) with its blob, and so
its content, unchanged, and adds the format file. It reads no blob and parses
nothing: it rebuilds the trees from the old tree's listing. :func:`transact`
makes it before the first write to an old board, and ``gitboard init`` makes it
on an old board; it lands like any other commit, so two clones racing to
migrate is an ordinary lost race.
"""

from __future__ import annotations

from typing import Mapping

from gitboard.board import layout
from gitboard.board.change import trailers
from gitboard.board.errors import GitFailure
from gitboard.store.objects import BLOB_MODE, Listing, commit_tree, remember_writes, write_full_tree, write_object
from gitboard.store.repo import BoardRepo

ACTION = "migrate"


def migration_message(actor: str, old: int) -> str:
    """The commit message of a migration from format ``old`` by ``actor``."""
    lines = [f"migrate board to format {layout.FORMAT} by {actor}", "",
             f"Moves every board file from the format-{old} paths to the format-{layout.FORMAT} layout, "
             "content unchanged.", ""]
    lines += [f"{k}: {v}" for k, v in trailers(ACTION, actor)]
    return "\n".join(lines) + "\n"


def migrated_files(listing: Listing) -> dict[str, tuple[str, str]]:
    """Return the files of the format-2 tree made from format-1 ``listing``: path -> (mode, blob id).

    Raises:
        GitFailure: two files would land on one path (a hand-made file already sits
            where a board file moves); nothing is written.
    """
    files: dict[str, tuple[str, str]] = {}
    origin: dict[str, str] = {}
    for path, (mode, typ, sha) in listing.items():
        if typ == "tree":
            continue
        new = layout.migrate_path(path)
        if new in files:
            raise GitFailure(f"cannot migrate the board: {origin[new]} and {path} would both be {new}; "
                             f"move one of them away")
        files[new], origin[new] = (mode, sha), path
    return files


def write_migration(repo: BoardRepo, base: str, listing: Listing, old: int,
                    identity: Mapping[str, str], actor: str) -> tuple[str, Listing]:
    """Write the migration commit of the board at ``base`` (tree ``listing``, format ``old``).

    Returns (commit id, the new tree's listing); no ref is moved. The new tree, its
    listing and the commit's tree are recorded in the parse cache.

    Raises:
        GitFailure: two files would land on one path.
    """
    files = migrated_files(listing)
    files[layout.FORMAT_PATH] = (BLOB_MODE, write_object(repo, b"blob", layout.format_file()))
    tree, new_listing = write_full_tree(repo, files)
    commit = commit_tree(repo, tree, base, migration_message(actor, old), identity)
    cache = repo.cache
    cache.put_commit(commit, tree)
    cache.put_tree(tree, new_listing)
    remember_writes(cache, {layout.FORMAT_PATH: layout.format_file()})
    return commit, new_listing
