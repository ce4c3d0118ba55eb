"""The board as the model-driven lead uses it: :class:`LeadBoard`.

Every write is one board transaction through :func:`gitboard.store.transact.transact`
-- the path the CLI takes -- with actor ``lead`` (:data:`gitboard.board.names.LEAD`),
and each call opens and closes its own :class:`~gitboard.store.repo.BoardRepo` (GitPython
repositories belong to one thread and must not be held by a long-running process).
Errors are the board's own (:mod:`gitboard.board.errors`): the lead's tools turn them
into tool_results with ``is_error``.

``spawn`` is a real ``gitboard spawn`` run as a child process with the lead's whole
environment (``ANTHROPIC_API_KEY`` and ``ANTHROPIC_BASE_URL`` included), as it would run
from the lead's shell.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from functools import partial
from pathlib import Path
from typing import Any, Callable

from gitboard.board import inbox_ops, protocol_ops, review_ops, task_ops
from gitboard.board.errors import BoardError, Invalid, NotFound
from gitboard.board.names import LEAD, check_name
from gitboard.board.request import PLAN, SHUTDOWN, request_of, resolve_id
from gitboard.board.snapshot import Board
from gitboard.store.read import read_board
from gitboard.store.repo import BoardRepo
from gitboard.store.transact import transact

#: Seconds a ``gitboard spawn`` child may take (it returns once the teammate has registered).
SPAWN_TIMEOUT = 120.0


def new_id() -> str:
    """Return a fresh message or request id (uuid4 hex)."""
    return uuid.uuid4().hex


class LeadBoard:
    """The board of the repository at ``repo_dir``, acted on as ``actor`` (default ``lead``).

    Args:
        repo_dir: a directory of the lead's clone (its work tree).
        actor: the name on every commit.
        env: the environment ``spawn`` passes on (default: os.environ at call time).
    """

    def __init__(self, repo_dir: str | os.PathLike, actor: str = LEAD, env: dict[str, str] | None = None) -> None:
        self.repo_dir = str(repo_dir)
        self.actor = actor
        self.env = env

    # -- plumbing ------------------------------------------------------------------
    def open(self) -> BoardRepo:
        """Open the repository (close it after use)."""
        return BoardRepo(self.repo_dir)

    def transact(self, op: Callable[..., Any]) -> Any:
        """Apply one pure operation as one commit by :attr:`actor`; returns its result."""
        with self.open() as repo:
            return transact(repo, op)

    def board(self) -> Board:
        """Read the board (fetched first in remote mode)."""
        with self.open() as repo:
            return read_board(repo)

    def state_dir(self) -> Path:
        """``<git-common-dir>/gitboard/``: where the lead keeps its conversation and history."""
        with self.open() as repo:
            return Path(repo.common_dir) / "gitboard"

    def work_dir(self) -> Path:
        """The repository's work tree (or its git dir for a bare repository)."""
        with self.open() as repo:
            return Path(repo.work_dir or repo.git_dir)

    # -- tasks ---------------------------------------------------------------------
    def task_create(self, subject: str, description: str = "", blocked_by: list[int] | None = None,
                    run: str | None = None, role: str | None = None) -> dict:
        """Add a pending task; returns it. Raises Invalid (empty subject, bad role), NotFound (unknown blocker)."""
        return self.transact(partial(task_ops.add, actor=self.actor, subject=subject, description=description,
                                     blocked_by=list(blocked_by or []), run=run or None, role=role or None)).to_json()

    def task_list(self, status: str | None = None) -> list[dict]:
        """Return the task objects sorted by id, only those with ``status`` if given. Raises Invalid (unknown status)."""
        if status:
            task_ops.check_status(status)
        board = self.board()
        return [board.tasks[i].to_json() for i in sorted(board.tasks)
                if not status or board.tasks[i].status == status]

    def task_get(self, task_id: int) -> dict:
        """Return one task object. Raises NotFound."""
        return self.board().task(int(task_id)).to_json()

    def task_update(self, task_id: int, **fields: Any) -> dict:
        """Edit a task as ``gitboard task update`` does (subject, description, blocked_by, unblock,
        status, run, role); returns it. Raises Invalid, NotFound, Conflict."""
        return self.transact(partial(task_ops.update, actor=self.actor, task_id=int(task_id),
                                     subject=fields.get("subject"), description=fields.get("description"),
                                     blocked_by=[int(x) for x in fields.get("blocked_by") or []],
                                     unblock=[int(x) for x in fields.get("unblock") or []],
                                     status=fields.get("status"), run=fields.get("run"),
                                     role=fields.get("role"))).to_json()

    def claim_task(self, task_id: int) -> dict:
        """Claim a task for the lead itself; returns it. Raises Conflict, NotFound."""
        return self.transact(partial(task_ops.claim, actor=self.actor, task_id=int(task_id))).to_json()

    # -- the team ------------------------------------------------------------------
    def roster(self) -> dict:
        """Return the ``gitboard team --json`` document (a member whose process on this host is gone shows ``dead``)."""
        from gitboard.team.process import roster_json

        with self.open() as repo:
            return roster_json(repo, read_board(repo))

    def look(self) -> tuple[dict, list[dict]]:
        """Return ``(roster document, task objects sorted by id)`` from one read of the board (one fetch in remote mode)."""
        from gitboard.team.process import roster_json

        with self.open() as repo:
            board = read_board(repo)
            return roster_json(repo, board), [board.tasks[i].to_json() for i in sorted(board.tasks)]

    def spawn(self, name: str, role: str | None = None, prompt: str | None = None,
              agent: str | None = None, extra: list[str] | None = None) -> dict:
        """Run ``gitboard -C <repo> spawn NAME ... --json`` with the lead's environment; return its JSON document.

        Raises:
            Invalid: a bad name. BoardError: the spawn failed (its ``gitboard: error:`` line is the message).
        """
        from gitboard.team.process import check_name_for_teammate

        check_name_for_teammate(name)
        argv = [sys.executable, "-m", "gitboard", "-C", self.repo_dir, "spawn", name, "--json"]
        for flag, value in (("--role", role), ("--prompt", prompt), ("--agent", agent)):
            if value:
                argv += [flag, str(value)]
        argv += list(extra or [])
        env = dict(os.environ if self.env is None else self.env)
        env.pop("GITBOARD_ACTOR", None)  # the teammate acts as itself
        try:
            proc = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=SPAWN_TIMEOUT,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            raise BoardError(f"gitboard spawn {name} did not return within {SPAWN_TIMEOUT:g} s") from None
        if proc.returncode != 0:
            lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
            err = next((ln for ln in lines if ln.startswith("gitboard: error:")), lines[-1] if lines else "")
            raise BoardError(err.removeprefix("gitboard: error: ") or f"gitboard spawn exited {proc.returncode}")
        try:
            doc = json.loads(proc.stdout.strip().splitlines()[-1])
        except (ValueError, IndexError):
            doc = {"name": name, "output": proc.stdout.strip()}
        notes = [ln.removeprefix("gitboard: note: ") for ln in proc.stderr.splitlines() if ln.startswith("gitboard: note:")]
        if notes:
            doc["notes"] = notes
        return doc

    # -- messages ------------------------------------------------------------------
    def send(self, to: str, content: str, type: str = "message") -> dict:
        """Send a message from the lead; returns it. Raises Invalid, NotFound (unknown recipient)."""
        check_name(to, "recipient")
        return self.transact(partial(inbox_ops.send, sender=self.actor, to=to, content=content,
                                     msg_id=new_id(), type=type)).to_json()

    def broadcast(self, content: str) -> list[dict]:
        """Send one message to every member but the lead, in one commit; returns the messages."""
        return inbox_ops.message_json(self.transact(partial(inbox_ops.broadcast, sender=self.actor,
                                                            content=content, msg_id=new_id())))

    def drain_inbox(self) -> list[dict]:
        """Drain the lead's inbox (one commit deleting exactly the messages returned); oldest first."""
        return inbox_ops.message_json(self.transact(partial(inbox_ops.drain, name=self.actor, actor=self.actor)))

    def peek_inbox(self) -> list[dict]:
        """Return the lead's inbox without draining it; oldest first."""
        return inbox_ops.message_json(inbox_ops.peek(self.board(), self.actor))

    # -- protocols -----------------------------------------------------------------
    def shutdown_request(self, teammate: str, reason: str = "") -> dict:
        """Ask ``teammate`` to shut down (a shutdown_request and a pending request, one commit); returns the request."""
        check_name(teammate, "member")
        board = self.board()
        if board.team.member(teammate) is None:
            raise NotFound(f"no member named {teammate!r} on the roster")
        return self.transact(partial(protocol_ops.request_shutdown, sender=self.actor, to=teammate,
                                     request_id=new_id(), msg_id=new_id(), reason=reason)).to_json()

    def request(self, request_id: str, kind: str | None = None) -> dict:
        """Return a protocol request (``kind`` shutdown or plan, or either) by id or unique prefix. Raises NotFound, Invalid."""
        board = self.board()
        full = resolve_id(board, str(request_id), kind)
        req = request_of(board, full)
        if req is None or (kind and req.kind != kind):
            raise NotFound(f"no {kind + ' ' if kind else ''}request {request_id!r} on the board")
        return req.to_json()

    def plan_approval(self, request_id: str, approve: bool, feedback: str = "") -> dict:
        """Approve or reject a pending plan (a plan_approval_response to the submitter); returns the request."""
        if not approve and not feedback.strip():
            raise Invalid("rejecting a plan needs feedback")
        full = resolve_id(self.board(), str(request_id), PLAN)
        return self.transact(partial(protocol_ops.respond_plan, sender=self.actor, request_id=full,
                                     approve=bool(approve), feedback=feedback, msg_id=new_id())).to_json()

    # -- review --------------------------------------------------------------------
    def review(self, task_id: int) -> dict:
        """Return the ``gitboard review --json`` document of a task (read-only)."""
        from gitboard.store.review import review_task

        with self.open() as repo:
            return review_task(repo, int(task_id), fetch=not repo.offline)

    def approve(self, task_id: int, note: str | None = None) -> dict:
        """Approve a completed task for the merge queue at its branch's tip (the commit the queue
        will merge: :func:`gitboard.store.review.approve_task`); returns it. Raises Conflict, NotFound."""
        from gitboard.store.review import approve_task

        with self.open() as repo:
            return approve_task(repo, self.actor, int(task_id), note=note or None,
                                fetch=not repo.offline).to_json()

    def reject(self, task_id: int, feedback: str) -> dict:
        """Send a completed task back for rework with ``feedback``; returns it. Raises Invalid, Conflict, NotFound."""
        from gitboard.store.merge import base_branch, fetch_branch

        with self.open() as repo:
            try:
                base = fetch_branch(repo, base_branch(repo))
            except BoardError:  # context for the record, not a condition of the verdict
                base = None
            return transact(repo, partial(review_ops.reject, actor=self.actor, task_id=int(task_id),
                                          feedback=feedback, base=base)).to_json()

    def merge(self, task_ids: list[int] | None = None, log: Callable[[str], None] | None = None) -> dict:
        """Run the merge queue as the lead (:func:`gitboard.team.refinery.run_queue`); return the
        ``gitboard merge --json`` document ``{"merged", "rework", "waiting"}``.

        Args:
            task_ids: the tasks to merge (None: every candidate).
            log: where the queue's progress lines go.
        """
        from gitboard.team.refinery import run_queue

        return run_queue(self.repo_dir, task_ids or None, actor=self.actor, log=log or (lambda line: None))

    def awaiting_review(self) -> list[dict]:
        """Return the completed tasks not yet approved, sorted by id."""
        board = self.board()
        return [t.to_json() for i, t in sorted(board.tasks.items())
                if t.status == "completed" and not review_ops.is_approved(t)]



__all__ = ["LeadBoard", "SHUTDOWN", "PLAN"]
