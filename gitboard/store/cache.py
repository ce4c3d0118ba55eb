"""The parse cache: board files parsed once, keyed by object id, under the common git dir.

Git objects are immutable, so an object id names what was parsed from it forever:

- blob id -> the parsed JSON of a board file (or why it does not parse);
- blob id -> the validated :class:`~gitboard.board.task.Task` of a task file, as a
  plain record plus its JSON text (or why it is corrupt);
- tree id -> the tree's recursive listing (``git ls-tree -r -t``);
- commit id -> its tree id.

A claim changes one blob, two trees and makes one commit; the writer records
all of them, so the next read -- in any process of the clone -- runs no git
command at all, and a read after someone else's change re-reads only what changed.

The cache is one file, ``<git-common-dir>/gitboard/cache/board-v2.marshal``.
:mod:`marshal` is the fastest loader of plain Python data (about 25 ms for
10,000 tasks, against 30 ms for pickle and 50 ms for re-parsing the JSON), and
the file carries a fingerprint of the Python version and the task model's
source, so a cache written by other code is ignored, never misread. It is
written atomically (temporary file + rename) and only when it gained entries;
concurrent writers can only lose each other's entries, never corrupt them, and
a cache that fails to load is rebuilt.

A :class:`BoardCache` lives as long as its :class:`~gitboard.store.repo.BoardRepo`
(:attr:`~gitboard.store.repo.BoardRepo.cache`): a long-lived process keeps what
it parsed, and merges the file in again only when another process rewrote it.
"""

from __future__ import annotations

import itertools
import marshal
import os
import sys
from pathlib import Path
from typing import Any

from gitboard.board import task as task_model
from gitboard.board.snapshot import ParseError
from gitboard.board.task import Task, task_from_record, task_record

CACHE_VERSION = 2
FILE_NAME = f"board-v{CACHE_VERSION}.marshal"
#: Tree listings kept in the file: the board as read and as written by the last change.
MAX_TREES = 2
#: Commit -> tree entries kept in the file.
MAX_COMMITS = 64

#: A tree listing: path -> (mode, type, object id), blobs and trees alike, in ``git ls-tree`` order.
Listing = dict[str, tuple[str, str, str]]

#: First item of a cached "does not parse" entry. Parsed JSON is never a tuple, so
#: ``("!", message)`` cannot be mistaken for a file's content.
_BAD = "!"


def _fingerprint() -> tuple:
    """What the cached values depend on besides the blobs: marshal's format (the Python
    version) and the task model (``gitboard/board/task.py``, by size and modification time)."""
    try:
        st = os.stat(task_model.__file__)
        model: Any = (st.st_size, st.st_mtime_ns)
    except (OSError, TypeError):
        from gitboard import __version__

        model = __version__
    return (CACHE_VERSION, marshal.version, sys.version_info[:2], task_model.TASK_FIELDS, model)


FINGERPRINT = _fingerprint()
_counter = itertools.count()


class BoardCache:
    """Parsed board files, tree listings and commit trees, keyed by git object id.

    Args:
        directory: where the cache file lives (``<git-common-dir>/gitboard/cache``).
    """

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / FILE_NAME
        self.commits: dict[str, str] = {}
        self.trees: dict[str, Listing] = {}
        self.files: dict[str, Any] = {}
        self.tasks: dict[str, tuple] = {}
        self._live: dict[str, Task | ParseError] = {}
        self._stamp: tuple | None = None
        self.dirty = False
        self.refresh()

    # -- the file ----------------------------------------------------------
    def refresh(self) -> None:
        """Merge in the cache file if another process rewrote it since this object last
        read or wrote it (one ``stat`` when it did not)."""
        try:
            st = os.stat(self.path)
        except OSError:
            return
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        if stamp == self._stamp:
            return
        self._stamp = stamp
        try:
            with open(self.path, "rb") as f:
                fingerprint, commits, trees, files, tasks = marshal.loads(f.read())
        except Exception:  # a missing, old or damaged cache is rebuilt
            return
        if fingerprint != FINGERPRINT:
            return
        if self.commits or self.trees or self.files or self.tasks:  # keep what we have too
            commits.update(self.commits)
            for k, v in self.trees.items():  # ours are the most recent
                trees.pop(k, None)
                trees[k] = v
            files.update(self.files)
            tasks.update(self.tasks)
        self.commits, self.trees, self.files, self.tasks = commits, trees, files, tasks

    def save(self, keep: set[str] | None = None) -> None:
        """Write the cache file if entries were added since it was read or written.

        Args:
            keep: if given, the blob ids to keep (the current board's); parsed
                files of other blobs are dropped. Only the :data:`MAX_TREES` most
                recently used listings and the commits that name them are kept.
        """
        if not self.dirty:
            return
        if keep is not None:
            self.files = {k: v for k, v in self.files.items() if k in keep}
            self.tasks = {k: v for k, v in self.tasks.items() if k in keep}
            self._live = {k: v for k, v in self._live.items() if k in keep}
        if len(self.trees) > MAX_TREES:
            self.trees = dict(list(self.trees.items())[-MAX_TREES:])
        commits = [(c, t) for c, t in self.commits.items() if t in self.trees]
        self.commits = dict(commits[-MAX_COMMITS:])
        data = marshal.dumps((FINGERPRINT, self.commits, self.trees, self.files, self.tasks))
        tmp = f"{self.path}.{os.getpid()}.{next(_counter)}.tmp"
        try:
            with open(tmp, "xb") as f:
                f.write(data)
            os.replace(tmp, self.path)
            st = os.stat(self.path)
            self._stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        except OSError:  # a read-only or full disk: the cache is only a cache
            try:
                os.unlink(tmp)
            except OSError:
                pass
        self.dirty = False

    # -- commits and trees -------------------------------------------------
    def tree_of(self, commit: str) -> str | None:
        """Return the tree id of ``commit``, or None if not cached."""
        return self.commits.get(commit)

    def put_commit(self, commit: str, tree: str) -> None:
        """Remember that ``commit``'s tree is ``tree``."""
        if self.commits.get(commit) != tree:
            self.commits[commit] = tree
            self.dirty = True

    def listing(self, tree: str) -> Listing | None:
        """Return the recursive listing of ``tree`` (do not modify it), or None if not cached."""
        listing = self.trees.pop(tree, None)
        if listing is not None:
            self.trees[tree] = listing  # most recently used last
        return listing

    def put_tree(self, tree: str, listing: Listing) -> None:
        """Remember the recursive listing of ``tree``."""
        if tree not in self.trees:
            self.trees[tree] = listing
            self.dirty = True

    # -- parsed files ------------------------------------------------------
    @property
    def entries(self) -> dict[str, Any]:
        """A view for inspection: blob id -> parsed JSON of every cached file (a task as its
        JSON object, a file that did not parse as a :class:`ParseError`)."""
        out = {blob: self.get(blob) for blob in self.files}
        for blob in self.tasks:
            value = self.get_task(blob)
            out[blob] = value if isinstance(value, ParseError) else value.to_json()
        return out

    def get(self, blob: str) -> Any:
        """Return the parsed JSON of ``blob`` (a :class:`ParseError` if it did not parse), or ``MISSING``."""
        value = self.files.get(blob, MISSING)
        if type(value) is tuple:
            return ParseError(value[1])
        return value

    def put(self, blob: str, value: Any) -> None:
        """Remember the parsed JSON of ``blob`` (or the :class:`ParseError` it gave)."""
        if blob not in self.files:
            self.files[blob] = (_BAD, value.message) if isinstance(value, ParseError) else value
            self.dirty = True

    def get_task(self, blob: str) -> Task | ParseError | Any:
        """Return the task a task file's ``blob`` holds (a :class:`ParseError` saying why it is
        not a valid task), or ``MISSING``. Tasks are built once per process and shared."""
        value = self._live.get(blob)
        if value is not None:
            return value
        entry = self.tasks.get(blob)
        if entry is None:
            return MISSING
        first, second = entry
        value = ParseError(second) if first == _BAD else task_from_record(first, second)
        self._live[blob] = value
        return value

    def put_task(self, blob: str, value: Task | ParseError) -> None:
        """Remember the task (or the :class:`ParseError` saying why it is no valid task) in ``blob``."""
        if blob in self.tasks:
            return
        if isinstance(value, ParseError):
            self.tasks[blob] = (_BAD, value.message)
        else:
            self.tasks[blob] = (_shared(task_record(value)), value.to_json_text())
        self._live[blob] = value
        self.dirty = True


#: Record fields whose values repeat from task to task: status, owner, the times, role.
_REPEATING = (3, 4, 6, 7, 8, 9, 11)


def _shared(record: tuple) -> tuple:
    """``record`` with its repeating strings interned: marshal then writes each once and
    loads one shared object (a third off the file and its load time)."""
    fields = list(record)
    for i in _REPEATING:
        if type(fields[i]) is str:
            fields[i] = sys.intern(fields[i])
    return tuple(fields)


#: Compatible name of the cache before it kept tasks, trees and commits.
BlobCache = BoardCache

MISSING = object()
