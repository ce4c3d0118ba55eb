"""The board as the model-driven lead uses it: :class:`LeadBoard`.

A thin JSON face on the board client (:class:`gitboard.client.BoardClient`, the path
every front end takes) acting as ``lead`` (:data:`gitboard.board.names.LEAD`): every
method returns the JSON objects the lead's tools hand the model.
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
from pathlib import Path
from typing import Any, Callable

from gitboard.board import inbox_ops
from gitboard.board.errors import BoardError, NotFound
from gitboard.board.names import LEAD, check_name
from gitboard.board.request import PLAN, SHUTDOWN
from gitboard.board.snapshot import Board
from gitboard.client import BoardClient, new_id
from gitboard.store.repo import BoardRepo

#: Seconds a ``gitboard spawn`` child may take (it returns once the teammate has registered).
SPAWN_TIMEOUT = 120.0


class LeadBoard:
    """The board of the repository at ``repo_dir``, acted on as ``actor`` (default ``lead``).

    Args:
        repo_dir: a directory of the lead's clone (its work tree).
        actor: the name on every commit.
        env: the environment ``spawn`` passes on (default: os.environ at call time).

    Attributes:
        client: the :class:`~gitboard.client.BoardClient` every call goes through.
    """

    def __init__(self, repo_dir: str | os.PathLike, actor: str = LEAD, env: dict[str, str] | None = None) -> None:
        self.client = BoardClient(repo_dir, actor)
        self.repo_dir = str(repo_dir)
        self.actor = actor
        self.env = env

    # -- plumbing ------------------------------------------------------------------
    def open(self) -> BoardRepo:
        """Open the repository (close it after use)."""
        return self.client.open()

    def apply(self, op: Callable[..., Any]) -> Any:
        """Apply one pure operation as one commit by :attr:`actor`; returns its result."""
        return self.client.apply(op)

    def board(self) -> Board:
        """Read the board (fetched first in remote mode)."""
        return self.client.board()

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
        return self.client.add_task(subject, description, blocked_by or (), run=run, role=role).to_json()

    def task_list(self, status: str | None = None) -> list[dict]:
        """Return the task objects sorted by id, only those with ``status`` if given. Raises Invalid (unknown status)."""
        return [t.to_json() for t in self.client.tasks(status)]

    def task_get(self, task_id: int) -> dict:
        """Return one task object. Raises NotFound."""
        return self.client.task(task_id).to_json()

    def task_update(self, task_id: int, **fields: Any) -> dict:
        """Edit a task as ``gitboard task update`` does (subject, description, blocked_by, unblock,
        status, run, role); returns it. Raises Invalid, NotFound, Conflict."""
        return self.client.update_task(task_id, subject=fields.get("subject"), description=fields.get("description"),
                                       blocked_by=fields.get("blocked_by") or (), unblock=fields.get("unblock") or (),
                                       status=fields.get("status"), run=fields.get("run"),
                                       role=fields.get("role")).to_json()

    def claim_task(self, task_id: int) -> dict:
        """Claim a task for the lead itself; returns it. Raises Conflict, NotFound."""
        return self.client.claim(int(task_id)).to_json()

    # -- the team ------------------------------------------------------------------
    def roster(self) -> dict:
        """Return the ``gitboard team --json`` document (a member whose process on this host is gone shows ``dead``)."""
        from gitboard.runtime.process import roster_json

        with self.open() as repo:
            return roster_json(repo, self.client.board(repo=repo))

    def look(self) -> tuple[dict, list[dict]]:
        """Return ``(roster document, task objects sorted by id)`` from one read of the board (one fetch in remote mode)."""
        from gitboard.runtime.process import roster_json

        with self.open() as repo:
            board = self.client.board(repo=repo)
            return roster_json(repo, board), [board.tasks[i].to_json() for i in sorted(board.tasks)]

    def spawn(self, name: str, role: str | None = None, prompt: str | None = None,
              agent: str | None = None, extra: list[str] | None = None) -> dict:
        """Run ``gitboard -C <repo> spawn NAME ... --json`` with the lead's environment; return its JSON document.

        Raises:
            Invalid: a bad name. BoardError: the spawn failed (its ``gitboard: error:`` line is the message).
        """
        from gitboard.runtime.process import check_name_for_teammate

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
        return self.client.send(to, content, type).to_json()

    def broadcast(self, content: str) -> list[dict]:
        """Send one message to every member but the lead, in one commit; returns the messages."""
        return inbox_ops.message_json(self.client.broadcast(content))

    def drain_inbox(self) -> list[dict]:
        """Drain the lead's inbox (one commit deleting exactly the messages returned); oldest first."""
        return inbox_ops.message_json(self.client.drain())

    def peek_inbox(self) -> list[dict]:
        """Return the lead's inbox without draining it; oldest first."""
        return inbox_ops.message_json(self.client.peek())

    # -- protocols -----------------------------------------------------------------
    def shutdown_request(self, teammate: str, reason: str = "") -> dict:
        """Ask ``teammate`` to shut down (a shutdown_request and a pending request, one commit); returns the request."""
        check_name(teammate, "member")
        if self.board().team.member(teammate) is None:
            raise NotFound(f"no member named {teammate!r} on the roster")
        return self.client.request_shutdown(teammate, reason).to_json()

    def request(self, request_id: str, kind: str | None = None) -> dict:
        """Return a protocol request (``kind`` shutdown or plan, or either) by id or unique prefix. Raises NotFound, Invalid."""
        return self.client.request(request_id, kind).to_json()

    def pending_plans(self) -> list[dict]:
        """Return the plan requests still waiting for an answer, oldest first."""
        return [r.to_json() for r in self.client.pending_plans()]

    def plan_approval(self, request_id: str, approve: bool, feedback: str = "") -> dict:
        """Approve or reject a pending plan (a plan_approval_response to the submitter); returns the request."""
        return self.client.respond_plan(request_id, approve, feedback).to_json()

    # -- review --------------------------------------------------------------------
    def review(self, task_id: int) -> dict:
        """Return the ``gitboard review --json`` document of a task (read-only)."""
        return self.client.review(task_id)

    def approve(self, task_id: int, note: str | None = None) -> dict:
        """Approve a completed task for the merge queue at its branch's tip (the commit the queue
        will merge: :func:`gitboard.store.review.approve_task`); returns it. Raises Conflict, NotFound."""
        return self.client.approve(task_id, note).to_json()

    def reject(self, task_id: int, feedback: str) -> dict:
        """Send a completed task back for rework with ``feedback``; returns it. Raises Invalid, Conflict, NotFound."""
        return self.client.reject(task_id, feedback).to_json()

    def merge(self, task_ids: list[int] | None = None, log: Callable[[str], None] | None = None) -> dict:
        """Run the merge queue as the lead (:func:`gitboard.merge_queue.queue.run_queue`); return the
        ``gitboard merge --json`` document ``{"merged", "rework", "waiting"}``.

        Args:
            task_ids: the tasks to merge (None: every candidate).
            log: where the queue's progress lines go.
        """
        from gitboard.merge_queue.queue import run_queue

        return run_queue(self.repo_dir, task_ids or None, actor=self.actor, log=log or (lambda line: None))

    def awaiting_review(self) -> list[dict]:
        """Return the completed tasks not yet approved, sorted by id."""
        return [t.to_json() for t in self.client.awaiting_review()]


__all__ = ["LeadBoard", "SHUTDOWN", "PLAN", "new_id"]
