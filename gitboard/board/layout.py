"""The board tree: every path of a board file, for each board format. Pure.

This module is the contract of the board's layout. The store reads and writes
through it, and the server hook (``gitboard/board/rules.py``) validates pushed
trees with :func:`classify`.

**Format 2** (this version), recorded in the board's own tree::

    .gitboard/format.json                                  {"format": 2}
    .team/config.json                                      the roster
    .tasks/<a>/<b>/task_<id>.json                          a task
    .team/inbox/<name>/<h1>/<h2>/<usec>-<msg_id>.json      an unread message
    .team/requests/<h1>/<h2>/<request_id>.json             a protocol request

- Task fan-out by id: ``<a>`` is ``id // 10000`` and ``<b>`` is ``id // 100 % 100``,
  each at least two decimal digits, so ``.tasks/01/23/`` holds tasks 12300 to
  12399. A directory holds at most 100 tasks, or 100 subdirectories; ``.tasks``
  itself holds one entry per 10,000 ids. A write of one task rewrites three
  trees of at most 100 entries (plus ``.tasks`` and the root), whatever the
  board's size.
- Message and request fan-out by hash: ``<h1><h2>`` are the first two hex digits
  of the CRC-32 of the file's name (``zlib.crc32``, as 8 lower-case hex digits),
  so 1,000 unread messages or 10,000 answered requests spread over 256 small
  directories. Within an inbox the file names still sort oldest first.
- Names (``<name>``) match ``[a-z][a-z0-9_-]{0,31}``; request ids
  ``[A-Za-z0-9][A-Za-z0-9_-]{0,99}``. gitboard names a message file
  ``<usec>-<msg_id>.json`` (``<usec>`` 16 decimal digits); the layout accepts any
  ``[A-Za-z0-9][A-Za-z0-9_-]{0,127}.json`` there.

**Format 1** (gitboard before the fan-out; a tree without ``.gitboard/format.json``)::

    .team/config.json, .tasks/task_<id>.json, .team/inbox/<name>/<file>.json,
    .team/requests/<request_id>.json

Boards in format 1 are read as they are. The first write (or ``gitboard init``)
migrates them in one commit (action ``migrate``): every file moves to its
format-2 path (:func:`migrate_path`) with its content unchanged, and the format
file is added.
"""

from __future__ import annotations

import re
import zlib
from typing import NamedTuple

#: The format this gitboard writes.
FORMAT = 2
#: The format of a board tree without a format file.
LEGACY_FORMAT = 1
#: Formats this gitboard reads.
READABLE_FORMATS = (1, 2)

FORMAT_PATH = ".gitboard/format.json"
ROSTER_PATH = ".team/config.json"
TASKS_DIR = ".tasks"
INBOX_DIR = ".team/inbox"
REQUESTS_DIR = ".team/requests"

#: Kinds of board file that :func:`classify` tells apart.
TASK, ROSTER, MESSAGE, REQUEST, FORMAT_FILE = "task", "roster", "message", "request", "format"
KINDS = (TASK, ROSTER, MESSAGE, REQUEST, FORMAT_FILE)

#: Paths whose :func:`classify` answer is remembered (at most about 3 MB) ...
CLASSIFY_MEMO = 1 << 13
#: ... if they are no longer than this (a format-2 board file's path is at most 182).
MEMO_PATH_LENGTH = 256

#: Tasks per leaf directory and leaf directories per middle directory.
TASK_FANOUT = 100

_NAME = r"[a-z][a-z0-9_-]{0,31}"
_ID = r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}"
_HEX = r"[0-9a-f]"

_V2_TASK = re.compile(r"\.tasks/([0-9]{2,})/([0-9]{2})/task_([1-9][0-9]*)\.json")
_FILE = r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}\.json"
_V2_MESSAGE = re.compile(rf"\.team/inbox/({_NAME})/({_HEX})/({_HEX})/({_FILE})")
_V2_REQUEST = re.compile(rf"\.team/requests/({_HEX})/({_HEX})/(({_ID})\.json)")
_V1_TASK = re.compile(r"\.tasks/task_([1-9][0-9]*)\.json")
_V1_MESSAGE = re.compile(rf"\.team/inbox/({_NAME})/([^/]+\.json)")
_V1_REQUEST = re.compile(r"\.team/requests/(([^/]+)\.json)")


class BoardFile(NamedTuple):
    """What :func:`classify` says a path is.

    Attributes:
        kind: one of :data:`KINDS`.
        key: the task id (int) of a task, the recipient's name of a message, the
            request id of a request; None for the roster and the format file.
    """

    kind: str
    key: int | str | None = None


def bucket(file_name: str) -> str:
    """Return the two fan-out directories of a message or request file, ``"<h1>/<h2>"``.

    They are the first two hex digits of ``zlib.crc32(file_name)`` written as 8
    lower-case hex digits (``file_name`` is the file's own name, ``.json`` included).
    """
    h = format(zlib.crc32(file_name.encode()), "08x")
    return f"{h[0]}/{h[1]}"


def task_path(task_id: int, version: int = FORMAT) -> str:
    """Return the board path of task ``task_id``'s file.

    Format 2: ``.tasks/<id // 10000>/<id // 100 % 100>/task_<id>.json`` (two digits
    at least each); format 1: ``.tasks/task_<id>.json``.
    """
    if version == LEGACY_FORMAT:
        return f"{TASKS_DIR}/task_{task_id}.json"
    leaf = task_id // TASK_FANOUT
    return f"{TASKS_DIR}/{leaf // TASK_FANOUT:02d}/{leaf % TASK_FANOUT:02d}/task_{task_id}.json"


def message_file_name(usec: int, msg_id: str) -> str:
    """Return a message's file name, ``<usec>-<msg_id>.json`` with ``usec`` zero-padded to 16 digits."""
    return f"{usec:016d}-{msg_id}.json"


def message_name_start(to: str, version: int = FORMAT) -> int:
    """Return where a message file's name starts in its path (:func:`message_path`), the same for
    every message of ``to``'s inbox: after ``.team/inbox/<to>/`` and, in format 2, the two
    one-digit fan-out directories (``<h1>/<h2>/``, see :func:`bucket`)."""
    return len(INBOX_DIR) + len(to) + (2 if version == LEGACY_FORMAT else 6)


def message_path(to: str, file_name: str, version: int = FORMAT) -> str:
    """Return the board path of message file ``file_name`` in ``to``'s inbox.

    Format 2: ``.team/inbox/<to>/<h1>/<h2>/<file_name>`` (see :func:`bucket`);
    format 1: ``.team/inbox/<to>/<file_name>``.
    """
    if version == LEGACY_FORMAT:
        return f"{INBOX_DIR}/{to}/{file_name}"
    return f"{INBOX_DIR}/{to}/{bucket(file_name)}/{file_name}"


def request_path(request_id: str, version: int = FORMAT) -> str:
    """Return the board path of request ``request_id``.

    Format 2: ``.team/requests/<h1>/<h2>/<request_id>.json``; format 1:
    ``.team/requests/<request_id>.json``.
    """
    name = f"{request_id}.json"
    if version == LEGACY_FORMAT:
        return f"{REQUESTS_DIR}/{name}"
    return f"{REQUESTS_DIR}/{bucket(name)}/{name}"


def format_file(version: int = FORMAT) -> bytes:
    """Return the content of the format file, ``{"format": <version>}`` and a newline."""
    return b'{"format": %d}\n' % version


def classify(path: str, version: int = FORMAT) -> BoardFile | None:
    """Say which kind of board file ``path`` is in a board of format ``version``.

    This is the layout's contract, shared by the store and the server hook: a
    file is a board file only at the exact path this module gives it (a task
    file in another task's directory, or a message in the wrong bucket, is not
    one).

    Args:
        path: a file's path in the board tree (``/``-separated, no leading ``/``).
        version: the board's format (see :func:`format_of`).

    Returns:
        A :class:`BoardFile` (kind and key), or None for a path outside the layout.

    The answers for paths of up to :data:`MEMO_PATH_LENGTH` characters are memoised (up to
    :data:`CLASSIFY_MEMO` of them, then the memo starts again): a long-lived process
    classifies a message when it arrives and again when it is drained. Longer paths, which
    a pushed tree may hold, are not.
    """
    memo = _MEMO.get(version)
    if memo is None:
        memo = _MEMO[version] = {}
    found = memo.get(path, _UNSEEN)
    if found is _UNSEEN:
        found = _classify(path, version)
        if len(path) <= MEMO_PATH_LENGTH:
            if len(memo) >= CLASSIFY_MEMO:
                memo.clear()  # a memo, not a record: start again rather than track what is oldest
            memo[path] = found
    return found  # type: ignore[return-value]


def _classify(path: str, version: int) -> BoardFile | None:
    """:func:`classify` itself, without the memo."""
    if path == ROSTER_PATH:
        return BoardFile(ROSTER)
    if version == LEGACY_FORMAT:
        m = _V1_TASK.fullmatch(path)
        if m:
            return BoardFile(TASK, int(m.group(1)))
        m = _V1_MESSAGE.fullmatch(path)
        if m:
            return BoardFile(MESSAGE, m.group(1))
        m = _V1_REQUEST.fullmatch(path)
        if m:
            return BoardFile(REQUEST, m.group(2))
        return None
    if path == FORMAT_PATH:
        return BoardFile(FORMAT_FILE)
    if path.startswith(".tasks/"):
        m = _V2_TASK.fullmatch(path)
        if m:
            tid = int(m.group(3))
            if task_path(tid) == path:
                return BoardFile(TASK, tid)
        return None
    m = _V2_MESSAGE.fullmatch(path)
    if m:
        name = m.group(4)
        return BoardFile(MESSAGE, m.group(1)) if bucket(name) == f"{m.group(2)}/{m.group(3)}" else None
    m = _V2_REQUEST.fullmatch(path)
    if m:
        return BoardFile(REQUEST, m.group(4)) if bucket(m.group(3)) == f"{m.group(1)}/{m.group(2)}" else None
    return None


_MEMO: dict[int, dict[str, BoardFile | None]] = {}  # format -> path -> classify's answer
_UNSEEN = object()


def task_id_of(path: str, version: int = FORMAT) -> int | None:
    """Return the task id if ``path`` is a task file of format ``version``, else None.

    The same answer as :func:`classify`, without a regular expression: the store asks
    it for every file of the board.
    """
    if version == LEGACY_FORMAT:
        found = classify(path, version)
        return found.key if found is not None and found.kind == TASK else None  # type: ignore[return-value]
    if not path.startswith(".tasks/"):
        return None
    head, _, name = path.rpartition("/")
    if not (name.startswith("task_") and name.endswith(".json")):
        return None
    digits = name[5:-5]
    if not (digits.isascii() and digits.isdigit()) or digits[0] == "0":
        return None
    tid = int(digits)
    leaf = tid // TASK_FANOUT
    return tid if head == f"{TASKS_DIR}/{leaf // TASK_FANOUT:02d}/{leaf % TASK_FANOUT:02d}" else None


def format_of(value: object) -> int | None:
    """Return the format version recorded in a parsed format file, or None if it is not one.

    ``value`` is the file's parsed JSON; a valid one is ``{"format": <int >= 1>}``.
    """
    if isinstance(value, dict):
        v = value.get("format")
        if isinstance(v, int) and not isinstance(v, bool) and v >= 1:
            return v
    return None


def migrate_path(path: str) -> str:
    """Return where a format-1 file goes in format 2.

    A path outside the format-1 layout stays where it is, and so does a file whose
    name format 2 does not allow (it is then outside the layout, as it was for readers
    that skipped it).
    """
    found = classify(path, LEGACY_FORMAT)
    if found is None or found.kind == ROSTER:
        return path
    name = path.rpartition("/")[2]
    if found.kind == TASK:
        new = task_path(found.key)  # type: ignore[arg-type]
    elif found.kind == MESSAGE:
        new = message_path(found.key, name)  # type: ignore[arg-type]
    else:
        new = f"{REQUESTS_DIR}/{bucket(name)}/{name}"
    # a hand-made file whose name format 2 does not allow stays where it was
    return new if classify(new) == found else path
