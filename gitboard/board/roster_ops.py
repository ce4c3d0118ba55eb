"""Pure operations on the roster, ``.team/config.json``: add, remove and update members.

Operations follow :mod:`gitboard.board.task_ops`: ``op(board, now, **params)
-> Change | NoChange``, pure, raising domain errors. Each writes the whole
config file (it is small) in one commit whose action is ``team-add``,
``team-remove`` or ``team-set``.

:func:`roster_json` is the ``gitboard team --json`` view: the roster with
``dead`` in place of the status of a member whose process on this host has
exited. Liveness is a question for the host, so it is passed in.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Callable

from gitboard.board.change import Change, NoChange, trailers
from gitboard.board.clock import iso
from gitboard.board.errors import Corrupt, Invalid, NotFound
from gitboard.board.names import check_name, check_role
from gitboard.board.snapshot import Board
from gitboard.board.task import dump_json
from gitboard.board.roster import CONFIG_PATH, MEMBER_STATUSES, Member, Team

WORKING, IDLE, SHUTDOWN = MEMBER_STATUSES
#: Status shown (never stored) for a member whose recorded process on this host is gone.
DEAD = "dead"


class _Keep:
    """Sentinel type: leave a field as it is (so that None can be set explicitly)."""

    _instance: "_Keep | None" = None

    def __new__(cls) -> "_Keep":
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "KEEP"

    def __reduce__(self) -> str:
        return "KEEP"


#: Default of :func:`set_member`'s ``task`` and ``pid``: keep the recorded value.
KEEP: Any = _Keep()


def _team(board: Board) -> Team:
    if CONFIG_PATH in board.corrupt:
        raise Corrupt(f"{CONFIG_PATH} is corrupt: {board.corrupt[CONFIG_PATH]}")
    return board.team


def _write(team: Team) -> dict[str, bytes | None]:
    return {CONFIG_PATH: dump_json(team.to_json())}


def add_member(board: Board, now: datetime, *, actor: str, name: str, role: str | None = None) -> Change | NoChange:
    """Register ``name`` on the roster (action ``team-add``); the result is the :class:`Member`.

    A new member starts ``idle`` with no task, host or pid. Adding a member who
    is already there sets its role (when ``role`` is given; "" clears it) and
    brings a ``shutdown`` member back to ``idle``; if nothing changes, NoChange.

    Raises:
        Invalid: bad actor, member or role name.
        Corrupt: the roster file is corrupt.
    """
    check_name(actor)
    check_name(name)
    new_role = check_role(role)
    team = _team(board)
    old = team.member(name)
    if old is None:
        member = Member(name=name, role=new_role, status=IDLE, updated_at=iso(now))
        verb = "add"
    else:
        changes: dict[str, Any] = {}
        if role is not None and new_role != old.role:
            changes["role"] = new_role
        if old.status == SHUTDOWN:
            changes.update(status=IDLE, task=None)
        if not changes:
            return NoChange(old)
        member = old.evolve(**changes, updated_at=iso(now))
        verb = "re-add"
    return Change(_write(team.with_member(member)), f"team {verb} {name} by {actor}",
                  trailers("team-add", actor), result=member)


def remove_member(board: Board, now: datetime, *, actor: str, name: str) -> Change:
    """Take ``name`` off the roster (action ``team-remove``); the result is the removed :class:`Member`.

    Messages still in its inbox stay on the board (``gitboard inbox NAME`` drains them).

    Raises:
        Invalid: bad names. NotFound: ``name`` is not on the roster. Corrupt: the roster file is corrupt.
    """
    check_name(actor)
    check_name(name)
    team = _team(board)
    old = team.member(name)
    if old is None:
        raise NotFound(f"no member named {name!r} on the roster")
    return Change(_write(team.without_member(name)), f"team remove {name} by {actor}",
                  trailers("team-remove", actor), result=old)


def set_member(board: Board, now: datetime, *, actor: str, name: str, status: str | None = None,
               task: int | None = KEEP, host: str | None = None, pid: int | None = KEEP,
               role: str | None = None) -> Change | NoChange:
    """Create or update a roster entry (action ``team-set``); the result is the :class:`Member` after it.

    This is what the teammate runtime calls: spawn registers ``status="working"``
    with ``host`` and ``pid``; the loop sets ``working`` with ``task``, ``idle``
    (``task=None``) or ``shutdown``. Parameters left at None (``status``,
    ``host``, ``role``) or :data:`KEEP` (``task``, ``pid``) keep the recorded
    value; ``task=None`` and ``pid=None`` clear it; ``role=""`` clears the role.
    An absent member is added (status ``idle`` unless given). Nothing to
    change: NoChange(member).

    Raises:
        Invalid: bad names, a status not in working/idle/shutdown, a task or pid
            that is not a positive integer.
        Corrupt: the roster file is corrupt.
    """
    check_name(actor)
    check_name(name)
    if status is not None and status not in MEMBER_STATUSES:
        raise Invalid(f"unknown member status {status!r}: expected one of {', '.join(MEMBER_STATUSES)}")
    for what, value in (("task", task), ("pid", pid)):
        if value is KEEP or value is None:
            continue
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise Invalid(f"member {what} must be a positive integer or null, not {value!r}")
    if host is not None and not isinstance(host, str):
        raise Invalid("member host must be a string")
    team = _team(board)
    old = team.member(name)
    base = old if old is not None else Member(name=name, status=IDLE)
    changes: dict[str, Any] = {}
    if status is not None:
        changes["status"] = status
    if task is not KEEP:
        changes["task"] = task
    if host is not None:
        changes["host"] = host
    if pid is not KEEP:
        changes["pid"] = pid
    if role is not None:
        changes["role"] = check_role(role)
    member = base.evolve(**changes)
    if old is not None and member == old:
        return NoChange(old)
    member = member.evolve(updated_at=iso(now))
    what = member.status + (f" on #{member.task}" if member.task is not None and member.status == WORKING else "")
    return Change(_write(team.with_member(member)), f"team set {name} {what} by {actor}",
                  trailers("team-set", actor, member.task if "task" in changes and member.task else None),
                  result=member)


def shown_status(member: Member, *, host: str, alive: Callable[[int], bool]) -> str:
    """Return the status to show for ``member``: ``dead`` if it is working or idle, its
    recorded ``host`` is ``host`` (this machine) and ``alive(pid)`` is False; else its status."""
    if (member.status != SHUTDOWN and member.pid is not None and member.host and member.host == host
            and not alive(member.pid)):
        return DEAD
    return member.status


def roster_json(team: Team, *, host: str, alive: Callable[[int], bool]) -> dict:
    """Return the ``gitboard team --json`` document: config.json's object with each
    status replaced by :func:`shown_status` (so possibly ``dead``)."""
    doc = team.to_json()
    for m, d in zip(team.members, doc["members"]):
        d["status"] = shown_status(m, host=host, alive=alive)
    return doc
