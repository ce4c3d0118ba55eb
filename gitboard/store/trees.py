"""Board trees one directory at a time: read, walk, diff and rewrite them through the parse cache.

The board's layout (:mod:`gitboard.board.layout`) keeps every directory small,
so the work of a read after a change, or of a write, is the few directories on
the changed paths, whatever the board's size:

- :func:`diff` compares two trees and descends only into subtrees whose ids differ
  (:func:`changes` the same, reporting every kind of entry as ``git diff-tree -r`` does);
- :func:`write_changes` rebuilds only the trees on the written paths;
- :func:`walk` lists every file of a tree (a first read, a migration).

Tree entries come from the cache (:meth:`BoardCache.entries`), else from the
loose object file, else from one ``git cat-file --batch`` for all the trees of a
level that are packed (fetched in remote mode, or after ``git gc``).
"""

from __future__ import annotations

import os
import zlib
from typing import Iterable, Iterator, Mapping

from gitboard.store.cache import TREE_MODE, BoardCache, Entries
from gitboard.store.repo import BoardRepo

#: Modes of the entries read as board files: regular files and symlinks (not submodules).
FILE_MODES = (0o100644, 0o100755, 0o120000)
BLOB_MODE = 0o100644

#: A file of a tree: path -> (mode, blob id).
Files = dict[str, tuple[int, str]]


class TreeRef:
    """The tree a board was read from: ``tree`` (None before ``init``) and its format ``version``.

    This is the "listing" :func:`gitboard.store.read.load_board` returns and
    :func:`gitboard.store.objects.write_commit` takes.
    """

    __slots__ = ("tree", "version")

    def __init__(self, tree: str | None, version: int) -> None:
        self.tree = tree
        self.version = version

    def __repr__(self) -> str:
        return f"TreeRef({self.tree!r}, {self.version})"


def read_loose(repo: BoardRepo, oid: str) -> tuple[bytes, bytes] | None:
    """Return ``(type, content)`` of object ``oid`` if it is a loose object, else None
    (packed, missing or unreadable: ask git). Reads ``repo.objects_dir``, which honours git's
    quarantine (``GIT_OBJECT_DIRECTORY``) in a pre-receive hook."""
    try:
        with open(os.path.join(repo.objects_dir, oid[:2], oid[2:]), "rb") as f:
            raw = zlib.decompress(f.read())
    except (OSError, zlib.error):
        return None
    header, _, body = raw.partition(b"\0")
    kind, _, size = header.partition(b" ")
    return (kind, body) if size.isdigit() and int(size) == len(body) else None


def load(repo: BoardRepo, cache: BoardCache, trees: Iterable[str]) -> None:
    """Make sure the entries of every tree in ``trees`` are cached: loose objects are read
    directly, the others with one ``git cat-file --batch``.

    Raises:
        GitFailure: git could not be run; a missing tree is an error of the caller's next lookup.
    """
    missing = []
    for tree in dict.fromkeys(trees):
        if cache.entries(tree) is not None:
            continue
        obj = read_loose(repo, tree)
        if obj is not None and obj[0] == b"tree":
            cache.put_tree(tree, obj[1])
        else:
            missing.append(tree)
    if not missing:
        return
    raw = repo.git("cat-file", "--batch", input=("\n".join(missing) + "\n").encode()).stdout
    pos = 0
    for oid in missing:
        eol = raw.index(b"\n", pos)
        header = raw[pos:eol].split(b" ")
        pos = eol + 1
        if len(header) < 3:  # "<id> missing"
            continue
        size = int(header[2])
        if header[1] == b"tree":
            cache.put_tree(oid, raw[pos:pos + size])
        pos += size + 1


def entries(repo: BoardRepo, cache: BoardCache, tree: str) -> Entries:
    """Return the entries of ``tree`` (do not modify them).

    Raises:
        GitFailure: no such tree object.
    """
    found = cache.entries(tree)
    if found is None:
        load(repo, cache, [tree])
        found = cache.entries(tree)
        if found is None:
            from gitboard.board.errors import GitFailure

            raise GitFailure(f"cannot read tree {tree[:12]}: no such object")
    return found


def lookup(repo: BoardRepo, cache: BoardCache, tree: str, path: str) -> tuple[int, str] | None:
    """Return (mode, id) of ``path`` in ``tree``, or None if there is no such entry."""
    mode, sha = TREE_MODE, tree
    for name in path.split("/"):
        if mode != TREE_MODE:
            return None
        found = entries(repo, cache, sha).get(name)
        if found is None:
            return None
        mode, sha = found
    return mode, sha


def walk(repo: BoardRepo, cache: BoardCache, tree: str) -> Files:
    """Return every file of ``tree``, recursively: path -> (mode, blob id), level by level
    (one git command per level at most, for packed trees)."""
    files: Files = {}
    level = [("", tree)]
    while level:
        load(repo, cache, [t for _, t in level])
        nxt = []
        for prefix, t in level:
            for name, (mode, sha) in entries(repo, cache, t).items():
                path = prefix + name
                if mode == TREE_MODE:
                    nxt.append((path + "/", sha))
                elif mode in FILE_MODES:
                    files[path] = (mode, sha)
        level = nxt
    return files


def _differing(repo: BoardRepo, cache: BoardCache, old: str | None,
               new: str) -> Iterator[tuple[str, tuple[int, str] | None, tuple[int, str] | None]]:
    """Yield ``(path, old entry, new entry)`` for every non-tree entry that differs from tree
    ``old`` to tree ``new`` (an entry is ``(mode, id)``, None where that side has no such
    entry, or has a tree there), level by level, reading only subtrees whose ids differ."""
    level = [("", old, new)]
    while level:
        load(repo, cache, [t for _, a, b in level for t in (a, b) if t])
        nxt = []
        for prefix, a, b in level:
            ea = entries(repo, cache, a) if a else {}
            eb = entries(repo, cache, b) if b else {}
            for name in ea.keys() | eb.keys():
                x, y = ea.get(name), eb.get(name)
                if x == y:
                    continue
                path = prefix + name
                xt = x is not None and x[0] == TREE_MODE
                yt = y is not None and y[0] == TREE_MODE
                if xt or yt:
                    nxt.append((path + "/", x[1] if xt else None, y[1] if yt else None))
                if (x is not None and not xt) or (y is not None and not yt):
                    yield path, None if xt else x, None if yt else y
        level = nxt


def diff(repo: BoardRepo, cache: BoardCache, old: str, new: str) -> dict[str, tuple[int, str] | None]:
    """Return the files that differ from tree ``old`` to tree ``new``: path -> (mode, blob id),
    or None for a file ``new`` no longer has. Only subtrees whose ids differ are read."""
    out: dict[str, tuple[int, str] | None] = {}
    for path, x, y in _differing(repo, cache, old, new):
        if y is not None and y[0] in FILE_MODES:
            out[path] = y
        elif x is not None and x[0] in FILE_MODES:
            out[path] = None
    return out


def changes(repo: BoardRepo, cache: BoardCache, old: str | None, new: str) -> dict[str, str | None]:
    """What ``git diff-tree -r --no-renames old new`` reports, from the trees themselves: every
    non-tree path that differs -> the new blob id of a regular file, ``""`` for any other kind of
    entry (a symlink, a submodule), or None for a path ``new`` no longer has. Only subtrees whose
    ids differ are read (from the cache, loose files, else one ``git cat-file`` per level).

    Raises:
        GitFailure: a tree is missing.
    """
    return {path: None if y is None else (y[1] if y[0] & 0o170000 == 0o100000 else "")
            for path, _x, y in _differing(repo, cache, old, new)}


def new_trees(repo: BoardRepo, cache: BoardCache,
              pairs: list[tuple[str | None, str]]) -> list[list[tuple[str, str, bytes]]]:
    """For each ``(old, new)`` pair of trees, the trees of ``new`` that ``old`` does not have at
    the same path: ``(path, tree id, raw content)``, the root first (path ``""``, else ending in
    ``/``). Level by level over all the pairs at once: one ``git cat-file`` per level at most,
    for packed trees. A tree that cannot be read is left out (the caller's diff reports it).
    """
    out: list[list[tuple[str, str, bytes]]] = [[] for _ in pairs]
    level = [(i, "", old, new) for i, (old, new) in enumerate(pairs) if new != old]
    while level:
        load(repo, cache, [t for _, _, a, b in level for t in (a, b) if t])
        nxt = []
        for i, prefix, a, b in level:
            body = cache.trees.get(b)
            found = cache.entries(b)
            if body is None or found is None:
                continue
            out[i].append((prefix, b, body))
            ea = (cache.entries(a) or {}) if a else {}
            for name, entry in found.items():
                if entry[0] == TREE_MODE and ea.get(name) != entry:
                    x = ea.get(name)
                    nxt.append((i, f"{prefix}{name}/", x[1] if x is not None and x[0] == TREE_MODE else None, entry[1]))
        level = nxt
    return out


def _tree_key(item: tuple[str, tuple[int, str]]) -> bytes:
    # git orders tree entries by their bytes, comparing a tree's name as if it ended in "/"
    name, (mode, _) = item
    raw = name.encode("utf-8", "surrogateescape")
    return raw + b"/" if mode == TREE_MODE else raw


def write_entries(repo: BoardRepo, cache: BoardCache, items: Entries, dry: bool = False) -> str:
    """Write a tree object with ``items`` (name -> (mode, id)) and cache its entries; return its id.

    ``dry``: only compute the id (the object exists already, say in a pack ``git fast-import`` wrote).
    """
    import hashlib

    from gitboard.store.objects import write_object

    ordered = sorted(items.items(), key=_tree_key)
    body = b"".join([b"%o %s\0%s" % (mode, name.encode("utf-8", "surrogateescape"), bytes.fromhex(sha))
                     for name, (mode, sha) in ordered])
    if dry:
        sha = hashlib.sha1(b"tree %d\0" % len(body) + body).hexdigest()
    else:
        sha = write_object(repo, b"tree", body)
    cache.put_tree(sha, body, dict(ordered))
    return sha


def write_changes(repo: BoardRepo, cache: BoardCache, tree: str | None,
                  changes: Mapping[str, tuple[int, str] | None], dry: bool = False) -> str:
    """Write the trees of ``tree`` (None: empty) with ``changes`` applied and return the new root id.

    ``changes`` maps a file path to (mode, blob id) of its new content, or None to delete it.
    Only the trees on the changed paths are rebuilt; a tree left empty is dropped.
    ``dry``: compute the trees' ids and cache their entries, but write nothing.

    The changes are grouped by directory once (one ``rpartition`` per path), and the
    directories rebuilt deepest first, so the cost is one step per changed file plus
    one per changed directory (a drain of 1,000 messages: 1,000 plus the 256 buckets),
    not one per file per level. A directory whose every entry is deleted goes without
    being rewritten (see :func:`_empties`).
    """
    by_dir: dict[str, dict[str, tuple[int, str] | None]] = {"": {}}
    for path, value in changes.items():
        head, _, name = path.rpartition("/")
        files = by_dir.get(head)
        if files is None:
            files = by_dir[head] = {}
        files[name] = value
    for head in list(by_dir):  # every ancestor of a changed directory is rebuilt too
        while head:
            head = head.rpartition("/")[0]
            if head in by_dir:
                break
            by_dir[head] = {}
    # the directories' current trees, parents first
    order = sorted(by_dir, key=lambda d: d.count("/") if d else -1)
    old: dict[str, str | None] = {"": tree}
    for d in order:
        if not d:
            continue
        parent, _, name = d.rpartition("/")
        base = old[parent]
        found = entries(repo, cache, base).get(name) if base else None
        old[d] = found[1] if found is not None and found[0] == TREE_MODE else None
    # rebuilt deepest first: a directory's new subtrees are known before it is written
    subtrees: dict[str, dict[str, str | None]] = {}
    for d in reversed(order):
        base = old[d]
        current = entries(repo, cache, base) if base else {}
        files, subs = by_dir[d], subtrees.pop(d, {})
        if d and current and _empties(current, files, subs):
            parent, _, name = d.rpartition("/")
            subtrees.setdefault(parent, {})[name] = None  # the directory goes from its parent
            continue
        items = dict(current)
        for name, value in files.items():
            if value is None:
                items.pop(name, None)
            else:
                items[name] = value
        for name, sub in subs.items():  # a subtree wins over a file of its name
            if sub is None:
                items.pop(name, None)
            else:
                items[name] = (TREE_MODE, sub)
        if not d:
            return write_entries(repo, cache, items, dry)
        new = write_entries(repo, cache, items, dry) if items else None
        parent, _, name = d.rpartition("/")
        subtrees.setdefault(parent, {})[name] = new
    raise AssertionError("unreachable: the root is always rebuilt")


def _empties(current: Entries, files: Mapping[str, tuple[int, str] | None], subtrees: Mapping[str, str | None]) -> bool:
    """True if ``files`` (name -> new entry or None) and ``subtrees`` (name -> new tree id or None)
    delete every entry of ``current`` and add none: the directory goes. A set comparison, not a
    step per entry (a drain that empties an inbox empties its 256 buckets)."""
    if len(current) > len(files) + len(subtrees) or any(files.values()) or any(subtrees.values()):
        return False
    return current.keys() <= (files.keys() | subtrees.keys() if subtrees else files.keys())


def write_full(repo: BoardRepo, cache: BoardCache, files: Mapping[str, tuple[int, str]]) -> str:
    """Write every tree of a board whose files are ``files`` (path -> (mode, blob id)); return the root id."""
    return write_changes(repo, cache, None, files)
