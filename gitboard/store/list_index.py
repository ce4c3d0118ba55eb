"""The listing index: ``task list --json`` of a board tree, ready-made, one file per tree.

A fresh ``gitboard task list --json`` process would otherwise load the whole parse
cache (:mod:`gitboard.store.cache`: every task's full record, every tree) and
walk every task directory to list 10,000 tasks. The listing index holds exactly
what ``task list`` needs of one board tree, and nothing else:

- the board's format version and its corrupt files (path -> reason, as
  :func:`~gitboard.board.snapshot.build` reports them);
- the valid tasks in id order, as columns: ``ids``, ``status``, ``owner``,
  ``blocked``, ``lease``, ``role``, and their JSON texts (:meth:`Task.to_json_text`) as one UTF-8 body;
- readiness, worked out once: ``ready`` (the positions of the tasks that are pending,
  unowned and whose blockers are all done: ready at any time) and ``leased``
  ((position, ``lease_expires_at``) of the in-progress tasks whose blockers are all
  done: ready once their lease has expired, judged at each listing's ``now``).

So a listing is one file read, a pass over the positions it keeps, and a write of
slices of the file's bytes. The index of a tree a few files away from an indexed one is
that index patched (:func:`patch`): columns copied, the changed texts spliced in.

**Files.** ``<git-common-dir>/gitboard/listing/<tree id>``: ``b"GBL1"``, the
length of the :mod:`marshal` part and the CRC-32 of everything after this header
(4 bytes each, little-endian), the marshal part (the columns), then the tasks' JSON
texts as one UTF-8 body, which a listing writes out in slices without decoding it.
A tree id names its content forever, so an index is never updated, only written
once (temporary file and rename: a reader sees a whole file or none) and shared by
every process of the clone; two processes that write the same index write the same
bytes. The marshal part starts with a fingerprint (this module's
:data:`INDEX_VERSION` and the parse cache's, which names the Python version and
the task model), so another version's file is not misread. A file that is
unreadable, torn, or does not check out is ignored (the caller builds the index
again and replaces it). A writer keeps the :data:`KEEP` most recent files and
removes the older ones.
"""

from __future__ import annotations

import marshal
import os
from bisect import bisect_left
import struct
import zlib
from datetime import datetime
from typing import Mapping, Sequence

from gitboard.board.clock import parse_iso
from gitboard.board.task import DONE, IN_PROGRESS, PENDING
from gitboard.store.cache import FINGERPRINT as CACHE_FINGERPRINT
from gitboard.store.cache import parse_tree
from gitboard.store.files import replace_whole

#: Version of the index's content; part of the fingerprint. Bump it when what an index holds, or
#: how readiness is judged (:meth:`gitboard.board.snapshot.Board.is_ready`), changes.
INDEX_VERSION = 1
FINGERPRINT = (INDEX_VERSION, CACHE_FINGERPRINT)
MAGIC = b"GBL1"
_HEADER = struct.Struct("<4sII")
#: Index files kept per clone (the most recently written); at 10,000 tasks one is about 3.5 MB.
KEEP = 3
#: Seconds after which a temporary file nobody renamed (a writer that died) is removed.
STALE_TMP_SECONDS = 60.0
DIR_NAME = "listing"


class Index:
    """What ``task list`` needs of one board tree (see the module docstring).

    Attributes:
        version: the board's format version.
        corrupt: path -> reason for every corrupt board file.
        ids, status, owner, blocked, lease, role: the valid tasks in id order (lists of equal
            length; ``blocked``: each task's blockedBy as a tuple, ``lease``: its lease_expires_at).
        body: the tasks' JSON texts in id order, UTF-8, joined by ``b", "`` (bytes or a memoryview).
        starts: ``starts[i]`` is where task ``i``'s text starts in ``body``; one more entry,
            ``len(body) + 2``, so that task ``i``'s text ends at ``starts[i + 1] - 2``.
        ready: positions (sorted) of the tasks ready at any time.
        leased: (position, lease_expires_at) of in-progress tasks, blockers done, ready once the lease expired.
    """

    __slots__ = ("version", "corrupt", "ids", "status", "owner", "blocked", "lease", "role", "starts", "ready",
                 "leased", "body")

    def __init__(self, version: int, corrupt: dict[str, str], ids: list[int], status: list[str],
                 owner: list[str | None], blocked: list[tuple], lease: list[str | None], role: list[str | None],
                 starts: list[int], ready: list[int], leased: list[tuple[int, str]], body: bytes | memoryview) -> None:
        self.version, self.corrupt = version, corrupt
        self.ids, self.status, self.owner, self.blocked, self.lease, self.role = ids, status, owner, blocked, lease, role
        self.starts, self.ready, self.leased, self.body = starts, ready, leased, body

    def _meta(self) -> tuple:
        return (FINGERPRINT, self.version, self.corrupt, self.ids, self.status, self.owner, self.blocked, self.lease,
                self.role, self.starts, self.ready, self.leased)

    def tasks(self) -> dict[int, tuple[tuple, bytes]]:
        """Return task id -> (summary, JSON text as UTF-8) of every task in the index (the input of
        :func:`build`, to make the index of a tree a few files away)."""
        body, starts = self.body, self.starts
        return {tid: ((tid, self.status[i], self.owner[i], self.blocked[i], self.lease[i], self.role[i]),
                      bytes(body[starts[i]:starts[i + 1] - 2])) for i, tid in enumerate(self.ids)}


def build(version: int, summaries: Mapping[int, tuple], texts: Mapping[int, str | bytes],
          corrupt: Mapping[str, str]) -> Index:
    """Build the index of a board from its valid tasks and corrupt files.

    Args:
        version: the board's format version.
        summaries: task id -> summary (:data:`gitboard.store.cache.SUMMARY_FIELDS`:
            id, status, owner, blockedBy, lease_expires_at, role) of every valid task.
        texts: task id -> the task's JSON text (:meth:`Task.to_json_text`, or it encoded as UTF-8),
            for the same ids.
        corrupt: path -> reason for the board's corrupt files.
    """
    ids = sorted(summaries)
    rows = [summaries[tid] for tid in ids]
    encoded = [t if type(t) is bytes else t.encode() for t in map(texts.__getitem__, ids)]
    starts, at = [], 0
    for text in encoded:
        starts.append(at)
        at += len(text) + 2
    starts.append(at)
    return _index(version, dict(corrupt), ids, [r[1] for r in rows], [r[2] for r in rows],
                  [tuple(r[3]) for r in rows], [r[4] for r in rows], [r[5] for r in rows], starts,
                  b", ".join(encoded))


def patch(index: Index, changed: Mapping[int, tuple[tuple, bytes] | None], corrupt: Mapping[str, str]) -> Index:
    """Return ``index`` with the tasks in ``changed`` replaced, added (task id -> (summary, JSON
    text as UTF-8), as for :func:`build`) or removed (None), and ``corrupt`` as the corrupt files:
    the index :func:`build` makes of the resulting tasks. Columns are copied, texts spliced into
    the body; the cost is a copy of the columns and the body, not a step per task in Python."""
    ids = index.ids
    n = len(ids)
    at = {tid: bisect_left(ids, tid) for tid in changed}
    present = {tid for tid, i in at.items() if i < n and ids[i] == tid}
    added = sorted(tid for tid, v in changed.items() if v is not None and tid not in present)
    removed = [tid for tid, v in changed.items() if v is None and tid in present]
    if not n or removed or (added and added[0] < ids[-1]):  # positions move: build it anew
        tasks = index.tasks()
        for tid, value in changed.items():
            if value is None:
                tasks.pop(tid, None)
            else:
                tasks[tid] = value
        return build(index.version, {t: v[0] for t, v in tasks.items()}, {t: v[1] for t, v in tasks.items()}, corrupt)
    status, owner, blocked, lease, role = (list(index.status), list(index.owner), list(index.blocked),
                                           list(index.lease), list(index.role))
    body, starts = memoryview(index.body), index.starts
    pieces: list[bytes | memoryview] = []
    new_starts: list[int] = []
    last, shift = 0, 0  # the old tasks before position ``last`` are in ``pieces``; ``shift``: their growth
    for tid in sorted(t for t in present if changed[t] is not None):
        pos = at[tid]
        summary, text = changed[tid]  # type: ignore[misc]
        status[pos], owner[pos], blocked[pos], lease[pos], role[pos] = (summary[1], summary[2], tuple(summary[3]),
                                                                         summary[4], summary[5])
        pieces.append(body[starts[last]:starts[pos]])  # the texts in between, each with its separator
        pieces.append(text)
        if pos < n - 1:
            pieces.append(b", ")
        new_starts += [s + shift for s in starts[last:pos + 1]]
        shift += len(text) + 2 - (starts[pos + 1] - starts[pos])
        last = pos + 1
    if last < n:
        pieces.append(body[starts[last]:])  # the rest: ends with the last text, no separator
    new_starts += [s + shift for s in starts[last:]]  # and the end mark, len(body) + 2
    for tid in added:  # new ids above every old one: appended
        summary, text = changed[tid]  # type: ignore[misc]
        status.append(summary[1])
        owner.append(summary[2])
        blocked.append(tuple(summary[3]))
        lease.append(summary[4])
        role.append(summary[5])
        pieces.append(b", " + text)
        new_starts.append(new_starts[-1] + len(text) + 2)
    return _index(index.version, dict(corrupt), ids + added, status, owner, blocked, lease, role, new_starts,
                  b"".join(pieces))


def _index(version: int, corrupt: dict[str, str], ids: list[int], status: list[str], owner: list, blocked: list,
           lease: list, role: list, starts: list[int], body: bytes) -> Index:
    """The index of these columns, with readiness worked out (:meth:`Board.is_ready`, but for the lease)."""
    done = {tid for tid, st in zip(ids, status) if st in DONE}
    unblocked = [not b or all(x in done for x in b) for b in blocked]
    ready = [i for i, (st, own, ok) in enumerate(zip(status, owner, unblocked)) if ok and st == PENDING and not own]
    leased = [(i, lz) for i, (st, lz, ok) in enumerate(zip(status, lease, unblocked))
              if ok and st == IN_PROGRESS and lz is not None]
    return Index(version, corrupt, ids, status, owner, blocked, lease, role, starts, ready, leased, body)


def select(index: Index, now: datetime, *, status: str | None = None, owner: str | None = None,
           ready: bool = False, role: str | None = None) -> list[int] | range:
    """Return the positions (sorted) in ``index`` of the tasks ``task list`` keeps with these
    filters (see :func:`answer`), for a caller that pages through them (:func:`pieces`)."""
    if ready:
        keep = index.ready
        expired = [pos for pos, lease in index.leased if parse_iso(lease) <= now]
        if expired:
            keep = sorted(keep + expired)
        if role is not None:
            roles = index.role
            keep = [p for p in keep if roles[p] in (None, role)]
    else:
        keep = range(len(index.ids))
    if status is not None:
        statuses = index.status
        keep = [p for p in keep if statuses[p] == status]
    if owner is not None:
        owners = index.owner
        keep = [p for p in keep if owners[p] == owner]
    return keep


def answer(index: Index, now: datetime, *, status: str | None = None, owner: str | None = None,
           ready: bool = False, role: str | None = None) -> list[bytes | memoryview]:
    """Return ``task list --json``'s array for ``index``, filtered like ``task list``, as UTF-8
    pieces to write one after the other (slices of the index's ``body``: nothing is copied).

    The pieces joined are exactly ``json.dumps([task objects], ensure_ascii=False)`` encoded.

    Args:
        now: the time an in-progress task's lease is judged at (``ready``).
        status, owner: keep only tasks with this status / owner.
        ready: keep only ready tasks (:meth:`Board.is_ready`); with ``role``, only those whose
            role is None or ``role``.
    """
    return pieces(index, select(index, now, status=status, owner=owner, ready=ready, role=role))


def pieces(index: Index, keep: Sequence[int]) -> list[bytes | memoryview]:
    """Return the JSON array of the tasks at positions ``keep`` (sorted, distinct) as UTF-8 pieces
    to write one after the other (slices of the index's ``body``: nothing is copied)."""
    if not keep:
        return [b"[]"]
    body, starts = memoryview(index.body), index.starts
    if keep[-1] - keep[0] == len(keep) - 1:  # sorted and distinct: one run of neighbours
        runs = [(keep[0], keep[-1])]
    else:
        runs, first = [], keep[0]
        for a, b in zip(keep, keep[1:]):
            if b != a + 1:
                runs.append((first, a))
                first = b
        runs.append((first, keep[-1]))
    out: list[bytes | memoryview] = [b"["]
    for i, (first, last) in enumerate(runs):
        if i:
            out.append(b", ")
        out.append(body[starts[first]:starts[last + 1] - 2])
    out.append(b"]")
    return out


def index_dir(common_dir: str) -> str:
    """The directory of a clone's index files: ``<git-common-dir>/gitboard/listing``."""
    return os.path.join(common_dir, "gitboard", DIR_NAME)


def load(common_dir: str, tree: str) -> Index | None:
    """Return the index of board tree ``tree`` from the clone's index files, or None if there is
    none that reads back whole and checks out (missing, torn, corrupt, another version's)."""
    try:
        with open(os.path.join(index_dir(common_dir), tree), "rb") as f:
            data = f.read()
    except OSError:
        return None
    if len(data) < _HEADER.size:
        return None
    magic, meta_length, crc = _HEADER.unpack_from(data)
    rest = memoryview(data)[_HEADER.size:]
    if magic != MAGIC or meta_length > len(rest) or zlib.crc32(rest) != crc:
        return None
    try:
        meta = marshal.loads(rest[:meta_length])
        if type(meta) is not tuple or len(meta) != 12 or meta[0] != FINGERPRINT:
            return None
        index = Index(*meta[1:], rest[meta_length:])
        n = len(index.ids)
        if not (type(index.corrupt) is dict and len(index.status) == len(index.owner) == len(index.role) == n
                and len(index.blocked) == len(index.lease) == n and len(index.starts) == n + 1 and index.starts[n] == len(index.body) + 2):
            return None
    except Exception:  # marshal's errors on bad data are several (ValueError, EOFError, TypeError)
        return None
    return index


def save(common_dir: str, tree: str, index: Index) -> None:
    """Write the index of board tree ``tree`` (temporary file, then rename) and remove the
    older index files beyond :data:`KEEP`. A failure to write (a read-only or full disk) is
    ignored: the index is only a cache."""
    meta = marshal.dumps(index._meta())
    crc = zlib.crc32(index.body, zlib.crc32(meta))
    directory = index_dir(common_dir)
    path = os.path.join(directory, tree)
    try:
        os.makedirs(directory, exist_ok=True)
    except OSError:
        return
    if replace_whole(path, _HEADER.pack(MAGIC, len(meta), crc), meta, index.body):
        _prune(directory, keep=path)


def latest(common_dir: str, other_than: str) -> tuple[str, Index] | None:
    """Return (tree id, index) of the clone's most recently written index file that loads, other
    than the one of tree ``other_than``; None if there is none."""
    directory = index_dir(common_dir)
    found = []
    try:
        with os.scandir(directory) as it:
            for entry in it:
                if entry.name.endswith(".tmp") or entry.name == other_than:
                    continue
                try:
                    found.append((entry.stat().st_mtime_ns, entry.name))
                except OSError:
                    continue
    except OSError:
        return None
    for _, name in sorted(found, reverse=True):
        index = load(common_dir, name)
        if index is not None:
            return name, index
    return None


class TreeMemo:
    """Tree objects read for one comparison of two trees, in memory only: the two methods of
    :class:`~gitboard.store.cache.BoardCache` that :func:`gitboard.store.trees.diff` and
    :func:`~gitboard.store.trees.lookup` use, without loading the parse cache."""

    def __init__(self) -> None:
        self._raw: dict[str, bytes] = {}
        self._entries: dict[str, dict] = {}

    def entries(self, tree: str) -> dict | None:
        """Return the entries of ``tree`` (name -> (mode, id)), or None if it was not read."""
        found = self._entries.get(tree)
        if found is None and tree in self._raw:
            found = self._entries[tree] = parse_tree(self._raw[tree])
        return found

    def put_tree(self, tree: str, body: bytes, entries: dict | None = None) -> None:
        """Remember tree object ``tree``: its raw ``body`` and, if known, its parsed ``entries``."""
        self._raw.setdefault(tree, body)
        if entries is not None:
            self._entries.setdefault(tree, entries)


def _prune(directory: str, keep: str) -> None:
    """Remove all but the :data:`KEEP` most recent index files (never ``keep``), and temporary
    files older than :data:`STALE_TMP_SECONDS`."""
    import time

    found = []
    try:
        with os.scandir(directory) as it:
            for entry in it:
                try:
                    found.append((entry.stat().st_mtime, entry.path, entry.name.endswith(".tmp")))
                except OSError:
                    continue
    except OSError:
        return
    now = time.time()
    indexes = sorted((m, p) for m, p, tmp in found if not tmp)
    doomed = [p for _, p in indexes[:-KEEP] if p != keep]
    doomed += [p for m, p, tmp in found if tmp and now - m > STALE_TMP_SECONDS]
    for p in doomed:
        try:
            os.unlink(p)
        except OSError:
            pass
