"""Pure operations on inboxes: send, broadcast, drain, and the read-only peek.

Layout: one file per message, ``.team/inbox/<name>/<h1>/<h2>/<usec>-<id>.json`` (see
:mod:`gitboard.board.message` and :mod:`gitboard.board.layout`). A send is a commit that adds one file; a drain
is a commit that deletes exactly the files it returns. Because every commit is
a compare-and-swap on the board tip, two drains can never both return the same
file (the loser re-reads a tree without it), and a send can never be erased by
a drain that did not see it (the drain deletes named files, not "the inbox").
So every message reaches exactly one drain.

Operations follow :mod:`gitboard.board.task_ops`: ``op(board, now, **params)
-> Change | NoChange``, pure, ids chosen by the caller so that a retried
transaction writes the same message.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from gitboard.board.canonical import check_text
from gitboard.board.change import REQUEST, Change, NoChange, trailers
from gitboard.board.errors import Conflict, Invalid, NotFound
from gitboard.board.message import (
    BROADCAST, MESSAGE, PROTOCOL_TYPES, RESPONSE_TYPES, Message, check_id, check_type, message_path,
)
from gitboard.board.names import LEAD, check_name
from gitboard.board.permits import drain_refusal
from gitboard.board.snapshot import Board
from gitboard.board.task import dump_json


def is_recipient(board: Board, name: str) -> bool:
    """True if ``name`` may receive messages: the lead, or a member on the roster."""
    return name == LEAD or board.team.member(name) is not None


def check_recipient(board: Board, name: str) -> str:
    """Return ``name`` if it is a valid name and a known recipient.

    Raises:
        Invalid: a malformed name. NotFound: not the lead and not on the roster.
    """
    check_name(name, "recipient")
    if not is_recipient(board, name):
        raise NotFound(f"unknown recipient {name!r}: not on the roster (add it with 'gitboard team add {name}')")
    return name


def _inbox(board: Board, name: str) -> tuple[list[str], list[Message], dict[str, str]]:
    """Return (paths of the valid messages sorted by file name, those messages in the same order,
    corrupt path -> reason)."""
    everything = board.inbox_paths(name)  # oldest first
    parsed = board.messages_at(everything)
    if str not in set(map(type, parsed)):  # the usual inbox: all of it, without a loop in Python
        return everything, parsed, {}  # type: ignore[return-value]
    paths: list[str] = []
    messages: list[Message] = []
    corrupt: dict[str, str] = {}
    for path, found in zip(everything, parsed):
        if type(found) is str:
            corrupt[path] = found
        else:
            paths.append(path)
            messages.append(found)
    return paths, messages, corrupt


def peek(board: Board, name: str) -> list[Message]:
    """Return the messages in ``name``'s inbox, oldest first, without removing them.

    Files that do not parse as messages are skipped (see :func:`corrupt_messages`).
    """
    return _inbox(board, name)[1]


def corrupt_messages(board: Board, name: str) -> dict[str, str]:
    """Return path -> reason for the files in ``name``'s inbox that are not valid messages.

    They are never returned by :func:`peek` or removed by :func:`drain`.
    """
    return _inbox(board, name)[2]


def inbox_names(board: Board) -> list[str]:
    """Return the names that have an inbox directory with at least one file, sorted."""
    return board.inbox_names()


def compose(board: Board, now: datetime, *, sender: str, to: str, content: str, msg_id: str,
            type: str = MESSAGE, request_id: str | None = None, approve: bool | None = None,
            feedback: str | None = None, plan: str | None = None, check_to: bool = True) -> tuple[str, Message]:
    """Validate one message and return ``(board path, message)``; writes nothing.

    Used by :func:`send`, :func:`broadcast` and the protocol operations, so that
    every message on the board is checked the same way. ``check_to=False``
    skips the roster check of the recipient (an answer to a requester who has
    since left the roster); its name is still checked.

    Raises:
        Invalid: bad sender/recipient name or id, unknown type, empty content of a
            message or broadcast, a protocol type without ``request_id``, a
            response without ``approve``, a content, plan or feedback over
            :data:`~gitboard.board.canonical.TEXT_MAX` bytes.
        NotFound: the recipient is not the lead and not on the roster.
    """
    check_name(sender, "sender")
    check_type(type)
    if check_to:
        check_recipient(board, to)
    else:
        check_name(to, "recipient")
    check_id(msg_id)
    if not isinstance(content, str):
        raise Invalid("message content must be a string")
    if type in (MESSAGE, BROADCAST) and not content.strip():
        raise Invalid("message text must not be empty")
    check_text("the content", content)
    check_text("the plan", plan)
    check_text("the feedback", feedback)
    if type in PROTOCOL_TYPES:
        if request_id is None:
            raise Invalid(f"a {type} needs a request_id (use 'gitboard stop' or 'gitboard plan')")
        check_id(request_id, "request_id")
    elif request_id is not None:
        check_id(request_id, "request_id")
    if type in RESPONSE_TYPES and not isinstance(approve, bool):
        raise Invalid(f"a {type} needs approve true or false")
    ts = now.timestamp()
    msg = Message(id=msg_id, type=type, from_=sender, to=to, content=content, timestamp=ts,
                  request_id=request_id, approve=approve, feedback=feedback, plan=plan)
    return message_path(to, ts, msg_id), msg


def _existing(board: Board, to: str, msg_id: str) -> Message | None:
    """The message ``msg_id`` if it is still in ``to``'s inbox (a retried send), else None."""
    suffix = f"-{msg_id}.json"
    for path in board.inbox_paths(to):  # the file names only: a send costs no parse of the whole inbox
        if path.endswith(suffix):
            m = board.messages_at([path])[0]  # parsed once, when it arrived
            if type(m) is Message and m.id == msg_id:
                return m
    return None


def send(board: Board, now: datetime, *, sender: str, to: str, content: str, msg_id: str,
         type: str = MESSAGE, request_id: str | None = None, approve: bool | None = None,
         feedback: str | None = None, plan: str | None = None) -> Change | NoChange:
    """Put one message in ``to``'s inbox: a commit adding one file (action ``send``).

    ``msg_id`` is chosen by the caller (a uuid4 hex), so a retried transaction
    writes the same message; sending an id that is still in the inbox changes
    nothing and returns that message. The result is the :class:`Message`.

    Raises:
        Invalid: bad name, id or type, empty text, a protocol type without its fields.
        NotFound: unknown recipient (not the lead and not on the roster).
    """
    path, msg = compose(board, now, sender=sender, to=to, content=content, msg_id=msg_id, type=type,
                        request_id=request_id, approve=approve, feedback=feedback, plan=plan)
    old = _existing(board, to, msg_id)
    if old is not None:
        return NoChange(old)
    extra = ((REQUEST, request_id),) if request_id else ()
    return Change({path: dump_json(msg.to_json())}, f"send {type} to {to} by {sender}",
                  trailers("send", sender, None, *extra), result=msg)


def broadcast_recipients(board: Board, sender: str) -> list[str]:
    """Return who a broadcast by ``sender`` reaches: the lead and every roster member, minus the sender, in roster order (lead first)."""
    names = [LEAD] + [m.name for m in board.team.members if m.name != LEAD]
    return [n for n in names if n != sender]


def broadcast(board: Board, now: datetime, *, sender: str, content: str, msg_id: str) -> Change | NoChange:
    """Send one ``broadcast`` message to everyone but the sender, in one commit (action ``broadcast``).

    Recipients are the lead and every member on the roster (whatever its
    status), except ``sender``. Recipient ``name`` gets the id
    ``f"{msg_id}-{name}"``. The result is the list of messages, in recipient
    order; with nobody to send to it is ``NoChange([])``.

    Raises:
        Invalid: bad sender name or id, empty text.
    """
    check_name(sender, "sender")
    check_id(msg_id)
    writes: dict[str, bytes | None] = {}
    sent: list[Message] = []
    for name in broadcast_recipients(board, sender):
        path, msg = compose(board, now, sender=sender, to=name, content=content, msg_id=f"{msg_id}-{name}",
                            type=BROADCAST)
        writes[path] = dump_json(msg.to_json())
        sent.append(msg)
    if not sent:
        if not isinstance(content, str) or not content.strip():
            raise Invalid("message text must not be empty")
        return NoChange([])
    return Change(writes, f"broadcast to {len(sent)} by {sender}", trailers("broadcast", sender), result=sent)


def drain(board: Board, now: datetime, *, name: str, actor: str | None = None,
          ids: Sequence[str] | None = None) -> Change | NoChange:
    """Read and remove every message in ``name``'s inbox: a commit deleting exactly those files (action ``drain``).

    ``actor`` is who drains it, named in the ``Gitboard-Actor`` trailer (and so the
    commit's fallback author); None means ``name`` itself (a teammate draining its
    own inbox). Only the recipient and the lead may drain an inbox
    (:func:`~gitboard.board.rules.drain_refusal`).
    ``ids`` (message ids) removes only those messages: an acknowledged read, after a
    :func:`peek` that showed them; ids no longer in the inbox are skipped, so repeating
    an acknowledgement changes nothing.
    The result is the list of messages removed, oldest first; an empty inbox (or no
    listed id in it) is ``NoChange([])``. Files that are not valid messages are left in place.

    Raises:
        Invalid: a malformed ``name``, ``actor`` or id.
        Conflict: ``actor`` is neither ``name`` nor the lead.
    """
    check_name(name)
    actor = name if actor is None else check_name(actor, "actor")
    if isinstance(ids, (str, bytes)):
        raise Invalid("message ids must be a list of ids, not one string")
    wanted = None if ids is None else {check_id(i) for i in ids}
    why = drain_refusal(name, actor)
    if why:
        raise Conflict(why)
    paths, messages, _ = _inbox(board, name)
    if wanted is not None:
        kept = [(p, m) for p, m in zip(paths, messages) if m.id in wanted]
        paths, messages = [p for p, _ in kept], [m for _, m in kept]
    if not paths:
        return NoChange([])
    writes: dict[str, bytes | None] = dict.fromkeys(paths)
    n = len(paths)
    subject = f"drain {n} message{'s' if n != 1 else ''} of {name}" + (f" by {actor}" if actor != name else "")
    return Change(writes, subject, trailers("drain", actor), result=messages)


def message_json(messages: list[Message]) -> list[dict[str, Any]]:
    """Return the ``--json`` array of ``messages`` (message objects, in the given order)."""
    return [m.to_json() for m in messages]
