"""A claim of the next ready task that reads only what it needs.

``claim --next`` picks the lowest-id ready task the claimer's role may take. Reading the
whole board for that parses every task file (10,000 of them on a board of 10,000 tasks).
The clone's listing index (:mod:`gitboard.store.list_index`) already knows which tasks
are ready, in id order, with their JSON texts; :func:`ready_board` turns it into a
board holding only the roster and the first ready tasks (with their blockers), which
:func:`gitboard.board.task_ops.claim` judges exactly as it would the whole board: the
task it picks is ``ready[0]`` of either.

An operation names such a reader in its ``reads`` attribute (:func:`claim_next`);
:func:`gitboard.store.transact.transact` uses it when the operation runs alone, and
never keeps the partial board it returns as the board of any tree.
"""

from __future__ import annotations

from bisect import bisect_left
from datetime import datetime
from functools import partial
from typing import Any

from gitboard.board import layout, task_ops
from gitboard.board.clock import parse_iso
from gitboard.board.snapshot import Board, build
from gitboard.board.task import Task
from gitboard.store import list_index, listing, trees
from gitboard.store.objects import cat_blobs, parse_json, parse_task
from gitboard.store.repo import BoardRepo

#: Ready tasks a partial board holds; the claim takes the first.
WANT = 4


def _blob(repo: BoardRepo, sha: str) -> bytes | None:
    obj = trees.read_loose(repo, sha)
    if obj is not None and obj[0] == b"blob":
        return obj[1]
    return cat_blobs(repo, [sha]).get(sha)


def ready_board(repo: BoardRepo, tip: str, tree: str, now: datetime, keywords: dict[str, Any]) -> Board | None:
    """A board of commit ``tip`` (tree ``tree``) holding the roster and the first :data:`WANT`
    ready tasks that the claimer (``keywords`` of :func:`task_ops.claim`: ``actor``, ``role``)
    may take, with their blockers; None when the listing index cannot say (no index of a
    nearby tree, an older format, corrupt files): the caller reads the whole board.

    Raises:
        GitFailure: git could not read the trees or files.
    """
    index = list_index.load(repo.common_dir, tree)
    if index is None:
        index = listing.index_from_previous(repo, tree)
        if index is None:
            return None
        list_index.save(repo.common_dir, tree, index)
    if index.version != layout.FORMAT or index.corrupt:
        return None
    memo = list_index.TreeMemo()
    entry = trees.lookup(repo, memo, tree, layout.ROSTER_PATH)  # type: ignore[arg-type]
    raw = _blob(repo, entry[1]) if entry is not None else None
    if raw is None:
        return None
    files: dict[str, Any] = {layout.ROSTER_PATH: parse_json(raw)}
    team = build(tip, files).team
    role = keywords.get("role") or team.role_of(keywords.get("actor", ""))
    keep = list(index.ready)
    expired = [pos for pos, lease in index.leased if parse_iso(lease) <= now]
    if expired:
        keep = sorted(keep + expired)
    keep = [p for p in keep if index.role[p] in (None, role)][:WANT]
    positions = set(keep)
    ids = index.ids  # sorted
    for p in keep:  # their blockers, so that the board judges them ready as the index did
        for b in index.blocked[p]:
            i = bisect_left(ids, b)
            if i < len(ids) and ids[i] == b:
                positions.add(i)
    body, starts = index.body, index.starts
    for p in sorted(positions):
        task = parse_task(bytes(body[starts[p]:starts[p + 1] - 2]))
        if type(task) is not Task:
            return None
        files[layout.task_path(task.id, layout.FORMAT)] = task
    return build(tip, files, layout.FORMAT, checked=True)


def claim_next(actor: str, role: str | None = None, lease: float | None = None) -> partial:
    """The operation claiming ``actor``'s next ready task (:func:`task_ops.claim` with no
    ``task_id``), naming :func:`ready_board` as what it reads."""
    op = partial(task_ops.claim, actor=actor, task_id=None, role=role, lease=lease)
    op.reads = ready_board  # type: ignore[attr-defined]
    return op
