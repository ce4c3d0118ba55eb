"""The board as a teammate uses it: :class:`BoardPort`, the concrete TeamPort.

Every method is one board transaction (or one read) through the board client
(:class:`gitboard.client.BoardClient`, the path every front end takes), made by the
teammate (``actor`` = its name).

Beyond the :class:`~gitboard.agents.base.TeamPort` protocol (what an agent may
do), the port has the runtime's own operations: claiming with the member's
status in the same commit, renewing, finishing, releasing, status changes.

Remote outages: writes that must not be lost (finishing a task, releasing it,
the final status) go through :meth:`BoardPort.persist`, which retries with
backoff -- logging that it does so -- until the remote answers again or the
teammate is told to stop (:attr:`BoardPort.abort`).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from datetime import datetime
from functools import partial
from typing import Any, Callable, Iterable, TypeVar

from gitboard.board import inbox_ops, protocol_ops, task_ops, roster_ops
from gitboard.board.compose import sequence
from gitboard.board.errors import Busy, GitFailure
from gitboard.board.message import PLAN_RESPONSE
from gitboard.board.request import request_of
from gitboard.board.snapshot import Board
from gitboard.board.task import IN_PROGRESS, Task
from gitboard.board.text import safe
from gitboard.client import BoardClient, new_id
from gitboard.proc import this_host
from gitboard.agents.base import TeamPort
from gitboard.store.repo import BoardRepo

T = TypeVar("T")

#: Longest pause between retries of a write during a remote outage (seconds).
MAX_BACKOFF = 30.0


class Logger:
    """Writes ``HH:MM:SS [name] line`` lines to a stream (the log file, or the terminal), thread-safe.

    A line with line breaks becomes one prefixed line per part; control characters and escape
    sequences in a part (board text, a command's output) are shown escaped
    (:func:`gitboard.board.text.safe`), so no line of the log is forged or hidden.
    """

    def __init__(self, name: str, stream: Any = None) -> None:
        self.name = name
        self.stream = stream
        self._lock = threading.RLock()  # re-entrant: a signal handler may log while a line is being written

    def __call__(self, line: str) -> None:
        stream = self.stream or sys.stdout
        stamp = time.strftime("%H:%M:%S")
        text = "".join(f"{stamp} [{safe(self.name)}] {safe(part)}\n" for part in (str(line).splitlines() or [""]))
        with self._lock:
            try:
                stream.write(text)
                stream.flush()
            except (OSError, ValueError):
                pass


class BoardPort(TeamPort):
    """The board for teammate ``name`` in the repository at ``repo_path``.

    Args:
        repo_path: a directory of the teammate's clone.
        name: the teammate (the actor of every commit).
        role: its role (claims use it; None: its roster role, if any).
        lease: seconds of every claim's lease.
        poll: seconds between reads while waiting (plan answers).
        log: where log lines go (default: a :class:`Logger` on stdout).

    Attributes:
        cancel: set to stop the current piece of work (a signal, a lost lease). Agents check it:
            the command runner while its command runs, the anthropic agent before each model
            turn and each tool call (and while either waits).
        abort: set to stop retrying writes and exit (a signal).
        shutdown_approved: a shutdown_request was approved through this port.
        claimed: ids claimed through :meth:`claim_task` (the agent's own claims), renewed too.
        delivered: plan request ids whose answers already reached the agent through gitboard's MCP
            server (``submit_plan``); their plan_approval_response messages are dropped from what
            the inbox hands on (:meth:`drain_new`, :meth:`take_held`), so an answer does not start
            a session of its own. The answer stays on the board, in the request.
    """

    def __init__(self, repo_path: str | os.PathLike, name: str, *, role: str | None = None,
                 lease: float = task_ops.DEFAULT_LEASE, poll: float = 5.0,
                 log: Callable[[str], None] | None = None) -> None:
        self.repo_path = str(repo_path)
        self.name = name
        #: The board client every call goes through, acting as ``name``.
        self.client = BoardClient(repo_path, name)
        self.role = role
        self.lease = lease
        self.poll = poll
        self._log = log or Logger(name)
        self.host = this_host()
        self.pid = os.getpid()
        self.cancel = threading.Event()
        self.abort = threading.Event()
        self.shutdown_approved = False
        self.claimed: set[int] = set()
        self.delivered: set[str] = set()
        #: ``time.monotonic()`` of the last sign of life of the agent: a log line, a line of output
        #: (:meth:`touch`). What stall detection watches.
        self.last_activity = time.monotonic()
        self._held: list[dict] = []
        self._lock = threading.Lock()

    # -- plumbing ------------------------------------------------------------
    def open(self) -> BoardRepo:
        """Open the teammate's repository (close it after use)."""
        return self.client.open()

    def apply(self, op: Callable[[Board, datetime], Any]) -> Any:
        """Apply one pure operation as one commit (see :func:`transact`); returns its result.

        Raises:
            Invalid, Conflict, NotFound: the operation's answer.
            GitFailure, Busy: git failed, the remote is unreachable, or the board kept moving.
        """
        return self.client.apply(op)

    def board(self) -> Board:
        """Read the current board (fetched first in remote mode).

        Raises:
            GitFailure: no board, or the remote is unreachable.
        """
        return self.client.board()

    def wait_for_change(self, old_tip: str | None, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for the board to move away from ``old_tip``, or :attr:`abort`.

        In local mode this watches the board ref (:mod:`gitboard.store.refwatch`: a ``stat``
        every 0.1 s, no git process), so a new task or message wakes the teammate at once;
        in remote mode (where the board moves on the remote) it just waits ``timeout``.
        """
        from gitboard.store.refwatch import RefWatcher

        try:
            with self.open() as repo:
                if repo.remote and not repo.offline:
                    self.abort.wait(timeout)
                    return
                RefWatcher(repo).wait_for_change(old_tip, timeout, self.abort)
        except GitFailure:  # the repository is gone or broken: the next poll reports it
            self.abort.wait(timeout)

    def persist(self, what: str, fn: Callable[[], T]) -> T:
        """Call ``fn`` until it does not fail with GitFailure or Busy, with backoff (1 s doubling to
        :data:`MAX_BACKOFF`), logging each retry. Domain errors pass through.

        Raises:
            BoardError: a domain error from ``fn``; or the last GitFailure/Busy once :attr:`abort` is set.
        """
        delay = 1.0
        while True:
            try:
                return fn()
            except (GitFailure, Busy) as e:
                if self.abort.is_set():
                    raise
                self.log(f"{what} failed ({e.message}); retrying in {delay:g} s")
                if self.abort.wait(delay):
                    raise
                delay = min(delay * 2, MAX_BACKOFF)

    def log(self, line: str) -> None:
        """Write one line to the teammate's log, shown as ``HH:MM:SS [name] <line>``; counts as activity."""
        self.last_activity = time.monotonic()
        self._log(line)

    def touch(self) -> None:
        """Record a sign of life of the agent (output it printed, a tool call) without a log line."""
        self.last_activity = time.monotonic()

    # -- TeamPort: what an agent may do ----------------------------------------
    def send(self, to: str, content: str, type: str = "message") -> dict:
        """Send a message; returns the message object. Raises Invalid, NotFound (unknown recipient)."""
        msg = self.apply(partial(inbox_ops.send, sender=self.name, to=to, content=content,
                                    msg_id=new_id(), type=type))
        return msg.to_json()

    def drain_new(self) -> list[dict]:
        """Drain this teammate's inbox on the board; returns message objects, oldest first.

        Unlike :meth:`read_inbox`, messages held back by :meth:`hold` are not included.
        """
        return self._undelivered([m.to_json() for m in self.apply(partial(inbox_ops.drain, name=self.name))])

    def _undelivered(self, messages: list[dict]) -> list[dict]:
        """``messages`` without the plan answers in :attr:`delivered` (each dropped one is logged)."""
        kept = []
        for m in messages:
            if m.get("type") == PLAN_RESPONSE and m.get("request_id") in self.delivered:
                self.log(f"the answer to plan {m.get('request_id')} already reached the agent (submit_plan)")
                continue
            kept.append(m)
        return kept

    def note_delivered(self, request_ids: Iterable[str]) -> None:
        """Record plan answers the agent already received (:attr:`delivered`): the drain drops them."""
        self.delivered.update(str(i) for i in request_ids)

    def hold(self, message: dict) -> None:
        """Keep a drained ``message`` for the next :meth:`read_inbox` (nothing is lost)."""
        with self._lock:
            self._held.append(message)
        self.log(f"message from {message.get('from')} ({message.get('type')}): "
                 f"{_one_line(message.get('content', ''))}")

    def has_held(self) -> bool:
        """True if messages are held for the next :meth:`read_inbox`."""
        with self._lock:
            return bool(self._held)

    def take_held(self) -> list[dict]:
        """Return and forget the messages held by :meth:`hold`, oldest first."""
        with self._lock:
            held, self._held = self._held, []
        return self._undelivered(held)

    def read_inbox(self) -> list[dict]:
        """Return held messages, then drain the board inbox; message objects, oldest first
        (shutdown_requests included).

        Raises:
            GitFailure, Busy: the board could not be read; held messages stay held.
        """
        fresh = self.drain_new()
        return self.take_held() + fresh

    def task_list(self) -> list[dict]:
        """Return every task object, sorted by id."""
        board = self.board()
        return [board.tasks[i].to_json() for i in sorted(board.tasks)]

    def task_get(self, task_id: int) -> dict:
        """Return one task object. Raises NotFound, Corrupt."""
        return self.board().task(int(task_id)).to_json()

    def task_create(self, subject: str, description: str = "", blocked_by: list[int] | None = None) -> dict:
        """Add a task; returns it. Raises Invalid (empty subject), NotFound (unknown blocker)."""
        task = self.apply(partial(task_ops.add, actor=self.name, subject=subject, description=description,
                                     blocked_by=list(blocked_by or [])))
        return task.to_json()

    def claim_task(self, task_id: int) -> dict:
        """Claim task ``task_id`` with this teammate's lease; the runtime works on it after the current one.

        Raises:
            Conflict: owned by another, finished, blocked, wrong role. NotFound: no such task.
        """
        task = self.apply(partial(task_ops.claim, actor=self.name, task_id=int(task_id), role=self.role,
                                     lease=self.lease))
        self.claimed.add(task.id)
        return task.to_json()

    def respond_shutdown(self, request_id: str, approve: bool, reason: str = "") -> dict:
        """Answer a shutdown_request; approving marks this member shutdown (same commit).

        Returns the request object. Raises NotFound, Conflict (already answered).
        """
        req = self.apply(partial(protocol_ops.respond_shutdown, sender=self.name, request_id=request_id,
                                    approve=bool(approve), reason=reason, msg_id=new_id()))
        if approve:
            self.shutdown_approved = True
        self.log(f"shutdown request {request_id}: {'approved' if approve else 'rejected'}"
                 + (f" ({reason})" if reason else ""))
        return req.to_json()

    def submit_plan(self, plan: str, timeout: float) -> dict:
        """Submit a plan to the lead and wait up to ``timeout`` seconds for the answer.

        Returns ``{"request_id", "status": "approved"|"rejected"|"pending", "feedback"}``
        (``pending`` when the wait ran out). The answer message stays in the inbox.
        """
        request_id = new_id()
        self.apply(partial(protocol_ops.request_plan, sender=self.name, plan=plan, request_id=request_id,
                              msg_id=new_id()))
        self.log(f"plan submitted ({request_id}); waiting up to {timeout:g} s for the lead")
        limit = time.monotonic() + max(0.0, timeout)
        while True:
            try:
                req = request_of(self.board(), request_id)
            except GitFailure:
                req = None
            if req is not None and req.answered:
                return {"request_id": request_id, "status": req.status, "feedback": req.feedback}
            if time.monotonic() >= limit or self.cancel.is_set():
                return {"request_id": request_id, "status": "pending", "feedback": ""}
            time.sleep(min(self.poll, max(0.05, limit - time.monotonic())))

    # -- the runtime's own operations --------------------------------------------
    def _member(self, status: str, task: Any = roster_ops.KEEP):
        return partial(roster_ops.set_member, actor=self.name, name=self.name, status=status, task=task,
                       host=self.host, pid=self.pid, role=self.role)

    def set_status(self, status: str, task: Any = roster_ops.KEEP) -> Any:
        """Set this member's status (working, idle, shutdown) with its host and pid; returns the Member."""
        return self.apply(self._member(status, task))

    def claim(self, task_id: int) -> Task:
        """Claim ``task_id`` with the lease and set this member working on it, in one commit.

        A takeover (the task was in progress under another owner whose lease expired) also
        clears that previous owner's roster ``task`` when it still names this task, so the
        roster does not show two members on it; the previous owner's status is left alone.

        Raises:
            Conflict, NotFound: lost the race, or the task is no longer claimable.
            Invalid: the board refused the claim's values (bad lease ...).
        """
        claim = partial(task_ops.claim, actor=self.name, task_id=task_id, role=self.role, lease=self.lease)
        working = self._member(roster_ops.WORKING, task_id)
        actor = self.name

        def claim_op(board: Board, now: datetime) -> Any:
            ops = [claim, working]
            before = board.tasks.get(task_id)
            previous = before.owner if before is not None and before.status == IN_PROGRESS else ""
            if previous and previous != actor:
                member = board.team.member(previous)
                if member is not None and member.task == task_id:
                    ops.append(partial(roster_ops.set_member, actor=actor, name=previous, task=None))
            return sequence(board, now, ops=ops)

        results = self.apply(claim_op)
        return results[0]

    def renew(self, task_id: int) -> Task:
        """Extend this teammate's lease on ``task_id`` by :attr:`lease` seconds.

        Raises:
            Conflict: the task is no longer ours (taken over, released, finished).
        """
        return self.apply(partial(task_ops.renew, actor=self.name, task_id=task_id, lease=self.lease))

    def resume(self, task_id: int) -> Task:
        """Renew the lease on a task this teammate already owns and set itself working on it, in one commit.

        Raises:
            Conflict, NotFound: the task is no longer ours.
        """
        renew = partial(task_ops.renew, actor=self.name, task_id=task_id, lease=self.lease)
        task, _member = self.apply(partial(sequence, ops=(renew, self._member(roster_ops.WORKING, task_id))))
        return task

    def finish(self, task_id: int, ok: bool, result: dict, status: str = roster_ops.IDLE) -> Task:
        """Mark ``task_id`` completed (``ok``) or failed with ``result`` and set this member's status
        (idle, or shutdown) in one commit, retrying through outages (:meth:`persist`).

        Raises:
            Conflict: the task is no longer ours (the takeover rules decided).
        """
        done = partial(task_ops.finish, actor=self.name, task_id=task_id, ok=ok, result=result)
        op = partial(sequence, ops=(done, self._member(status, None)))
        task, _member = self.persist(f"{'done' if ok else 'fail'} #{task_id}", lambda: self.apply(op))
        self.claimed.discard(task_id)
        return task

    def release(self, task_id: int, status: str = roster_ops.IDLE, reason: str = "") -> Task:
        """Give ``task_id`` back (pending, unowned) and set this member's status, in one commit,
        retrying through outages. ``reason`` (``stalled: ...``, a stop) goes in the commit subject.

        Raises:
            Conflict: the task is no longer ours.
        """
        rel = partial(task_ops.release, actor=self.name, task_id=task_id, reason=reason)
        op = partial(sequence, ops=(rel, self._member(status, None)))
        task, _member = self.persist(f"release #{task_id}", lambda: self.apply(op))
        self.claimed.discard(task_id)
        return task


def _one_line(text: str, limit: int = 200) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
