"""The task model and its file format, ``.tasks/<a>/<b>/task_<id>.json`` (see :mod:`gitboard.board.layout`).

The file is a superset of the seed's task format (id, subject, description,
status, owner, blockedBy). Keys are written in :data:`TASK_KEYS` order with a
2-space indent and a trailing newline, so that ``git log -p gitboard`` reads
well::

    {"id": int, "subject": str, "description": str,
     "status": "pending"|"in_progress"|"completed"|"merged"|"failed",
     "owner": str ("" when unowned), "blockedBy": [int],
     "created_at": ISO-8601 UTC, "updated_at": ISO-8601 UTC,
     "claimed_at": ISO-8601 UTC or null, "lease_expires_at": ISO-8601 UTC or null,
     "run": shell command or null, "role": role a claimer must have, or null,
     "result": object or null,
     "review": null or {"verdict": "approved", "by", "at", "note", "commit" (optional)},
     "rework": [{"reason": "review"|"conflict"|"check", "by", "at", "feedback", "base", "run" (optional)}]}

``review`` and ``rework`` (see :mod:`gitboard.board.review_ops`) are written
only once a task has been reviewed or reworked; a file without them means
``null`` and ``[]``. ``result.merge`` is set by the merge queue when the task
becomes ``merged``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any, Mapping

from gitboard.board import layout
from gitboard.board.clock import parse_iso
from gitboard.board.errors import Corrupt

PENDING, IN_PROGRESS, COMPLETED, FAILED = "pending", "in_progress", "completed", "failed"
#: Delivered into the base branch by the merge queue (``gitboard merge``); a terminal status.
MERGED = "merged"
STATUSES = (PENDING, IN_PROGRESS, COMPLETED, MERGED, FAILED)
#: Statuses that count as done for ``blockedBy``.
DONE = (COMPLETED, MERGED)
#: Statuses a task never leaves by a claim: completed, merged, failed.
FINISHED = (COMPLETED, MERGED, FAILED)

TASKS_DIR = layout.TASKS_DIR

TASK_KEYS = (
    "id", "subject", "description", "status", "owner", "blockedBy",
    "created_at", "updated_at", "claimed_at", "lease_expires_at",
    "run", "role", "result",
)

#: The review keys, written after :data:`TASK_KEYS` once set (see the module docstring).
REVIEW_KEYS = ("review", "rework")


def task_path(task_id: int) -> str:
    """Return the board path of a task's file, ``.tasks/<a>/<b>/task_<id>.json`` (see :func:`layout.task_path`)."""
    return layout.task_path(task_id)


def dump_json(obj: Any) -> bytes:
    """Serialise a board document: 2-space indent, key order kept, UTF-8, trailing newline."""
    return (json.dumps(obj, indent=2, ensure_ascii=False) + "\n").encode()


def _is_int(value: Any) -> bool:
    """True for a JSON integer (a Python int that is not a bool)."""
    return isinstance(value, int) and not isinstance(value, bool)


def _show(value: Any) -> str:
    """``repr(value)``, cut to 40 characters: a bad field's value in a one-line error."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _get(d: dict, key: str, default: Any) -> Any:
    """``d[key]``, or ``default`` when the key is missing or null."""
    value = d.get(key)
    return default if value is None else value


def _str_field(d: dict, key: str) -> str:
    """``d[key]`` if it is a str; "" when missing or null.

    Raises:
        Corrupt: any other type.
    """
    value = _get(d, key, "")
    if not isinstance(value, str):
        raise Corrupt(f"{key} is not a string: {_show(value)}")
    return value


def _optional_str_field(d: dict, key: str) -> str | None:
    """``d[key]`` if it is a str, None when missing or null.

    Raises:
        Corrupt: any other type.
    """
    value = d.get(key)
    if value is not None and not isinstance(value, str):
        raise Corrupt(f"{key} is not a string or null: {_show(value)}")
    return value


class _Memo:
    """A private slot, not a field: the task's JSON text once :meth:`Task.to_json_text` made it."""

    __slots__ = ("_json_text",)


@dataclass(frozen=True, slots=True)
class Task(_Memo):
    """One task on the board. Field meanings follow the module docstring; times are ISO-8601 UTC strings."""

    id: int
    subject: str
    description: str = ""
    status: str = PENDING
    owner: str = ""
    blockedBy: tuple[int, ...] = ()
    created_at: str = ""
    updated_at: str = ""
    claimed_at: str | None = None
    lease_expires_at: str | None = None
    run: str | None = None
    role: str | None = None
    result: Any = None
    review: Any = None
    rework: tuple[Any, ...] = ()
    extra: Mapping[str, Any] = field(default_factory=dict, compare=False)

    def to_json(self) -> dict:
        """Return the task as a JSON object with keys in file order (unknown keys kept, last)."""
        d = {
            "id": self.id, "subject": self.subject, "description": self.description,
            "status": self.status, "owner": self.owner, "blockedBy": list(self.blockedBy),
            "created_at": self.created_at, "updated_at": self.updated_at,
            "claimed_at": self.claimed_at, "lease_expires_at": self.lease_expires_at,
            "run": self.run, "role": self.role, "result": self.result,
        }
        if self.review is not None or self.rework:
            d["review"] = self.review
            d["rework"] = list(self.rework)
        d.update(self.extra)
        return d

    def to_json_text(self) -> str:
        """Return ``json.dumps(self.to_json(), ensure_ascii=False)``, computed once per task.

        ``task list --json`` joins these instead of encoding 10,000 objects on every run;
        the parse cache keeps the text next to the task.
        """
        try:
            return self._json_text
        except AttributeError:
            text = json.dumps(self.to_json(), ensure_ascii=False)
            object.__setattr__(self, "_json_text", text)
            return text

    def to_bytes(self) -> bytes:
        """Return the task file's exact bytes (see :func:`dump_json`)."""
        return dump_json(self.to_json())

    @classmethod
    def from_json(cls, d: Any) -> "Task":
        """Build a task from a parsed task file, checking the type of every field.

        ``d`` must be a JSON object with ``id`` (int >= 1) and ``subject`` (str).
        ``status``, if present, must be one of :data:`STATUSES` (missing means
        pending). The other keys may be missing or null, which gives their
        defaults; when set they must be: ``description``, ``owner``,
        ``created_at``, ``updated_at`` str; ``blockedBy`` a list of ints;
        ``claimed_at``, ``run``, ``role`` str; ``lease_expires_at`` an ISO-8601
        str. ``review`` null or an object whose ``verdict`` is
        ``approved``; ``rework`` a list of objects. ``result`` and unknown keys
        may hold any JSON.

        Raises:
            Corrupt: ``d`` is not an object, a required key is missing, or a
                field has the wrong type or value (the message names the field).
        """
        if not isinstance(d, dict):
            raise Corrupt("task file is not a JSON object")
        try:
            tid = d["id"]
            subject = d["subject"]
        except KeyError as e:
            raise Corrupt(f"malformed task: missing key {e!s}") from None
        if not _is_int(tid) or tid < 1:
            raise Corrupt(f"bad id {_show(tid)}")
        if not isinstance(subject, str):
            raise Corrupt("subject is not a string")
        status = d.get("status", PENDING)
        if not isinstance(status, str) or status not in STATUSES:
            raise Corrupt(f"unknown status {_show(status)}")
        blocked = _get(d, "blockedBy", [])
        if not isinstance(blocked, list) or not all(_is_int(b) for b in blocked):
            raise Corrupt("blockedBy is not a list of ids")
        description, owner, created_at, updated_at = (
            _str_field(d, key) for key in ("description", "owner", "created_at", "updated_at"))
        claimed_at, lease, run, role = (
            _optional_str_field(d, key) for key in ("claimed_at", "lease_expires_at", "run", "role"))
        if lease is not None:
            try:
                parse_iso(lease)
            except ValueError:
                raise Corrupt(f"malformed task: lease_expires_at {_show(lease)} is not ISO-8601") from None
        review = d.get("review")
        if review is not None and not (isinstance(review, dict) and review.get("verdict") == "approved"):
            raise Corrupt(f"review is not null or an approval: {_show(review)}")
        rework = _get(d, "rework", [])
        if not isinstance(rework, list) or not all(isinstance(r, dict) for r in rework):
            raise Corrupt("rework is not a list of objects")
        extra = {k: v for k, v in d.items() if k not in TASK_KEYS and k not in REVIEW_KEYS}
        return cls(
            id=tid, subject=subject, description=description,
            status=status, owner=owner, blockedBy=tuple(blocked),
            created_at=created_at, updated_at=updated_at,
            claimed_at=claimed_at, lease_expires_at=lease,
            run=run, role=role, result=d.get("result"), review=review, rework=tuple(rework), extra=extra,
        )

    def lease_expired(self, now: datetime) -> bool:
        """True if the task has a lease and it ended at or before ``now``."""
        return self.lease_expires_at is not None and parse_iso(self.lease_expires_at) <= now

    def evolve(self, **changes: Any) -> "Task":
        """Return a copy with ``changes`` applied (dataclasses.replace)."""
        return replace(self, **changes)


#: Task's dataclass fields, in order: the layout of :func:`task_record`.
TASK_FIELDS = TASK_KEYS + REVIEW_KEYS + ("extra",)
# the slots' own setters: they fill a new, still empty task without the frozen __setattr__
(_set_id, _set_subject, _set_description, _set_status, _set_owner, _set_blocked_by, _set_created_at,
 _set_updated_at, _set_claimed_at, _set_lease, _set_run, _set_role, _set_result, _set_review, _set_rework,
 _set_extra) = (
    Task.__dict__[name].__set__ for name in TASK_FIELDS)
_set_json_text = _Memo.__dict__["_json_text"].__set__


def task_record(task: Task) -> tuple:
    """Return ``task``'s field values in :data:`TASK_FIELDS` order, as plain data (for the parse cache)."""
    return (task.id, task.subject, task.description, task.status, task.owner, task.blockedBy,
            task.created_at, task.updated_at, task.claimed_at, task.lease_expires_at,
            task.run, task.role, task.result, task.review, task.rework, dict(task.extra))


def task_from_record(record: tuple, json_text: str | None = None) -> Task:
    """Rebuild a task from :func:`task_record` without validating it again (about 2 µs, a
    third of ``Task(...)``); ``json_text``, if given, must be its :meth:`Task.to_json_text`.

    Only for records made from a validated task (the parse cache).
    """
    (id_, subject, description, status, owner, blocked_by, created_at, updated_at,
     claimed_at, lease, run, role, result, review, rework, extra) = record
    task = object.__new__(Task)
    _set_id(task, id_)
    _set_subject(task, subject)
    _set_description(task, description)
    _set_status(task, status)
    _set_owner(task, owner)
    _set_blocked_by(task, blocked_by)
    _set_created_at(task, created_at)
    _set_updated_at(task, updated_at)
    _set_claimed_at(task, claimed_at)
    _set_lease(task, lease)
    _set_run(task, run)
    _set_role(task, role)
    _set_result(task, result)
    _set_review(task, review)
    _set_rework(task, tuple(rework))
    _set_extra(task, extra)
    if json_text is not None:
        _set_json_text(task, json_text)
    return task
