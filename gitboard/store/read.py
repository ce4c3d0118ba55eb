"""Reading the board: a snapshot at a tip, fresh from the remote in remote mode.

A warm local read runs no git command: the tip is read from the ref file, and
the tree listing and every parsed file come from the parse cache
(:mod:`gitboard.store.cache`). GitPython is imported only in remote mode.
"""

from __future__ import annotations

from gitboard.board import layout
from gitboard.board.errors import Conflict, GitFailure
from gitboard.board.snapshot import Board, build
from gitboard.board.team import CONFIG_PATH
from gitboard.store.cache import BoardCache
from gitboard.store.objects import Listing, blob_ids, listing_at, read_files, read_format
from gitboard.store.repo import BoardRepo


def no_board_error(repo: BoardRepo) -> GitFailure:
    """The error for a repository (or remote) without a board branch."""
    where = f"{repo.remote}'s " if repo.remote else ""
    return GitFailure(f"no board: {where}branch {repo.branch!r} does not exist (run 'gitboard init')")


def load_board(repo: BoardRepo, tip: str | None) -> tuple[Board, Listing, BoardCache]:
    """Read the board at commit ``tip`` (None: the empty board before ``init``).

    Returns the snapshot, the tree listing (do not modify it) and the parse
    cache used, :attr:`BoardRepo.cache`, refreshed from its file first.

    A board in an older format (:data:`layout.READABLE_FORMATS`) is read as it is;
    ``Board.format`` says which.

    Raises:
        GitFailure: git could not read the commit, the branch is not a board
            (its tree has no ``.team/config.json``), or its format is one this
            gitboard cannot read (a newer one, or a damaged format file).
    """
    cache = repo.cache
    cache.refresh()
    listing = listing_at(repo, tip, cache) if tip else {}
    if not tip:
        return build(tip, {}, layout.FORMAT), listing, cache
    if CONFIG_PATH not in listing:
        raise GitFailure(f"branch {repo.branch!r} is not a gitboard board (its tree has no {CONFIG_PATH}); "
                         f"name the board branch with 'git config gitboard.branch'")
    version = read_format(repo, listing, cache)
    if version not in layout.READABLE_FORMATS:
        if version > layout.FORMAT:
            raise GitFailure(f"the board is in format {version}, newer than this gitboard reads "
                             f"({layout.FORMAT}); upgrade gitboard")
        raise GitFailure(f"the board's {layout.FORMAT_PATH} is damaged (expected {{\"format\": N}})")
    board = build(tip, read_files(repo, listing, cache, version), version)
    return board, listing, cache


def mirror(repo: BoardRepo, commit: str, reason: str, parent: str | None = None) -> None:
    """Point the remote-tracking ref at ``commit`` and fast-forward the local board branch to it
    (remote mode). ``parent``: a commit known to be an ancestor of ``commit`` (saves a check).

    The local branch only ever fast-forwards, so no local commit is dropped; a
    lost compare-and-swap (another process of this clone moved it first) is left
    to that process.

    Raises:
        Conflict: the local board branch has commits the remote's board lacks.
    """
    repo.git("update-ref", repo.tracking_ref, commit, check=False)
    local = repo.tip()
    if local == commit:
        return
    if local is not None and local != parent and not repo.is_ancestor(local, commit):
        raise Conflict(f"the local board branch {repo.branch!r} ({local[:12]}) has commits that "
                       f"{repo.remote}'s board ({commit[:12]}) lacks; keep them under another name "
                       f"(git branch -m {repo.branch} {repo.branch}-local) and run 'gitboard sync'")
    repo.compare_and_swap(commit, local, f"gitboard: {reason}")


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
