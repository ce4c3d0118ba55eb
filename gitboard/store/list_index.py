"""The listing index: ``task list --json`` of a board tree, ready-made, one file per tree.

A fresh ``gitboard task list --json`` process would otherwise load the whole parse
cache (:mod:`gitboard.store.cache`: every task's full record, every tree) and
walk every task directory to list 10,000 tasks. The listing index holds exactly
what ``task list`` needs of one board tree, and nothing else:

- the board's format version and its corrupt files (path -> reason, as
  :func:`~gitboard.board.snapshot.build` reports them);
- the valid tasks in id order, as columns: ``ids``, ``status``, ``owner``,
  ``role``, and their JSON texts (:meth:`Task.to_json_text`) as one UTF-8 body;
- readiness, worked out once: ``ready`` (the positions of the tasks that are pending,
  unowned and whose blockers are all done: ready at any time) and ``leased``
  ((position, ``lease_expires_at``) of the in-progress tasks whose blockers are all
  done: ready once their lease has expired, judged at each listing's ``now``).

So a listing is one file read, a pass over the positions it keeps, and a write of
slices of the file's bytes.

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
import struct
import zlib
from datetime import datetime
from typing import Mapping

from gitboard.board.clock import parse_iso
from gitboard.board.task import DONE, IN_PROGRESS, PENDING
from gitboard.store.cache import FINGERPRINT as CACHE_FINGERPRINT

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
        ids, status, owner, role: the valid tasks in id order (lists of equal length).
        body: the tasks' JSON texts in id order, UTF-8, joined by ``b", "`` (bytes or a memoryview).
        starts: ``starts[i]`` is where task ``i``'s text starts in ``body``; one more entry,
            ``len(body) + 2``, so that task ``i``'s text ends at ``starts[i + 1] - 2``.
        ready: positions (sorted) of the tasks ready at any time.
        leased: (position, lease_expires_at) of in-progress tasks, blockers done, ready once the lease expired.
    """

    __slots__ = ("version", "corrupt", "ids", "status", "owner", "role", "starts", "ready", "leased", "body")

    def __init__(self, version: int, corrupt: dict[str, str], ids: list[int], status: list[str],
                 owner: list[str | None], role: list[str | None], starts: list[int], ready: list[int],
                 leased: list[tuple[int, str]], body: bytes | memoryview) -> None:
        self.version, self.corrupt = version, corrupt
        self.ids, self.status, self.owner, self.role = ids, status, owner, role
        self.starts, self.ready, self.leased, self.body = starts, ready, leased, body

    def _meta(self) -> tuple:
        return (FINGERPRINT, self.version, self.corrupt, self.ids, self.status, self.owner, self.role,
                self.starts, self.ready, self.leased)


def build(version: int, summaries: Mapping[int, tuple], texts: Mapping[int, str],
          corrupt: Mapping[str, str]) -> Index:
    """Build the index of a board from its valid tasks and corrupt files.

    Args:
        version: the board's format version.
        summaries: task id -> summary (:data:`gitboard.store.cache.SUMMARY_FIELDS`:
            id, status, owner, blockedBy, lease_expires_at, role) of every valid task.
        texts: task id -> the task's JSON text (:meth:`Task.to_json_text`), for the same ids.
        corrupt: path -> reason for the board's corrupt files.
    """
    done = {tid for tid, s in summaries.items() if s[1] in DONE}
    ids = sorted(summaries)
    status, owner, role, ready, leased = [], [], [], [], []
    encoded = [texts[tid].encode() for tid in ids]
    starts, at = [], 0
    for pos, tid in enumerate(ids):
        _, st, own, blocked, lease, task_role = summaries[tid]
        status.append(st)
        owner.append(own)
        role.append(task_role)
        starts.append(at)
        at += len(encoded[pos]) + 2
        if not all(b in done for b in blocked):
            continue
        if st == PENDING and not own:
            ready.append(pos)
        elif st == IN_PROGRESS and lease is not None:
            leased.append((pos, lease))
    starts.append(at)
    return Index(version, dict(corrupt), ids, status, owner, role, starts, ready, leased, b", ".join(encoded))


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
        if type(meta) is not tuple or len(meta) != 10 or meta[0] != FINGERPRINT:
            return None
        index = Index(*meta[1:], rest[meta_length:])
        n = len(index.ids)
        if not (type(index.corrupt) is dict and len(index.status) == len(index.owner) == len(index.role) == n
                and len(index.starts) == n + 1 and index.starts[n] == len(index.body) + 2):
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
    tmp = f"{path}.{os.getpid()}.{id(index):x}.tmp"
    try:
        os.makedirs(directory, exist_ok=True)
        with open(tmp, "xb") as f:
            f.write(_HEADER.pack(MAGIC, len(meta), crc))
            f.write(meta)
            f.write(index.body)
        os.replace(tmp, path)
    except OSError:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        return
    _prune(directory, keep=path)


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
