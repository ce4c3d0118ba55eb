"""The rules of a board tree object's raw entries: what ``git fsck`` would flag. Pure.

A tree object is a sequence of ``<mode> <name>\\0<20-byte id>`` entries. git itself writes
them well formed and sorted, but a pusher can write any bytes (``git hash-object -t tree
--literally``), and a tree git's parser reads one way can hide a file from a reader that
reads it another: an entry named ``00/task_5.json`` in ``.tasks/00`` is read by a path walk
as task 5's file. ``gitboard hook install`` turns on ``receive.fsckObjects`` so that git
refuses such objects before the hook runs; the hook and ``verify`` check the board's trees
with :func:`tree_refusals` as well, for servers where it is off and for history already
pushed. The checks follow ``fsck.c``'s ``fsck_tree`` (git 2.39); the message ids it uses are
named in each reason:

- ``badTree``: an entry that does not parse (no space, no NUL, a short id);
- ``badFilemode`` / ``zeroPaddedFilemode``: a mode other than ``100644``, ``100755``,
  ``120000``, ``40000`` and ``160000``, or one written with a leading zero;
- ``emptyName``, ``fullPathname`` (a ``/`` in the name), ``hasDot`` (``.``), ``hasDotdot``
  (``..``), ``hasDotgit`` (``.git`` in any case, and the names NTFS reads as it:
  ``.git`` followed by dots or spaces, ``git~1``);
- ``nullSha1``: an entry naming the all-zero object id;
- ``duplicateEntries`` and ``treeNotSorted``: names in git's order (a tree's name compared as
  if it ended in ``/``), each once.
"""

from __future__ import annotations

import re

#: The modes a well-formed tree entry may have, as written in the object.
GOOD_MODES = frozenset({b"100644", b"100755", b"120000", b"40000", b"160000"})
_NULL_ID = bytes(20)


def _is_dotgit(name: bytes) -> bool:
    low = name.lower()
    return low.rstrip(b". ") == b".git" or low == b"git~1"


_ENTRY = re.compile(rb"([0-7]+) ([^\0]*)\0(.{20})", re.S)


def _well_formed(body: bytes) -> bool:
    """True if ``body`` certainly breaks none of the rules: the common case, checked with
    whole-list operations; False sends it to the entry-by-entry check, which says why."""
    found = _ENTRY.findall(body)
    if sum(len(m) + len(n) for m, n, _ in found) + 22 * len(found) != len(body):
        return False  # bytes between or after the entries
    names = [n for _, n, _ in found]
    if len(set(names)) != len(names) or not {m for m, _, _ in found} <= GOOD_MODES or _NULL_ID in {o for *_, o in found}:
        return False
    if any(not n or b"/" in n or (n[:1] in b".gG" and (n in (b".", b"..") or _is_dotgit(n))) for n in names):
        return False
    keys = [n + b"/" if m == b"40000" else n for m, n, _ in found]
    return keys == sorted(keys)


def tree_refusals(body: bytes, limit: int = 10) -> list[str]:
    """Why the tree object with raw content ``body`` is malformed (see the module docstring);
    empty if it is not. At most ``limit`` reasons, each naming the entry and the fsck message id."""
    if _well_formed(body):
        return []
    out: list[str] = []
    seen: set[bytes] = set()
    previous: bytes | None = None
    pos, end = 0, len(body)
    while pos < end and len(out) < limit:
        space = body.find(b" ", pos)
        nul = body.find(b"\0", space + 1) if space >= 0 else -1
        if space < 0 or nul < 0 or nul + 21 > end:
            out.append("a truncated or malformed entry (badTree)")
            break
        mode, name, oid = body[pos:space], body[space + 1:nul], body[nul + 1:nul + 21]
        pos = nul + 21
        shown = name.decode("utf-8", "backslashreplace")[:80]
        if mode not in GOOD_MODES:
            why = "zeroPaddedFilemode" if mode.startswith(b"0") and mode.lstrip(b"0") in GOOD_MODES else "badFilemode"
            out.append(f"entry {shown!r} has mode {mode.decode('ascii', 'backslashreplace')[:12]} ({why})")
        if not name:
            out.append("an entry with an empty name (emptyName)")
        elif b"/" in name:
            out.append(f"entry {shown!r} has a '/' in its name (fullPathname)")
        elif name == b".":
            out.append("an entry named '.' (hasDot)")
        elif name == b"..":
            out.append("an entry named '..' (hasDotdot)")
        elif _is_dotgit(name):
            out.append(f"an entry named {shown!r}, which git reads as .git (hasDotgit)")
        if oid == _NULL_ID:
            out.append(f"entry {shown!r} names the all-zero object id (nullSha1)")
        if name in seen:
            out.append(f"entry {shown!r} appears twice (duplicateEntries)")
        seen.add(name)
        key = name + b"/" if mode in (b"40000", b"040000") else name
        if previous is not None and key < previous:
            out.append(f"entry {shown!r} is out of git's order (treeNotSorted)")
        previous = key
    return out
