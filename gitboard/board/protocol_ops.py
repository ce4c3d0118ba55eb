"""Pure operations of the two request protocols: shutdown and plan approval.

Each step is one commit that writes the request record
(``.team/requests/<h1>/<h2>/<request_id>.json``, see :mod:`gitboard.board.request`) and
the protocol message in the other side's inbox together::

    request_shutdown  lead -> teammate   shutdown_request        request pending
    respond_shutdown  teammate -> lead   shutdown_response       approved|rejected (+ member shutdown)
    request_plan      teammate -> lead   plan_approval_request   request pending
    respond_plan      lead -> teammate   plan_approval_response  approved|rejected

Commits carry ``Gitboard-Action: shutdown-request|shutdown-response|plan-request|plan-response``
and ``Gitboard-Request: <request_id>``. The only legal transition is pending ->
approved or rejected: answering an unknown request raises NotFound (exit 4),
answering an answered one raises Conflict (exit 3), and nothing changes.

Ids (``request_id``, ``msg_id``) are chosen by the caller (uuid4 hex), so a
transaction that is retried after a lost race writes the same records.
"""

from __future__ import annotations

from datetime import datetime

from gitboard.board.change import REQUEST, Change, NoChange, trailers
from gitboard.board.clock import iso
from gitboard.board.errors import Conflict, Invalid, NotFound
from gitboard.board.inbox_ops import compose
from gitboard.board.message import (
    PLAN_REQUEST, PLAN_RESPONSE, SHUTDOWN_REQUEST, SHUTDOWN_RESPONSE, Message, check_id,
)
from gitboard.board.names import check_name
from gitboard.board.permits import answer_refusal
from gitboard.board.request import APPROVED, PENDING, PLAN, REJECTED, SHUTDOWN, Request, request_of, request_path
from gitboard.board.snapshot import Board
from gitboard.board.task import dump_json
from gitboard.board.roster import CONFIG_PATH
from gitboard.board.roster_ops import SHUTDOWN as MEMBER_SHUTDOWN


def _new_request(board: Board, request: Request) -> Request | None:
    """Return the request already recorded under ``request.request_id`` if it is the same
    exchange (a retried transaction), None if the id is free.

    Raises:
        Conflict: the id is taken by a different request.
    """
    old = request_of(board, request.request_id)
    if old is None:
        return None
    if (old.kind, old.from_, old.to) == (request.kind, request.from_, request.to):
        return old
    raise Conflict(f"request id {request.request_id!r} is already used by another request")


def _pending(board: Board, request_id: str, kind: str, sender: str, approve: object) -> Request:
    """Return the pending request ``sender`` may answer.

    Raises:
        Invalid: bad sender name, approve not a bool.
        NotFound: no request of ``kind`` with that id.
        Conflict: already answered, or addressed to someone else.
    """
    check_name(sender, "sender")
    if not isinstance(approve, bool):
        raise Invalid("approve must be true or false")
    label = "shutdown request" if kind == SHUTDOWN else "plan request"
    req = request_of(board, request_id) if isinstance(request_id, str) and request_id else None
    if req is None or req.kind != kind:
        raise NotFound(f"no {label} {request_id!r}")
    why = answer_refusal(req, sender)
    if why:
        raise Conflict(why)
    return req


def _answer_message(board: Board, now: datetime, req: Request, *, sender: str, msg_id: str, type: str,
                    approve: bool, content: str, feedback: str | None = None) -> tuple[str, Message]:
    """Compose the answer to ``req.from_``. The requester was checked when it asked, so
    the answer reaches it even if it has since left the roster."""
    path, msg = compose(board, now, sender=sender, to=req.from_, content=content, msg_id=msg_id, type=type,
                        request_id=req.request_id, approve=approve, feedback=feedback, check_to=False)
    return path, msg


def request_shutdown(board: Board, now: datetime, *, sender: str, to: str, request_id: str, msg_id: str,
                     reason: str = "") -> Change | NoChange:
    """Ask member ``to`` to shut down (action ``shutdown-request``); the result is the pending :class:`Request`.

    One commit writes the request record (kind ``shutdown``, from ``sender``)
    and a ``shutdown_request`` message in ``to``'s inbox whose content is
    ``reason`` (or "please shut down"). Repeating the same request id for the
    same exchange changes nothing.

    Raises:
        Invalid: bad names or ids.
        NotFound: ``to`` is not on the roster.
        Conflict: ``to`` is already shut down, or the request id is taken.
    """
    check_name(sender, "sender")
    check_name(to, "member")
    check_id(request_id, "request_id")
    member = board.team.member(to)
    if member is None:
        raise NotFound(f"no member named {to!r} on the roster")
    ts = iso(now)
    req = Request(request_id=request_id, kind=SHUTDOWN, from_=sender, to=to, status=PENDING,
                  created_at=ts, updated_at=ts)
    old = _new_request(board, req)
    if old is not None:
        return NoChange(old)
    if member.status == MEMBER_SHUTDOWN:
        raise Conflict(f"{to} is already shut down")
    path, msg = compose(board, now, sender=sender, to=to, content=reason or "please shut down", msg_id=msg_id,
                        type=SHUTDOWN_REQUEST, request_id=request_id)
    writes = {request_path(request_id): dump_json(req.to_json()), path: dump_json(msg.to_json())}
    return Change(writes, f"shutdown-request to {to} by {sender}",
                  trailers("shutdown-request", sender, None, (REQUEST, request_id)), result=req,
                  body=reason.strip())


def respond_shutdown(board: Board, now: datetime, *, sender: str, request_id: str, approve: bool,
                     reason: str = "", msg_id: str) -> Change:
    """Answer a shutdown request (action ``shutdown-response``); the result is the answered :class:`Request`.

    One commit sets the request's status (approved or rejected) and ``reason``,
    puts a ``shutdown_response`` message (``approve``, ``request_id``, content
    ``reason`` or "approved"/"rejected") in the requester's inbox, and, when
    approving, sets the member's roster status to ``shutdown`` with no task.

    Raises:
        Invalid: bad sender name or message id, approve not a bool.
        NotFound: no shutdown request ``request_id``.
        Conflict: already answered, or ``sender`` is not the member it asked.
    """
    req = _pending(board, request_id, SHUTDOWN, sender, approve)
    ts = iso(now)
    answered = req.evolve(status=APPROVED if approve else REJECTED, updated_at=ts, reason=reason or "")
    path, msg = _answer_message(board, now, req, sender=sender, msg_id=msg_id, type=SHUTDOWN_RESPONSE,
                                approve=approve, content=reason or answered.status)
    writes: dict[str, bytes | None] = {request_path(req.request_id): dump_json(answered.to_json()),
                                       path: dump_json(msg.to_json())}
    member = board.team.member(sender)
    if approve and member is not None:
        team = board.team.with_member(member.evolve(status=MEMBER_SHUTDOWN, task=None, updated_at=ts))
        writes[CONFIG_PATH] = dump_json(team.to_json())
    return Change(writes, f"shutdown-response {answered.status} by {sender}",
                  trailers("shutdown-response", sender, None, (REQUEST, req.request_id)), result=answered,
                  body=(reason or "").strip())


def request_plan(board: Board, now: datetime, *, sender: str, plan: str, request_id: str, msg_id: str,
                 to: str = "lead") -> Change | NoChange:
    """Submit a plan for approval (action ``plan-request``); the result is the pending :class:`Request`.

    One commit writes the request record (kind ``plan``, the plan text) and a
    ``plan_approval_request`` message (content and ``plan`` both the text) in
    ``to``'s inbox. Repeating the same request id for the same exchange changes nothing.

    Raises:
        Invalid: bad names or ids, an empty plan.
        NotFound: ``to`` is not the lead and not on the roster.
        Conflict: the request id is taken by another request.
    """
    check_name(sender, "sender")
    check_id(request_id, "request_id")
    if not isinstance(plan, str) or not plan.strip():
        raise Invalid("plan must not be empty")
    ts = iso(now)
    req = Request(request_id=request_id, kind=PLAN, from_=sender, to=to, status=PENDING,
                  created_at=ts, updated_at=ts, plan=plan)
    path, msg = compose(board, now, sender=sender, to=to, content=plan, msg_id=msg_id, type=PLAN_REQUEST,
                        request_id=request_id, plan=plan)
    old = _new_request(board, req)
    if old is not None:
        return NoChange(old)
    writes = {request_path(request_id): dump_json(req.to_json()), path: dump_json(msg.to_json())}
    return Change(writes, f"plan-request to {to} by {sender}",
                  trailers("plan-request", sender, None, (REQUEST, request_id)), result=req)


def respond_plan(board: Board, now: datetime, *, sender: str, request_id: str, approve: bool,
                 feedback: str = "", msg_id: str) -> Change:
    """Approve or reject a plan (action ``plan-response``); the result is the answered :class:`Request`.

    One commit sets the request's status and ``feedback`` and puts a
    ``plan_approval_response`` message (``approve``, ``feedback``,
    ``request_id``; content the feedback or "approved"/"rejected") in the
    submitter's inbox.

    Raises:
        Invalid: bad sender name or message id, approve not a bool.
        NotFound: no plan request ``request_id``.
        Conflict: already answered, or ``sender`` is not whom the plan was sent to.
    """
    req = _pending(board, request_id, PLAN, sender, approve)
    answered = req.evolve(status=APPROVED if approve else REJECTED, updated_at=iso(now), feedback=feedback or "")
    path, msg = _answer_message(board, now, req, sender=sender, msg_id=msg_id, type=PLAN_RESPONSE,
                                approve=approve, content=feedback or answered.status, feedback=feedback or "")
    writes = {request_path(req.request_id): dump_json(answered.to_json()), path: dump_json(msg.to_json())}
    return Change(writes, f"plan-response {answered.status} by {sender}",
                  trailers("plan-response", sender, None, (REQUEST, req.request_id)), result=answered,
                  body=(feedback or "").strip())

