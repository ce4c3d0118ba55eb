"""Reading board files at a commit and writing the commit of a change.

Reads list the whole tree once (``git ls-tree -r -t -z``) and take parsed files
from the :class:`~gitboard.store.cache.BlobCache`; the blobs it lacks are read
in one ``git cat-file --batch``. Writes of a few files go straight into the
object database through GitPython (loose objects, no subprocess): only the
trees on the changed paths are rebuilt. Writes of many files (bulk imports) go
through ``git fast-import``, which writes a pack.
"""

from __future__ import annotations

import hashlib
import json
import time
import uuid
from io import BytesIO
from typing import Any, Mapping

from git.objects.fun import tree_to_stream
from gitdb.base import IStream

from gitboard.board.snapshot import ParseError
from gitboard.store.cache import MISSING, BlobCache
from gitboard.store.repo import BoardRepo

#: Number of changed files from which a commit is written as a pack by fast-import.
PACK_THRESHOLD = 64

TREE_MODE = "040000"
BLOB_MODE = "100644"

#: A tree listing: path -> (mode, type, object id), blobs and trees alike.
Listing = dict[str, tuple[str, str, str]]


def blob_id(data: bytes) -> str:
    """Return the git object id (SHA-1 hex) of a blob with content ``data``."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


def list_tree(repo: BoardRepo, commit: str) -> Listing:
    """Return every path in ``commit``'s tree, recursively, trees included."""
    out: Listing = {}
    raw = repo.git("ls-tree", "-r", "-t", "-z", "--full-tree", commit).stdout
    for rec in raw.split(b"\0"):
        if not rec:
            continue
        meta, _, path = rec.partition(b"\t")
        mode, typ, sha = meta.decode().split(" ")
        out[path.decode()] = (mode, typ, sha)
    return out


def cat_blobs(repo: BoardRepo, ids: list[str]) -> dict[str, bytes]:
    """Read many blobs in one ``git cat-file --batch``: object id -> content bytes."""
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


def read_files(repo: BoardRepo, listing: Listing, cache: BlobCache) -> dict[str, Any]:
    """Return path -> parsed JSON for every ``*.json`` blob in ``listing``, via ``cache``."""
    files: dict[str, Any] = {}
    missing: dict[str, list[str]] = {}
    for path, (_, typ, sha) in listing.items():
        if typ != "blob" or not path.endswith(".json"):
            continue
        value = cache.get(sha)
        if value is MISSING:
            missing.setdefault(sha, []).append(path)
        else:
            files[path] = value
    if missing:
        for sha, data in cat_blobs(repo, list(missing)).items():
            value = parse_json(data)
            cache.put(sha, value)
            for path in missing[sha]:
                files[path] = value
    return files


def _store(repo: BoardRepo, kind: bytes, data: bytes) -> str:
    hexsha = repo.repo.odb.store(IStream(kind, len(data), BytesIO(data))).hexsha
    return hexsha.decode() if isinstance(hexsha, bytes) else hexsha


def _tree_key(entry: tuple[bytes, int, str]) -> bytes:
    # git orders tree entries by name, comparing a tree's name as if it ended in "/"
    binsha, mode, name = entry
    return name.encode() + (b"/" if mode == 0o040000 else b"")


def write_tree(repo: BoardRepo, listing: Listing, writes: Mapping[str, bytes | None]) -> str:
    """Write the tree of ``listing`` with ``writes`` applied (None deletes) and return its id.

    Only the trees on the changed paths are rebuilt; an emptied tree is dropped.
    """
    dirs: set[str] = {""}
    for path in writes:
        parts = path.split("/")
        for i in range(1, len(parts)):
            dirs.add("/".join(parts[:i]))
    children: dict[str, dict[str, tuple[int, str]]] = {d: {} for d in dirs}
    for path, (mode, _, sha) in listing.items():
        parent, _, name = path.rpartition("/")
        if parent in children:
            children[parent][name] = (int(mode, 8), sha)
    for path, data in writes.items():
        parent, _, name = path.rpartition("/")
        if data is None:
            children[parent].pop(name, None)
        else:
            children[parent][name] = (int(BLOB_MODE, 8), _store(repo, b"blob", data))
    root = ""
    for d in sorted(dirs, key=lambda p: -p.count("/") if p else 1):
        if d == "":
            continue
        entries = children[d]
        parent, _, name = d.rpartition("/")
        if entries:
            children[parent][name] = (int(TREE_MODE, 8), _serialize_tree(repo, entries))
        else:
            children[parent].pop(name, None)
    return _serialize_tree(repo, children[root])


def _serialize_tree(repo: BoardRepo, entries: Mapping[str, tuple[int, str]]) -> str:
    items = sorted(((bytes.fromhex(sha), mode, name) for name, (mode, sha) in entries.items()), key=_tree_key)
    buf = BytesIO()
    tree_to_stream(items, buf.write)
    return _store(repo, b"tree", buf.getvalue())


def _signature(env: Mapping[str, str], who: str, when: int) -> str:
    return f"{env[f'GIT_{who}_NAME']} <{env[f'GIT_{who}_EMAIL']}> {when} +0000"


def write_commit(repo: BoardRepo, parent: str | None, listing: Listing,
                 writes: Mapping[str, bytes | None], message: str, identity: Mapping[str, str]) -> str:
    """Write a commit whose tree is ``listing`` with ``writes`` applied, child of ``parent``.

    ``identity`` is an environment from :meth:`BoardRepo.identity_env`. Returns
    the new commit id; no ref is moved. With :data:`PACK_THRESHOLD` or more
    changed files the objects are written as a pack by ``git fast-import``.
    """
    now = int(time.time())
    if len(writes) >= PACK_THRESHOLD:
        return _fast_import(repo, parent, writes, message, identity, now)
    tree = write_tree(repo, listing, writes)
    lines = [f"tree {tree}"]
    if parent:
        lines.append(f"parent {parent}")
    lines.append("author " + _signature(identity, "AUTHOR", now))
    lines.append("committer " + _signature(identity, "COMMITTER", now))
    body = ("\n".join(lines) + "\n\n" + message).encode()
    return _store(repo, b"commit", body)


def _fast_import(repo: BoardRepo, parent: str | None, writes: Mapping[str, bytes | None],
                 message: str, identity: Mapping[str, str], now: int) -> str:
    tmp_ref = f"refs/gitboard-tmp/{uuid.uuid4().hex}"
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
        commit = repo.resolve(tmp_ref)
    finally:
        repo.git("update-ref", "-d", tmp_ref, check=False)
    if not commit:
        raise RuntimeError("git fast-import wrote no commit")
    return commit


def blob_ids(listing: Listing) -> set[str]:
    """Return the ids of every blob in ``listing``."""
    return {sha for _, typ, sha in listing.values() if typ == "blob"}


def remember_writes(cache: BlobCache, writes: Mapping[str, bytes | None]) -> None:
    """Put the parsed content of written files into ``cache`` under their blob ids."""
    for data in writes.values():
        if data is not None:
            cache.put(blob_id(data), parse_json(data))
