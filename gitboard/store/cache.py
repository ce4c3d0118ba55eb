"""The parse cache: board trees and files parsed once, keyed by object id, under the common git dir.

Git objects are immutable, so an object id names what was parsed from it forever:

- commit id -> its tree id;
- tree id -> the tree's own entries (name -> (mode, object id)), one directory, not recursive,
  kept as the raw tree object (bytes load at the speed of a copy) and parsed on first use;
- blob id -> the parsed JSON of a board file (or why it does not parse);
- blob id -> the validated :class:`~gitboard.board.task.Task` of a task file, as its
  summary (:data:`SUMMARY_FIELDS`: what filters and readiness need), its full record
  (marshalled: loaded only when the task is built) and its JSON text, or why it is corrupt.

A claim adds one blob, the few small trees on its path (see
:mod:`gitboard.board.layout`) and one commit; the writer records them, so the next
read in any process of the clone runs no git command, and a read after someone
else's change reads only the trees and blobs that changed.

**The file** is an append-only log, ``<git-common-dir>/gitboard/cache/board-v3.log``:
a sequence of chunks, each ``b"GBC3"``, its length and CRC-32 (4 bytes each,
little-endian) and a :mod:`marshal` payload ``(fingerprint, commits, trees, files,
tasks, leaves)`` holding the entries one process added (``leaves``: the task index of
each task directory, for :mod:`gitboard.store.listing`). A write appends one chunk with
``O_APPEND`` (its cost depends on what changed, not on the board's size); a
reader that saw the file before reads only the chunks added since. When the
appended chunks outgrow the first one (and 1 MB), a writer compacts the file:
it rewrites it as one chunk of what the current board still uses (temporary file
and rename). A chunk whose CRC or fingerprint (the Python version and the task
model's source) does not match is skipped, so a torn append or another
version's cache is ignored, never misread.

**In memory**, one :class:`BoardCache` per cache directory serves the whole
process (:func:`cache_for`), for every :class:`~gitboard.store.repo.BoardRepo`
opened on the clone, and it also keeps the last boards built (tree id ->
:class:`~gitboard.board.snapshot.Board`), so a long-lived process re-reads
nothing when the board did not move and applies only the changed files when it did.
"""

from __future__ import annotations

import marshal
import os
import struct
import sys
import threading
import zlib
from collections import OrderedDict
from pathlib import Path
from typing import Any, Iterable

from gitboard.board import task as task_model
from gitboard.store.files import replace_whole
from gitboard.board.snapshot import Board, ParseError
from gitboard.board.task import Task, task_from_record, task_record

CACHE_VERSION = 3
#: Version of the chunks' payload (part of the fingerprint).
PAYLOAD_VERSION = 4
#: A task's summary in the cache: the fields ``task list`` filters on and readiness needs.
SUMMARY_FIELDS = ("id", "status", "owner", "blockedBy", "lease_expires_at", "role")
FILE_NAME = f"board-v{CACHE_VERSION}.log"
MAGIC = b"GBC3"
_HEADER = struct.Struct("<4sII")
#: Appended bytes beyond which a writer compacts the file (if they also outgrow the first chunk).
COMPACT_MIN_BYTES = 1 << 20
#: Boards kept in memory, most recent last.
MAX_BOARDS = 4
#: Commit -> tree entries kept when compacting.
MAX_COMMITS = 64

#: A tree's own entries: name -> (mode as an int, object id).
Entries = dict[str, tuple[int, str]]
TREE_MODE = 0o40000

#: First item of a cached "does not parse" entry. Parsed JSON is never a tuple, so
#: ``("!", message)`` cannot be mistaken for a file's content.
_BAD = "!"


def _fingerprint() -> tuple:
    """What the cached values depend on besides the objects: marshal's format (the Python
    version) and the task model (``gitboard/board/task.py``, by size and modification time)."""
    try:
        st = os.stat(task_model.__file__)
        model: Any = (st.st_size, st.st_mtime_ns)
    except (OSError, TypeError):
        from gitboard import __version__

        model = __version__
    return (CACHE_VERSION, PAYLOAD_VERSION, marshal.version, sys.version_info[:2], task_model.TASK_FIELDS, model)


FINGERPRINT = _fingerprint()
_registry: dict[str, "BoardCache"] = {}
_registry_lock = threading.Lock()


def cache_for(directory: Path | str) -> "BoardCache":
    """Return this process's :class:`BoardCache` for ``directory`` (made on first use)."""
    key = os.path.realpath(directory)
    with _registry_lock:
        cache = _registry.get(key)
        if cache is None:
            cache = _registry[key] = BoardCache(Path(key))
        return cache


def forget_all() -> None:
    """Drop every in-memory cache of this process (the next use reloads the files): what a
    new process would see. For tests and benchmarks."""
    with _registry_lock:
        _registry.clear()


def forget(directory: Path | str) -> None:
    """Drop this process's in-memory cache for ``directory``, if it has one (the file stays): a
    long-lived process that serves many repositories (the hook server) bounds its memory so."""
    with _registry_lock:
        _registry.pop(os.path.realpath(directory), None)


class BoardCache:
    """Parsed board files, tree entries, commit trees and recent boards, keyed by git object id.

    Use :func:`cache_for` rather than this constructor, so that a process keeps one.
    Hold :attr:`lock` while reading or changing it from several threads.

    Args:
        directory: where the cache file lives (``<git-common-dir>/gitboard/cache``).
    """

    def __init__(self, directory: Path) -> None:
        self.path = Path(directory) / FILE_NAME
        self.lock = threading.RLock()
        self.commits: dict[str, str] = {}
        self.trees: dict[str, bytes] = {}  # raw tree objects
        self._entries: dict[str, Entries] = {}  # ... parsed, on first use
        self.files: dict[str, Any] = {}
        self.tasks: dict[str, tuple] = {}
        #: tree id of a task directory -> (task ids, their blob ids, the other entries): see :mod:`gitboard.store.listing`
        self.leaves: dict[str, tuple] = {}
        self.boards: OrderedDict[str, Board] = OrderedDict()
        self._live: dict[str, Task | ParseError] = {}
        self._new: tuple[dict, dict, dict, dict, dict] = ({}, {}, {}, {}, {})
        self._ino: int | None = None
        self._offset = 0  # bytes of the file (inode ``_ino``) already merged in
        self._base = 0  # length of its first chunk
        self._broken = False  # the file holds something this code cannot read: rewrite it
        self.dirty = False
        self.refresh()

    # -- the file ----------------------------------------------------------
    def refresh(self) -> None:
        """Merge in what other processes appended to the cache file since this object last looked
        (one ``stat`` when nothing was), or all of it if the file was replaced."""
        with self.lock:
            try:
                st = os.stat(self.path)
            except OSError:
                return
            if st.st_ino == self._ino and st.st_size == self._offset:
                return
            if st.st_ino != self._ino or st.st_size < self._offset:
                self._ino, self._offset, self._base = st.st_ino, 0, 0
            try:
                with open(self.path, "rb") as f:
                    f.seek(self._offset)
                    data = f.read()
            except OSError:
                return
            self._read_chunks(data)

    def _read_chunks(self, data: bytes) -> None:
        pos = 0
        while pos + _HEADER.size <= len(data):
            magic, length, crc = _HEADER.unpack_from(data, pos)
            if magic != MAGIC:
                self._broken = True
                pos = len(data)
                break
            end = pos + _HEADER.size + length
            if end > len(data):
                break  # an append still being written: read it next time
            payload = data[pos + _HEADER.size:end]
            if self._offset == 0 and pos == 0:
                self._base = end
            if zlib.crc32(payload) == crc:
                try:
                    fingerprint, commits, trees, files, tasks, leaves = marshal.loads(payload)
                except Exception:
                    fingerprint = None
                if fingerprint == FINGERPRINT:
                    self._merge(commits, trees, files, tasks, leaves)
                else:
                    self._broken = True
            pos = end
        self._offset += pos

    def _merge(self, commits: dict, trees: dict, files: dict, tasks: dict, leaves: dict) -> None:
        for mine, theirs in ((self.commits, commits), (self.trees, trees), (self.files, files),
                             (self.tasks, tasks), (self.leaves, leaves)):
            if not mine:
                mine.update(theirs)
            else:
                for k, v in theirs.items():
                    mine.setdefault(k, v)

    def save(self, keep: Iterable[str] | None = None) -> None:
        """Append the entries added since the last save to the cache file, as one chunk.

        Compacts the file instead when the appended chunks have outgrown the first one
        (and :data:`COMPACT_MIN_BYTES`), or when it holds chunks this code cannot read.

        Args:
            keep: ignored (the blob ids to keep; compaction keeps what the boards in memory use).
        """
        with self.lock:
            if not self.dirty:
                return
            self.dirty = False
            new, self._new = self._new, ({}, {}, {}, {}, {})
            self.refresh()
            try:
                st = os.stat(self.path)
                size, ino = st.st_size, st.st_ino
            except OSError:
                size, ino = 0, None
            torn = ino == self._ino and size > self._offset  # a chunk that will never be whole
            if self._broken or torn or (size and size - self._base > max(self._base, COMPACT_MIN_BYTES)):
                self._compact()
                return
            chunk = _chunk(*new)
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                try:
                    os.write(fd, chunk)
                    st = os.fstat(fd)
                finally:
                    os.close(fd)
            except OSError:  # a read-only or full disk: the cache is only a cache
                return
            if st.st_ino == self._ino and st.st_size == self._offset + len(chunk):
                self._offset = st.st_size  # nobody else appended: our chunk is all that is new
            elif self._ino is None and st.st_size == len(chunk):
                self._ino, self._offset, self._base = st.st_ino, st.st_size, st.st_size

    def _compact(self) -> None:
        """Rewrite the file as one chunk of what the boards in memory use (temporary file + rename)."""
        trees: dict[str, Entries] = {}
        blobs: set[str] = set()
        stack = [t for t in self.boards]
        while stack:
            tree = stack.pop()
            entries = self.entries(tree)
            if entries is None or tree in trees:
                continue
            trees[tree] = self.trees[tree]
            for mode, sha in entries.values():
                if mode == TREE_MODE:
                    stack.append(sha)
                else:
                    blobs.add(sha)
        if not trees:  # nothing to go by: keep everything
            trees, blobs = dict(self.trees), set(self.files) | set(self.tasks)
        commits = [(c, t) for c, t in self.commits.items() if t in trees][-MAX_COMMITS:]
        self.commits, self.trees = dict(commits), trees
        self._entries = {k: v for k, v in self._entries.items() if k in trees}
        self.files = {k: v for k, v in self.files.items() if k in blobs}
        self.tasks = {k: v for k, v in self.tasks.items() if k in blobs}
        self._live = {k: v for k, v in self._live.items() if k in blobs}
        self.leaves = {k: v for k, v in self.leaves.items() if k in trees}
        chunk = _chunk(self.commits, self.trees, self.files, self.tasks, self.leaves)
        if not replace_whole(str(self.path), chunk):
            return
        try:
            st = os.stat(self.path)
        except OSError:
            return
        self._ino, self._offset, self._base, self._broken = st.st_ino, len(chunk), len(chunk), False

    def _add(self, kind: int, key: str, value: Any) -> None:
        self._new[kind][key] = value
        self.dirty = True

    # -- commits and trees -------------------------------------------------
    def tree_of(self, commit: str) -> str | None:
        """Return the tree id of ``commit``, or None if not cached."""
        return self.commits.get(commit)

    def put_commit(self, commit: str, tree: str) -> None:
        """Remember that ``commit``'s tree is ``tree``."""
        if self.commits.get(commit) != tree:
            self.commits[commit] = tree
            self._add(0, commit, tree)

    def entries(self, tree: str) -> Entries | None:
        """Return the entries of ``tree`` (do not modify them), or None if not cached."""
        found = self._entries.get(tree)
        if found is None:
            raw = self.trees.get(tree)
            if raw is None:
                return None
            found = self._entries[tree] = parse_tree(raw)
        return found

    def put_tree(self, tree: str, body: bytes, entries: Entries | None = None) -> None:
        """Remember tree object ``tree``: its raw ``body`` and, if known, its parsed ``entries``."""
        if tree not in self.trees:
            self.trees[tree] = body
            self._add(1, tree, body)
        if entries is not None:
            self._entries.setdefault(tree, entries)

    def leaf(self, tree: str) -> tuple | None:
        """Return the cached index of task directory ``tree`` (see :mod:`gitboard.store.listing`), or None."""
        return self.leaves.get(tree)

    def put_leaf(self, tree: str, index: tuple) -> None:
        """Remember the index of task directory ``tree``."""
        if tree not in self.leaves:
            self.leaves[tree] = index
            self._add(4, tree, index)

    # -- boards --------------------------------------------------------------
    def board(self, tree: str) -> Board | None:
        """Return the board built from ``tree`` in this process, or None."""
        board = self.boards.get(tree)
        if board is not None:
            self.boards.move_to_end(tree)
        return board

    def latest_board(self) -> tuple[str, Board] | None:
        """Return (tree, board) of the board built most recently in this process, or None."""
        if not self.boards:
            return None
        tree = next(reversed(self.boards))
        return tree, self.boards[tree]

    def put_board(self, tree: str, board: Board) -> None:
        """Keep ``board``, built from ``tree``, for later reads (the last :data:`MAX_BOARDS`)."""
        self.boards[tree] = board
        self.boards.move_to_end(tree)
        while len(self.boards) > MAX_BOARDS:
            self.boards.popitem(last=False)

    # -- parsed files ------------------------------------------------------
    @property
    def entries_by_blob(self) -> dict[str, Any]:
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
            entry = (_BAD, value.message) if isinstance(value, ParseError) else value
            self.files[blob] = entry
            self._add(2, blob, entry)

    def get_task(self, blob: str) -> Task | ParseError | Any:
        """Return the task a task file's ``blob`` holds (a :class:`ParseError` saying why it is
        not a valid task), or ``MISSING``. Tasks are built once per process and shared."""
        value = self._live.get(blob)
        if value is not None:
            return value
        entry = self.tasks.get(blob)
        if entry is None:
            return MISSING
        if entry[0] == _BAD:
            value: Task | ParseError = ParseError(entry[1])
        else:
            value = task_from_record(marshal.loads(entry[1]), entry[2])
        self._live[blob] = value
        return value

    def task_summary(self, blob: str) -> tuple | ParseError | Any:
        """Return the summary of the task in ``blob`` (:data:`SUMMARY_FIELDS`, a plain tuple), a
        :class:`ParseError`, or ``MISSING``; see :meth:`task_text` for its JSON text."""
        entry = self.tasks.get(blob)
        if entry is None:
            return MISSING
        return ParseError(entry[1]) if entry[0] == _BAD else entry[0]

    def task_text(self, blob: str) -> str:
        """Return the JSON text (:meth:`Task.to_json_text`) of the valid task cached for ``blob``."""
        return self.tasks[blob][2]

    def put_task(self, blob: str, value: Task | ParseError) -> None:
        """Remember the task (or the :class:`ParseError` saying why it is no valid task) in ``blob``."""
        if blob in self.tasks:
            return
        if isinstance(value, ParseError):
            entry: tuple = (_BAD, value.message)
        else:
            t = value
            i = sys.intern
            summary = (t.id, i(t.status), i(t.owner), t.blockedBy, t.lease_expires_at, t.role)
            entry = (summary, marshal.dumps(_shared(task_record(t))), t.to_json_text())
        self.tasks[blob] = entry
        self._live[blob] = value
        self._add(3, blob, entry)


def parse_tree(body: bytes) -> Entries:
    """Parse a raw tree object (``<mode> <name>\\0<20-byte id>`` ...) into name -> (mode, id).

    A malformed tree (a pushed one: :mod:`gitboard.board.tree_rules` says what is wrong with
    it) gives the entries before the first that does not parse."""
    out: Entries = {}
    pos, end = 0, len(body)
    try:
        while pos < end:
            sp = body.index(b" ", pos)
            nul = body.index(b"\0", sp)
            out[body[sp + 1:nul].decode("utf-8", "surrogateescape")] = (int(body[pos:sp], 8),
                                                                          body[nul + 1:nul + 21].hex())
            pos = nul + 21
    except ValueError:
        pass
    return out


def _chunk(commits: dict, trees: dict, files: dict, tasks: dict, leaves: dict) -> bytes:
    payload = marshal.dumps((FINGERPRINT, commits, trees, files, tasks, leaves))
    return _HEADER.pack(MAGIC, len(payload), zlib.crc32(payload)) + payload


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
