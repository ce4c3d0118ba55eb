"""Reading board files at a commit and writing the commit of a change.

Reads go through the :class:`~gitboard.store.cache.BoardCache`: commit -> tree
-> tree entries (:mod:`gitboard.store.trees`) -> parsed files, each keyed by
object id. What it lacks comes from git in as few commands as possible: loose
objects are read directly, packed trees and blobs with one ``git cat-file
--batch`` each.

Writes of a few files go straight into the object database as loose objects
(zlib, written to a temporary file and renamed, as git does; no subprocess):
only the trees on the changed paths are rebuilt, and the writer records the new
blobs, trees and commit in the cache. Writes of many files (bulk imports) go
through ``git fast-import``, which writes a pack.
"""

from __future__ import annotations

import json
import os
import sys
import time
import zlib
from io import BytesIO
from typing import Any, Mapping

from gitboard.board import layout
from gitboard.board.errors import BoardError
from gitboard.board.snapshot import NESTED_TOO_DEEP, ParseError
from gitboard.board.task import Task
from gitboard.store import trees
from gitboard.store.cache import MISSING, BoardCache
from gitboard.store.repo import BoardRepo
from gitboard.store.trees import TreeRef, read_loose

#: What :func:`gitboard.store.read.load_board` returns as the board's "listing".
Listing = TreeRef

#: Number of new files from which a commit is written as a pack by fast-import (deletions write no object).
PACK_THRESHOLD = 64

TREE_MODE = "040000"
BLOB_MODE = "100644"
#: zlib level of loose objects: git's default ``core.looseCompression`` (best speed).
LOOSE_COMPRESSION = 1

__all__ = ["Listing", "blob_id", "list_tree", "tree_id", "cat_blobs", "parse_json", "read_files", "read_format",
           "write_object", "commit_tree", "write_commit", "blob_ids", "remember_writes"]


def blob_id(data: bytes) -> str:
    """Return the git object id (SHA-1 hex) of a blob with content ``data``."""
    import hashlib  # loads OpenSSL: only writers pay for it

    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


# -- reading ---------------------------------------------------------------------

def list_tree(repo: BoardRepo, treeish: str) -> dict[str, tuple[str, str, str]]:
    """Return every path in the tree of ``treeish`` (a commit or tree id), recursively, trees included.

    Raises:
        GitFailure: ``git ls-tree`` failed (no such object).
    """
    out: dict[str, tuple[str, str, str]] = {}
    raw = repo.git("ls-tree", "-r", "-t", "-z", "--full-tree", treeish).stdout
    intern = sys.intern  # one shared "100644" and "blob": smaller and faster in the cache file
    for rec in raw.split(b"\0"):
        if not rec:
            continue
        meta, _, path = rec.partition(b"\t")
        mode, typ, sha = meta.decode().split(" ")
        out[path.decode()] = (intern(mode), intern(typ), sha)
    return out


def tree_id(repo: BoardRepo, commit: str) -> str:
    """Return the id of ``commit``'s tree: from its loose object file, else ``git rev-parse``.

    Raises:
        GitFailure: there is no such commit.
    """
    obj = read_loose(repo, commit)
    if obj is not None and obj[0] == b"commit" and obj[1].startswith(b"tree "):
        return obj[1][5:obj[1].index(b"\n")].decode()
    return repo.git("rev-parse", "--verify", "-q", commit + "^{tree}").stdout.decode().strip()


def cat_blobs(repo: BoardRepo, ids: list[str]) -> dict[str, bytes]:
    """Read many objects (blobs, trees, commits) in one ``git cat-file --batch``: object id -> content bytes
    (missing ids are left out).

    Raises:
        GitFailure: ``git cat-file`` failed.
    """
    if not ids:
        return {}
    raw = repo.git("cat-file", "--batch", input=("\n".join(ids) + "\n").encode()).stdout
    out: dict[str, bytes] = {}
    pos = 0
    for oid in ids:
        eol = raw.index(b"\n", pos)
        header = raw[pos:eol].split(b" ")
        if len(header) < 3:  # "<id> missing"
            pos = eol + 1
            continue
        size = int(header[2])
        out[oid] = raw[eol + 1:eol + 1 + size]
        pos = eol + 1 + size + 1
    return out


def parse_json(data: bytes) -> Any:
    """Parse a board file's bytes; a file that is not UTF-8 JSON becomes a :class:`ParseError`."""
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError) as e:
        return ParseError(f"not valid JSON: {e}")
    except RecursionError:
        return ParseError(NESTED_TOO_DEEP)


def parse_task(data: bytes) -> Task | ParseError:
    """Parse and validate a task file's bytes; a :class:`ParseError` says why it is no valid task."""
    value = parse_json(data)
    if isinstance(value, ParseError):
        return value
    try:
        return Task.from_json(value)
    except BoardError as e:
        return ParseError(e.message)


def read_format(repo: BoardRepo, cache: BoardCache, tree: str) -> int:
    """Return the format of the board tree ``tree`` (see :mod:`gitboard.board.layout`): the version
    in its format file, else :data:`layout.LEGACY_FORMAT`; 0 for a format file that is not valid.

    Raises:
        GitFailure: git could not read the format file.
    """
    entry = trees.lookup(repo, cache, tree, layout.FORMAT_PATH)
    if entry is None:
        return layout.LEGACY_FORMAT
    value = read_files(repo, {layout.FORMAT_PATH: entry}, cache, layout.FORMAT)[layout.FORMAT_PATH]
    return layout.format_of(value) or 0


def read_files(repo: BoardRepo, files: Mapping[str, tuple[int, str]], cache: BoardCache,
               version: int = layout.FORMAT) -> dict[str, Any]:
    """Return path -> value for every ``*.json`` file in ``files`` (path -> (mode, blob id)), via ``cache``.

    A task file's value (a task path of format ``version``) is its :class:`Task`
    (always the task of that path: a task file naming another id gives a
    :class:`ParseError`, as :func:`~gitboard.board.snapshot.build` would say); any
    other file's is its parsed JSON; a file that does not parse or validate gives a
    :class:`ParseError`. Blobs missing from the cache are read in one
    ``git cat-file --batch``.
    """
    out: dict[str, Any] = {}
    missing: dict[str, list[str]] = {}
    get, get_task, task_id_of = cache.get, cache.get_task, layout.task_id_of
    for path, (_, sha) in files.items():
        if not path.endswith(".json"):
            continue
        tid = task_id_of(path, version)
        value = get(sha) if tid is None else get_task(sha)
        if value is MISSING:
            missing.setdefault(sha, []).append(path)
        elif tid is not None and type(value) is Task and value.id != tid:
            out[path] = ParseError(f"id {value.id} does not match file name")
        else:
            out[path] = value
    if missing:
        for sha, data in cat_blobs(repo, list(missing)).items():
            for path in missing[sha]:
                value = _remember(cache, path, sha, data, version)
                tid = task_id_of(path, version)
                if tid is not None and type(value) is Task and value.id != tid:
                    value = ParseError(f"id {value.id} does not match file name")
                out[path] = value
    return out


def _remember(cache: BoardCache, path: str, sha: str, data: bytes, version: int = layout.FORMAT) -> Any:
    """Parse the file at ``path`` with blob ``sha`` and content ``data`` into ``cache``; return its value."""
    if layout.task_id_of(path, version) is not None:
        value = cache.get_task(sha)
        if value is MISSING:
            value = parse_task(data)
            cache.put_task(sha, value)
    else:
        value = cache.get(sha)
        if value is MISSING:
            value = parse_json(data)
            cache.put(sha, value)
    return value


# -- writing ---------------------------------------------------------------------

def write_object(repo: BoardRepo, kind: bytes, data: bytes) -> str:
    """Write a loose object of type ``kind`` (b"blob", b"tree", b"commit") and return its id.

    Like git: the compressed object goes to a temporary file in its fan-out
    directory and is renamed into place, so readers never see half an object;
    an object that already exists is left as it is (its time refreshed, so that
    ``git gc`` does not prune it as old garbage before the ref names it).
    """
    import hashlib  # loads OpenSSL: only writers pay for it

    raw = b"%s %d\0" % (kind, len(data)) + data
    oid = hashlib.sha1(raw).hexdigest()
    directory = os.path.join(repo.objects_dir, oid[:2])
    path = os.path.join(directory, oid[2:])
    try:
        os.utime(path)
        return oid
    except OSError:
        pass
    tmp = os.path.join(directory, f"tmp_obj_{os.getpid()}_{os.urandom(6).hex()}")
    try:
        f = open(tmp, "xb")
    except FileNotFoundError:  # the fan-out directory is new
        os.makedirs(directory, exist_ok=True)
        f = open(tmp, "xb")
    with f:
        f.write(zlib.compress(raw, LOOSE_COMPRESSION))
    os.chmod(tmp, 0o444)
    os.replace(tmp, path)
    return oid


def _signature(env: Mapping[str, str], who: str, when: int) -> str:
    return f"{env[f'GIT_{who}_NAME']} <{env[f'GIT_{who}_EMAIL']}> {when} +0000"


def commit_tree(repo: BoardRepo, tree: str, parent: str | None, message: str, identity: Mapping[str, str]) -> str:
    """Write a loose commit of ``tree`` with ``parent`` (None: a root commit) and return its id.

    ``identity`` is an environment from :meth:`BoardRepo.identity_env`. No ref is moved.
    """
    now = int(time.time())
    lines = [f"tree {tree}"]
    if parent:
        lines.append(f"parent {parent}")
    lines.append("author " + _signature(identity, "AUTHOR", now))
    lines.append("committer " + _signature(identity, "COMMITTER", now))
    body = ("\n".join(lines) + "\n\n" + message).encode()
    return write_object(repo, b"commit", body)


def write_commit(repo: BoardRepo, parent: str | None, listing: TreeRef,
                 writes: Mapping[str, bytes | None], message: str, identity: Mapping[str, str]) -> str:
    """Write a commit whose tree is ``listing``'s tree with ``writes`` applied, child of ``parent``.

    ``listing`` is the :class:`~gitboard.store.trees.TreeRef` that :func:`load_board`
    returned for ``parent``; ``identity`` an environment from :meth:`BoardRepo.identity_env`.
    Returns the new commit id; no ref is moved. With :data:`PACK_THRESHOLD` or more
    new files the objects are written as a pack by ``git fast-import``.
    Otherwise only the trees on the written paths are rebuilt (see
    :func:`gitboard.store.trees.write_changes`), and the new blobs, trees and
    commit are recorded in the repository's parse cache (:attr:`BoardRepo.cache`),
    whether or not the commit ever lands: they are facts about objects, true either way.
    """
    cache = repo.cache
    contents = list(writes.values())
    if len(contents) - contents.count(None) >= PACK_THRESHOLD:
        commit, tree = _fast_import(repo, parent, writes, message, identity, int(time.time()))
        remember_writes(cache, writes)
        # the pack's trees, computed here too: the next read then needs no git command
        expected = trees.write_changes(repo, cache, listing.tree, {
            path: None if data is None else (trees.BLOB_MODE, blob_id(data)) for path, data in writes.items()},
            dry=True)
        if expected == tree:
            cache.put_commit(commit, tree)
        return commit
    deletions_only = contents.count(None) == len(contents)  # a drain: no blob to write or remember
    changes = dict.fromkeys(writes) if deletions_only else {
        path: None if data is None else (trees.BLOB_MODE, write_object(repo, b"blob", data))
        for path, data in writes.items()}
    tree = trees.write_changes(repo, cache, listing.tree, changes)
    commit = commit_tree(repo, tree, parent, message, identity)
    cache.put_commit(commit, tree)
    if not deletions_only:
        remember_writes(cache, writes)
    return commit


def _fast_import(repo: BoardRepo, parent: str | None, writes: Mapping[str, bytes | None],
                 message: str, identity: Mapping[str, str], now: int) -> tuple[str, str]:
    """Write the commit with ``git fast-import`` (a pack); return (commit id, its tree id)."""
    tmp_ref = f"refs/gitboard-tmp/{os.urandom(16).hex()}"
    msg = message.encode()
    out = BytesIO()
    out.write(f"commit {tmp_ref}\n".encode())
    out.write(f"author {_signature(identity, 'AUTHOR', now)}\n".encode())
    out.write(f"committer {_signature(identity, 'COMMITTER', now)}\n".encode())
    out.write(b"data %d\n%s\n" % (len(msg), msg))
    if parent:
        out.write(f"from {parent}\n".encode())
    for path, data in writes.items():
        if data is None:
            out.write(f"D {path}\n".encode())
        else:
            out.write(f"M {BLOB_MODE} inline {path}\n".encode())
            out.write(b"data %d\n%s\n" % (len(data), data))
    out.write(b"done\n")
    repo.git("fast-import", "--quiet", "--done", input=out.getvalue())
    try:
        res = repo.git("rev-parse", f"{tmp_ref}^{{commit}}", f"{tmp_ref}^{{tree}}", check=False)
    finally:
        repo.git("update-ref", "-d", tmp_ref, check=False)
    ids = res.stdout.decode().split()
    if res.status != 0 or len(ids) != 2:
        raise RuntimeError("git fast-import wrote no commit")
    return ids[0], ids[1]


def blob_ids(listing: TreeRef | Mapping[str, tuple]) -> set[str]:
    """Return the ids of the blobs in a recursive listing (path -> (mode, type, id)); an empty set
    for a :class:`TreeRef` (the cache no longer prunes by it: see :meth:`BoardCache.save`)."""
    if isinstance(listing, TreeRef):
        return set()
    return {entry[-1] for entry in listing.values() if len(entry) < 3 or entry[1] == "blob"}


def remember_writes(cache: BoardCache, writes: Mapping[str, bytes | None]) -> None:
    """Put the parsed content of written files into ``cache`` under their blob ids."""
    for path, data in writes.items():
        if data is not None and path.endswith(".json"):
            _remember(cache, path, blob_id(data), data)
