"""Inbox messages and their file format, ``.team/inbox/<name>/<h1>/<h2>/<time>-<id>.json``.

A message is one JSON object, one object per file::

    {"id": str, "type": one of MESSAGE_TYPES, "from": str, "to": str,
     "content": str, "timestamp": epoch seconds (float),
     "request_id": str,        # shutdown_* and plan_approval_* only
     "approve": bool,          # shutdown_response, plan_approval_response
     "feedback": str,          # plan_approval_response
     "plan": str}              # plan_approval_request

The optional keys are written only when set. Each message is its own file under
its recipient's inbox directory, fanned out into 256 subdirectories (see
:mod:`gitboard.board.layout`); the file name starts with the send time in
microseconds since the epoch, zero-padded, so the names sort oldest first
(see :func:`message_path`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from operator import itemgetter
from datetime import datetime, timezone
from typing import Any

from gitboard.board import layout
from gitboard.board.errors import Corrupt, Invalid

MESSAGE, BROADCAST = "message", "broadcast"
SHUTDOWN_REQUEST, SHUTDOWN_RESPONSE = "shutdown_request", "shutdown_response"
PLAN_REQUEST, PLAN_RESPONSE = "plan_approval_request", "plan_approval_response"

#: Every message type, in the issue's order.
MESSAGE_TYPES = (MESSAGE, BROADCAST, SHUTDOWN_REQUEST, SHUTDOWN_RESPONSE, PLAN_REQUEST, PLAN_RESPONSE)

#: Types that belong to a protocol request and must carry its ``request_id``.
PROTOCOL_TYPES = (SHUTDOWN_REQUEST, SHUTDOWN_RESPONSE, PLAN_REQUEST, PLAN_RESPONSE)

#: Types that answer a request and must carry ``approve``.
RESPONSE_TYPES = (SHUTDOWN_RESPONSE, PLAN_RESPONSE)

INBOX_DIR = layout.INBOX_DIR

#: Message and request ids: file-name safe, at most 100 characters (a uuid4 hex is 32).
ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,99}")

_OPTIONAL = ("request_id", "approve", "feedback", "plan")

#: The epoch seconds of 0001-01-01T00:00:00Z and 9999-12-31T23:59:59Z: the times a datetime holds.
_MIN_TS = datetime(1, 1, 1, tzinfo=timezone.utc).timestamp()
_MAX_TS = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone.utc).timestamp()


def check_id(value: Any, what: str = "message id") -> str:
    """Return ``value`` if it is a file-name-safe id (``[A-Za-z0-9][A-Za-z0-9_-]{0,99}``).

    Raises:
        Invalid: naming ``what`` and the value.
    """
    if not isinstance(value, str) or not ID_RE.fullmatch(value):
        raise Invalid(f"invalid {what} {value!r}: must match [A-Za-z0-9][A-Za-z0-9_-]{{0,99}}")
    return value


def check_type(value: Any) -> str:
    """Return ``value`` if it is one of :data:`MESSAGE_TYPES`; else raise Invalid (exit 2)."""
    if value not in MESSAGE_TYPES:
        raise Invalid(f"invalid message type {value!r}: expected one of {', '.join(MESSAGE_TYPES)}")
    return value


def message_path(to: str, timestamp: float, msg_id: str) -> str:
    """Return the board path of a message file: ``.team/inbox/<to>/<h1>/<h2>/<usec>-<msg_id>.json``.

    ``<usec>`` is ``timestamp`` (epoch seconds) in whole microseconds, zero-padded
    to 16 digits, so that a byte-wise sort of the file names is oldest first (ties
    broken by id); ``<h1>/<h2>`` is :func:`gitboard.board.layout.bucket` of the file name.
    """
    return layout.message_path(to, layout.message_file_name(int(round(timestamp * 1_000_000)), msg_id))


@dataclass(frozen=True, slots=True)
class Message:
    """One inbox message (see the module docstring for the file format).

    Attributes:
        id: unique id, chosen by the sender (a uuid4 hex; a broadcast appends ``-<recipient>``).
        type: one of :data:`MESSAGE_TYPES`.
        from_: the sender's name (JSON key ``"from"``).
        to: the recipient's name.
        content: the text.
        timestamp: when it was sent, epoch seconds.
        request_id: the protocol request it belongs to (protocol types only).
        approve: the answer of a shutdown_response or plan_approval_response.
        feedback: the lead's feedback in a plan_approval_response.
        plan: the plan text of a plan_approval_request.
    """

    id: str
    type: str
    from_: str
    to: str
    content: str
    timestamp: float
    request_id: str | None = None
    approve: bool | None = None
    feedback: str | None = None
    plan: str | None = None

    def to_json(self) -> dict:
        """Return the message object: id, type, from, to, content, timestamp, then the optional keys that are set."""
        d: dict[str, Any] = {"id": self.id, "type": self.type, "from": self.from_, "to": self.to,
                             "content": self.content, "timestamp": self.timestamp}
        for key in _OPTIONAL:
            value = getattr(self, key)
            if value is not None:
                d[key] = value
        return d

    @classmethod
    def from_json(cls, d: Any) -> "Message":
        """Build a message from its parsed file, checking the type of every field.

        ``d`` must be an object with str ``id``, ``type``, ``from``, ``to`` and
        ``content``, and a finite numeric ``timestamp`` that names a date;
        ``request_id``, ``feedback`` and ``plan`` must be str or null (or missing),
        ``approve`` a bool or null.

        Raises:
            Corrupt: ``d`` is not such an object (the message names the field).
        """
        if type(d) is dict and len(d) == 6 and cls is Message:  # the common message: no optional key
            try:
                ident, kind, sender, to, content, ts = _required(d)
            except KeyError:
                pass
            else:
                if (type(ident) is str and type(kind) is str and type(sender) is str and type(to) is str
                        and type(content) is str and (type(ts) is float or type(ts) is int)
                        and _MIN_TS <= ts <= _MAX_TS):
                    m = _new(Message)
                    _set_id(m, ident), _set_type(m, kind), _set_from(m, sender), _set_to(m, to)
                    _set_content(m, content), _set_timestamp(m, float(ts)), _set_request_id(m, None)
                    _set_approve(m, None), _set_feedback(m, None), _set_plan(m, None)
                    return m
        if not isinstance(d, dict):
            raise Corrupt("message is not a JSON object")
        get = d.get
        ident, kind, sender, to, content = get("id"), get("type"), get("from"), get("to"), get("content")
        ts = get("timestamp")
        request_id, approve, feedback, plan = get("request_id"), get("approve"), get("feedback"), get("plan")
        if not (isinstance(ident, str) and isinstance(kind, str) and isinstance(sender, str)
                and isinstance(to, str) and isinstance(content, str)
                and isinstance(ts, (int, float)) and not isinstance(ts, bool) and _MIN_TS <= ts <= _MAX_TS
                and (request_id is None or isinstance(request_id, str))
                and (feedback is None or isinstance(feedback, str)) and (plan is None or isinstance(plan, str))
                and (approve is None or isinstance(approve, bool))):
            _raise_corrupt(d)
        if cls is not Message:
            return cls(id=ident, type=kind, from_=sender, to=to, content=content, timestamp=float(ts),
                       request_id=request_id, approve=approve, feedback=feedback, plan=plan)
        # equal to Message(...), built through the slots' descriptors: half the cost of the
        # frozen dataclass's __init__ (a drain of 1,000 messages builds 1,000 of them)
        m = _new(Message)
        _set_id(m, ident), _set_type(m, kind), _set_from(m, sender), _set_to(m, to), _set_content(m, content)
        _set_timestamp(m, float(ts)), _set_request_id(m, request_id), _set_approve(m, approve)
        _set_feedback(m, feedback), _set_plan(m, plan)
        return m


def _raise_corrupt(d: dict) -> None:
    """Raise the :class:`Corrupt` naming the first field of ``d`` that is not a valid message field."""
    for key in ("id", "type", "from", "to", "content"):
        if not isinstance(d.get(key), str):
            raise Corrupt(f"message {key} is not a string")
    ts = d.get("timestamp")
    if not isinstance(ts, (int, float)) or isinstance(ts, bool):
        raise Corrupt("message timestamp is not a number")
    if not _MIN_TS <= ts <= _MAX_TS:  # NaN, infinities and times outside years 1-9999 cannot be shown or sorted
        raise Corrupt(f"message timestamp {ts!r:.40} is not a time")
    for key in ("request_id", "feedback", "plan"):
        value = d.get(key)
        if value is not None and not isinstance(value, str):
            raise Corrupt(f"message {key} is not a string or null")
    raise Corrupt("message approve is not a boolean")


_new = object.__new__
_required = itemgetter("id", "type", "from", "to", "content", "timestamp")
(_set_id, _set_type, _set_from, _set_to, _set_content, _set_timestamp, _set_request_id, _set_approve,
 _set_feedback, _set_plan) = (Message.__dict__[f.name].__set__ for f in fields(Message))
