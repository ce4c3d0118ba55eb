"""``task list --json`` without reading the board: no :class:`Task` built, no board assembled.

A fresh ``gitboard task list --json`` process would otherwise load every cached
task, build every :class:`~gitboard.board.task.Task` (about 2 µs each) and then
print each one's cached JSON text. Here:

- a board tree listed before has its listing index (:mod:`gitboard.store.list_index`):
  the listing is one file read, the filters on its columns and a join;
- else, after a change of a few files (a claim, another clone's push, a hand edit), the
  clone's latest index is patched with the files that differ between the two trees
  (:func:`index_from_previous`: a tree comparison and those files read, no parse cache);
- else the index is made from the parse cache (:func:`index_from_cache`): readiness on
  each task's cached summary (:data:`gitboard.store.cache.SUMMARY_FIELDS`), each task's
  cached JSON text, one pass over the tasks.

Either way it is written for the next listing of that tree.

The answer is exactly the one the board gives (``Board.is_ready``, the corrupt
files ``build`` reports); whenever the caches cannot give it (a file not parsed
yet, a board this process built already, an unreadable format) :func:`task_list_json`
returns None and the caller reads the board as usual (which fills the cache).
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from gitboard.board import layout
from gitboard.board.errors import BoardError
from gitboard.board.snapshot import ParseError
from gitboard.board.roster import Team
from gitboard.store import list_index, trees
from gitboard.store.cache import MISSING, TREE_MODE
from gitboard.store.objects import cat_blobs, parse_json, parse_task, read_format, tree_id
from gitboard.store.read import current_tip
from gitboard.store.repo import BoardRepo


def _file_problem(path: str, value: Any) -> str | None:
    """Why a board file other than a task's is corrupt (it does not parse; a roster that is no
    team), or None: what ``task list`` reports for it, as the board would."""
    if isinstance(value, ParseError):
        return value.message
    if path == layout.ROSTER_PATH:
        try:
            Team.from_json(value)
        except BoardError as e:
            return e.message
    return None

def task_list_json(repo: BoardRepo, now: datetime, *, fresh: bool = True, status: str | None = None,
                   owner: str | None = None, ready: bool = False,
                   role: str | None = None) -> tuple[list[bytes | memoryview], dict[str, str]] | None:
    """Return ``task list --json``'s array (the tasks sorted by id, filtered like ``task list``)
    as UTF-8 pieces to write in order (see :func:`gitboard.store.list_index.answer`), and the
    board's corrupt files (path -> reason); or None when the caches cannot answer.

    The board tree's listing index (:mod:`gitboard.store.list_index`) answers when there is
    one; else it is made from the clone's latest index and the files that changed since
    (:func:`index_from_previous`), or else from the parse cache (:func:`index_from_cache`),
    and written for the next listing.

    Args:
        repo: the open repository.
        now: the time readiness (an expired lease) is judged at.
        fresh: fetch first in remote mode (see :func:`gitboard.store.read.current_tip`).
        status, owner: keep only tasks with this status / owner.
        ready: keep only ready tasks; with ``role``, only those that role may claim.

    Raises:
        GitFailure: no board, the remote is unreachable, or git could not read the tree.
    """
    found = cached_index(repo, fresh=fresh)
    if found is None:
        return None
    index = found[2]
    return list_index.answer(index, now, status=status, owner=owner, ready=ready, role=role), dict(index.corrupt)


def listing_index(repo: BoardRepo, fresh: bool = True,
                  memo: dict[str, list_index.Index] | None = None) -> list_index.Index | None:
    """Return the listing index of the board's current tree (see :func:`task_list_json`: loaded,
    else made from the latest index or the parse cache and saved), or None when the caches
    cannot make it.

    Args:
        memo: a long-lived caller's dict, tree -> index: the index of a tree listed before is
            taken from it rather than read from its file again (it keeps the last tree only).

    Raises:
        GitFailure: no board, the remote is unreachable, or git could not read the tree.
    """
    found = cached_index(repo, fresh=fresh, memo=memo)
    return None if found is None else found[2]


def cached_index(repo: BoardRepo, tip: str | None = None, *, fresh: bool = True,
                 memo: dict[str, list_index.Index] | None = None) -> tuple[str, str, list_index.Index] | None:
    """Return (tip, tree id, listing index) of the board at ``tip`` (None: the current tip,
    fetched first in remote mode when ``fresh``), from the caches only; None when they cannot
    give it (see :func:`task_list_json`). A new index is written for the next reader;
    ``memo`` as for :func:`listing_index`.

    Raises:
        GitFailure: no board, the remote is unreachable, or git could not read the tree.
    """
    if tip is None:
        tip = current_tip(repo, fresh)
    tree = tree_id(repo, tip)
    if memo is not None and tree in memo:
        return tip, tree, memo[tree]
    index = list_index.load(repo.common_dir, tree)
    if index is None:
        index = index_from_previous(repo, tree) or index_from_cache(repo, tip, tree)
        if index is None:
            return None
        list_index.save(repo.common_dir, tree, index)
    if memo is not None:
        memo.clear()
        memo[tree] = index
    return tip, tree, index


def board_index(repo: BoardRepo, *, fresh: bool = True) -> tuple[str, list_index.Index]:
    """Return (tip, listing index) of the current board, always: from the caches as
    :func:`cached_index` does, else made from the board read in full (which fills the parse
    cache) and written for the next reader. The web board's columns are windows of it.

    Raises:
        GitFailure: no board, the remote is unreachable, or git could not read the tree.
    """
    from gitboard.store.read import read_board

    found = cached_index(repo, fresh=fresh)
    if found is not None:
        return found[0], found[2]
    board = read_board(repo, fresh=False)
    tip = board.tip
    tasks = board.tasks
    index = list_index.build(
        board.format,
        {tid: (tid, t.status, t.owner, tuple(t.blockedBy), t.lease_expires_at, t.role) for tid, t in tasks.items()},
        {tid: t.to_json_text() for tid, t in tasks.items()}, dict(board.corrupt))
    list_index.save(repo.common_dir, tree_id(repo, tip), index)
    return tip, index


def task_list_page(repo: BoardRepo, now: datetime, *, fresh: bool = True, status: str | None = None,
                   owner: str | None = None, ready: bool = False, role: str | None = None,
                   offset: int = 0, limit: int | None = None,
                   memo: dict[str, list_index.Index] | None = None) -> tuple[bytes, int, dict[str, str]] | None:
    """Return one page of ``task list``'s answer: ``(the JSON array of the kept tasks from
    position offset, at most limit of them, as UTF-8; how many tasks the filters keep in all;
    the corrupt files)``, or None when the caches cannot answer (see :func:`task_list_json`,
    whose filters these are). Only the page's texts are joined, however large the board;
    ``memo`` as for :func:`listing_index`.

    Raises:
        GitFailure: no board, the remote is unreachable, or git could not read the tree.
    """
    index = listing_index(repo, fresh, memo)
    if index is None:
        return None
    keep = list_index.select(index, now, status=status, owner=owner, ready=ready, role=role)
    end = None if limit is None else offset + limit
    page = b"".join(list_index.pieces(index, keep[offset:end]))
    return page, len(keep), dict(index.corrupt)


#: Changed files up to which :func:`index_from_previous` applies them to the latest index
#: (beyond, the parse cache makes the index: it has read most of those files already).
MAX_CHANGED_FILES = 512


def index_from_previous(repo: BoardRepo, tree: str) -> list_index.Index | None:
    """Make the listing index of board tree ``tree`` from the clone's most recent index of
    another tree and the files that differ between the two trees (read directly: loose
    objects, else one ``git cat-file --batch``), without the parse cache. Returns None when
    there is no such index, more than :data:`MAX_CHANGED_FILES` files differ, or the board's
    format file differs.

    The result is the index :func:`index_from_cache` would make of ``tree``: the same
    parsing and validation of each changed file (:func:`~gitboard.store.objects.parse_task`,
    :func:`~gitboard.store.objects.parse_json`, the roster checked by :meth:`Team.from_json`).

    Raises:
        GitFailure: git could not read the trees or files.
    """
    found = list_index.latest(repo.common_dir, other_than=tree)
    if found is None:
        return None
    old_tree, old = found
    memo = list_index.TreeMemo()
    try:
        changed = trees.diff(repo, memo, old_tree, tree)  # type: ignore[arg-type]
    except BoardError:
        return None  # the old tree is gone (it was never this clone's, or was pruned by git)
    changed = {p: v for p, v in changed.items() if p.endswith(".json")}
    version = old.version
    if len(changed) > MAX_CHANGED_FILES or layout.FORMAT_PATH in changed:
        return None  # a migration (or an edit of the format file) changes what every path is
    if trees.lookup(repo, memo, tree, layout.ROSTER_PATH) is None:  # type: ignore[arg-type]
        return None  # not a board any more: let the ordinary read say so
    wanted = [v[1] for v in changed.values() if v is not None]
    data: dict[str, bytes] = {}
    for sha in wanted:
        obj = trees.read_loose(repo, sha)
        if obj is not None and obj[0] == b"blob":
            data[sha] = obj[1]
    data.update(cat_blobs(repo, [sha for sha in wanted if sha not in data]))
    tasks: dict[int, tuple[tuple, bytes] | None] = {}
    corrupt = dict(old.corrupt)
    task_id_of = _task_ids(version)
    for path, entry in changed.items():
        corrupt.pop(path, None)
        tid = task_id_of(path)
        if tid is not None:
            tasks[tid] = None
        if entry is None:
            continue
        raw = data.get(entry[1])
        if raw is None:
            return None  # a blob git cannot read: let the ordinary read say so
        if tid is not None:
            task = parse_task(raw)
            if isinstance(task, ParseError):
                corrupt[path] = task.message
            elif task.id != tid:
                corrupt[path] = f"id {task.id} does not match file name"
            else:
                tasks[tid] = ((tid, task.status, task.owner, tuple(task.blockedBy), task.lease_expires_at, task.role),
                              task.to_json_text().encode())
            continue
        problem = _file_problem(path, parse_json(raw))
        if problem is not None:
            corrupt[path] = problem
    return list_index.patch(old, tasks, corrupt)


def index_from_cache(repo: BoardRepo, tip: str, tree: str) -> list_index.Index | None:
    """Make the listing index of board tree ``tree`` (the tree of commit ``tip``) from the parse
    cache: readiness on each task's cached summary, no :class:`Task` built. Returns None when
    the cache cannot give it (a file not parsed yet, a board this process built already,
    not a board, an unreadable format).

    Raises:
        GitFailure: git could not read the tree.
    """
    cache = repo.cache
    with cache.lock:
        cache.refresh()
        cache.put_commit(tip, tree)
        if cache.board(tree) is not None:
            return None  # this process has the board: reading it is free
        if trees.lookup(repo, cache, tree, layout.ROSTER_PATH) is None:
            return None  # not a board: let the ordinary read say so
        version = read_format(repo, cache, tree)
        if version not in layout.READABLE_FORMATS:
            return None
        summaries: dict[int, tuple] = {}
        blobs: dict[int, str] = {}
        corrupt: dict[str, str] = {}
        summary_of, get = cache.task_summary, cache.get
        files = {}
        for path, (tids, shas, others) in _walk(repo, cache, tree, version):
            for tid, sha in zip(tids, shas):
                summary = summary_of(sha)
                if summary is MISSING:
                    return None
                if isinstance(summary, ParseError):
                    corrupt[f"{path}task_{tid}.json"] = summary.message
                elif summary[0] != tid:
                    corrupt[f"{path}task_{tid}.json"] = f"id {summary[0]} does not match file name"
                else:
                    summaries[tid] = summary
                    blobs[tid] = sha
            for name, sha in others:
                files[path + name] = sha
        task_id_of = _task_ids(version)
        for path, sha in files.items():  # files outside the task directories (format 1: every file)
            if not path.endswith(".json"):
                continue
            tid = task_id_of(path)
            if tid is None:
                if path == layout.FORMAT_PATH and version != layout.LEGACY_FORMAT:
                    continue
                value = get(sha)
                if value is MISSING:
                    return None
                problem = _file_problem(path, value)
                if problem is not None:
                    corrupt[path] = problem
                continue
            summary = summary_of(sha)
            if summary is MISSING:
                return None
            if isinstance(summary, ParseError):
                corrupt[path] = summary.message
            elif summary[0] != tid:
                corrupt[path] = f"id {summary[0]} does not match file name"
            else:
                summaries[tid] = summary
                blobs[tid] = sha
        text_of = cache.task_text
        index = list_index.build(version, summaries, {tid: text_of(sha) for tid, sha in blobs.items()}, corrupt)
        cache.save()  # the task directories' indexes, for the next listing
        return index


def _walk(repo: BoardRepo, cache, tree: str, version: int):
    """Yield (directory path with a trailing "/", (task ids, blob ids, other files)) for every
    directory of ``tree``: a format-2 task directory's files are split into its task files
    (the cached index, made once per directory) and the others (name -> blob id)."""
    level = [("", tree)]
    while level:
        trees.load(repo, cache, [t for p, t in level if version != layout.FORMAT or cache.leaf(t) is None])
        nxt = []
        for prefix, t in level:
            index = cache.leaf(t) if version == layout.FORMAT else None
            if index is None:
                ents = trees.entries(repo, cache, t)
                tids, shas, others = [], [], []
                leaf = _leaf_number(prefix) if version == layout.FORMAT else None
                for name, (mode, sha) in ents.items():
                    if mode == TREE_MODE:
                        nxt.append((f"{prefix}{name}/", sha))
                        continue
                    if mode not in trees.FILE_MODES:
                        continue
                    tid = _task_number(name) if leaf is not None else None
                    if tid is not None and tid // layout.TASK_FANOUT == leaf:
                        tids.append(tid)
                        shas.append(sha)
                    else:
                        others.append((name, sha))
                index = (tuple(tids), tuple(shas), tuple(others))
                if leaf is not None and not any(m == TREE_MODE for m, _ in ents.values()):
                    cache.put_leaf(t, index)
            yield prefix, index
        level = nxt


def _leaf_number(prefix: str) -> int | None:
    """``".tasks/<a>/<b>/"`` -> a * 100 + b if it is a task directory of the layout, else None."""
    parts = prefix.split("/")
    if len(parts) != 4 or parts[0] != layout.TASKS_DIR or parts[3] != "":
        return None
    a, b = parts[1], parts[2]
    if not (a.isascii() and a.isdigit() and b.isascii() and b.isdigit() and len(b) == 2 and f"{int(a):02d}" == a):
        return None
    return int(a) * layout.TASK_FANOUT + int(b)


def _task_number(name: str) -> int | None:
    """``"task_<id>.json"`` -> id (no leading zero), else None."""
    if not (name.startswith("task_") and name.endswith(".json")):
        return None
    digits = name[5:-5]
    if not (digits.isascii() and digits.isdigit()) or digits[0] == "0":
        return None
    return int(digits)


def _task_ids(version: int):
    """``path -> task id or None`` for format ``version`` (:func:`layout.task_id_of`), checking each
    task directory's name once rather than once per file."""
    if version != layout.FORMAT:
        return lambda path: layout.task_id_of(path, version)
    leaves: dict[str, int | None] = {}

    def leaf_of(head: str) -> int | None:
        # ".tasks/<a>/<b>" -> the leaf number a * 100 + b, if it is a directory of the layout
        parts = head.split("/")
        if len(parts) != 3 or parts[0] != layout.TASKS_DIR:
            return None
        a, b = parts[1], parts[2]
        if not (a.isascii() and a.isdigit() and b.isascii() and b.isdigit() and len(b) == 2 and len(a) >= 2):
            return None
        leaf = int(a) * layout.TASK_FANOUT + int(b)
        return leaf if f"{int(a):02d}" == a else None

    def task_id(path: str) -> int | None:
        head, _, name = path.rpartition("/")
        if not (name.startswith("task_") and name.endswith(".json")):
            return None
        if head in leaves:
            leaf = leaves[head]
        else:
            leaf = leaves[head] = leaf_of(head)
        if leaf is None:
            return None
        digits = name[5:-5]
        if not (digits.isascii() and digits.isdigit()) or digits[0] == "0":
            return None
        tid = int(digits)
        return tid if tid // layout.TASK_FANOUT == leaf else None

    return task_id
