"""Pure operations on tasks: add, import, claim, release, renew, done, fail, update.

Each operation is a function ``op(board, now, **params) -> Change | NoChange``:
it reads the :class:`~gitboard.board.snapshot.Board` it is given, and returns
the files to write plus the commit message, or raises a domain error
(:class:`Invalid`, :class:`Conflict`, :class:`NotFound`). No git, no I/O, no
clock: ``now`` is passed in. The store re-applies an operation to a fresh
snapshot whenever it loses a race, so an operation must depend only on its
arguments.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Collection, Container, Iterable, Mapping, Sequence

from gitboard.board.canonical import RUN_MAX, check_size, check_subject_text, check_text
from gitboard.board.change import TAKEOVER, Change, NoChange, trailers
from gitboard.board.clock import after, iso
from gitboard.board.errors import Conflict, Invalid, NotFound
from gitboard.board.names import check_name, check_role
from gitboard.board.permits import claim_refusal, owner_refusal, release_refusal, run_refusal, status_refusal
from gitboard.board.snapshot import Board
from gitboard.board import runs
from gitboard.board.task import COMPLETED, FAILED, IN_PROGRESS, PENDING, STATUSES, Task, task_path

IMPORT_KEYS = ("subject", "description", "blockedBy", "run", "role")

#: Lease given by ``renew`` when no length is named (seconds); the teammate default too.
DEFAULT_LEASE = 600.0


def check_subject(subject: Any) -> str:
    """Return the stripped subject.

    Raises:
        Invalid: not a non-empty string, or not one line of at most
            :data:`~gitboard.board.canonical.SUBJECT_MAX` characters.
    """
    if not isinstance(subject, str) or not subject.strip():
        raise Invalid("subject must not be empty")
    check_subject_text(subject.strip())
    return subject.strip()


def check_texts(description: str | None, run: str | None) -> None:
    """Refuse a description or run command over the board's limits (:mod:`gitboard.board.canonical`).

    Raises:
        Invalid: naming the text, its size and the limit.
    """
    check_text("the description", description)
    check_text("the run command", run, RUN_MAX)


def check_status(status: str) -> str:
    """Return ``status`` if it is one of pending, in_progress, completed, merged, failed; else raise Invalid."""
    if status not in STATUSES:
        raise Invalid(f"unknown status {status!r}: expected one of {', '.join(STATUSES)}")
    return status


#: Longest lease (seconds, about 31 years); for longer, claim with no lease.
MAX_LEASE = 1e9


def check_lease(lease: float | None) -> float | None:
    """Return a lease length in seconds (None for no lease). Raises Invalid unless 0 < lease <= MAX_LEASE."""
    if lease is not None and not 0 < lease <= MAX_LEASE:
        raise Invalid(f"lease must be a positive number of seconds up to {MAX_LEASE:.0f}, not {lease!r}")
    return lease


def _check_blockers(board: Board, blockers: Iterable[int], known: Container[int] = ()) -> tuple[int, ...]:
    out: list[int] = []
    for b in blockers:  # ``known`` is a range or a set: no copy of the board's ids per call (imports)
        if b not in board.tasks and b not in known:
            raise NotFound(f"blockedBy names no task #{b}")
        if b not in out:
            out.append(b)
    return tuple(out)


def _find_cycle(tasks: Mapping[int, Task], start: int) -> list[int] | None:
    """Return a blockedBy path from ``start`` back to itself, or None."""
    stack = [(start, [start])]
    seen: set[int] = set()
    while stack:
        tid, path = stack.pop()
        t = tasks.get(tid)
        for b in t.blockedBy if t else ():
            if b == start:
                return path + [b]
            if b not in seen:
                seen.add(b)
                stack.append((b, path + [b]))
    return None


def check_runner(actor: str, runners: Collection[str]) -> None:
    """Refuse ``actor`` setting or changing a run command unless it is the lead or one of ``runners``.

    Raises:
        Conflict: :func:`~gitboard.board.permits.run_refusal`'s reason.
    """
    why = run_refusal(actor, runners)
    if why:
        raise Conflict(why)


def _write(task: Task) -> dict[str, bytes]:
    data = task.to_bytes()
    check_size(f"task #{task.id}'s file", data, task.to_json())  # a result too big or too deep
    return {task_path(task.id): data}


def _new_task(tid: int, now: datetime, subject: str, description: str, blocked: tuple[int, ...],
              run: str | None, role: str | None) -> Task:
    ts = iso(now)
    return Task(id=tid, subject=subject, description=description or "", blockedBy=blocked,
                created_at=ts, updated_at=ts, run=run or None, role=role)


def add(board: Board, now: datetime, *, actor: str, subject: str, description: str = "",
        blocked_by: Sequence[int] = (), run: str | None = None, role: str | None = None,
        runners: Collection[str] = ()) -> Change:
    """Add a pending task with the next id (highest id on the board + 1).

    ``runners``: the actors besides the lead who may give it a ``run`` command
    (``git config gitboard.hook.runners``).

    Raises:
        Invalid: empty subject, bad role or actor name, a text over its limit.
        NotFound: a blocker that names no task.
        Conflict: a run command from an actor who is neither the lead nor a runner.
    """
    check_name(actor)
    subject = check_subject(subject)
    role = check_role(role)
    check_texts(description, run)
    if run:
        check_runner(actor, runners)
    blocked = _check_blockers(board, blocked_by)
    task = _new_task(board.max_id() + 1, now, subject, description, blocked, run, role)
    return Change(_write(task), f"add #{task.id} by {actor}: {subject}",
                  trailers("add", actor, task.id), result=task)


def import_tasks(board: Board, now: datetime, *, actor: str, items: Sequence[Any],
                 lines: Sequence[int] | None = None, runners: Collection[str] = ()) -> Change:
    """Add many tasks in one commit. Item k (from 1) gets id max+k.

    Each item is a task object without an id, with keys from :data:`IMPORT_KEYS`;
    a blockedBy may name a task on the board or an earlier item. ``lines`` gives
    each item's line number in its file, for error messages (default: k).

    Raises:
        Invalid: an item that is not an object, has an id or an unknown key,
            an empty subject or a bad role; the message names the item (line) number.
        NotFound: a blocker that names neither a task on the board nor an earlier item.
        Conflict: an item with a run command, from an actor who is neither the lead nor one
            of ``runners`` (as :func:`add`).
    """
    check_name(actor)
    if not items:
        raise Invalid("nothing to import")
    base = board.max_id()
    writes: dict[str, bytes | None] = {}
    tasks: list[Task] = []
    for k, item in enumerate(items, start=1):
        where = f"line {lines[k - 1] if lines else k}"
        if not isinstance(item, dict):
            raise Invalid(f"{where}: not a JSON object")
        if "id" in item:
            raise Invalid(f"{where}: has an id; ids are assigned on import")
        unknown = sorted(set(item) - set(IMPORT_KEYS))
        if unknown:
            raise Invalid(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(IMPORT_KEYS)}")
        try:
            subject = check_subject(item.get("subject"))
            role = check_role(item.get("role"))
            blockers = item.get("blockedBy") or []
            if not isinstance(blockers, list) or not all(isinstance(b, int) and not isinstance(b, bool) for b in blockers):
                raise Invalid("blockedBy must be a list of task ids")
            blocked = _check_blockers(board, blockers, known=range(base + 1, base + k))
            description = item.get("description") or ""
            run = item.get("run")
            if not isinstance(description, str) or (run is not None and not isinstance(run, str)):
                raise Invalid("description and run must be strings")
            check_texts(description, run)
            if run:
                check_runner(actor, runners)
        except (Invalid, NotFound, Conflict) as e:
            raise type(e)(f"{where}: {e.message}") from None
        task = _new_task(base + k, now, subject, description, blocked, run, role)
        tasks.append(task)
        writes.update(_write(task))
    first, last = tasks[0].id, tasks[-1].id
    span = f"#{first}" if first == last else f"#{first}-#{last}"
    return Change(writes, f"import {len(tasks)} task{'s' if len(tasks) != 1 else ''} {span} by {actor}",
                  trailers("import", actor, f"{first}-{last}"), result=tasks)


def claim(board: Board, now: datetime, *, actor: str, task_id: int | None = None,
          role: str | None = None, lease: float | None = None) -> Change | NoChange:
    """Claim task ``task_id``, or with ``task_id=None`` the lowest-id ready task matching the claimer's role.

    The claimer's role is ``role``, else its roster role, else none; a task with
    no role matches any claimer. ``lease`` (seconds) sets ``lease_expires_at``;
    None claims with no lease. Claiming an in-progress task whose lease expired
    is a takeover: the commit names the previous owner. Claiming a task one
    already owns changes nothing.

    Raises:
        NotFound: no such task, or (``task_id=None``) nothing ready.
        Conflict: owned by another, finished, blocked, or the role does not match.
        Invalid: bad actor or role name, non-positive lease.
    """
    check_name(actor)
    role = check_role(role) or board.team.role_of(actor)
    check_lease(lease)
    if task_id is None:
        ready = board.ready(now, role)
        if not ready:
            raise NotFound("nothing ready to claim" + (f" for role {role}" if role else ""))
        task = ready[0]
    else:
        task = board.task(task_id)
        if task.status == IN_PROGRESS and task.owner == actor and not task.lease_expired(now):
            return NoChange(task)  # a repeat of one's own live claim
        why = claim_refusal(board, task, actor, now)
        if why:
            raise Conflict(why)
        if task.role is not None and task.role != role:
            raise Conflict(f"task #{task.id} needs role {task.role}, and {actor} has {'role ' + role if role else 'none'}")
    previous = task.owner if task.status == IN_PROGRESS and task.owner != actor else ""
    ts = iso(now)
    claimed = task.evolve(status=IN_PROGRESS, owner=actor, claimed_at=ts, updated_at=ts,
                          lease_expires_at=after(now, lease) if lease is not None else None)
    subject = f"claim #{task.id} by {actor}"
    extra: tuple[tuple[str, str], ...] = ()
    if previous:
        subject += f" (takeover from {previous})"
        extra = ((TAKEOVER, previous),)
    return Change(_write(claimed), subject, trailers("claim", actor, task.id, *extra), result=claimed)


def _owned(board: Board, task_id: int, actor: str, verb: str) -> Task:
    task = board.task(task_id)
    why = owner_refusal(task, actor, verb)
    if why:
        raise Conflict(why)
    return task


def release(board: Board, now: datetime, *, actor: str, task_id: int, force: bool = False,
            reason: str = "") -> Change:
    """Give a claimed task back: pending, no owner, no lease.

    Only the owner may, unless ``force`` (the lead taking a claim back from anyone;
    :func:`~gitboard.board.rules.release_refusal`). ``reason`` (why, e.g. ``stalled: ...``)
    is added to the commit subject, on one line of at most 120 characters.

    Raises:
        NotFound: no such task. Conflict: not in progress, not the owner without ``force``,
            or a forced release by someone other than the lead.
    """
    check_name(actor)
    task = board.task(task_id)
    if task.status == IN_PROGRESS and task.owner != actor and not force:
        raise Conflict(f"cannot release task #{task.id}: it is owned by {task.owner}, not {actor} (the lead may use --force)")
    why = release_refusal(task, actor)
    if why:
        raise Conflict(why)
    released = task.evolve(status=PENDING, owner="", claimed_at=None, lease_expires_at=None, updated_at=iso(now))
    subject = f"release #{task.id} by {actor}" + (f" (forced from {task.owner})" if task.owner != actor else "")
    said = " ".join(reason.split())
    if said:
        subject += ": " + (said if len(said) <= 120 else said[:119] + "…")
    return Change(_write(released), subject, trailers("release", actor, task.id), result=released)


def renew(board: Board, now: datetime, *, actor: str, task_id: int,
          lease: float = DEFAULT_LEASE) -> Change | NoChange:
    """Extend the owner's lease to ``now + lease`` seconds.

    A renewal that changes nothing (within the second the lease was set or last renewed,
    to the same expiry: a teammate resuming the task it just claimed) is a NoChange, not an
    empty commit that the rules (and the server's hook) would refuse.

    Raises:
        NotFound: no such task. Conflict: not in progress or not the owner. Invalid: lease <= 0.
    """
    check_name(actor)
    check_lease(lease)
    task = _owned(board, task_id, actor, "renew")
    renewed = task.evolve(lease_expires_at=after(now, lease), updated_at=iso(now))
    if renewed == task:
        return NoChange(task)
    return Change(_write(renewed), f"renew #{task.id} by {actor}", trailers("renew", actor, task.id), result=renewed)


def finish(board: Board, now: datetime, *, actor: str, task_id: int, ok: bool,
           result: Any = None) -> Change:
    """Mark the owner's task completed (``ok``) or failed, storing ``result`` (any JSON value).

    The usage of the task's earlier runs (a result stored before, on a task reworked or put
    back) is kept in the new result's ``runs`` (see :func:`gitboard.board.runs.carry`).

    Raises:
        NotFound: no such task. Conflict: not in progress, or ``actor`` is not the owner.
        Invalid: the result would make the task's file bigger or deeper than a board file may be
            (:func:`gitboard.board.canonical.check_size`).
    """
    check_name(actor)
    verb = "done" if ok else "fail"
    task = _owned(board, task_id, actor, "finish" if ok else "fail")
    ended = task.evolve(status=COMPLETED if ok else FAILED, lease_expires_at=None,
                        updated_at=iso(now), result=runs.carry(task, result))
    return Change(_write(ended), f"{verb} #{task.id} by {actor}", trailers(verb, actor, task.id), result=ended)


def update(board: Board, now: datetime, *, actor: str, task_id: int, subject: str | None = None,
           description: str | None = None, blocked_by: Sequence[int] = (), unblock: Sequence[int] = (),
           status: str | None = None, run: str | None = None, role: str | None = None,
           runners: Collection[str] = ()) -> Change | NoChange:
    """Edit a task: subject, description, add blockers (``blocked_by``), remove blockers
    (``unblock``), status, run command and role ("" clears run and role).

    Setting status pending clears the owner and lease; in_progress is refused
    (claim instead); completed and failed are the lead's override; merged is
    set only by the merge queue, and a merged task keeps its status.

    Raises:
        NotFound: no such task, or a blocker that names no task.
        Invalid: empty subject, unknown status, bad role, a task blocking itself
            or a blockedBy cycle.
        Conflict: status in_progress (claim instead), to or from merged (the merge
            queue's), or a status change by anyone but the lead or the owner of the
            in-progress task (:func:`~gitboard.board.rules.status_refusal`); a change of
            the run command by anyone but the lead or one of ``runners`` (see :func:`add`).
    """
    check_name(actor)
    task = board.task(task_id)
    changes: dict[str, Any] = {}
    if subject is not None:
        changes["subject"] = check_subject(subject)
    check_texts(description, run)
    if description is not None:
        changes["description"] = description
    if run is not None and (run or None) != task.run:
        check_runner(actor, runners)
        changes["run"] = run or None
    if role is not None:
        changes["role"] = check_role(role)
    if blocked_by or unblock:
        added = _check_blockers(board, blocked_by)
        if task.id in added:
            raise Invalid(f"task #{task.id} cannot block itself")
        blocked = [b for b in task.blockedBy if b not in set(unblock)]
        blocked += [b for b in added if b not in blocked]
        changes["blockedBy"] = tuple(blocked)
        trial = dict(board.tasks)
        trial[task.id] = task.evolve(blockedBy=tuple(blocked))
        cycle = _find_cycle(trial, task.id)
        if cycle:
            raise Invalid("blockedBy would make a cycle: " + " -> ".join(f"#{c}" for c in cycle))
    if status is not None:
        check_status(status)
        why = status_refusal(task, actor, status)
        if why:
            raise Conflict(why)
        changes["status"] = status
        if status == PENDING:
            changes.update(owner="", claimed_at=None, lease_expires_at=None)
        elif status in (COMPLETED, FAILED):
            changes["lease_expires_at"] = None
    updated = task.evolve(**changes)
    if updated == task:
        return NoChange(task)
    updated = updated.evolve(updated_at=iso(now))
    return Change(_write(updated), f"update #{task.id} by {actor}", trailers("update", actor, task.id), result=updated)
