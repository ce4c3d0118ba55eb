"""Reading the board: a snapshot at a tip, fresh from the remote in remote mode.

A warm local read runs no git command: the tip is read from the ref file, and
the tree listing and every parsed file come from the parse cache
(:mod:`gitboard.store.cache`). GitPython is imported only in remote mode.
"""

from __future__ import annotations

from gitboard.board.errors import GitFailure
from gitboard.board.snapshot import Board, build
from gitboard.store.cache import BoardCache
from gitboard.store.objects import Listing, blob_ids, listing_at, read_files
from gitboard.store.repo import BoardRepo


def no_board_error(repo: BoardRepo) -> GitFailure:
    """The error for a repository (or remote) without a board branch."""
    where = f"{repo.remote}'s " if repo.remote else ""
    return GitFailure(f"no board: {where}branch {repo.branch!r} does not exist (run 'gitboard init')")


def load_board(repo: BoardRepo, tip: str | None) -> tuple[Board, Listing, BoardCache]:
    """Read the board at commit ``tip`` (None: the empty board before ``init``).

    Returns the snapshot, the tree listing (do not modify it) and the parse
    cache used, :attr:`BoardRepo.cache`, refreshed from its file first.
    """
    cache = repo.cache
    cache.refresh()
    listing = listing_at(repo, tip, cache) if tip else {}
    board = build(tip, read_files(repo, listing, cache))
    return board, listing, cache


def mirror(repo: BoardRepo, commit: str, reason: str) -> None:
    """Point the local board branch and the remote-tracking ref at ``commit`` (remote mode)."""
    repo.git("update-ref", repo.tracking_ref, commit, check=False)
    repo.git("update-ref", "-m", f"gitboard: {reason}", repo.ref, commit, check=False)


def current_tip(repo: BoardRepo, fresh: bool = True) -> str:
    """Return the board tip to read: fetched from the remote in remote mode (unless offline or
    not ``fresh``), else the local branch.

    Raises:
        GitFailure: no board, or the remote is unreachable.
    """
    if repo.remote and fresh and not repo.offline:
        from gitboard.store import remote as remote_ops

        tip = remote_ops.fetch(repo)
        if tip is None:
            raise no_board_error(repo)
        if tip != repo.tip():
            mirror(repo, tip, "sync")
        return tip
    tip = repo.tip()
    if tip is None:
        raise no_board_error(repo)
    return tip


def read_board(repo: BoardRepo, fresh: bool = True) -> Board:
    """Return the current board (see :func:`current_tip`); saves newly parsed files to the cache.

    Raises:
        GitFailure: no board, or the remote is unreachable.
    """
    board, listing, cache = load_board(repo, current_tip(repo, fresh))
    cache.save(keep=blob_ids(listing))
    return board
