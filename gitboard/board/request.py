"""Protocol requests and their file format, ``.team/requests/<h1>/<h2>/<request_id>.json``.

A request is the board's record of one shutdown or plan-approval exchange
(named by its request_id, kept on the board so every machine sees it)::

    shutdown: {"request_id", "kind": "shutdown", "from", "to",
               "status": "pending"|"approved"|"rejected",
               "created_at", "updated_at", "reason"}
    plan:     {"request_id", "kind": "plan", "from", "to", "status",
               "created_at", "updated_at", "feedback", "plan"}

Times are ISO-8601 UTC. ``reason`` is the teammate's reason for its answer
(the requester's reason travels in the shutdown_request message); ``feedback``
is the lead's answer to a plan. Both are "" while the request is pending. The
only legal transition is pending -> approved or rejected.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from gitboard.board import layout
from gitboard.board.errors import BoardError, Corrupt, Invalid
from gitboard.board.snapshot import Board

REQUESTS_DIR = layout.REQUESTS_DIR
SHUTDOWN, PLAN = "shutdown", "plan"
KINDS = (SHUTDOWN, PLAN)
PENDING, APPROVED, REJECTED = "pending", "approved", "rejected"
REQUEST_STATUSES = (PENDING, APPROVED, REJECTED)


def request_path(request_id: str) -> str:
    """Return the board path of a request: ``.team/requests/<h1>/<h2>/<request_id>.json`` (see :mod:`gitboard.board.layout`)."""
    return layout.request_path(request_id)


@dataclass(frozen=True, slots=True)
class Request:
    """One protocol request (see the module docstring for the file format).

    Attributes:
        request_id: unique id, chosen by the requester (a uuid4 hex).
        kind: ``shutdown`` or ``plan``.
        from_: who asked (JSON key ``"from"``): the lead for a shutdown, the teammate for a plan.
        to: who must answer.
        status: ``pending``, ``approved`` or ``rejected``.
        created_at, updated_at: ISO-8601 UTC.
        reason: a shutdown answer's reason ("" while pending).
        feedback: the answer to a plan ("" while pending).
        plan: the plan text (plan requests).
    """

    request_id: str
    kind: str
    from_: str
    to: str
    status: str = PENDING
    created_at: str = ""
    updated_at: str = ""
    reason: str = ""
    feedback: str = ""
    plan: str | None = None

    @property
    def answered(self) -> bool:
        """True once the request is approved or rejected."""
        return self.status != PENDING

    def to_json(self) -> dict:
        """Return the request object in file key order (``reason`` for shutdown; ``feedback``, ``plan`` for plan)."""
        d: dict[str, Any] = {"request_id": self.request_id, "kind": self.kind, "from": self.from_, "to": self.to,
                             "status": self.status, "created_at": self.created_at, "updated_at": self.updated_at}
        if self.kind == SHUTDOWN:
            d["reason"] = self.reason
        else:
            d["feedback"] = self.feedback
            d["plan"] = self.plan
        return d

    @classmethod
    def from_json(cls, d: Any) -> "Request":
        """Build a request from its parsed file, checking the type of every field.

        ``d`` must be an object with str ``request_id``, ``from`` and ``to``, a
        ``kind`` in :data:`KINDS` and a ``status`` in :data:`REQUEST_STATUSES`;
        ``created_at``, ``updated_at``, ``reason``, ``feedback`` and ``plan`` must
        be str or null (or missing: "" for the first four, None for ``plan``).

        Raises:
            Corrupt: not an object, or a missing/ill-typed field (the message names it).
        """
        if not isinstance(d, dict):
            raise Corrupt("request is not a JSON object")
        for key in ("request_id", "from", "to"):
            if not isinstance(d.get(key), str):
                raise Corrupt(f"request {key} is not a string")
        kind, status = d.get("kind"), d.get("status")
        if not isinstance(kind, str) or kind not in KINDS:
            raise Corrupt(f"unknown request kind {kind!r:.40}")
        if not isinstance(status, str) or status not in REQUEST_STATUSES:
            raise Corrupt(f"unknown request status {status!r:.40}")
        for key in ("created_at", "updated_at", "reason", "feedback", "plan"):
            value = d.get(key)
            if value is not None and not isinstance(value, str):
                raise Corrupt(f"request {key} is not a string or null")
        return cls(request_id=d["request_id"], kind=kind, from_=d["from"], to=d["to"], status=status,
                   created_at=d.get("created_at") or "", updated_at=d.get("updated_at") or "",
                   reason=d.get("reason") or "", feedback=d.get("feedback") or "", plan=d.get("plan"))

    def evolve(self, **changes: Any) -> "Request":
        """Return a copy with ``changes`` applied."""
        return replace(self, **changes)


def request_of(board: Board, request_id: str) -> Request | None:
    """Return request ``request_id`` from ``board``, or None.

    Raises:
        Corrupt: its file exists but is not a valid request.
    """
    path = board.path_of_request(request_id)
    if path in board.corrupt:
        raise Corrupt(f"{path} is corrupt: {board.corrupt[path]}")
    value = board.docs.get(path)
    if value is None:
        return None
    try:
        req = Request.from_json(value)
    except Corrupt as e:
        raise Corrupt(f"{path} is corrupt: {e.message}") from None
    if req.request_id != request_id:
        raise Corrupt(f"{path}: request_id {req.request_id!r} does not match the file name")
    return req


def requests_of(board: Board, kind: str | None = None) -> list[Request]:
    """Return every valid request on ``board`` (of ``kind`` if given), oldest first (created_at, then id).

    Corrupt request files are skipped (see :func:`corrupt_requests`).
    """
    out: list[Request] = []
    for path in board.request_paths():
        if path not in board.docs:
            continue
        try:
            req = Request.from_json(board.docs[path])
        except BoardError:
            continue
        if kind is None or req.kind == kind:
            out.append(req)
    out.sort(key=lambda r: (r.created_at, r.request_id))
    return out


def corrupt_requests(board: Board) -> dict[str, str]:
    """Return path -> reason for request files that do not parse or validate."""
    out: dict[str, str] = {}
    for path in board.request_paths():
        if path in board.corrupt:
            out[path] = board.corrupt[path]
            continue
        try:
            Request.from_json(board.docs[path])
        except BoardError as e:
            out[path] = e.message
    return out


def resolve_id(board: Board, request_id: str, kind: str | None = None) -> str:
    """Return the full id of the request (of ``kind``, if given) named by ``request_id`` or by a
    unique prefix of it (4 characters or more); an unknown id is returned as given, for the
    operation to refuse.

    Raises:
        Invalid: the prefix matches more than one request.
    """
    ids = [r.request_id for r in requests_of(board, kind)]
    if request_id in ids or len(request_id) < 4:
        return request_id
    matches = [i for i in ids if i.startswith(request_id)]
    if len(matches) > 1:
        raise Invalid(f"request id prefix {request_id!r} is ambiguous: {', '.join(matches[:5])}")
    return matches[0] if matches else request_id
