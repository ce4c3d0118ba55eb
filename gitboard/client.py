"""The board client: one actor-bound way to read and write the board, for every front end.

The command line, the teammate runtime, the lead, the merge queue, the MCP server and
the web board all act on the board through a :class:`BoardClient`. Each write is one
pure operation from :mod:`gitboard.board` (``task_ops``, ``inbox_ops``,
``protocol_ops``, ``review_ops``, ``roster_ops``) applied as exactly one commit by
:func:`gitboard.store.transact.transact` -- the only caller of ``transact`` outside
:mod:`gitboard.store` is :meth:`BoardClient.apply`. Reads go through
:func:`gitboard.store.read.read_board` (fetching first in remote mode unless offline).

A client holds no open repository between calls: each call opens a
:class:`~gitboard.store.repo.BoardRepo` and closes it again, because GitPython
repositories keep ``git cat-file`` children and belong to one thread, while a client is
shared by threads (a teammate's lease renewer, a web server's workers). A caller that
makes several calls in a row may pass its own open repository as ``repo=``.

Methods return the board's own models (:class:`~gitboard.board.task.Task`,
:class:`~gitboard.board.message.Message`, :class:`~gitboard.board.request.Request`,
:class:`~gitboard.board.roster.Member`); each has ``to_json()`` for the JSON shapes the
command line prints. Errors are the board's own (:mod:`gitboard.board.errors`):
``Invalid``, ``Conflict``, ``NotFound`` are answers and change nothing; ``GitFailure``
and ``Busy`` mean git or the remote failed, or the board kept moving.

Example::

    client = BoardClient("/path/to/clone", actor="alice")
    task = client.claim(task_id=None, lease=900)   # the next ready task, or Conflict
    client.send("lead", f"took #{task.id}")
"""

from __future__ import annotations

import os
import uuid
from contextlib import contextmanager
from datetime import datetime
from functools import partial
from typing import Any, Callable, Iterator, Sequence

from gitboard.board import inbox_ops, protocol_ops, review_ops, task_ops, roster_ops
from gitboard.board.errors import BoardError, Invalid, NotFound
from gitboard.board.names import LEAD, check_name
from gitboard.board.request import PLAN, Request, request_of, requests_of, resolve_id
from gitboard.board.snapshot import Board
from gitboard.board.task import COMPLETED, Task
from gitboard.store.repo import BoardRepo

#: An operation as :func:`gitboard.store.transact.transact` takes it:
#: ``(board, now) -> Change | NoChange``, raising a domain error to refuse.
Operation = Callable[[Board, datetime], Any]


def new_id() -> str:
    """Return a fresh message or request id: 32 lowercase hex digits (uuid4)."""
    return uuid.uuid4().hex


class BoardClient:
    """The board of the repository at ``repo_dir``, acted on as ``actor``.

    Args:
        repo_dir: a directory of the clone (its work tree, or a bare repository).
        actor: the name written as the ``Gitboard-Actor`` trailer of every commit this
            client makes (``[a-z][a-z0-9_-]{0,31}``; default ``lead``).
        offline: read the local copy of the board and never fetch (None: ``GITBOARD_OFFLINE``).

    Raises:
        Invalid: ``actor`` is not a valid name.
    """

    def __init__(self, repo_dir: str | os.PathLike = ".", actor: str = LEAD, *,
                 offline: bool | None = None) -> None:
        self.repo_dir = str(repo_dir)
        self.actor = check_name(actor, "name")
        self.offline = offline

    def __repr__(self) -> str:
        return f"BoardClient({self.repo_dir!r}, actor={self.actor!r})"

    def as_actor(self, actor: str) -> "BoardClient":
        """Return a client of the same repository acting as ``actor``. Raises Invalid (bad name)."""
        return BoardClient(self.repo_dir, actor, offline=self.offline)

    # -- plumbing ------------------------------------------------------------------
    def open(self) -> BoardRepo:
        """Open the repository; the caller closes it (``with client.open() as repo: ...``).

        Raises:
            GitFailure: not a git repository.
        """
        return BoardRepo(self.repo_dir, offline=self.offline)

    @contextmanager
    def _repo(self, repo: BoardRepo | None) -> Iterator[BoardRepo]:
        if repo is not None:
            yield repo
            return
        with self.open() as opened:
            yield opened

    def apply(self, op: Operation, *, repo: BoardRepo | None = None, **options: Any) -> Any:
        """Apply one pure operation as exactly one commit and return its result.

        The verbs below bind the client's actor; ``apply`` is for an operation the caller
        built itself (a command line's ``--as``, a composed sequence of operations).

        Args:
            op: ``(board, now) -> Change | NoChange``; the operation names its actor itself
                (the methods below bind :attr:`actor`).
            repo: an open repository to use (default: open and close one).
            **options: passed to :func:`gitboard.store.transact.transact` (``create``,
                ``migrate``, ``also``, ``stats``, ``deadline``).

        Raises:
            Invalid, Conflict, NotFound: the operation's answer; nothing was written.
            HookRefused: the remote's pre-receive hook refused the push.
            GitFailure, Busy: git failed, the remote is unreachable, or the board kept moving.
        """
        from gitboard.store.transact import transact

        with self._repo(repo) as r:
            return transact(r, op, **options)

    #: The name :meth:`apply` had first; kept for callers written against it.
    transact = apply

    def board(self, *, repo: BoardRepo | None = None, fresh: bool = True) -> Board:
        """Read the board snapshot (fetched first in remote mode unless offline, or ``fresh`` is
        False: then the local copy, as a view that fetches on its own clock reads it).

        Raises:
            GitFailure: no board branch, or the remote is unreachable.
        """
        from gitboard.store.read import read_board

        with self._repo(repo) as r:
            return read_board(r, fresh=fresh)

    def listing(self, *, repo: BoardRepo | None = None, fresh: bool = True) -> tuple[str, Any]:
        """Return (tip, listing index) of the board: ``task list``'s columns of every task
        (:class:`gitboard.store.list_index.Index`: ids, status, owner, blockedBy, lease, role,
        readiness and each task's JSON text), read from the clone's caches without building the
        board when they have it (see :func:`gitboard.store.listing.board_index`).

        Raises:
            GitFailure: no board branch, or the remote is unreachable.
        """
        from gitboard.store.listing import board_index

        with self._repo(repo) as r:
            return board_index(r, fresh=fresh and not r.offline)

    def history(self, *, task_id: int | None = None, actor: str | None = None, action: str | None = None,
                limit: int | None = None, tip: str | None = None, since: str | None = None,
                repo: BoardRepo | None = None) -> list[dict[str, Any]]:
        """Return the board's commits from ``tip`` (default: the local board ref) back to
        ``since`` (exclusive; default: the root), newest first, filtered by their trailers:
        ``gitboard log --json``'s entries (see :func:`gitboard.store.history.history`). With
        ``task_id``, only the commits that change that task's file.

        Raises:
            GitFailure: no board branch, or git failed.
        """
        from gitboard.store.history import history
        from gitboard.store.read import current_tip

        with self._repo(repo) as r:
            tip = tip or current_tip(r, fresh=False)
            paths: tuple[str, ...] = ()
            if task_id is not None:
                from gitboard.board.layout import task_path

                paths = (task_path(int(task_id), self.listing(repo=r, fresh=False)[1].version),)
            return history(r, tip, task=task_id, actor=actor, action=action, limit=limit, paths=paths, since=since)

    # -- tasks ---------------------------------------------------------------------
    def tasks(self, status: str | None = None, *, repo: BoardRepo | None = None) -> list[Task]:
        """Return the tasks sorted by id, only those whose status is ``status`` if given.

        Raises:
            Invalid: an unknown status.
        """
        if status:
            task_ops.check_status(status)
        board = self.board(repo=repo)
        return [board.tasks[i] for i in sorted(board.tasks) if not status or board.tasks[i].status == status]

    def task(self, task_id: int, *, repo: BoardRepo | None = None) -> Task:
        """Return one task. Raises NotFound (no such task), Corrupt (its file does not parse)."""
        return self.board(repo=repo).task(int(task_id))

    def add_task(self, subject: str, description: str = "", blocked_by: Sequence[int] = (),
                 run: str | None = None, role: str | None = None, *, repo: BoardRepo | None = None) -> Task:
        """Add a task (pending, or blocked while ``blocked_by`` names unfinished tasks).

        Raises:
            Invalid: empty or multi-line subject, a bad role, a ``run`` command the actor may not set.
            NotFound: an unknown blocker.
        """
        return self.apply(partial(task_ops.add, actor=self.actor, subject=subject, description=description,
                                     blocked_by=[int(x) for x in blocked_by], run=run or None,
                                     role=role or None), repo=repo)

    def import_tasks(self, items: Sequence[Any], lines: Sequence[int] | None = None, *,
                     repo: BoardRepo | None = None) -> list[Task]:
        """Add many tasks in one commit (the ``gitboard task import`` document: a list of task
        objects whose ``blockedBy`` may name earlier items by position). ``lines`` are the items'
        line numbers in the source, for error messages.

        Raises:
            Invalid, NotFound: an item is refused; nothing is added.
        """
        kwargs: dict[str, Any] = {"actor": self.actor, "items": list(items)}
        if lines is not None:
            kwargs["lines"] = list(lines)
        return self.apply(partial(task_ops.import_tasks, **kwargs), repo=repo)

    def update_task(self, task_id: int, *, subject: str | None = None, description: str | None = None,
                    blocked_by: Sequence[int] = (), unblock: Sequence[int] = (), status: str | None = None,
                    run: str | None = None, role: str | None = None, repo: BoardRepo | None = None) -> Task:
        """Edit a task as ``gitboard task update`` does. Raises Invalid, NotFound, Conflict."""
        return self.apply(partial(task_ops.update, actor=self.actor, task_id=int(task_id), subject=subject,
                                     description=description, blocked_by=[int(x) for x in blocked_by],
                                     unblock=[int(x) for x in unblock], status=status, run=run, role=role),
                             repo=repo)

    def claim(self, task_id: int | None = None, *, role: str | None = None, lease: float | None = None,
              repo: BoardRepo | None = None) -> Task:
        """Claim ``task_id``, or the next ready task (lowest id, matching the role) when None,
        with a lease of ``lease`` seconds (None: no lease).

        Raises:
            Conflict: owned by another with a live lease, blocked, finished, a role mismatch.
            NotFound: no such task, or (``task_id`` None) nothing ready.
        """
        kwargs: dict[str, Any] = {"actor": self.actor, "task_id": None if task_id is None else int(task_id),
                                  "role": role}
        if lease is not None:
            kwargs["lease"] = lease
        return self.apply(partial(task_ops.claim, **kwargs), repo=repo)

    def renew(self, task_id: int, lease: float | None = None, *, repo: BoardRepo | None = None) -> Task:
        """Extend the actor's lease on ``task_id`` to ``lease`` seconds from now. Raises Conflict (not ours)."""
        kwargs: dict[str, Any] = {"actor": self.actor, "task_id": int(task_id)}
        if lease is not None:
            kwargs["lease"] = lease
        return self.apply(partial(task_ops.renew, **kwargs), repo=repo)

    def finish(self, task_id: int, ok: bool, result: dict | None = None, *, repo: BoardRepo | None = None) -> Task:
        """Mark the actor's task completed (``ok``) or failed, with ``result`` (the task's
        ``result`` object: ``note``, ``commit``, ``usage``...). Raises Conflict (not ours), NotFound."""
        return self.apply(partial(task_ops.finish, actor=self.actor, task_id=int(task_id), ok=bool(ok),
                                     result=dict(result or {})), repo=repo)

    def release(self, task_id: int, *, force: bool = False, reason: str = "",
                repo: BoardRepo | None = None) -> Task:
        """Give a task back (pending, unowned); ``force`` lets the lead release another's task.
        Raises Conflict (not ours), NotFound."""
        return self.apply(partial(task_ops.release, actor=self.actor, task_id=int(task_id), force=force,
                                     reason=reason), repo=repo)

    # -- messages ------------------------------------------------------------------
    def send(self, to: str, content: str, type: str = "message", msg_id: str | None = None, *,
             repo: BoardRepo | None = None) -> Any:
        """Send one message into ``to``'s inbox; a retry with the same ``msg_id`` is delivered once.

        Raises:
            Invalid: a bad name or type, content over the size limit. NotFound: unknown recipient.
        """
        check_name(to, "recipient")
        return self.apply(partial(inbox_ops.send, sender=self.actor, to=to, content=content,
                                     msg_id=msg_id or new_id(), type=type), repo=repo)

    def broadcast(self, content: str, msg_id: str | None = None, *, repo: BoardRepo | None = None) -> list:
        """Send one message to every member but the actor, in one commit; returns the messages."""
        return self.apply(partial(inbox_ops.broadcast, sender=self.actor, content=content,
                                     msg_id=msg_id or new_id()), repo=repo)

    def drain(self, name: str | None = None, *, ids: Sequence[str] | None = None,
              repo: BoardRepo | None = None) -> list:
        """Drain ``name``'s inbox (default: the actor's) in one commit deleting exactly the
        messages returned, oldest first; with ``ids``, only those messages (an acknowledged
        read after :meth:`peek`: ids already gone are skipped).

        Raises:
            Invalid: a malformed name or id. Conflict: the actor may not drain that inbox."""
        kw = {} if ids is None else {"ids": list(ids)}
        return self.apply(partial(inbox_ops.drain, name=name or self.actor, actor=self.actor, **kw), repo=repo)

    def peek(self, name: str | None = None, *, repo: BoardRepo | None = None) -> list:
        """Return ``name``'s inbox (default: the actor's) without draining it, oldest first."""
        return inbox_ops.peek(self.board(repo=repo), name or self.actor)

    # -- protocols -----------------------------------------------------------------
    def request_shutdown(self, teammate: str, reason: str = "", *, repo: BoardRepo | None = None) -> Request:
        """Ask ``teammate`` to shut down: a shutdown_request message and a pending request, one commit.

        Raises:
            NotFound: no such member. Conflict: a shutdown request to it is already pending.
        """
        check_name(teammate, "member")
        return self.apply(partial(protocol_ops.request_shutdown, sender=self.actor, to=teammate,
                                     request_id=new_id(), msg_id=new_id(), reason=reason), repo=repo)

    def respond_shutdown(self, request_id: str, approve: bool, reason: str = "", *,
                         repo: BoardRepo | None = None) -> Request:
        """Answer a shutdown_request addressed to the actor; approving also marks the actor
        shutdown on the roster, in the same commit. Raises NotFound, Conflict (already answered)."""
        return self.apply(partial(protocol_ops.respond_shutdown, sender=self.actor, request_id=request_id,
                                     approve=bool(approve), reason=reason, msg_id=new_id()), repo=repo)

    def request_plan(self, plan: str, request_id: str | None = None, *, repo: BoardRepo | None = None) -> Request:
        """Submit a plan for the lead's approval (a plan_approval_request message and a pending
        request, one commit); returns the request, whose ``id`` the answer names."""
        return self.apply(partial(protocol_ops.request_plan, sender=self.actor, plan=plan,
                                     request_id=request_id or new_id(), msg_id=new_id()), repo=repo)

    def respond_plan(self, request_id: str, approve: bool, feedback: str = "", *,
                     repo: BoardRepo | None = None) -> Request:
        """Approve or reject a pending plan (``request_id`` or a unique prefix); a
        plan_approval_response goes to the submitter.

        Raises:
            Invalid: rejecting without feedback. NotFound: no such plan request. Conflict: answered.
        """
        if not approve and not feedback.strip():
            raise Invalid("rejecting a plan needs feedback")
        with self._repo(repo) as r:
            full = resolve_id(self.board(repo=r), str(request_id), PLAN)
            return self.apply(partial(protocol_ops.respond_plan, sender=self.actor, request_id=full,
                                         approve=bool(approve), feedback=feedback, msg_id=new_id()), repo=r)

    def request(self, request_id: str, kind: str | None = None, *, repo: BoardRepo | None = None) -> Request:
        """Return a protocol request (``kind`` shutdown or plan, or either) by id or unique prefix.

        Raises:
            NotFound: no such request. Invalid: an ambiguous prefix.
        """
        board = self.board(repo=repo)
        full = resolve_id(board, str(request_id), kind)
        req = request_of(board, full)
        if req is None or (kind and req.kind != kind):
            raise NotFound(f"no {kind + ' ' if kind else ''}request {request_id!r} on the board")
        return req

    def pending_plans(self, *, repo: BoardRepo | None = None) -> list[Request]:
        """Return the plan requests still waiting for an answer, oldest first."""
        return [r for r in requests_of(self.board(repo=repo), PLAN) if not r.answered]

    # -- the roster ----------------------------------------------------------------
    def set_member(self, name: str | None = None, *, repo: BoardRepo | None = None, **fields: Any) -> Any:
        """Set roster fields of ``name`` (default: the actor): ``status``, ``task``, ``host``,
        ``pid``, ``role`` (see :func:`gitboard.board.roster_ops.set_member`); returns the Member."""
        return self.apply(partial(roster_ops.set_member, actor=self.actor, name=name or self.actor, **fields),
                             repo=repo)

    # -- review --------------------------------------------------------------------
    def review(self, task_id: int, *, patch: bool = False, repo: BoardRepo | None = None) -> dict:
        """Return the ``gitboard review --json`` document of a task (read-only; fetches its
        branch in remote mode). Raises NotFound, Conflict (nothing to review)."""
        from gitboard.store.review import review_task

        with self._repo(repo) as r:
            return review_task(r, int(task_id), patch=patch, fetch=not r.offline)

    def awaiting_review(self, *, repo: BoardRepo | None = None) -> list[Task]:
        """Return the completed tasks not yet approved, sorted by id."""
        board = self.board(repo=repo)
        return [t for _, t in sorted(board.tasks.items())
                if t.status == COMPLETED and not review_ops.is_approved(t)]

    def approve(self, task_id: int, note: str | None = None, *, repo: BoardRepo | None = None) -> Task:
        """Approve a completed task for the merge queue at its branch's tip (the lead's verb).

        Raises:
            Conflict: not completed, not the lead, no branch to merge. NotFound: no such task.
        """
        from gitboard.store.review import approve_task

        with self._repo(repo) as r:
            return approve_task(r, self.actor, int(task_id), note=note or None, fetch=not r.offline)

    def reject(self, task_id: int, feedback: str, *, repo: BoardRepo | None = None) -> Task:
        """Send a completed task back for rework with ``feedback`` (the lead's verb); the base
        branch's tip is recorded when it can be read.

        Raises:
            Invalid: empty feedback. Conflict: not completed, not the lead. NotFound: no such task.
        """
        from gitboard.store.merge import base_branch, fetch_branch

        with self._repo(repo) as r:
            try:
                base = fetch_branch(r, base_branch(r))
            except BoardError:  # context for the record, not a condition of the verdict
                base = None
            return self.apply(partial(review_ops.reject, actor=self.actor, task_id=int(task_id),
                                         feedback=feedback, base=base), repo=r)


__all__ = ["BoardClient", "Operation", "new_id"]
