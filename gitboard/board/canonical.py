"""The bytes of a board file: exactly what gitboard writes, within documented limits. Pure.

The rules judge a commit by its files' parsed values (:mod:`gitboard.board.rules`); this
module judges their bytes, so that a commit cannot rewrite a file under cover of an
equal value (another encoding, no indentation, an unknown key of 10 MB). In a board of the
current format (:data:`gitboard.board.layout.FORMAT`), a new or changed board file is legal
only when:

- it is at most :data:`FILE_MAX` bytes, and its JSON nests at most :data:`DEPTH_MAX` arrays
  and objects deep;
- its bytes are the canonical form of its value: :func:`canonical_bytes`, which is
  ``json.dumps(model.to_json(), indent=2, ensure_ascii=False)`` encoded as UTF-8 with one
  trailing newline (:func:`gitboard.board.task.dump_json`), keys in the model's order, and
  no key the model does not know. A task's unknown keys are only kept as they were: a
  file that had them before may keep them, unchanged;
- its texts are within bounds: a task's subject is one line (no line break of any kind,
  :meth:`str.splitlines`) of at most :data:`SUBJECT_MAX` characters; a description, a
  message's content, a plan, feedback or a reason at most :data:`TEXT_MAX` bytes
  (UTF-8); a ``run`` command at most :data:`RUN_MAX` bytes.

The operations refuse the same texts before writing (:func:`subject_refusal`,
:func:`text_refusal`, raised as :class:`~gitboard.board.errors.Invalid`), with the same
reasons, so the client and the server agree.
"""

from __future__ import annotations

from typing import Any, Mapping

from gitboard.board import layout
from gitboard.board.errors import BoardError, Invalid
from gitboard.board.message import Message
from gitboard.board.request import Request
from gitboard.board.task import Task, dump_json
from gitboard.board.roster import Team

#: Largest board file, in bytes.
FILE_MAX = 256 * 1024
#: Deepest nesting of JSON arrays and objects in a board file (a task file is 3 deep).
DEPTH_MAX = 16
#: Longest task subject, in characters (one line).
SUBJECT_MAX = 200
#: Longest description, message content, plan, feedback or reason, in bytes of UTF-8.
TEXT_MAX = 64 * 1024
#: Longest ``run`` command, in bytes of UTF-8.
RUN_MAX = 4 * 1024

_FORM = "gitboard's canonical form (keys in order, 2-space indent, UTF-8, one trailing newline)"


def subject_refusal(subject: str) -> str | None:
    """Why ``subject`` is no task subject (a line break, or more than :data:`SUBJECT_MAX`
    characters), or None."""
    if len(subject.splitlines()) > 1 or subject.endswith(("\n", "\r")):
        return "a subject is one line (no line breaks)"
    if len(subject) > SUBJECT_MAX:
        return f"a subject is at most {SUBJECT_MAX} characters, not {len(subject)}"
    return None


def text_refusal(what: str, text: str | None, limit: int = TEXT_MAX) -> str | None:
    """Why ``text`` (a description, content, plan, feedback, reason or run command, named by
    ``what``) is too long: more than ``limit`` bytes of UTF-8; None if it is not."""
    if text is None or len(text) * 4 <= limit:  # no UTF-8 encoding of it can be longer
        return None
    size = len(text.encode("utf-8", "surrogatepass"))
    return f"{what} is {size:,} bytes; the limit is {limit:,}" if size > limit else None


def check_subject_text(subject: str) -> None:
    """Raise :class:`Invalid` with :func:`subject_refusal`'s reason, if any."""
    why = subject_refusal(subject)
    if why:
        raise Invalid(why)


def check_text(what: str, text: str | None, limit: int = TEXT_MAX) -> None:
    """Raise :class:`Invalid` with :func:`text_refusal`'s reason, if any."""
    why = text_refusal(what, text, limit)
    if why:
        raise Invalid(why)


def check_size(what: str, data: bytes, value: Any) -> None:
    """Refuse a board file that gitboard is about to write, ``data`` (bytes) holding ``value``
    (parsed JSON), when it is over :data:`FILE_MAX` bytes or nests deeper than :data:`DEPTH_MAX`.

    Raises:
        Invalid: naming ``what`` (say ``task #3's file``), its size or depth, and the limit.
    """
    if len(data) > FILE_MAX:
        raise Invalid(f"{what} would be {len(data):,} bytes; a board file is at most {FILE_MAX:,}")
    if too_deep(value):
        raise Invalid(f"{what} would nest deeper than {DEPTH_MAX} levels of JSON")


def too_deep(value: Any, limit: int = DEPTH_MAX) -> bool:
    """True if ``value`` (parsed JSON) nests arrays and objects more than ``limit`` deep (a scalar
    is 0 deep, ``[]`` 1, ``{"a": []}`` 2); level by level, without recursion."""
    level = [value] if isinstance(value, (dict, list)) else []
    depth = 0
    while level:
        depth += 1
        if depth > limit:
            return True
        level = [child for v in level for child in (v.values() if isinstance(v, dict) else v)
                 if isinstance(child, (dict, list))]
    return False


def canonical_bytes(kind: str, value: Any, version: int = layout.FORMAT) -> bytes:
    """The bytes gitboard writes for a board file of ``kind`` (:data:`layout.KINDS`) holding ``value``
    (parsed JSON, or the :class:`Task` or :class:`Team` built from it).

    Raises:
        BoardError: ``value`` is no valid file of that kind.
    """
    if kind == layout.TASK:
        task = value if isinstance(value, Task) else Task.from_json(value)
        return task.to_bytes()
    if kind == layout.ROSTER:
        return dump_json((value if isinstance(value, Team) else Team.from_json(value)).to_json())
    if kind == layout.MESSAGE:
        return dump_json(Message.from_json(value).to_json())
    if kind == layout.REQUEST:
        return dump_json(Request.from_json(value).to_json())
    return layout.format_file(version)


def _texts(kind: str, value: Any) -> list[str]:
    """The reasons the texts of a valid file of ``kind`` are out of bounds."""
    out: list[str | None] = []
    if kind == layout.TASK:
        out += [subject_refusal(value.subject), text_refusal("the description", value.description),
                text_refusal("the run command", value.run, RUN_MAX)]
    elif kind == layout.MESSAGE:
        msg = Message.from_json(value)
        out += [text_refusal("the content", msg.content), text_refusal("the plan", msg.plan),
                text_refusal("the feedback", msg.feedback)]
    elif kind == layout.REQUEST:
        req = Request.from_json(value)
        out += [text_refusal("the plan", req.plan), text_refusal("the feedback", req.feedback),
                text_refusal("the reason", req.reason)]
    return [why for why in out if why]


def file_refusals(kind: str, data: bytes, value: Any, before: Any = None,
                  version: int = layout.FORMAT) -> list[str]:
    """Why the new bytes ``data`` of a board file of ``kind`` are not what gitboard writes (see
    the module docstring); empty if they are.

    Args:
        kind: the file's kind (:func:`gitboard.board.layout.classify`).
        data: its new bytes.
        value: its parsed value (a :class:`Task` for a task, a :class:`Team` for the roster, else JSON).
        before: the same file's value before the change (a task: its unknown keys may stay), or None.
        version: the board's format.
    """
    if len(data) > FILE_MAX:
        return [f"it is {len(data):,} bytes; a board file is at most {FILE_MAX:,}"]
    raw = value.to_json() if isinstance(value, (Task, Team)) else value
    if too_deep(raw):
        return [f"its JSON nests deeper than {DEPTH_MAX} levels"]
    if kind == layout.TASK and value.extra:
        kept = before.extra if isinstance(before, Task) else {}
        if list(value.extra.items()) != list(kept.items()):
            return [f"unknown key(s) {', '.join(sorted(value.extra))[:80]}"]
    try:
        if canonical_bytes(kind, value, version) != data:
            return [f"its bytes are not {_FORM}"]
    except BoardError as e:  # reported by the parse rules already
        return [e.message]
    return _texts(kind, value)


def check_files(data: Mapping[str, bytes | None], kinds: Mapping[str, str], after_value: Any,
                before_value: Any, version: int = layout.FORMAT) -> dict[str, list[str]]:
    """:func:`file_refusals` of every written file of ``data`` (path -> bytes, None for a deletion)
    whose kind ``kinds`` knows; ``after_value(path, kind)`` and ``before_value(path, kind)`` give
    its value after and before. Returns path -> reasons, for the files with any."""
    out: dict[str, list[str]] = {}
    for path, raw in data.items():
        kind = kinds.get(path)
        if raw is None or kind is None:
            continue
        found = file_refusals(kind, raw, after_value(path, kind), before_value(path, kind), version)
        if found:
            out[path] = found
    return out
