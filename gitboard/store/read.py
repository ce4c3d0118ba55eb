"""Reading the board: a snapshot at a tip, fresh from the remote in remote mode.

A warm local read runs no git command: the tip is read from the ref file, and
the trees and every parsed file come from the parse cache
(:mod:`gitboard.store.cache`); a long-lived process reuses the board it built
last, with only the changed files applied. No read loads GitPython, in remote mode either.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Mapping

from gitboard.board import layout
from gitboard.board.errors import Diverged, GitFailure
from gitboard.board.snapshot import Board, build
from gitboard.board.roster import CONFIG_PATH
from gitboard.store import trees
from gitboard.store.cache import MISSING, BoardCache
from gitboard.store.objects import blob_id, read_files, read_format, tree_id
from gitboard.store.repo import BoardRepo
from gitboard.store.trees import TreeRef


def no_board_error(repo: BoardRepo) -> GitFailure:
    """The error for a repository (or remote) without a board branch. Its hint names
    ``gitboard init --remote NAME`` when a remote this clone fetched from has a board
    (see :func:`remote_with_board`): a plain ``init`` would make a second, unrelated board."""
    where = f"{repo.remote}'s " if repo.remote else ""
    shared = None if repo.remote else remote_with_board(repo)
    hint = (f"{shared} has one: run 'gitboard init --remote {shared}' to use it" if shared
            else "run 'gitboard init'")
    return GitFailure(f"no board: {where}branch {repo.branch!r} does not exist ({hint})")


def remote_with_board(repo: BoardRepo) -> str | None:
    """The first git remote (``origin`` first, then by name) whose board branch this clone has
    fetched (``refs/remotes/<remote>/<branch>`` exists, as after ``git clone``), or None.
    Reads local refs only: no network."""
    res = repo.git("remote", check=False)
    names = res.stdout.decode(errors="replace").split() if res.status == 0 else []
    for name in sorted(names, key=lambda n: (n != "origin", n)):
        if repo.read_ref(f"refs/remotes/{name}/{repo.branch}") is not None:
            return name
    return None


def load_board(repo: BoardRepo, tip: str | None) -> tuple[Board, TreeRef, BoardCache]:
    """Read the board at commit ``tip`` (None: the empty board before ``init``).

    Returns the snapshot, the tree it was read from (for
    :func:`~gitboard.store.objects.write_commit`) and the parse cache used,
    :attr:`BoardRepo.cache`, refreshed from its file first. A board this process
    built before is returned as it is; a board near one it built (the next commit,
    another process's claim) is that board with the changed files applied
    (:func:`gitboard.store.trees.diff`); any other is read in full. A board in an
    older format (:data:`layout.READABLE_FORMATS`) is read as it is;
    ``Board.format`` says which.

    Raises:
        GitFailure: git could not read the commit, the branch is not a board
            (its tree has no ``.team/config.json``), or its format is one this
            gitboard cannot read (a newer one, or a damaged format file).
    """
    cache = repo.cache
    with cache.lock:
        cache.refresh()
        if not tip:
            return build(tip, {}, layout.FORMAT), TreeRef(None, layout.FORMAT), cache
        tree = cache.tree_of(tip)
        if tree is None:
            tree = tree_id(repo, tip)
            cache.put_commit(tip, tree)
        board = cache.board(tree)
        if board is None:
            board = _read(repo, cache, tip, tree)
            cache.put_board(tree, board)
        elif board.tip != tip:  # another commit of the same tree
            board = replace(board, tip=tip)
        return board, TreeRef(tree, board.format), cache


def _read(repo: BoardRepo, cache: BoardCache, tip: str, tree: str) -> Board:
    if trees.lookup(repo, cache, tree, CONFIG_PATH) is None:
        raise GitFailure(f"branch {repo.branch!r} is not a gitboard board (its tree has no {CONFIG_PATH}); "
                         f"name the board branch with 'git config gitboard.branch'")
    version = read_format(repo, cache, tree)
    if version not in layout.READABLE_FORMATS:
        if version > layout.FORMAT:
            raise GitFailure(f"the board is in format {version}, newer than this gitboard reads "
                             f"({layout.FORMAT}); upgrade gitboard")
        raise GitFailure(f"the board's {layout.FORMAT_PATH} is damaged (expected {{\"format\": N}})")
    latest = cache.latest_board()
    if latest is not None and latest[1].format == version:
        changes = trees.diff(repo, cache, latest[0], tree)
        changed = {p: e for p, e in changes.items() if e is not None}
        return latest[1].with_files(tip, read_files(repo, changed, cache, version),
                                    [p for p, e in changes.items() if e is None])
    return build(tip, read_files(repo, trees.walk(repo, cache, tree), cache, version), version, checked=True)


def remember_board(repo: BoardRepo, board: Board, commit: str, writes: Mapping[str, bytes | None]) -> None:
    """Keep the board that ``commit`` made from ``board`` by ``writes`` in the cache's memory, so
    that the next read of ``commit`` costs nothing. Call it after the commit landed; its tree must
    be cached (:func:`~gitboard.store.objects.write_commit` does that)."""
    cache = repo.cache
    tree = cache.tree_of(commit)
    if tree is None:
        return
    with cache.lock:
        if cache.board(tree) is not None:
            return
        changed = {}
        for path, data in writes.items():
            if data is not None and path.endswith(".json"):
                sha = blob_id(data)
                value = cache.get_task(sha) if layout.task_id_of(path, board.format) is not None else cache.get(sha)
                if value is MISSING:
                    return  # not remembered (cannot happen after write_commit): the next read diffs
                changed[path] = value
        cache.put_board(tree, board.with_files(commit, changed, [p for p, d in writes.items() if d is None]))


def mirror(repo: BoardRepo, commit: str, reason: str, parent: str | None = None) -> None:
    """Point the remote-tracking ref at ``commit`` and fast-forward the local board branch to it
    (remote mode). ``parent``: a commit known to be an ancestor of ``commit`` (saves a check);
    by default the old tip of this process's last fetch, when it proved a fast-forward to
    ``commit`` (:attr:`gitboard.store.repo.BoardRepo.fast_forward`).

    Neither ref ever moves back. The remote's board only fast-forwards (the
    pre-receive hook refuses anything else), so every tip any process of this
    clone fetched or pushed lies on one line of history: a ``commit`` older than
    the local branch is a stale answer from a fetch or push that another process
    of this clone overtook, and is left behind without a word. A lost
    compare-and-swap (another process moved a ref first) is left to that process.

    Raises:
        Diverged: the local branch and ``commit`` have diverged: the local board
            branch has commits the remote's board lacks (no process of gitboard
            makes them in remote mode; they were made by hand or by a board adopted
            without its remote).
    """
    if parent is None and repo.fast_forward is not None and repo.fast_forward[1] == commit:
        parent = repo.fast_forward[0]  # this process's fetch, which git logged as a fast-forward
    tracked = repo.read_ref(repo.tracking_ref)
    if tracked != commit and (tracked in (None, parent) or not repo.is_ancestor(commit, tracked)):
        repo.compare_and_swap(commit, tracked, f"gitboard: {reason}", ref=repo.tracking_ref)
    local = repo.tip()
    if local == commit:
        return
    if local is not None and local != parent and not repo.is_ancestor(local, commit):
        if repo.is_ancestor(commit, local):
            return  # another process of this clone mirrored a newer tip first
        raise Diverged(f"the local board branch {repo.branch!r} ({local[:12]}) has commits that "
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
    board, _, cache = load_board(repo, current_tip(repo, fresh))
    cache.save()
    return board
